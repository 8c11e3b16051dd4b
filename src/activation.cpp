// Activations and softmax. Elementwise kernels: one NNK_CLONES body per thread over a
// static [begin, end) range (auto-vectorised body, scalar tail), exp from nnk_vmath.h.
// Softmax: whole rows per thread, lane-partial reductions in a fixed order, so results
// do not depend on the thread count.
#include <algorithm>
#include <cassert>
#include "activation.h"
#include "nnk_common.h"
#include "nnk_vmath.h"

namespace nnk {

// Elements per thread below which fewer threads run: tens of microseconds of work per thread
// at the single-core rates measured here (relu ~0.12 ns/element, sigmoid/tanh ~0.4-0.5, softmax
// ~0.65), so that the fork/join (microseconds; far more on an oversubscribed machine) is small.
constexpr int64_t kGrainLight = int64_t(1) << 17;  // relu, the backward products
constexpr int64_t kGrainExp = int64_t(1) << 16;    // sigmoid, tanh forward (one exp each)
constexpr int64_t kGrainRows = int64_t(1) << 15;   // softmax (three passes, exp)

// ---- elementwise bodies (always inlined into the clones) --------------------------------
template <class T>
NNK_INLINE void relu_fwd_impl(const T* NNK_RESTRICT x, T* NNK_RESTRICT y, int64_t b, int64_t e) {
  for (int64_t i = b; i < e; ++i) y[i] = x[i] < T(0) ? T(0) : x[i];  // NaN passes through
}
template <class T>
NNK_INLINE void relu_bwd_impl(const T* NNK_RESTRICT gy, const T* NNK_RESTRICT x, T* NNK_RESTRICT gx, int64_t b,
                              int64_t e) {
  for (int64_t i = b; i < e; ++i) gx[i] = x[i] > T(0) ? gy[i] : T(0);
}
template <class T>
NNK_INLINE void sigmoid_fwd_impl(const T* NNK_RESTRICT x, T* NNK_RESTRICT y, int64_t b, int64_t e) {
  for (int64_t i = b; i < e; ++i) y[i] = T(1) / (T(1) + vexp(-x[i]));
}
template <class T>
NNK_INLINE void sigmoid_bwd_impl(const T* NNK_RESTRICT gy, const T* NNK_RESTRICT y, T* NNK_RESTRICT gx, int64_t b,
                                 int64_t e) {
  for (int64_t i = b; i < e; ++i) gx[i] = gy[i] * (T(1) - y[i]) * y[i];
}
// tanh |x| = -m / (2 + m) with m = expm1(-2|x|) in (-1, 0]: no overflow, exact sign, and
// relative accuracy near 0 (no 1 - e cancellation).
template <class T>
NNK_INLINE void tanh_fwd_impl(const T* NNK_RESTRICT x, T* NNK_RESTRICT y, int64_t b, int64_t e) {
  for (int64_t i = b; i < e; ++i) {
    const T a = x[i] < T(0) ? -x[i] : x[i];
    const T m = vexpm1(T(-2) * a);
    const T t = -m / (T(2) + m);
    y[i] = x[i] < T(0) ? -t : t;
  }
}
template <class T>
NNK_INLINE void tanh_bwd_impl(const T* NNK_RESTRICT gy, const T* NNK_RESTRICT y, T* NNK_RESTRICT gx, int64_t b,
                              int64_t e) {
  for (int64_t i = b; i < e; ++i) gx[i] = gy[i] * (T(1) - y[i] * y[i]);
}

// One clone set per (op, type): NNK_CLONES functions must not be templates.
#define NNK_UNARY_CLONES(op)                                                                              \
  NNK_CLONES static void op##_range_f32(const float* x, float* y, int64_t b, int64_t e) {                \
    op##_impl<float>(x, y, b, e);                                                                        \
  }                                                                                                      \
  NNK_CLONES static void op##_range_f64(const double* x, double* y, int64_t b, int64_t e) {              \
    op##_impl<double>(x, y, b, e);                                                                       \
  }                                                                                                      \
  static void op##_range(const float* x, float* y, int64_t b, int64_t e) { op##_range_f32(x, y, b, e); } \
  static void op##_range(const double* x, double* y, int64_t b, int64_t e) { op##_range_f64(x, y, b, e); }
