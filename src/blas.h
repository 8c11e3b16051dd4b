// Thin typed wrapper over the CBLAS of scipy-openblas32 (row-major GEMM only).
#pragma once
#include <cstdint>

namespace nnk {

// C = alpha * op(A) * op(B) + beta * C, row-major; op(X) = X^T when trans_x.
// Outside an OpenMP parallel region OpenBLAS threads the call itself; inside one (conv2d's work
// items, gemm_tiled's tiles) call it under a BlasSerialScope, so that it runs on the calling
// thread only.
template <class T>
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a,
          int64_t lda, const T* b, int64_t ldb, T beta, T* c, int64_t ldc);

void blas_set_num_threads(int n);

// Makes OpenBLAS single-threaded for its lifetime (restores the count afterwards), so that
// GEMMs can be called from inside OpenMP regions: one thread pool, no oversubscription.
// The OpenBLAS thread count is process-global: do not run two nnkern kernels concurrently
// from different Python threads while one of these scopes is alive.
struct BlasSerialScope {
  int prev;
  BlasSerialScope();
  ~BlasSerialScope();
};
int blas_get_num_threads();
const char* blas_corename();
const char* blas_config();

}  // namespace nnk
