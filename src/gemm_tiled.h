// GEMM whose result does not depend on the thread count.
//
// OpenBLAS's multithreaded GEMM is not bit-identical to its single-threaded GEMM: the
// threaded driver (driver/level3/level3_thread.c) splits K into blocks differently from
// level3.c when GEMM_Q < K < 2*GEMM_Q ((K+1)/2 versus K/2 rounded up to GEMM_UNROLL_M),
// and the per-thread M/N ranges change which rows go through the edge micro-kernels. On
// SkylakeX (scipy-openblas32 0.3.34) float32 x@W for (100, 784) @ (784, 50) and float64
// GEMMs of almost any shape differ in the last bits between 1 and 2 threads.
//
// gemm_tiled cuts C into a grid of tiles that depends only on (m, n, k), computes each tile
// with one single-threaded BLAS call (full K, so every element's dot product is one BLAS
// call's), and spreads the tiles over nnkern's threads. The BLAS thread count is
// pinned to 1 for the duration of the call (a BlasSerialScope, taken outside the parallel
// region) and restored afterwards.
#pragma once
#include <cstdint>

namespace nnk {

// C = alpha * op(A) * op(B) + beta * C, row-major (as nnk::gemm); deterministic for any
// thread count. Call it outside parallel regions (inside one it runs on the item's thread).
template <class T>
void gemm_tiled(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda,
                const T* b, int64_t ldb, T beta, T* c, int64_t ldc);
// The tile sizes (tm, tn) gemm_tiled cuts an m x n x k product into (a function of the shape
// alone; also a testing hook).
void gemm_tiled_grid(int64_t m, int64_t n, int64_t k, int64_t& tm, int64_t& tn);

}  // namespace nnk
