// Shared helpers of the nnkern kernels: thread count, the work-split policy, ISA clones,
// scratch memory. Pure C++17: no Python headers anywhere under src/.
#pragma once
#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <type_traits>
#include <utility>
#include "thread_pool.h"

#define NNK_INLINE inline __attribute__((always_inline))
#define NNK_RESTRICT __restrict__

// ---- ISA clones --------------------------------------------------------------------------
// Multiversioned hot loops: one ifunc-dispatched clone per ISA level, so the default build
// runs on any x86-64 CPU and still uses AVX2+FMA or AVX-512 where present. GCC clones only
// non-template functions, and does not clone outlined OpenMP bodies, so the clones are the
// per-thread bodies *inside* parallel regions, and everything they call is always-inline.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(NNK_NO_CLONES)
#if defined(NNK_NO_AVX512)  // CMake NNK_NO_AVX512: the AVX2 path only (measurement builds)
#define NNK_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#define NNK_AVX512_TARGET
#else
#define NNK_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#define NNK_AVX512_TARGET __attribute__((target("arch=x86-64-v4")))
#endif
#else
#define NNK_CLONES
#define NNK_AVX512_TARGET
#endif

// NNK_ISA_CLONES(name, (params), body): the statement `body` (written in terms of a type T
// and the names in params) compiled as two non-template functions, name__f32 (T = float) and
// name__f64 (T = double), each multiversioned by NNK_CLONES, and name_isa<T>(args...), which
// calls the one for T. Example:
//   NNK_ISA_CLONES(relu_forward, (const T* x, T* y, int64_t b, int64_t e), relu_rows<T>(x, y, b, e))
// defines relu_forward__f32 / relu_forward__f64 (their names appear in profiles as such, with
// the clone's ISA suffix) and relu_forward_isa<T>(x, y, b, e).
#define NNK_ISA_CLONES(name, params, ...) NNK_ISA_FUNCTIONS(NNK_CLONES, name, params, __VA_ARGS__)
// NNK_ISA_AVX512(name, (params), body): the same pair compiled once, for x86-64-v4 only, for the
// 64-byte-vector ("_wide") bodies that run only where gemm_isa() is Avx512, which it is only on
// a CPU with AVX-512 (gemm.cpp): their x86-64-v3 and baseline clones were never called, and
// dropping them took a clean build from 572 to 328 CPU-seconds (2-core Zen 3). Without clones
// (NNK_NO_CLONES, NNK_NO_AVX512, other compilers) the body is compiled plainly, as before.
#define NNK_ISA_AVX512(name, params, ...) NNK_ISA_FUNCTIONS(NNK_AVX512_TARGET, name, params, __VA_ARGS__)
#define NNK_ISA_FUNCTIONS(attr, name, params, ...)                                    \
  namespace isa_f32 {                                                                 \
  using T = float;                                                                    \
  attr void name##__f32 params { __VA_ARGS__; }                                       \
  }                                                                                   \
  namespace isa_f64 {                                                                 \
  using T = double;                                                                   \
  attr void name##__f64 params { __VA_ARGS__; }                                       \
  }                                                                                   \
  template <class T_, class... A_>                                                    \
  NNK_INLINE void name##_isa(A_&&... a) {                                             \
    static_assert(std::is_same<T_, float>::value || std::is_same<T_, double>::value); \
    if constexpr (std::is_same<T_, float>::value)                                     \
      isa_f32::name##__f32(std::forward<A_>(a)...);                                   \
    else                                                                              \
      isa_f64::name##__f64(std::forward<A_>(a)...);                                   \
  }

