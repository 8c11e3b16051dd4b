// Thin typed wrapper over the CBLAS of scipy-openblas32 (row-major GEMM only), and the
// process-wide coordination of OpenBLAS's (process-global) thread count.
#pragma once
#include <cstdint>

namespace nnk {

// C = alpha * op(A) * op(B) + beta * C, row-major; op(X) = X^T when trans_x.
// Call it only while a BlasSerialScope is alive (anywhere in the process): nnkern never
// uses OpenBLAS's own threads, whose results differ in the last bits from serial GEMMs.
template <class T>
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a,
          int64_t lda, const T* b, int64_t ldb, T beta, T* c, int64_t ldc);

// Keeps OpenBLAS single-threaded while at least one nnkern kernel that calls GEMM runs,
// in any thread of the process. A process-wide count of live scopes, under a mutex: the
// first scope records OpenBLAS's thread count and sets it to 1, the last one restores the
// requested count (the recorded one, or the latest blas_set_num_threads). So kernels run
// concurrently from several Python threads make the same single-threaded GEMM calls as
// serial use (bit-identical results), and a set_num_threads while kernels run elsewhere
// takes effect when the last of them ends. Scopes nest.
struct BlasSerialScope {
  BlasSerialScope();
  ~BlasSerialScope();
  BlasSerialScope(const BlasSerialScope&) = delete;
  BlasSerialScope& operator=(const BlasSerialScope&) = delete;
};

// The count OpenBLAS gets when no kernel runs; applied at once when none runs now.
void blas_set_num_threads(int n);
// OpenBLAS's current thread count (1 while a BlasSerialScope is alive anywhere).
int blas_get_num_threads();
const char* blas_corename();
const char* blas_config();

// pthread_atfork handlers (fork_guard.cpp): hold the scope mutex across fork(), and in the
// child forget the scopes of threads that do not exist there and keep OpenBLAS serial.
void blas_fork_prepare();
void blas_fork_parent();
void blas_fork_child();

}  // namespace nnk
