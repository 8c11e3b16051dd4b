// Multi-tensor fused optimizer updates. The element ranges of all tensors are concatenated
// into one index space [0, total) that is cut into fixed chunks of kChunk elements; each
// thread takes a contiguous run of chunks (nnk::thread_range over chunks) and walks the
// tensors its run overlaps, so 12 or 16 tensors of very different sizes are shared evenly
// by the threads in one parallel region. Elementwise rules have no reductions, so the
// result does not depend on the thread count. Each segment is an `omp simd` loop
// (vector body + scalar tail) inside an ISA-multiversioned per-thread function.
//
// Scalar hyper-parameters (bias corrections, step sizes, lr*wd, ...) are computed once per
// tensor in double on the host and rounded to T, as NumPy does with Python-float scalars.
// Built with -ffp-contract=off (CMakeLists.txt): no FMA contraction, so each operation
// rounds exactly as the NumPy reference does.
#include <algorithm>
#include <cassert>
#include <cmath>
#include <omp.h>
#include "nnk_common.h"
#include "optim.h"
#include "optim_rules.h"

namespace nnk {
namespace optim_detail {

constexpr int64_t kChunk = int64_t(1) << 14;  // elements; thread runs start on chunk boundaries

// Per-tensor scalars, in double until the segment starts.
struct Coef {
  double k[7];
  double lrt;  // book Adam: lr_t, used in double
  double wk;   // l2/l1: wd; decoupled: 1 - lr*wd
  Decay decay;
};

// One contiguous segment [lo, hi) of one tensor.
template <class T, class Rule, Decay D>
NNK_INLINE void segment(const OptimTensor<T>& t, const Ks<T>& c, T wk, int64_t lo, int64_t hi) {
  T* NNK_RESTRICT w = t.param;
  const T* NNK_RESTRICT g = t.grad;
  T* NNK_RESTRICT s1 = t.state1;
  T* NNK_RESTRICT s2 = t.state2;
#pragma omp simd
  for (int64_t i = lo; i < hi; ++i) {
    T wi = w[i], a = T(0), b = T(0), gi = g[i];
    if constexpr (Rule::nstate > 0) a = s1[i];
    if constexpr (Rule::nstate > 1) b = s2[i];
    if constexpr (D == Decay::l2) gi = gi + wk * wi;
    if constexpr (D == Decay::l1) gi = gi + wk * sign_of(wi);
    if constexpr (D == Decay::decoupled) wi = wi * wk;
    Rule::step(wi, gi, a, b, c);
    w[i] = wi;
    if constexpr (Rule::nstate > 0) s1[i] = a;
    if constexpr (Rule::nstate > 1) s2[i] = b;
  }
}

template <class T>
struct Job {
  const OptimTensor<T>* ts;
  const Coef* coef;
  const int64_t* start;  // count + 1 prefix offsets into the concatenated range
  int64_t count;
};

// The part [b, e) of the concatenated range: every tensor segment it overlaps.
template <class T, class Rule>
NNK_INLINE void run_range(const Job<T>& j, int64_t b, int64_t e) {
  int64_t t = std::upper_bound(j.start, j.start + j.count + 1, b) - j.start - 1;
  for (; t < j.count && j.start[t] < e; ++t) {
    const int64_t lo = std::max(b, j.start[t]) - j.start[t], hi = std::min(e, j.start[t + 1]) - j.start[t];
    if (lo >= hi) continue;
    const Coef& cf = j.coef[t];
    Ks<T> c;
    for (int q = 0; q < 7; ++q) c.k[q] = T(cf.k[q]);
    c.lrt = cf.lrt;
    const T wk = T(cf.wk);
    switch (cf.decay) {
      case Decay::none: segment<T, Rule, Decay::none>(j.ts[t], c, wk, lo, hi); break;
      case Decay::l2: segment<T, Rule, Decay::l2>(j.ts[t], c, wk, lo, hi); break;
      case Decay::l1: segment<T, Rule, Decay::l1>(j.ts[t], c, wk, lo, hi); break;
      case Decay::decoupled: segment<T, Rule, Decay::decoupled>(j.ts[t], c, wk, lo, hi); break;
    }
  }
}

// Per-thread bodies: non-template, multiversioned, called once per thread.
#define NNK_OPTIM_RANGE(RULE)                                                                     \
  NNK_CLONES void RULE##_range_f32(const Job<float>& j, int64_t b, int64_t e) { run_range<float, RULE>(j, b, e); } \
  NNK_CLONES void RULE##_range_f64(const Job<double>& j, int64_t b, int64_t e) { run_range<double, RULE>(j, b, e); }
NNK_OPTIM_RANGE(Sgd)
NNK_OPTIM_RANGE(Momentum)
NNK_OPTIM_RANGE(Nesterov)
NNK_OPTIM_RANGE(AdaGrad)
NNK_OPTIM_RANGE(RMSprop)
NNK_OPTIM_RANGE(AdamStd)
NNK_OPTIM_RANGE(AdamBook)
#undef NNK_OPTIM_RANGE

template <class T>
using RangeFn = void (*)(const Job<T>&, int64_t, int64_t);

template <class T, class Rule>
void run(const std::vector<OptimTensor<T>>& ts, const Glob& glob, RangeFn<T> fn) {
  const int64_t count = int64_t(ts.size());
  std::vector<int64_t> start(size_t(count) + 1, 0);
  std::vector<Coef> coef(static_cast<size_t>(count));
  for (int64_t t = 0; t < count; ++t) {
    const OptimTensor<T>& x = ts[size_t(t)];
    assert(x.n >= 0 && (x.n == 0 || (x.param && x.grad)));
    assert(Rule::nstate < 1 || x.n == 0 || x.state1);
    assert(Rule::nstate < 2 || x.n == 0 || x.state2);
    Coef& c = coef[size_t(t)];
    std::fill(c.k, c.k + 7, 0.0);
    c.lrt = 0.0;
    Rule::coef(x.lr, glob, c.k, c.lrt);
    c.decay = x.weight_decay == 0.0 ? Decay::none : x.decay;
    c.wk = c.decay == Decay::decoupled ? 1 - x.lr * x.weight_decay : x.weight_decay;
    start[size_t(t) + 1] = start[size_t(t)] + x.n;
  }
  const int64_t total = start[size_t(count)];
  if (total == 0) return;
  const Job<T> job{ts.data(), coef.data(), start.data(), count};
  const int64_t nchunks = (total + kChunk - 1) / kChunk;
  const int nt = int(std::min<int64_t>(num_threads(), nchunks));
#pragma omp parallel num_threads(nt)
  {
    int64_t cb, ce;
    thread_range(nchunks, omp_get_thread_num(), omp_get_num_threads(), cb, ce);
    if (cb < ce) fn(job, cb * kChunk, std::min(ce * kChunk, total));
  }
}

// RangeFn<T> for either T from the f32/f64 pair (the unused one is never called).
template <class T, class F32, class F64>
RangeFn<T> pick(F32 f32, F64 f64) {
  if constexpr (sizeof(T) == 4) return f32; else return f64;
}

}  // namespace optim_detail

using namespace optim_detail;

template <class T>
void sgd_update(const std::vector<OptimTensor<T>>& ts) {
  const RangeFn<T> f = pick<T>(Sgd_range_f32, Sgd_range_f64);
  run<T, Sgd>(ts, Glob{0, 0, 0, 0}, f);
}

template <class T>
void momentum_update(const std::vector<OptimTensor<T>>& ts, double momentum) {
  const RangeFn<T> f = pick<T>(Momentum_range_f32, Momentum_range_f64);
  run<T, Momentum>(ts, Glob{momentum, 0, 0, 0}, f);
}

template <class T>
void nesterov_update(const std::vector<OptimTensor<T>>& ts, double momentum) {
  const RangeFn<T> f = pick<T>(Nesterov_range_f32, Nesterov_range_f64);
  run<T, Nesterov>(ts, Glob{momentum, 0, 0, 0}, f);
}

template <class T>
void adagrad_update(const std::vector<OptimTensor<T>>& ts, double eps) {
  const RangeFn<T> f = pick<T>(AdaGrad_range_f32, AdaGrad_range_f64);
  run<T, AdaGrad>(ts, Glob{0, 0, eps, 0}, f);
}

template <class T>
void rmsprop_update(const std::vector<OptimTensor<T>>& ts, double decay_rate, double eps) {
  const RangeFn<T> f = pick<T>(RMSprop_range_f32, RMSprop_range_f64);
  run<T, RMSprop>(ts, Glob{decay_rate, 0, eps, 0}, f);
}

template <class T>
void adam_update(const std::vector<OptimTensor<T>>& ts, double beta1, double beta2, double eps, int64_t step,
                 bool book) {
  assert(step >= 1);
  const Glob g{beta1, beta2, eps, step};
  if (book) {
    const RangeFn<T> f = pick<T>(AdamBook_range_f32, AdamBook_range_f64);
    run<T, AdamBook>(ts, g, f);
  } else {
    const RangeFn<T> f = pick<T>(AdamStd_range_f32, AdamStd_range_f64);
    run<T, AdamStd>(ts, g, f);
  }
}

#define NNK_OPTIM_INSTANTIATE(T)                                                                  \
  template void sgd_update<T>(const std::vector<OptimTensor<T>>&);                                \
  template void momentum_update<T>(const std::vector<OptimTensor<T>>&, double);                   \
  template void nesterov_update<T>(const std::vector<OptimTensor<T>>&, double);                   \
  template void adagrad_update<T>(const std::vector<OptimTensor<T>>&, double);                    \
  template void rmsprop_update<T>(const std::vector<OptimTensor<T>>&, double, double);            \
  template void adam_update<T>(const std::vector<OptimTensor<T>>&, double, double, double, int64_t, bool);
NNK_OPTIM_INSTANTIATE(float)
NNK_OPTIM_INSTANTIATE(double)
#undef NNK_OPTIM_INSTANTIATE

}  // namespace nnk