namespace nnk {

// Thread count used by every parallel region: the configured count, halved while the
// machine is busy if NNKERN_ADAPTIVE_THREADS=1 (threads.cpp); 1 in a process
// forked after nnkern loaded (fork_guard.h), whatever was requested.
int num_threads();
int configured_num_threads();  // the count set (mirrored into OpenBLAS); 1 in a forked child
void set_num_threads(int n);
int requested_num_threads();  // the count set (or OMP_NUM_THREADS), even in a forked child
// Busy-machine adaptation: on/off (tests), its state, and its rule (whether a window in which
// the calling thread was preempted switches_per_s times a second means a busy machine).
bool adaptive_threads();
void set_adaptive_threads(bool on);
bool threads_reduced();
int threads_now();  // the team a region would use now, without taking a new sample
bool threads_reduce_decision(double switches_per_s);
// Name of the clone the CPU dispatches to: "x86-64-v4 (AVX-512)", "x86-64-v3 (AVX2+FMA)" or "x86-64 (SSE2)"
// ("x86-64-v3 (AVX2+FMA; AVX-512 left out by NNK_NO_AVX512)" in that measurement build).
const char* simd_path();

// ---- work split ----------------------------------------------------------------------------
// Threads of the most recent parallel_ranges call (from any thread; 1 when it ran on the calling
// thread): a testing hook, so that tests can check that a case really ran in parallel.
int last_parallel_threads();
void note_parallel_threads(int n);

// Grains: elements of work per thread below which fewer threads run, so that a thread gets
// tens of microseconds of work at the single-core rates measured here (relu ~0.12 ns/element,
// sigmoid/tanh ~0.4-0.5, softmax ~0.65) and the fork/join (microseconds; far more on a busy
// machine, where a second thread may wait to be scheduled) stays small. A kernel converts its
// grain to its own items (rows, planes, channels) with items_per_grain.
namespace grain {
constexpr int64_t kLight = int64_t(1) << 17;  // ~0.1 ns/element: relu, products, scaling, copies, column sums
constexpr int64_t kExp = int64_t(1) << 16;    // one exp or hash per element: sigmoid, tanh, dropout masks
constexpr int64_t kRows = int64_t(1) << 15;   // several passes per element: softmax, cross-entropy, pooling,
                                              // batch norm, local response norm (per window element)
constexpr int64_t kUpdate = int64_t(1) << 14;  // optimizer updates (one chunk of the multi-tensor range)
constexpr int64_t kData = int64_t(1) << 16;    // the data pipeline's batch loops (csrc/_data.pyx)
}  // namespace grain

// `grain` (elements of work) expressed in items of `work_per_item` elements, at least 1.
inline int64_t items_per_grain(int64_t grain, int64_t work_per_item) {
  return std::max<int64_t>(1, grain / std::max<int64_t>(work_per_item, 1));
}

// The work-split policy of the kernels, in one place: runs body(begin, end) over a split of
// the items [0, n) into contiguous ranges that cover it exactly once, with no more threads
// than num_threads() and than n / grain_items (so a call of fewer than 2 * grain_items items
// runs on the calling thread, without a parallel region). `body` must give the same result
// however [0, n) is cut (elementwise work, whole rows, planes or channels: every reduction
// inside one item), which is what makes every kernel bit-identical for any thread count.
//
// The ranges are chunks of about grain_items items (at most kMaxChunks of them): the cut
// depends on n and grain_items only, never on the thread count. The threads take chunks
// one at a time (the calling thread too), so on a busy machine a worker that the OS has not
// scheduled yet leaves its share to the threads that run instead of stalling the region
// while they wait at its end (with one static range per thread, a region took as long as its
// slowest thread: two threads lost to one with one other busy process on 2 cores).
//
// The chunks run through parallel_items (thread_pool.h), like the convolutions' work items: an
// exception thrown by `body` (std::bad_alloc of a scratch buffer) is rethrown here on the
// calling thread, after the join, and never leaves a worker thread.
constexpr int64_t kMaxChunks = 64;

template <class F>
void parallel_ranges(int64_t n, int64_t grain_items, F&& body) {
  if (n <= 0) return;
  const int64_t per = std::max<int64_t>(grain_items, 1);
  const int64_t want = std::min<int64_t>(num_threads(), n / per);
  if (want <= 1) {
    note_parallel_threads(1);
    body(int64_t(0), n);
    return;
  }
  const int64_t chunks = std::min<int64_t>(kMaxChunks, n / per);
  const int64_t size = (n + chunks - 1) / chunks;
  note_parallel_threads(parallel_items(chunks, int(want), [&](int64_t c, int) {
    const int64_t b = std::min(n, c * size), e = std::min(n, b + size);
    if (b < e) body(b, e);
  }));
}

// ---- scratch memory ------------------------------------------------------------------------
// Uninitialised scratch storage (std::vector would zero it first).
template <class T>
std::unique_ptr<T[]> scratch(int64_t n) {
  return std::unique_ptr<T[]>(new T[static_cast<size_t>(n > 0 ? n : 1)]);
}

// Per-thread reusable scratch, one buffer per slot (0..3): it grows as needed and stays
// allocated, so a kernel does not pay page faults on a freshly mmap'd buffer every call.
// 64-byte aligned, uninitialised. Valid until the same thread asks for the same slot again.
void* workspace_bytes(int slot, size_t bytes);
template <class T>
T* workspace(int slot, int64_t n) {
  return static_cast<T*>(workspace_bytes(slot, sizeof(T) * static_cast<size_t>(n > 0 ? n : 1)));
}

}  // namespace nnk
