// Softmax cross-entropy: whole rows per thread (an ISA-cloned body per thread range); the
// per-row losses go to a buffer that one thread sums in row order, so the loss is
// bit-identical for any thread count.
#include <algorithm>
#include <cassert>
#include <cmath>
#include "softmax_cross_entropy.h"
#include "nnk_common.h"
#include "nnk_vmath.h"

namespace nnk {
namespace {

template <class T>
NNK_INLINE void softmax_cross_entropy_forward_rows(const T* NNK_RESTRICT x, const int64_t* NNK_RESTRICT labels,
                             const T* NNK_RESTRICT target, T* NNK_RESTRICT p, double* NNK_RESTRICT row_loss,
                             int64_t k, int64_t b, int64_t e) {
  for (int64_t r = b; r < e; ++r) {
    const T* xr = x + r * k;
    T* pr = p + r * k;
    const T m = row_max(xr, k);
    const T s = row_exp_sum(xr, m, pr, k);
    const T inv = T(1) / s;
    for (int64_t j = 0; j < k; ++j) pr[j] *= inv;
    const double lse = double(m) + std::log(double(s));
    if (labels) {
      row_loss[r] = lse - double(xr[labels[r]]);
    } else {  // sum_j t_j (lse - x_j): zero targets contribute exactly 0, no log(0)
      const T* tr = target + r * k;
      double acc = 0.0;
      for (int64_t j = 0; j < k; ++j) acc += double(tr[j]) * (lse - double(xr[j]));
      row_loss[r] = acc;
    }
  }
}
template <class T>
NNK_INLINE void softmax_cross_entropy_backward_rows(const T* NNK_RESTRICT p, const int64_t* NNK_RESTRICT labels,
                             const T* NNK_RESTRICT target, T* NNK_RESTRICT g, T scale, int64_t k, int64_t b,
                             int64_t e) {
  if (labels) {
    for (int64_t r = b; r < e; ++r) {
      const T* pr = p + r * k;
      T* gr = g + r * k;
      for (int64_t j = 0; j < k; ++j) gr[j] = pr[j] * scale;
      gr[labels[r]] = (pr[labels[r]] - T(1)) * scale;
    }
  } else {
    for (int64_t i = b * k; i < e * k; ++i) g[i] = (p[i] - target[i]) * scale;
  }
}

NNK_ISA_CLONES(softmax_cross_entropy_forward,
               (const T* x, const int64_t* labels, const T* target, T* p, double* row_loss, int64_t k, int64_t b,
                int64_t e),
               softmax_cross_entropy_forward_rows<T>(x, labels, target, p, row_loss, k, b, e))
NNK_ISA_CLONES(softmax_cross_entropy_backward,
               (const T* p, const int64_t* labels, const T* target, T* g, T scale, int64_t k, int64_t b, int64_t e),
               softmax_cross_entropy_backward_rows<T>(p, labels, target, g, scale, k, b, e))

}  // namespace

template <class T>
double softmax_cross_entropy_forward(const T* logits, const int64_t* labels, const T* target, T* probs, int64_t n,
                                     int64_t k) {
  assert(n >= 1 && k >= 1 && (labels || target));
  auto row_loss = scratch<double>(n);
  parallel_ranges(n, items_per_grain(grain::kRows, k), [&](int64_t b, int64_t e) {
    softmax_cross_entropy_forward_isa<T>(logits, labels, target, probs, row_loss.get(), k, b, e);
  });
  double total = 0.0;
  for (int64_t r = 0; r < n; ++r) total += row_loss[r];
  return total / double(n);
}

template <class T>
void softmax_cross_entropy_backward(const T* probs, const int64_t* labels, const T* target, T* grad, int64_t n,
                                    int64_t k, T scale) {
  assert(k >= 1 && (labels || target));
  parallel_ranges(n, items_per_grain(grain::kRows, k), [&](int64_t b, int64_t e) {
    softmax_cross_entropy_backward_isa<T>(probs, labels, target, grad, scale, k, b, e);
  });
}

template double softmax_cross_entropy_forward<float>(const float*, const int64_t*, const float*, float*, int64_t,
                                                     int64_t);
template double softmax_cross_entropy_forward<double>(const double*, const int64_t*, const double*, double*, int64_t,
                                                      int64_t);
template void softmax_cross_entropy_backward<float>(const float*, const int64_t*, const float*, float*, int64_t,
                                                    int64_t, float);
template void softmax_cross_entropy_backward<double>(const double*, const int64_t*, const double*, double*, int64_t,
                                                     int64_t, double);

}  // namespace nnk
