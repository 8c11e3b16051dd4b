#include "blas.h"
#include <cassert>
#include <climits>
#include <mutex>
#include <type_traits>
#include <cblas.h>

namespace nnk {

static CBLAS_TRANSPOSE tr(bool t) { return t ? CblasTrans : CblasNoTrans; }

namespace {
// Guarded by g_mutex. g_requested < 0: not recorded yet (taken from OpenBLAS at the first scope).
std::mutex* g_mutex = new std::mutex;  // never destroyed: scopes may end during interpreter exit
int g_active = 0;
int g_requested = -1;
bool g_serial_forever = false;  // a forked child: OpenBLAS stays serial
bool g_child_applied = false;   // ... and has been set so
}  // namespace

// In a forked child, OpenBLAS is made serial at the first use (not in the atfork handler).
static void apply_child_serial_locked() {
  if (g_serial_forever && !g_child_applied && g_active == 0) {
    if (scipy_openblas_get_num_threads() != 1) scipy_openblas_set_num_threads(1);
    g_child_applied = true;
  }
}

[[maybe_unused]] static bool serial_scope_alive() {
  std::lock_guard<std::mutex> lock(*g_mutex);
  return g_active > 0;
}

template <class T>
void gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda, const T* b,
          int64_t ldb, T beta, T* c, int64_t ldc) {
  assert(m < INT_MAX && n < INT_MAX && k < INT_MAX && lda < INT_MAX && ldb < INT_MAX && ldc < INT_MAX);
  assert(serial_scope_alive());
  if (m == 0 || n == 0) return;
  if constexpr (std::is_same<T, float>::value)
    scipy_cblas_sgemm(CblasRowMajor, tr(ta), tr(tb), int(m), int(n), int(k), alpha, a, int(lda), b, int(ldb), beta,
                      c, int(ldc));
  else
    scipy_cblas_dgemm(CblasRowMajor, tr(ta), tr(tb), int(m), int(n), int(k), alpha, a, int(lda), b, int(ldb), beta,
                      c, int(ldc));
}
template void gemm<float>(bool, bool, int64_t, int64_t, int64_t, float, const float*, int64_t, const float*, int64_t,
                          float, float*, int64_t);
template void gemm<double>(bool, bool, int64_t, int64_t, int64_t, double, const double*, int64_t, const double*,
                           int64_t, double, double*, int64_t);

BlasSerialScope::BlasSerialScope() {
  std::lock_guard<std::mutex> lock(*g_mutex);
  if (g_active++ > 0) return;
  const int now = scipy_openblas_get_num_threads();
  if (g_requested < 0) g_requested = now;
  if (now != 1) scipy_openblas_set_num_threads(1);
  if (g_serial_forever) g_child_applied = true;
}

BlasSerialScope::~BlasSerialScope() {
  std::lock_guard<std::mutex> lock(*g_mutex);
  if (--g_active > 0) return;
  const int want = g_serial_forever ? 1 : g_requested;
  if (want != scipy_openblas_get_num_threads()) scipy_openblas_set_num_threads(want);
  g_requested = -1;  // re-read at the next first scope: honours changes made from outside nnkern
}

void blas_set_num_threads(int n) {
  std::lock_guard<std::mutex> lock(*g_mutex);
  if (g_serial_forever) {
    apply_child_serial_locked();
    return;
  }
  if (g_active > 0) {
    g_requested = n;  // the last live scope applies it
    return;
  }
  scipy_openblas_set_num_threads(n);
}

int blas_get_num_threads() {
  std::lock_guard<std::mutex> lock(*g_mutex);
  apply_child_serial_locked();
  return scipy_openblas_get_num_threads();
}
const char* blas_corename() { return scipy_openblas_get_corename(); }
const char* blas_config() { return scipy_openblas_get_config(); }

void blas_fork_prepare() { g_mutex->lock(); }
void blas_fork_parent() { g_mutex->unlock(); }
void blas_fork_child() {
  // Only the forking thread exists here; it locked the mutex in prepare. Scopes of the
  // parent's other threads will never end there. OpenBLAS is made serial at its first use
  // in the child (OpenBLAS restarts its own pool lazily after fork).
  g_active = 0;
  g_requested = 1;
  g_serial_forever = true;
  g_child_applied = false;
  g_mutex->unlock();
}

}  // namespace nnk
