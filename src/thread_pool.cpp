// nnkern's fork-join (contract in thread_pool.h).
//
// A call posts a Job to a Team under the team's mutex and bumps the team's epoch; workers
// that see the new epoch join the job under the same mutex (counted in job.active) unless it
// is closed already, then take items by an atomic counter. The caller takes items too; when
// the counter has run out it closes the job and waits for job.active to reach zero, i.e. only
// for the workers that joined. A worker that joins after the close leaves without touching it.
#include "thread_pool.h"
#include <pthread.h>
#include <signal.h>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>
#include "fork_guard.h"

namespace nnk {

namespace {

constexpr int kMaxTeams = 8;
constexpr int kMaxThreads = 512;  // a bound on any one team, whatever was asked
// Spin of an idle worker before it sleeps, by default: none. On 2 cores with one busy competitor
// and idle, 0 and 50 us measured the same within the noise (SimpleConvNet and DeepConvNet steps,
// 2 threads over 1); 300 us was slower with the competitor. Sleeping at once is also what
// nnkern's OpenMP default was (OMP_WAIT_POLICY=passive).
constexpr int kSpinUs = 0;

struct Job {
  ItemFn fn;
  void* ctx;
  int64_t n;
  int threads;
  std::atomic<int64_t> next{0};
  std::atomic<bool> failed{false};
  std::atomic<bool> error_claimed{false};
  std::exception_ptr error;  // written by the one thread that claimed it; read after the join
  int active = 0;            // workers inside the job (team mutex)
  bool open = true;          // workers may still join (team mutex)
};

thread_local bool t_in_items = false;  // a nested call runs inline

// Runs item `first` (if >= 0, already claimed), then claims and runs items until none is left or
// one has failed. Never throws.
void take_items(Job& j, int slot, int64_t first = -1) noexcept {
  t_in_items = true;
  for (int64_t i = first >= 0 ? first : j.next.fetch_add(1, std::memory_order_relaxed);
       i < j.n && !j.failed.load(std::memory_order_relaxed); i = j.next.fetch_add(1, std::memory_order_relaxed)) {
    try {
      j.fn(j.ctx, i, slot);
    } catch (...) {
      if (!j.error_claimed.exchange(true)) j.error = std::current_exception();
      j.failed.store(true, std::memory_order_relaxed);
    }
  }
  t_in_items = false;
}

struct Worker {
  std::condition_variable wake;
  bool sleeping = false;  // team mutex
};

struct Team {
  std::mutex m;
  std::condition_variable done;
  std::atomic<uint64_t> epoch{0};  // written under m
  Job* job = nullptr;              // m
  std::vector<std::unique_ptr<Worker>> workers;  // slot k + 1 is workers[k]; grows under m
  bool in_use = false;                           // registry mutex
};

std::mutex* g_registry = new std::mutex;  // never destroyed: kernels may run during exit
Team* g_teams[kMaxTeams] = {};
std::atomic<int> g_workers{0};
std::atomic<int> g_spin_us{-1};
std::atomic<int> g_join_delay_us{0};  // testing hook: a worker that wakes late

int spin_us() {
  int s = g_spin_us.load(std::memory_order_relaxed);
  if (s < 0) {  // OMP_WAIT_POLICY=passive: sleep at once; =active: spin long, as libgomp would
    const char* policy = std::getenv("OMP_WAIT_POLICY");
    s = kSpinUs;
    if (policy && strcasecmp(policy, "passive") == 0) s = 0;
    if (policy && strcasecmp(policy, "active") == 0) s = 2000;
    g_spin_us.store(s, std::memory_order_relaxed);
  }
  return s;
}

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

// Spins until the epoch moves past `seen` or spin_us() have passed; true if it moved.
bool spin_for_epoch(const Team& t, uint64_t seen) {
  const int us = spin_us();
  if (us <= 0) return false;
  const auto end = std::chrono::steady_clock::now() + std::chrono::microseconds(us);
  for (int k = 0;; ++k) {
    if (t.epoch.load(std::memory_order_acquire) != seen) return true;
    if ((k & 63) == 63 && std::chrono::steady_clock::now() >= end) return false;
    cpu_relax();
  }
}

// `seen`: the epoch when the worker was started, so that it joins the job being posted.
void worker_main(Team* t, Worker* w, int slot, uint64_t seen) {
  Worker& me = *w;
  std::unique_lock<std::mutex> lk(t->m);
  for (;;) {
    if (t->epoch.load(std::memory_order_relaxed) == seen) {
      lk.unlock();
      spin_for_epoch(*t, seen);
      lk.lock();
      me.sleeping = true;
      me.wake.wait(lk, [&] { return t->epoch.load(std::memory_order_relaxed) != seen; });
      me.sleeping = false;
    }
    if (const int d = g_join_delay_us.load(std::memory_order_relaxed)) {
      lk.unlock();
      std::this_thread::sleep_for(std::chrono::microseconds(d));
      lk.lock();
    }
    seen = t->epoch.load(std::memory_order_relaxed);
    Job* j = t->job;
    if (!j || !j->open || slot >= j->threads || j->failed.load(std::memory_order_relaxed)) continue;
    const int64_t first = j->next.fetch_add(1, std::memory_order_relaxed);
    if (first >= j->n) continue;  // nothing left: the caller need not wait for this worker
    ++j->active;                  // it holds item `first`
    lk.unlock();
    take_items(*j, slot, first);
    lk.lock();
    if (--j->active == 0 && !j->open) t->done.notify_one();
  }
}

// Starts workers up to `want` (fewer if the system refuses a thread). Caller holds t.m.
void grow(Team& t, int want) {
  if (int(t.workers.size()) >= want) return;
  spin_us();  // read the environment here, on the calling thread, never on a worker
  sigset_t mask, old;  // workers block asynchronous signals (the interpreter's handlers belong to
  sigfillset(&mask);   // its threads), not the faults an item itself may raise
  for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGTRAP}) sigdelset(&mask, sig);
  pthread_sigmask(SIG_SETMASK, &mask, &old);
  const uint64_t seen = t.epoch.load(std::memory_order_relaxed);
  try {  // std::system_error or std::bad_alloc: run with the workers there are
    while (int(t.workers.size()) < want) {
      t.workers.push_back(std::make_unique<Worker>());
      try {
        std::thread(worker_main, &t, t.workers.back().get(), int(t.workers.size()), seen).detach();
      } catch (...) {
        t.workers.pop_back();
        throw;
      }
      g_workers.fetch_add(1, std::memory_order_relaxed);
    }
  } catch (...) {
  }
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
}