#define NNK_BINARY_CLONES(op)                                                                               \
  NNK_CLONES static void op##_range_f32(const float* a, const float* c, float* y, int64_t b, int64_t e) {  \
    op##_impl<float>(a, c, y, b, e);                                                                       \
  }                                                                                                        \
  NNK_CLONES static void op##_range_f64(const double* a, const double* c, double* y, int64_t b, int64_t e) { \
    op##_impl<double>(a, c, y, b, e);                                                                      \
  }                                                                                                        \
  static void op##_range(const float* a, const float* c, float* y, int64_t b, int64_t e) {                 \
    op##_range_f32(a, c, y, b, e);                                                                         \
  }                                                                                                        \
  static void op##_range(const double* a, const double* c, double* y, int64_t b, int64_t e) {              \
    op##_range_f64(a, c, y, b, e);                                                                         \
  }

NNK_UNARY_CLONES(relu_fwd)
NNK_BINARY_CLONES(relu_bwd)
NNK_UNARY_CLONES(sigmoid_fwd)
NNK_BINARY_CLONES(sigmoid_bwd)
NNK_UNARY_CLONES(tanh_fwd)
NNK_BINARY_CLONES(tanh_bwd)

template <class T> void relu_forward(const T* x, T* y, int64_t n) {
  parallel_ranges(n, kGrainLight, [&](int64_t b, int64_t e) { relu_fwd_range(x, y, b, e); });
}
template <class T> void relu_backward(const T* gy, const T* x, T* gx, int64_t n) {
  parallel_ranges(n, kGrainLight, [&](int64_t b, int64_t e) { relu_bwd_range(gy, x, gx, b, e); });
}
template <class T> void sigmoid_forward(const T* x, T* y, int64_t n) {
  parallel_ranges(n, kGrainExp, [&](int64_t b, int64_t e) { sigmoid_fwd_range(x, y, b, e); });
}
template <class T> void sigmoid_backward(const T* gy, const T* y, T* gx, int64_t n) {
  parallel_ranges(n, kGrainLight, [&](int64_t b, int64_t e) { sigmoid_bwd_range(gy, y, gx, b, e); });
}
template <class T> void tanh_forward(const T* x, T* y, int64_t n) {
  parallel_ranges(n, kGrainExp, [&](int64_t b, int64_t e) { tanh_fwd_range(x, y, b, e); });
}
template <class T> void tanh_backward(const T* gy, const T* y, T* gx, int64_t n) {
  parallel_ranges(n, kGrainLight, [&](int64_t b, int64_t e) { tanh_bwd_range(gy, y, gx, b, e); });
}

