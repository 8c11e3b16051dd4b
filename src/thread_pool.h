// nnkern's fork-join: the work items of one kernel call, run by the calling thread and by a
// pool of nnkern's own worker threads.
//
// Contract: parallel_items(n, threads, body) calls body(item, slot) once for every item in
// [0, n) and returns when all have returned. Items are taken one at a time, in order, by the
// calling thread (slot 0) and by up to threads - 1 pool workers (slots 1 .. threads - 1); no
// two items run with the same slot at once, so a slot indexes per-thread scratch of a call
// that sized it for `threads` slots. The first exception an item throws is rethrown on the
// calling thread after the join; items not started by then are skipped.
//
// Why not an OpenMP parallel region: its join is a barrier of the whole team, so a worker that
// the OS has not yet run when the region starts (a busy machine: another process holds the
// core) stalls the region until it is scheduled, even though the threads that did run took
// all the items. Here the join waits only for the workers that took an item (a worker claims
// its first item before it counts as joined); a late worker finds the call closed, or no item
// left, and goes back to sleep. Idle workers sleep at once (with
// OMP_WAIT_POLICY=active they spin up to 2 ms first).
//
// Calls from several threads at once each get a team of their own (up to kMaxTeams teams;
// beyond that, and in a nested call from inside an item, the items run on the calling thread
// alone). In a process forked after nnkern loaded, the items always run on the calling
// thread: the pool's threads do not exist there. Workers live as long as the process, and so
// does their thread-local scratch (workspace_bytes: at most 4 buffers each, at the largest size
// a kernel asked for).
#pragma once
#include <cstdint>
#include <type_traits>

namespace nnk {

using ItemFn = void (*)(void* ctx, int64_t item, int slot);
int run_items(int64_t n, int threads, ItemFn fn, void* ctx);

// Returns the team the call had: 1 when it ran on the calling thread alone, else the number of
// threads that could take items (fewer than asked if the system refused a worker thread).
template <class F>
int parallel_items(int64_t n, int threads, F&& body) {
  using Body = std::remove_reference_t<F>;
  const ItemFn fn = [](void* ctx, int64_t item, int slot) { (*static_cast<Body*>(ctx))(item, slot); };
  return run_items(n, threads, fn, const_cast<void*>(static_cast<const void*>(&body)));
}

// Pool workers started so far, over all teams (nnkern info and tests).
int pool_workers();
// How long idle workers spin before they sleep, in microseconds (nnkern info and tests).
int pool_spin_us();
// Testing hook: workers sleep `us` microseconds after each wake-up before they look for a job,
// as a worker that the OS runs late would (0: off).
void pool_set_join_delay_us(int us);

}  // namespace nnk
