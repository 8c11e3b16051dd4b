// Thread count shared by OpenMP regions and OpenBLAS, and the SIMD path report.
#include <atomic>
#include <cstdlib>
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

int num_threads() { return in_fork_child() ? 1 : requested_num_threads(); }

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
