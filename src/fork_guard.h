// fork() safety. libgomp's thread pool does not survive fork(): in the child its worker
// threads are gone, and the first parallel region of more than one thread waits for them
// forever. nnkern registers pthread_atfork handlers when _core loads; in a child forked
// after that (os.fork, multiprocessing's "fork" start method), every kernel runs on the
// calling thread: num_threads() is 1 there for good, so each OpenMP region runs as a team
// of one, which libgomp executes on the calling thread without its pool; OpenBLAS is serial.
// Processes started with "spawn" or "forkserver" have all their threads.
#pragma once

namespace nnk {

// True in a process forked after _core was loaded.
bool in_fork_child();

// True exactly once per forked child, the first time it is asked while more than one
// thread is requested (nnkern.set_num_threads, OMP_NUM_THREADS): the bindings then warn.
bool fork_child_warning_due();

}  // namespace nnk
