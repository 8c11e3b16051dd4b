// fork() safety. Thread pools (nnkern's, libgomp's for the data loops) do not survive fork():
// in the child their worker threads are gone, and a parallel region that waited for them would
// wait forever. nnkern registers pthread_atfork handlers when _core loads; in a child forked
// after that (os.fork, multiprocessing's "fork" start method), every kernel runs on the
// calling thread: num_threads() is 1 there for good, parallel_items never touches the pool
// there, and OpenMP regions (the data loops) run as teams of one; OpenBLAS is serial.
// Processes started with "spawn" or "forkserver" have all their threads.
#pragma once

namespace nnk {

// True in a process forked after _core was loaded.
bool in_fork_child();

// True exactly once per forked child, the first time it is asked while more than one
// thread is requested (nnkern.set_num_threads, OMP_NUM_THREADS): the bindings then warn.
bool fork_child_warning_due();

}  // namespace nnk
