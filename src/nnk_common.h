// Shared helpers of the nnkern kernels: thread count, static work split, ISA clones.
// Pure C++17 + OpenMP: no Python headers anywhere under src/.
#pragma once
#include <cstdint>
#include <cstddef>
#include <memory>

// Multiversioned hot loops: one ifunc-dispatched clone per ISA level, so the default
// build runs on any x86-64 CPU and still uses AVX2+FMA or AVX-512 where present.
// Apply it to non-template functions that are called once per thread (outlined OpenMP
// bodies are not cloned by GCC, so clones sit *inside* parallel regions, not around them).
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(NNK_NO_CLONES)
#define NNK_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define NNK_CLONES
#endif
#define NNK_INLINE inline __attribute__((always_inline))
#define NNK_RESTRICT __restrict__

namespace nnk {

// Thread count used by every parallel region (and mirrored into OpenBLAS); 1 in a process
// forked after nnkern loaded (fork_guard.h), whatever was requested.
int num_threads();
void set_num_threads(int n);
int requested_num_threads();  // the count set (or OMP_NUM_THREADS), even in a forked child
// Name of the clone the CPU dispatches to: "x86-64-v4 (AVX-512)", "x86-64-v3 (AVX2+FMA)" or "x86-64 (SSE2)".
const char* simd_path();

// Threads for a region over `elements` items: below 2^15 a parallel region costs more than
// it saves (and on a busy machine waits for a second thread to be scheduled), so run on the
// calling thread. Results never depend on it (work splits are shape-based).
constexpr int64_t kSerialBelow = int64_t(1) << 15;
inline int threads_for(int64_t elements) { return elements < kSerialBelow ? 1 : num_threads(); }

// The [begin, end) share of `n` items for thread `t` of `nt` (contiguous, static).
inline void thread_range(int64_t n, int t, int nt, int64_t& begin, int64_t& end) {
  const int64_t q = n / nt, r = n % nt;
  begin = t * q + (t < r ? t : r);
  end = begin + q + (t < r ? 1 : 0);
}

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