// ---- softmax ---------------------------------------------------------------------------
// Rows [b, e) of a contiguous (rows, k) matrix (inner == 1).
template <class T>
NNK_INLINE void softmax_rows_impl(const T* NNK_RESTRICT x, T* NNK_RESTRICT y, int64_t k, int64_t b, int64_t e) {
  for (int64_t r = b; r < e; ++r) {
    const T* xr = x + r * k;
    T* yr = y + r * k;
    const T s = row_exp_sum(xr, row_max(xr, k), yr, k);
    const T inv = T(1) / s;
    for (int64_t j = 0; j < k; ++j) yr[j] *= inv;
  }
}
template <class T>
NNK_INLINE void softmax_bwd_rows_impl(const T* NNK_RESTRICT gy, const T* NNK_RESTRICT y, T* NNK_RESTRICT gx,
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
NNK_INLINE void softmax_strided_impl(const T* NNK_RESTRICT x, T* NNK_RESTRICT y, T* NNK_RESTRICT tmp, int64_t k,
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
template <class T>
NNK_INLINE void softmax_bwd_strided_impl(const T* NNK_RESTRICT gy, const T* NNK_RESTRICT y, T* NNK_RESTRICT gx,
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

NNK_CLONES static void softmax_rows_f32(const float* x, float* y, int64_t k, int64_t b, int64_t e) {
  softmax_rows_impl<float>(x, y, k, b, e);
}
NNK_CLONES static void softmax_rows_f64(const double* x, double* y, int64_t k, int64_t b, int64_t e) {
  softmax_rows_impl<double>(x, y, k, b, e);
}
NNK_CLONES static void softmax_bwd_rows_f32(const float* gy, const float* y, float* gx, int64_t k, int64_t b,
                                            int64_t e) {
  softmax_bwd_rows_impl<float>(gy, y, gx, k, b, e);
}
NNK_CLONES static void softmax_bwd_rows_f64(const double* gy, const double* y, double* gx, int64_t k, int64_t b,
                                            int64_t e) {
  softmax_bwd_rows_impl<double>(gy, y, gx, k, b, e);
}
NNK_CLONES static void softmax_strided_f32(const float* x, float* y, float* tmp, int64_t k, int64_t inner,
                                           int64_t b, int64_t e) {
  softmax_strided_impl<float>(x, y, tmp, k, inner, b, e);
}
NNK_CLONES static void softmax_strided_f64(const double* x, double* y, double* tmp, int64_t k, int64_t inner,
                                           int64_t b, int64_t e) {
  softmax_strided_impl<double>(x, y, tmp, k, inner, b, e);
}
NNK_CLONES static void softmax_bwd_strided_f32(const float* gy, const float* y, float* gx, float* d, int64_t k,
                                               int64_t inner, int64_t b, int64_t e) {
  softmax_bwd_strided_impl<float>(gy, y, gx, d, k, inner, b, e);
}
NNK_CLONES static void softmax_bwd_strided_f64(const double* gy, const double* y, double* gx, double* d, int64_t k,
                                               int64_t inner, int64_t b, int64_t e) {
  softmax_bwd_strided_impl<double>(gy, y, gx, d, k, inner, b, e);
}

static void softmax_rows(const float* x, float* y, int64_t k, int64_t b, int64_t e) { softmax_rows_f32(x, y, k, b, e); }
static void softmax_rows(const double* x, double* y, int64_t k, int64_t b, int64_t e) {
  softmax_rows_f64(x, y, k, b, e);
}
static void softmax_bwd_rows(const float* gy, const float* y, float* gx, int64_t k, int64_t b, int64_t e) {
  softmax_bwd_rows_f32(gy, y, gx, k, b, e);
}
static void softmax_bwd_rows(const double* gy, const double* y, double* gx, int64_t k, int64_t b, int64_t e) {
  softmax_bwd_rows_f64(gy, y, gx, k, b, e);
}
static void softmax_strided(const float* x, float* y, float* t, int64_t k, int64_t in, int64_t b, int64_t e) {
  softmax_strided_f32(x, y, t, k, in, b, e);
}
static void softmax_strided(const double* x, double* y, double* t, int64_t k, int64_t in, int64_t b, int64_t e) {
  softmax_strided_f64(x, y, t, k, in, b, e);
}
static void softmax_bwd_strided(const float* gy, const float* y, float* gx, float* d, int64_t k, int64_t in, int64_t b,
                                int64_t e) {
  softmax_bwd_strided_f32(gy, y, gx, d, k, in, b, e);
}
static void softmax_bwd_strided(const double* gy, const double* y, double* gx, double* d, int64_t k, int64_t in,
                                int64_t b, int64_t e) {
  softmax_bwd_strided_f64(gy, y, gx, d, k, in, b, e);
}

template <class T>
void softmax_forward(const T* x, T* y, int64_t outer, int64_t k, int64_t inner) {
  assert(k >= 1 && outer >= 0 && inner >= 1);
  const int64_t grain = std::max<int64_t>(1, kGrainRows / (k * inner));  // rows/blocks per thread
  if (inner == 1) {
    parallel_ranges(outer, grain, [&](int64_t b, int64_t e) { softmax_rows(x, y, k, b, e); });
    return;
  }
  parallel_ranges(outer, grain, [&](int64_t b, int64_t e) {
    auto tmp = scratch<T>(2 * inner);
    softmax_strided(x, y, tmp.get(), k, inner, b, e);
  });
}

template <class T>
void softmax_backward(const T* gy, const T* y, T* gx, int64_t outer, int64_t k, int64_t inner) {
  assert(k >= 1 && outer >= 0 && inner >= 1);
  const int64_t grain = std::max<int64_t>(1, kGrainRows / (k * inner));
  if (inner == 1) {
    parallel_ranges(outer, grain, [&](int64_t b, int64_t e) { softmax_bwd_rows(gy, y, gx, k, b, e); });
    return;
  }
  parallel_ranges(outer, grain, [&](int64_t b, int64_t e) {
    auto tmp = scratch<T>(inner);
    softmax_bwd_strided(gy, y, gx, tmp.get(), k, inner, b, e);
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