Team* acquire_team() {
  std::lock_guard<std::mutex> lock(*g_registry);
  for (Team*& t : g_teams) {
    if (!t) {
      t = new (std::nothrow) Team;
      if (!t) return nullptr;
    }
    if (!t->in_use) {
      t->in_use = true;
      return t;
    }
  }
  return nullptr;
}

void release_team(Team* t) {
  std::lock_guard<std::mutex> lock(*g_registry);
  t->in_use = false;
}

void run_inline(Job& j) {
  const bool nested = t_in_items;
  take_items(j, 0);
  t_in_items = nested;
}

}  // namespace

int run_items(int64_t n, int threads, ItemFn fn, void* ctx) {
  if (n <= 0) return 1;
  Job j;
  j.fn = fn;
  j.ctx = ctx;
  j.n = n;
  j.threads = threads;
  Team* t = nullptr;
  threads = std::min(threads, kMaxThreads);
  if (threads > 1 && n > 1 && !t_in_items && !in_fork_child()) t = acquire_team();
  int team = 1;
  if (!t) {
    run_inline(j);
  } else {
    {
      std::lock_guard<std::mutex> lk(t->m);
      grow(*t, threads - 1);
      team = std::min(threads, int(t->workers.size()) + 1);
      t->job = &j;
      t->epoch.fetch_add(1, std::memory_order_release);
      for (int k = 0; k < threads - 1 && k < int(t->workers.size()); ++k)
        if (t->workers[k]->sleeping) t->workers[k]->wake.notify_one();
    }
    take_items(j, 0);
    {
      std::unique_lock<std::mutex> lk(t->m);
      j.open = false;
      t->job = nullptr;
      t->done.wait(lk, [&] { return j.active == 0; });
    }
    release_team(t);
  }
  if (j.error) std::rethrow_exception(j.error);
  return team;
}

int pool_workers() { return g_workers.load(std::memory_order_relaxed); }
int pool_spin_us() { return spin_us(); }
void pool_set_join_delay_us(int us) { g_join_delay_us.store(std::max(us, 0), std::memory_order_relaxed); }

}  // namespace nnk
