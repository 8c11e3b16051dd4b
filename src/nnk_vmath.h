// Vectorisable math and work-splitting helpers of the elementwise and row-wise kernels
// (activations, softmax, dropout, softmax cross-entropy). Everything here is always-inline
// so that it is compiled once per ISA clone of the NNK_CLONES function that calls it.
#pragma once
// Without this, GCC keeps FP compare-and-select (the clamps below, relu, dropout masks) as
// branches because a compare may raise an FP exception, and the loops do not vectorise.
// nnkern never inspects FP exception flags. Applies to every function of the including file.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-trapping-math")
#endif
#include <omp.h>
#include <algorithm>
#include <cstdint>
#include <cstring>
#include "nnk_common.h"

namespace nnk {

// Runs body(begin, end) once per thread over a static contiguous split of [0, n), with no
// more threads than n / grain (a single call, no parallel region, for small n). Use only
// for work whose result does not depend on the split (elementwise ops, whole rows).
template <class F>
void parallel_ranges(int64_t n, int64_t grain, F&& body) {
  const int64_t want = std::min<int64_t>(num_threads(), std::max<int64_t>(1, n / std::max<int64_t>(grain, 1)));
  if (want <= 1) {
    body(int64_t(0), n);
    return;
  }
#pragma omp parallel num_threads(int(want))
  {
    int64_t b, e;
    thread_range(n, omp_get_thread_num(), omp_get_num_threads(), b, e);
    body(b, e);
  }
}

template <class T> struct ExpConst;
template <> struct ExpConst<float> {
  using Bits = uint32_t;
  static constexpr float lo = -87.0f, hi = 88.0f;           // 2^n stays a normal float
  static constexpr float magic = 12582912.0f;               // 1.5 * 2^23: adding it rounds to an integer
  static constexpr float ln2_hi = 0.693359375f, ln2_lo = -2.12194440e-4f;  // Cephes split of ln 2
  static constexpr int degree = 7, mant = 23, bias = 127;
};
template <> struct ExpConst<double> {
  using Bits = uint64_t;
  static constexpr double lo = -708.0, hi = 709.0;
  static constexpr double magic = 6755399441055744.0;      // 1.5 * 2^52
  static constexpr double ln2_hi = 6.93147180369123816490e-01, ln2_lo = 1.90821492927058770002e-10;  // fdlibm
  static constexpr int degree = 13, mant = 52, bias = 1023;
};

// sum_{k=K..D} r^(k-K) / k!, by Horner, unrolled at compile time (a runtime loop here
// would keep the caller's loop from vectorising).
template <class T, int K, int D>
NNK_INLINE T taylor_exp(T r, T inv_fact_k) {
  if constexpr (K == D) {
    return inv_fact_k;
  } else {
    return inv_fact_k + r * taylor_exp<T, K + 1, D>(r, inv_fact_k / T(K + 1));
  }
}

// Shared range reduction: x clamped to [lo, hi] (exp(-87) ~ 1.6e-38 in float32, exp(-708)
// ~ 3e-308 in float64: no subnormal or infinite results), x = n ln2 + r with |r| <= ln2/2
// (Cody-Waite); returns r and the bits of 2^n in `scale`. NaN propagates through r.
template <class T>
NNK_INLINE T exp_reduce(T x, T& scale) {
  using C = ExpConst<T>;
  using B = typename C::Bits;
  x = x < C::lo ? C::lo : x;
  x = x > C::hi ? C::hi : x;
  const T t = x * T(1.4426950408889634) + C::magic;  // round(x / ln2) + magic
  const T n = t - C::magic;
  const T r = (x - n * C::ln2_hi) - n * C::ln2_lo;
  B tb, mb;
  std::memcpy(&tb, &t, sizeof(T));
  const T m = C::magic;
  std::memcpy(&mb, &m, sizeof(T));
  const B e = static_cast<B>((tb - mb + C::bias)) << C::mant;  // bits of 2^n
  std::memcpy(&scale, &e, sizeof(T));
  return r;
}

// exp(x) without branches or libm calls, so that loops over it vectorise: 2^n times the
// Taylor polynomial of exp(r) (degree 7 for float: truncation < 5e-9; degree 13 for double:
// < 5e-18). Measured: at most 1.3 ulp over the whole range, both types.
template <class T>
NNK_INLINE T vexp(T x) {
  T scale;
  const T r = exp_reduce(x, scale);
  return taylor_exp<T, 0, ExpConst<T>::degree>(r, T(1)) * scale;
}

// expm1(x) = exp(x) - 1, accurate relative to the result near 0 as well: 2^n (e^r - 1) + (2^n - 1)
// with e^r - 1 = r (1 + r/2! + ...) evaluated without the leading 1 (n = 0 for |x| < ln2/2).
template <class T>
NNK_INLINE T vexpm1(T x) {
  T scale;
  const T r = exp_reduce(x, scale);
  const T q = r * taylor_exp<T, 1, ExpConst<T>::degree>(r, T(1));
  return scale * q + (scale - T(1));
}

// Row reductions with kLanes independent partial sums (so that they vectorise without
// reassociation flags), combined pairwise in a fixed order, then the scalar tail. The
// result depends only on n, never on threads; it differs from a sequential sum only by
// rounding.
constexpr int kLanes = 16;

template <class T>
NNK_INLINE T lanes_combine(T* acc) {
  for (int w = kLanes / 2; w >= 1; w /= 2)
    for (int l = 0; l < w; ++l) acc[l] += acc[l + w];
  return acc[0];
}

// max_k x[k] (NaN entries are skipped; n >= 1).
template <class T>
NNK_INLINE T row_max(const T* NNK_RESTRICT x, int64_t n) {
  T acc[kLanes];
  for (int l = 0; l < kLanes; ++l) acc[l] = x[0];
  int64_t k = 0;
  for (; k + kLanes <= n; k += kLanes)
    for (int l = 0; l < kLanes; ++l) acc[l] = x[k + l] > acc[l] ? x[k + l] : acc[l];
  for (int w = kLanes / 2; w >= 1; w /= 2)
    for (int l = 0; l < w; ++l) acc[l] = acc[l + w] > acc[l] ? acc[l + w] : acc[l];
  T m = acc[0];
  for (; k < n; ++k) m = x[k] > m ? x[k] : m;
  return m;
}

// y[k] = exp(x[k] - shift); returns sum_k y[k].
template <class T>
NNK_INLINE T row_exp_sum(const T* NNK_RESTRICT x, T shift, T* NNK_RESTRICT y, int64_t n) {
  T acc[kLanes] = {};
  int64_t k = 0;
  for (; k + kLanes <= n; k += kLanes)
    for (int l = 0; l < kLanes; ++l) {
      const T e = vexp(x[k + l] - shift);
      y[k + l] = e;
      acc[l] += e;
    }
  T tail = T(0);
  for (; k < n; ++k) {
    y[k] = vexp(x[k] - shift);
    tail += y[k];
  }
  return lanes_combine(acc) + tail;
}

// sum_k a[k] * b[k].
template <class T>
NNK_INLINE T row_dot(const T* NNK_RESTRICT a, const T* NNK_RESTRICT b, int64_t n) {
  T acc[kLanes] = {};
  int64_t k = 0;
  for (; k + kLanes <= n; k += kLanes)
    for (int l = 0; l < kLanes; ++l) acc[l] += a[k + l] * b[k + l];
  T tail = T(0);
  for (; k < n; ++k) tail += a[k] * b[k];
  return lanes_combine(acc) + tail;
}

}  // namespace nnk
