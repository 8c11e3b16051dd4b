// Affine layer: three GEMMs through OpenBLAS and a bias pass. The GEMMs go through
// gemm_tiled (gemm_tiled.h), because OpenBLAS's own threading changes the last bits of the
// result with the thread count; gemm_tiled's results do not depend on it. The bias
// gradient sums each column of gy in row order with a double accumulator; threads own
// whole columns, so it does not depend on the thread count either.
#include <algorithm>
#include <cassert>
#include "affine.h"
#include "gemm_tiled.h"
#include "nnk_common.h"

namespace nnk {
namespace {

template <class T>
NNK_INLINE void affine_bias_grad_columns(const T* NNK_RESTRICT gy, T* NNK_RESTRICT gb, double* NNK_RESTRICT acc,
                                         int64_t n, int64_t out, int64_t b, int64_t e) {
  for (int64_t j = b; j < e; ++j) acc[j - b] = 0.0;
  for (int64_t r = 0; r < n; ++r) {
    const T* row = gy + r * out;
    for (int64_t j = b; j < e; ++j) acc[j - b] += double(row[j]);
  }
  for (int64_t j = b; j < e; ++j) gb[j] = T(acc[j - b]);
}
NNK_ISA_CLONES(affine_bias_grad, (const T* gy, T* gb, double* acc, int64_t n, int64_t out, int64_t b, int64_t e),
               affine_bias_grad_columns<T>(gy, gb, acc, n, out, b, e))

}  // namespace

template <class T>
void affine_forward(const T* x, const T* w, const T* b, T* y, int64_t n, int64_t in, int64_t out) {
  assert(n >= 0 && in >= 0 && out >= 0);
  if (n == 0 || out == 0) return;
  if (b) {  // y = broadcast b, then y += x . W (beta = 1)
    parallel_ranges(n, items_per_grain(grain::kLight, out), [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) std::copy(b, b + out, y + r * out);
    });
  }
  if (in == 0) {
    if (!b) std::fill(y, y + n * out, T(0));
    return;
  }
  gemm_tiled<T>(false, false, n, out, in, T(1), x, in, w, out, b ? T(1) : T(0), y, out);
}

template <class T>
void affine_backward(const T* gy, const T* x, const T* w, T* gx, T* gw, T* gb, int64_t n, int64_t in, int64_t out) {
  assert(n >= 0 && in >= 0 && out >= 0);
  if (gb) {
    parallel_ranges(out, items_per_grain(grain::kLight, n), [&](int64_t b, int64_t e) {
      auto acc = scratch<double>(e - b);
      affine_bias_grad_isa<T>(gy, gb, acc.get(), n, out, b, e);
    });
  }
  if (n == 0 || out == 0) {  // empty reductions: K = 0 GEMMs are not left to BLAS
    std::fill(gw, gw + in * out, T(0));
    if (gx) std::fill(gx, gx + n * in, T(0));
    return;
  }
  gemm_tiled<T>(true, false, in, out, n, T(1), x, in, gy, out, T(0), gw, out);
  if (gx) gemm_tiled<T>(false, true, n, in, out, T(1), gy, out, w, out, T(0), gx, in);
}

template void affine_forward<float>(const float*, const float*, const float*, float*, int64_t, int64_t, int64_t);
template void affine_forward<double>(const double*, const double*, const double*, double*, int64_t, int64_t, int64_t);
template void affine_backward<float>(const float*, const float*, const float*, float*, float*, float*, int64_t, int64_t,
                                     int64_t);
template void affine_backward<double>(const double*, const double*, const double*, double*, double*, double*, int64_t,
                                      int64_t, int64_t);

}  // namespace nnk
