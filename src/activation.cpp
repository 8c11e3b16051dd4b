// Activations and softmax. Elementwise kernels: one ISA-cloned body per thread range
// (auto-vectorised loop, scalar tail), exp from nnk_vmath.h. Softmax: whole rows per
// thread, lane-partial reductions in a fixed order, so results do not depend on the
// thread count.
#include <cassert>
#include "activation.h"
#include "nnk_common.h"
#include "nnk_vmath.h"

namespace nnk {
namespace {

// ---- elementwise bodies: elements [b, e) --------------------------------------------------
template <class T>
NNK_INLINE void relu_forward_range(const T* NNK_RESTRICT x, T* NNK_RESTRICT y, int64_t b, int64_t e) {
  for (int64_t i = b; i < e; ++i) y[i] = x[i] < T(0) ? T(0) : x[i];  // NaN passes through
}
template <class T>
NNK_INLINE void relu_backward_range(const T* NNK_RESTRICT gy, const T* NNK_RESTRICT x, T* NNK_RESTRICT gx,
                                    int64_t b, int64_t e) {
  for (int64_t i = b; i < e; ++i) gx[i] = x[i] > T(0) ? gy[i] : T(0);
}
template <class T>
NNK_INLINE void sigmoid_forward_range(const T* NNK_RESTRICT x, T* NNK_RESTRICT y, int64_t b, int64_t e) {
  for (int64_t i = b; i < e; ++i) y[i] = T(1) / (T(1) + vexp(-x[i]));
}
template <class T>
NNK_INLINE void sigmoid_backward_range(const T* NNK_RESTRICT gy, const T* NNK_RESTRICT y, T* NNK_RESTRICT gx,
                                       int64_t b, int64_t e) {
  for (int64_t i = b; i < e; ++i) gx[i] = gy[i] * (T(1) - y[i]) * y[i];
}
// tanh |x| = -m / (2 + m) with m = expm1(-2|x|) in (-1, 0]: no overflow, exact sign, and
// relative accuracy near 0 (no 1 - e cancellation).
template <class T>
NNK_INLINE void tanh_forward_range(const T* NNK_RESTRICT x, T* NNK_RESTRICT y, int64_t b, int64_t e) {
  for (int64_t i = b; i < e; ++i) {
    const T a = x[i] < T(0) ? -x[i] : x[i];
    const T m = vexpm1(T(-2) * a);
    const T t = -m / (T(2) + m);
    y[i] = x[i] < T(0) ? -t : t;
  }
}
template <class T>
NNK_INLINE void tanh_backward_range(const T* NNK_RESTRICT gy, const T* NNK_RESTRICT y, T* NNK_RESTRICT gx,
                                    int64_t b, int64_t e) {
  for (int64_t i = b; i < e; ++i) gx[i] = gy[i] * (T(1) - y[i] * y[i]);
}

// ---- softmax bodies --------------------------------------------------------------------------
// Rows [b, e) of a contiguous (rows, k) matrix (inner == 1).
template <class T>
NNK_INLINE void softmax_forward_rows(const T* NNK_RESTRICT x, T* NNK_RESTRICT y, int64_t k, int64_t b, int64_t e) {
  for (int64_t r = b; r < e; ++r) {
    const T* xr = x + r * k;
    T* yr = y + r * k;
    const T s = row_exp_sum(xr, row_max(xr, k), yr, k);
    const T inv = T(1) / s;
    for (int64_t j = 0; j < k; ++j) yr[j] *= inv;
  }
}
template <class T>
NNK_INLINE void softmax_backward_rows(const T* NNK_RESTRICT gy, const T* NNK_RESTRICT y, T* NNK_RESTRICT gx,
                                      int64_t k, int64_t b, int64_t e) {
  for (int64_t r = b; r < e; ++r) {
    const T* g = gy + r * k;
    const T* yr = y + r * k;
    T* o = gx + r * k;
    const T d = row_dot(g, yr, k);
    for (int64_t j = 0; j < k; ++j) o[j] = yr[j] * (g[j] - d);
  }
}
// Blocks [b, e) of an (outer, k, inner) array, inner > 1: per block, k rows of `inner`
// contiguous values, reduced elementwise across rows (vectorised along inner, in k order).
// `tmp` holds 2 * inner values.
template <class T>
NNK_INLINE void softmax_forward_strided(const T* NNK_RESTRICT x, T* NNK_RESTRICT y, T* NNK_RESTRICT tmp, int64_t k,
                                        int64_t inner, int64_t b, int64_t e) {
  T* NNK_RESTRICT m = tmp;
  T* NNK_RESTRICT s = tmp + inner;
  for (int64_t o = b; o < e; ++o) {
    const T* xo = x + o * k * inner;
    T* yo = y + o * k * inner;
    for (int64_t j = 0; j < inner; ++j) m[j] = xo[j], s[j] = T(0);
    for (int64_t r = 1; r < k; ++r)
      for (int64_t j = 0; j < inner; ++j) m[j] = xo[r * inner + j] > m[j] ? xo[r * inner + j] : m[j];
    for (int64_t r = 0; r < k; ++r)
      for (int64_t j = 0; j < inner; ++j) {
        const T v = vexp(xo[r * inner + j] - m[j]);
        yo[r * inner + j] = v;
        s[j] += v;
      }
    for (int64_t j = 0; j < inner; ++j) s[j] = T(1) / s[j];
    for (int64_t r = 0; r < k; ++r)
      for (int64_t j = 0; j < inner; ++j) yo[r * inner + j] *= s[j];
  }
}
// `d` holds inner values.
template <class T>
NNK_INLINE void softmax_backward_strided(const T* NNK_RESTRICT gy, const T* NNK_RESTRICT y, T* NNK_RESTRICT gx,
                                         T* NNK_RESTRICT d, int64_t k, int64_t inner, int64_t b, int64_t e) {
  for (int64_t o = b; o < e; ++o) {
    const int64_t off = o * k * inner;
    for (int64_t j = 0; j < inner; ++j) d[j] = T(0);
    for (int64_t r = 0; r < k; ++r)
      for (int64_t j = 0; j < inner; ++j) d[j] += gy[off + r * inner + j] * y[off + r * inner + j];
    for (int64_t r = 0; r < k; ++r)
      for (int64_t j = 0; j < inner; ++j) {
        const int64_t i = off + r * inner + j;
        gx[i] = y[i] * (gy[i] - d[j]);
      }
  }
}

// ---- ISA clones of the per-thread bodies -----------------------------------------------------
NNK_ISA_CLONES(relu_forward, (const T* x, T* y, int64_t b, int64_t e), relu_forward_range<T>(x, y, b, e))
NNK_ISA_CLONES(relu_backward, (const T* gy, const T* x, T* gx, int64_t b, int64_t e),
               relu_backward_range<T>(gy, x, gx, b, e))
NNK_ISA_CLONES(sigmoid_forward, (const T* x, T* y, int64_t b, int64_t e), sigmoid_forward_range<T>(x, y, b, e))
NNK_ISA_CLONES(sigmoid_backward, (const T* gy, const T* y, T* gx, int64_t b, int64_t e),
               sigmoid_backward_range<T>(gy, y, gx, b, e))
NNK_ISA_CLONES(tanh_forward, (const T* x, T* y, int64_t b, int64_t e), tanh_forward_range<T>(x, y, b, e))
NNK_ISA_CLONES(tanh_backward, (const T* gy, const T* y, T* gx, int64_t b, int64_t e),
               tanh_backward_range<T>(gy, y, gx, b, e))
NNK_ISA_CLONES(softmax_forward_rows, (const T* x, T* y, int64_t k, int64_t b, int64_t e),
               softmax_forward_rows<T>(x, y, k, b, e))
NNK_ISA_CLONES(softmax_backward_rows, (const T* gy, const T* y, T* gx, int64_t k, int64_t b, int64_t e),
               softmax_backward_rows<T>(gy, y, gx, k, b, e))
NNK_ISA_CLONES(softmax_forward_strided, (const T* x, T* y, T* tmp, int64_t k, int64_t inner, int64_t b, int64_t e),
               softmax_forward_strided<T>(x, y, tmp, k, inner, b, e))
NNK_ISA_CLONES(softmax_backward_strided,
               (const T* gy, const T* y, T* gx, T* d, int64_t k, int64_t inner, int64_t b, int64_t e),
               softmax_backward_strided<T>(gy, y, gx, d, k, inner, b, e))

}  // namespace

template <class T> void relu_forward(const T* x, T* y, int64_t n) {
  parallel_ranges(n, grain::kLight, [&](int64_t b, int64_t e) { relu_forward_isa<T>(x, y, b, e); });
}
template <class T> void relu_backward(const T* gy, const T* x, T* gx, int64_t n) {
  parallel_ranges(n, grain::kLight, [&](int64_t b, int64_t e) { relu_backward_isa<T>(gy, x, gx, b, e); });
}
template <class T> void sigmoid_forward(const T* x, T* y, int64_t n) {
  parallel_ranges(n, grain::kExp, [&](int64_t b, int64_t e) { sigmoid_forward_isa<T>(x, y, b, e); });
}
template <class T> void sigmoid_backward(const T* gy, const T* y, T* gx, int64_t n) {
  parallel_ranges(n, grain::kLight, [&](int64_t b, int64_t e) { sigmoid_backward_isa<T>(gy, y, gx, b, e); });
}
template <class T> void tanh_forward(const T* x, T* y, int64_t n) {
  parallel_ranges(n, grain::kExp, [&](int64_t b, int64_t e) { tanh_forward_isa<T>(x, y, b, e); });
}
template <class T> void tanh_backward(const T* gy, const T* y, T* gx, int64_t n) {
  parallel_ranges(n, grain::kLight, [&](int64_t b, int64_t e) { tanh_backward_isa<T>(gy, y, gx, b, e); });
}

template <class T>
void softmax_forward(const T* x, T* y, int64_t outer, int64_t k, int64_t inner) {
  assert(k >= 1 && outer >= 0 && inner >= 1);
  const int64_t rows = items_per_grain(grain::kRows, k * inner);  // rows / blocks per thread
  if (inner == 1) {
    parallel_ranges(outer, rows, [&](int64_t b, int64_t e) { softmax_forward_rows_isa<T>(x, y, k, b, e); });
    return;
  }
  parallel_ranges(outer, rows, [&](int64_t b, int64_t e) {
    auto tmp = scratch<T>(2 * inner);
    softmax_forward_strided_isa<T>(x, y, tmp.get(), k, inner, b, e);
  });
}

template <class T>
void softmax_backward(const T* gy, const T* y, T* gx, int64_t outer, int64_t k, int64_t inner) {
  assert(k >= 1 && outer >= 0 && inner >= 1);
  const int64_t rows = items_per_grain(grain::kRows, k * inner);
  if (inner == 1) {
    parallel_ranges(outer, rows, [&](int64_t b, int64_t e) { softmax_backward_rows_isa<T>(gy, y, gx, k, b, e); });
    return;
  }
  parallel_ranges(outer, rows, [&](int64_t b, int64_t e) {
    auto tmp = scratch<T>(inner);
    softmax_backward_strided_isa<T>(gy, y, gx, tmp.get(), k, inner, b, e);
  });
}

#define NNK_INSTANTIATE(T)                                                               \
  template void relu_forward<T>(const T*, T*, int64_t);                                 \
  template void relu_backward<T>(const T*, const T*, T*, int64_t);                      \
  template void sigmoid_forward<T>(const T*, T*, int64_t);                              \
  template void sigmoid_backward<T>(const T*, const T*, T*, int64_t);                   \
  template void tanh_forward<T>(const T*, T*, int64_t);                                 \
  template void tanh_backward<T>(const T*, const T*, T*, int64_t);                      \
  template void softmax_forward<T>(const T*, T*, int64_t, int64_t, int64_t);            \
  template void softmax_backward<T>(const T*, const T*, T*, int64_t, int64_t, int64_t);
NNK_INSTANTIATE(float)
NNK_INSTANTIATE(double)
#undef NNK_INSTANTIATE

}  // namespace nnk
