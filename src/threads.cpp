// Thread count shared by nnkern's parallel regions and OpenBLAS, and the SIMD path report.
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
// signal is the involuntary context switches of the thread that calls the kernels (getrusage
// RUSAGE_THREAD: each time the scheduler preempted it; other libraries' threads in the process,
// e.g. torch's pool, do not count), measured over windows of kWindowNs of kernel calls: 2-55/s
// for SimpleConvNet and DeepConvNet steps with 2 threads on an idle 2-core machine, 566-624/s
// with one spinning competitor. Above kBusyRate the regions run half the team (1 thread on 2
// cores) for kHoldNs, then the full team again for the next window, which decides anew (with
// fewer threads than cores the preemptions stop, so only the full team can tell whether the
// competitor is still there).
// Opt-in (NNKERN_ADAPTIVE_THREADS=1): the count also includes the preemptions the calling thread
// suffers outside nnkern, e.g. inside NumPy's threaded BLAS between nnkern calls, and in
// `nnkern bench` (nnkern, NumPy and torch interleaved, idle machine) that halved the team by
// mistake: DeepConvNet steps at 1.16-1.47x torch against 1.75-1.98x with the adaptation off.
// Results do not change: kernels are bit-identical for any team.
namespace {
constexpr int64_t kWindowNs = 50'000'000, kHoldNs = 500'000'000;
constexpr double kBusyRate = 300.0;
std::atomic<int> g_adaptive{-1};  // -1: NNKERN_ADAPTIVE_THREADS not read yet
std::atomic<bool> g_reduced{false};
std::atomic<int64_t> g_next_ns{0};            // the end of the current window or hold
std::atomic<int64_t> g_epoch{0};              // bumped at each new window: older samples are void
std::mutex* g_sample_mutex = new std::mutex;  // never destroyed (regions may run at exit)
struct Sample {                               // a thread's switch count at the start of a window
  int64_t epoch = -1, switches = 0;
};
thread_local Sample t_start;

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
int64_t thread_switches() {
  struct rusage ru;
  return getrusage(RUSAGE_THREAD, &ru) == 0 ? int64_t(ru.ru_nivcsw) : 0;
}

}  // namespace

bool threads_reduce_decision(double switches_per_s) { return switches_per_s > kBusyRate; }

bool adaptive_threads() {
  int a = g_adaptive.load(std::memory_order_relaxed);
  if (a < 0) {
    const char* env = std::getenv("NNKERN_ADAPTIVE_THREADS");  // opt-in: "1"
    a = env && env[0] == '1' && env[1] == 0 ? 1 : 0;
    g_adaptive.store(a, std::memory_order_relaxed);
  }
  return a == 1;
}

void set_adaptive_threads(bool on) {
  std::lock_guard<std::mutex> lock(*g_sample_mutex);
  g_adaptive.store(on ? 1 : 0);
  g_reduced.store(false);
  g_epoch.fetch_add(1);
  g_next_ns.store(0);
}

bool threads_reduced() { return g_reduced.load(std::memory_order_relaxed); }

int threads_now() {
  const int n = configured_num_threads();
  return n > 1 && adaptive_threads() && threads_reduced() ? std::max(1, n / 2) : n;
}

// Whether regions run half the team now. The calling thread's switches are counted from the
// first call of a window (its start sample) to the first call after the window's end.
static bool machine_busy() {
  const int64_t now = now_ns(), epoch = g_epoch.load(std::memory_order_relaxed);
  if (t_start.epoch != epoch && !g_reduced.load(std::memory_order_relaxed)) t_start = {epoch, thread_switches()};
  if (now < g_next_ns.load(std::memory_order_relaxed)) return g_reduced.load(std::memory_order_relaxed);
  std::unique_lock<std::mutex> lock(*g_sample_mutex, std::try_to_lock);
  if (!lock.owns_lock() || now < g_next_ns.load()) return g_reduced.load(std::memory_order_relaxed);
  const int64_t start = g_next_ns.load() - kWindowNs;  // the window's start (no window yet: g_next_ns == 0)
  bool reduced = false;
  if (!g_reduced.load() && g_next_ns.load() > 0 && t_start.epoch == epoch && now > start)
    reduced = threads_reduce_decision(double(thread_switches() - t_start.switches) * 1e9 / double(now - start));
  g_reduced.store(reduced);
  g_epoch.fetch_add(1);  // a new window (after a hold, or now): every thread takes a new start sample
  if (!reduced) t_start = {epoch + 1, thread_switches()};
  g_next_ns.store(now + (reduced ? kHoldNs : kWindowNs));
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
#if defined(NNK_NO_AVX512)
  if (__builtin_cpu_supports("x86-64-v3")) return "x86-64-v3 (AVX2+FMA; AVX-512 left out by NNK_NO_AVX512)";
#else
  if (__builtin_cpu_supports("x86-64-v4")) return "x86-64-v4 (AVX-512)";
#endif
  if (__builtin_cpu_supports("x86-64-v3")) return "x86-64-v3 (AVX2+FMA)";
  return "x86-64 (SSE2)";
#else
  return "generic";
#endif
}

}  // namespace nnk
