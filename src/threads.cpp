// Thread count shared by OpenMP regions and OpenBLAS, and the SIMD path report.
#include <sys/resource.h>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <mutex>
#include <new>
#include <omp.h>
#include "blas.h"
#include "fork_guard.h"
#include "nnk_common.h"

namespace nnk {

static std::atomic<int> g_threads{0};
static std::atomic<int> g_last_parallel{0};

int last_parallel_threads() { return g_last_parallel.load(std::memory_order_relaxed); }
void note_parallel_threads(int n) { g_last_parallel.store(n, std::memory_order_relaxed); }

int requested_num_threads() {
  int n = g_threads.load(std::memory_order_relaxed);
  if (n <= 0) {  // first use: respect OMP_NUM_THREADS via the OpenMP runtime
    n = omp_get_max_threads();
    g_threads.store(n, std::memory_order_relaxed);
  }
  return n;
}

int configured_num_threads() { return in_fork_child() ? 1 : requested_num_threads(); }

// ---- busy-machine adaptation ------------------------------------------------------------------
// When other processes compete for the cores, a team as large as the machine loses to one
// thread: each fork-join waits for whichever member was preempted (measured on 2 cores with one
// spinning competitor: SimpleConvNet / DeepConvNet steps at 0.86x / 0.92x of one thread). The
// signal is the process's involuntary context switches (getrusage: every preemption of any of
// its threads), sampled at most once per window by whichever thread asks first: 24-64/s with 2
// threads on an idle 2-core machine, 1,000-1,400/s with one spinning competitor; with one thread
// 1-2/s idle, ~30/s with the competitor. Above kBusyRate the regions run half the team
// (1 thread on 2 cores) until the rate, sampled over longer windows, falls below kQuietRate.
// Results do not change: every kernel is bit-identical for any thread count.
namespace {
constexpr int64_t kWindowFullNs = 50'000'000, kWindowReducedNs = 250'000'000;
constexpr double kBusyRate = 300.0, kQuietRate = 8.0;
std::atomic<int> g_adaptive{-1};  // -1: NNKERN_ADAPTIVE_THREADS not read yet
std::atomic<bool> g_reduced{false};
std::atomic<int64_t> g_next_sample_ns{0};
std::mutex* g_sample_mutex = new std::mutex;  // never destroyed (regions may run at exit)
int64_t g_prev_ns = 0, g_prev_switches = 0;   // guarded by g_sample_mutex

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
}  // namespace

bool threads_reduce_decision(bool reduced, double switches_per_s) {
  return reduced ? switches_per_s > kQuietRate : switches_per_s > kBusyRate;
}

bool adaptive_threads() {
  int a = g_adaptive.load(std::memory_order_relaxed);
  if (a < 0) {
    const char* env = std::getenv("NNKERN_ADAPTIVE_THREADS");
    a = env && env[0] == '0' && env[1] == 0 ? 0 : 1;
    g_adaptive.store(a, std::memory_order_relaxed);
  }
  return a == 1;
}

void set_adaptive_threads(bool on) {
  std::lock_guard<std::mutex> lock(*g_sample_mutex);
  g_adaptive.store(on ? 1 : 0);
  g_reduced.store(false);
  g_prev_ns = 0;
  g_next_sample_ns.store(0);
}

bool threads_reduced() { return g_reduced.load(std::memory_order_relaxed); }

// Whether the machine is busy, per the last sample; takes a new one when the window is over.
static bool machine_busy() {
  const int64_t now = now_ns();
  if (now < g_next_sample_ns.load(std::memory_order_relaxed)) return g_reduced.load(std::memory_order_relaxed);
  std::unique_lock<std::mutex> lock(*g_sample_mutex, std::try_to_lock);
  if (!lock.owns_lock() || now < g_next_sample_ns.load()) return g_reduced.load(std::memory_order_relaxed);
  struct rusage ru;
  bool reduced = g_reduced.load();
  if (getrusage(RUSAGE_SELF, &ru) == 0) {
    const int64_t switches = ru.ru_nivcsw;
    if (g_prev_ns > 0 && now > g_prev_ns)
      reduced = threads_reduce_decision(reduced, double(switches - g_prev_switches) * 1e9 / double(now - g_prev_ns));
    g_prev_ns = now, g_prev_switches = switches;
  }
  g_reduced.store(reduced);
  g_next_sample_ns.store(now + (reduced ? kWindowReducedNs : kWindowFullNs));
  return reduced;
}

int num_threads() {
  const int n = configured_num_threads();
  if (n <= 1 || !adaptive_threads()) return n;
  return machine_busy() ? std::max(1, n / 2) : n;
}

// In a forked child only the request is stored: libgomp's pool cannot be revived there.
void set_num_threads(int n) {
  if (n < 1) n = 1;
  g_threads.store(n, std::memory_order_relaxed);
  if (in_fork_child()) return;
  omp_set_num_threads(n);
  blas_set_num_threads(n);
}

namespace {
struct Workspace {
  void* ptr[4] = {nullptr, nullptr, nullptr, nullptr};
  size_t cap[4] = {0, 0, 0, 0};
  ~Workspace() {
    for (void* p : ptr) std::free(p);
  }
};
thread_local Workspace t_ws;
}  // namespace

void* workspace_bytes(int slot, size_t bytes) {
  if (bytes > t_ws.cap[slot]) {
    std::free(t_ws.ptr[slot]);
    t_ws.ptr[slot] = nullptr;
    t_ws.cap[slot] = 0;
    const size_t rounded = (bytes + 63) / 64 * 64;
    void* p = std::aligned_alloc(64, rounded);
    if (!p) throw std::bad_alloc();
    t_ws.ptr[slot] = p;
    t_ws.cap[slot] = rounded;
  }
  return t_ws.ptr[slot];
}

const char* simd_path() {
#if defined(__x86_64__) && defined(__GNUC__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("x86-64-v4")) return "x86-64-v4 (AVX-512)";
  if (__builtin_cpu_supports("x86-64-v3")) return "x86-64-v3 (AVX2+FMA)";
  return "x86-64 (SSE2)";
#else
  return "generic";
#endif
}

}  // namespace nnk
