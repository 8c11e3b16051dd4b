// Fixed-order reductions shared by the kernels: sums and maxima over kLanes independent
// partial accumulators (so that the loops vectorise without reassociation flags), folded in
// a fixed balanced tree, then the scalar tail. The result depends only on the length, never
// on the thread count or the ISA; it differs from a sequential sum only by rounding.
// Everything here is always-inline: it is compiled into the ISA clone that calls it.
#pragma once
#include <cstdint>
#include "nnk_common.h"

namespace nnk {

constexpr int kLanes = 16;

// acc[0] = the fixed-tree fold of acc[0 .. kLanes) (acc is overwritten).
template <class T>
NNK_INLINE T lanes_fold(T* acc) {
  for (int w = kLanes / 2; w >= 1; w /= 2)
    for (int l = 0; l < w; ++l) acc[l] += acc[l + w];
  return acc[0];
}

// ---- rows in T (softmax, cross-entropy) --------------------------------------------------

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

// sum_k a[k] * b[k].
template <class T>
NNK_INLINE T row_dot(const T* NNK_RESTRICT a, const T* NNK_RESTRICT b, int64_t n) {
  T acc[kLanes] = {};
  int64_t k = 0;
  for (; k + kLanes <= n; k += kLanes)
    for (int l = 0; l < kLanes; ++l) acc[l] += a[k + l] * b[k + l];
  T tail = T(0);
  for (; k < n; ++k) tail += a[k] * b[k];
  return lanes_fold(acc) + tail;
}

// ---- chunks in double (batch norm statistics) ----------------------------------------------
// A chunk is summed in kLanes interleaved lanes: blocks of kChunkBlock elements are summed in
// T (a kLanes-wide GCC generic vector, 16 terms per lane: cheap and accurate), then each
// block's lanes are added into double accumulators; the tail goes to lane i % kLanes. The
// order is fixed by the source, not by the ISA or the thread count. (GCC lowers generic
// vectors before target_clones makes the ISA clones, so these run at SSE width in every
// clone; still measured 1.1-1.3x faster here than auto-vectorised double accumulators.)
constexpr int64_t kChunkBlock = 16 * kLanes;

template <class T>
struct Lanes {
  typedef T type __attribute__((vector_size(kLanes * sizeof(T))));
};
template <class T>
NNK_INLINE void load_lanes(typename Lanes<T>::type& v, const T* p) {
  __builtin_memcpy(&v, p, sizeof(v));
}
template <class T>
NNK_INLINE void add_lanes(double* a, const typename Lanes<T>::type& b) {
  for (int j = 0; j < kLanes; ++j) a[j] += double(b[j]);
}

// sum over one chunk of a term of each element: term.add(b, v) adds the terms of a block's
// lanes v to the block sums b (in T), term.tail(x) is the term of a tail element (in double).
// Term's members are always-inline: each expression is compiled in place, as if written here.
template <class T, class Term>
NNK_INLINE double chunk_reduce(const T* NNK_RESTRICT p, int64_t n, const Term& term) {
  double a[kLanes] = {};
  int64_t i = 0;
  for (; i + kChunkBlock <= n; i += kChunkBlock) {
    typename Lanes<T>::type b = {};
    for (int64_t k = 0; k < kChunkBlock; k += kLanes) {
      typename Lanes<T>::type v;
      load_lanes<T>(v, p + i + k);
      term.add(b, v);
    }
    add_lanes<T>(a, b);
  }
  for (; i < n; ++i) a[i % kLanes] += term.tail(p[i]);
  return lanes_fold(a);
}

template <class T>
struct SumTerm {
  NNK_INLINE void add(typename Lanes<T>::type& b, typename Lanes<T>::type& v) const { b += v; }
  NNK_INLINE double tail(T x) const { return double(x); }
};

// (x - m)^2 with m rounded to T: a shift of at most half an ulp of the mean, whose effect on
// the sum, n * shift^2, is far below rounding.
template <class T>
struct SqDevTerm {
  T m;
  NNK_INLINE void add(typename Lanes<T>::type& b, typename Lanes<T>::type& d) const {
    d -= m;
    b += d * d;
  }
  NNK_INLINE double tail(T x) const {
    const double d = double(x - m);
    return d * d;
  }
};

// sum(x) over one chunk.
template <class T>
NNK_INLINE double chunk_sum(const T* NNK_RESTRICT p, int64_t n) {
  return chunk_reduce(p, n, SumTerm<T>{});
}

// sum((x - m)^2) over one chunk.
template <class T>
NNK_INLINE double chunk_sqdev(const T* NNK_RESTRICT p, int64_t n, double m) {
  return chunk_reduce(p, n, SqDevTerm<T>{T(m)});
}

// (sum(g), sum(g * (x - m))) over one chunk.
template <class T>
NNK_INLINE void chunk_grad_sums(const T* NNK_RESTRICT g, const T* NNK_RESTRICT x, int64_t n, double m, double& sg,
                                double& sgx) {
  const T mt = T(m);
  double a[kLanes] = {}, b[kLanes] = {};
  int64_t i = 0;
  for (; i + kChunkBlock <= n; i += kChunkBlock) {
    typename Lanes<T>::type ba = {}, bb = {};
    for (int64_t k = 0; k < kChunkBlock; k += kLanes) {
      typename Lanes<T>::type gj, xj;
      load_lanes<T>(gj, g + i + k);
      load_lanes<T>(xj, x + i + k);
      ba += gj;
      bb += gj * (xj - mt);
    }
    add_lanes<T>(a, ba);
    add_lanes<T>(b, bb);
  }
  for (; i < n; ++i) {
    a[i % kLanes] += double(g[i]);
    b[i % kLanes] += double(g[i]) * double(x[i] - mt);
  }
  sg = lanes_fold(a);
  sgx = lanes_fold(b);
}

}  // namespace nnk
