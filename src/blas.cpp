#include "blas.h"
#include <cassert>
#include <climits>
#include <cblas.h>

namespace nnk {

static CBLAS_TRANSPOSE tr(bool t) { return t ? CblasTrans : CblasNoTrans; }

template <>
void gemm<float>(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
                 int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  assert(m < INT_MAX && n < INT_MAX && k < INT_MAX && lda < INT_MAX && ldb < INT_MAX && ldc < INT_MAX);
  if (m == 0 || n == 0) return;
  scipy_cblas_sgemm(CblasRowMajor, tr(ta), tr(tb), int(m), int(n), int(k), alpha, a, int(lda), b,
                    int(ldb), beta, c, int(ldc));
}

template <>
void gemm<double>(bool ta, bool tb, int64_t m, int64_t n, int64_t k, double alpha, const double* a,
                  int64_t lda, const double* b, int64_t ldb, double beta, double* c, int64_t ldc) {
  assert(m < INT_MAX && n < INT_MAX && k < INT_MAX && lda < INT_MAX && ldb < INT_MAX && ldc < INT_MAX);
  if (m == 0 || n == 0) return;
  scipy_cblas_dgemm(CblasRowMajor, tr(ta), tr(tb), int(m), int(n), int(k), alpha, a, int(lda), b,
                    int(ldb), beta, c, int(ldc));
}

BlasSerialScope::BlasSerialScope() : prev(scipy_openblas_get_num_threads()) {
  if (prev != 1) scipy_openblas_set_num_threads(1);
}
BlasSerialScope::~BlasSerialScope() {
  if (prev != 1) scipy_openblas_set_num_threads(prev);
}

void blas_set_num_threads(int n) { scipy_openblas_set_num_threads(n); }
int blas_get_num_threads() { return scipy_openblas_get_num_threads(); }
const char* blas_corename() { return scipy_openblas_get_corename(); }
const char* blas_config() { return scipy_openblas_get_config(); }

}  // namespace nnk
