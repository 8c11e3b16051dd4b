// Multi-tensor fused optimizer updates. The element ranges of all tensors are concatenated
// into one index space [0, total) that is cut into fixed chunks of kChunk elements;
// parallel_ranges hands each thread a contiguous run of chunks, and the thread walks the
// tensors its run overlaps, so 12 or 16 tensors of very different sizes are shared evenly
// by the threads in one parallel region. Elementwise rules have no reductions, so the
// result does not depend on the thread count. Each segment is an `omp simd` loop (vector
// body + scalar tail) inside an ISA-cloned per-thread function.
//
// The rules' coefficients (step sizes, bias corrections, ...) and the weight-decay factor
// are computed once per tensor in double on the host and rounded to T, as NumPy does with
// Python-float scalars (optim_rules.h). Built with -ffp-contract=off (CMakeLists.txt): no
// FMA contraction, so each operation rounds exactly as the NumPy reference does.
#include <algorithm>
#include <cassert>
#include <vector>
#include "nnk_common.h"
#include "optim.h"
#include "optim_rules.h"

namespace nnk {
namespace optim_detail {
namespace {

constexpr int64_t kChunk = grain::kUpdate;  // elements; thread runs start on chunk boundaries

// One tensor's rule coefficients and weight decay, in T.
template <class T, template <class> class Rule>
struct TensorCoef {
  Rule<T> rule;
  T weight_decay;     // l2, l1: g + weight_decay * W or * sign(W)
  T decoupled_scale;  // decoupled: W * (1 - lr * weight_decay)
  Decay decay;
};

// One contiguous segment [lo, hi) of one tensor.
template <class T, template <class> class Rule, Decay D>
NNK_INLINE void segment(const OptimTensor<T>& t, const TensorCoef<T, Rule>& c, int64_t lo, int64_t hi) {
  T* NNK_RESTRICT w = t.param;
  const T* NNK_RESTRICT g = t.grad;
  T* NNK_RESTRICT s1 = t.state1;
  T* NNK_RESTRICT s2 = t.state2;
  const Rule<T> rule = c.rule;
  const T wd = c.weight_decay, scale = c.decoupled_scale;
#pragma omp simd
  for (int64_t i = lo; i < hi; ++i) {
    T wi = w[i], a = T(0), b = T(0), gi = g[i];
    if constexpr (Rule<T>::nstate > 0) a = s1[i];
    if constexpr (Rule<T>::nstate > 1) b = s2[i];
    if constexpr (D == Decay::l2) gi = gi + wd * wi;
    if constexpr (D == Decay::l1) gi = gi + wd * sign_of(wi);
    if constexpr (D == Decay::decoupled) wi = wi * scale;
    rule.step(wi, gi, a, b);
    w[i] = wi;
    if constexpr (Rule<T>::nstate > 0) s1[i] = a;
    if constexpr (Rule<T>::nstate > 1) s2[i] = b;
  }
}

template <class T, template <class> class Rule>
struct Job {
  const OptimTensor<T>* ts;
  const TensorCoef<T, Rule>* coef;
  const int64_t* start;  // count + 1 prefix offsets into the concatenated range
  int64_t count;
};

// The part [b, e) of the concatenated range: every tensor segment it overlaps.
template <class T, template <class> class Rule>
NNK_INLINE void update_range(const Job<T, Rule>& j, int64_t b, int64_t e) {
  int64_t t = std::upper_bound(j.start, j.start + j.count + 1, b) - j.start - 1;
  for (; t < j.count && j.start[t] < e; ++t) {
    const int64_t lo = std::max(b, j.start[t]) - j.start[t], hi = std::min(e, j.start[t + 1]) - j.start[t];
    if (lo >= hi) continue;
    const TensorCoef<T, Rule>& c = j.coef[t];
    switch (c.decay) {
      case Decay::none: segment<T, Rule, Decay::none>(j.ts[t], c, lo, hi); break;
      case Decay::l2: segment<T, Rule, Decay::l2>(j.ts[t], c, lo, hi); break;
      case Decay::l1: segment<T, Rule, Decay::l1>(j.ts[t], c, lo, hi); break;
      case Decay::decoupled: segment<T, Rule, Decay::decoupled>(j.ts[t], c, lo, hi); break;
    }
  }
}

// Per-thread bodies, one clone set per rule.
NNK_ISA_CLONES(sgd_update, (const Job<T, Sgd>& j, int64_t b, int64_t e), update_range<T, Sgd>(j, b, e))
NNK_ISA_CLONES(momentum_update, (const Job<T, Momentum>& j, int64_t b, int64_t e),
               update_range<T, Momentum>(j, b, e))
NNK_ISA_CLONES(nesterov_update, (const Job<T, Nesterov>& j, int64_t b, int64_t e),
               update_range<T, Nesterov>(j, b, e))
NNK_ISA_CLONES(adagrad_update, (const Job<T, AdaGrad>& j, int64_t b, int64_t e), update_range<T, AdaGrad>(j, b, e))
NNK_ISA_CLONES(rmsprop_update, (const Job<T, RMSprop>& j, int64_t b, int64_t e), update_range<T, RMSprop>(j, b, e))
NNK_ISA_CLONES(adam_standard_update, (const Job<T, AdamStandard>& j, int64_t b, int64_t e),
               update_range<T, AdamStandard>(j, b, e))
NNK_ISA_CLONES(adam_book_update, (const Job<T, AdamBook>& j, int64_t b, int64_t e),
               update_range<T, AdamBook>(j, b, e))

// Coefficients of every tensor on the host (Rule<T>(lr, hyper...)), then `range(job, b, e)`
// over the chunks.
template <class T, template <class> class Rule, class Range, class... Hyper>
void run(const std::vector<OptimTensor<T>>& ts, Range range, Hyper... hyper) {
  const int64_t count = int64_t(ts.size());
  std::vector<int64_t> start(size_t(count) + 1, 0);
  std::vector<TensorCoef<T, Rule>> coef;
  coef.reserve(size_t(count));
  for (int64_t t = 0; t < count; ++t) {
    const OptimTensor<T>& x = ts[size_t(t)];
    assert(x.n >= 0 && (x.n == 0 || (x.param && x.grad)));
    assert(Rule<T>::nstate < 1 || x.n == 0 || x.state1);
    assert(Rule<T>::nstate < 2 || x.n == 0 || x.state2);
    const Decay decay = x.weight_decay == 0.0 ? Decay::none : x.decay;
    coef.push_back({Rule<T>(x.lr, hyper...), T(x.weight_decay), T(1 - x.lr * x.weight_decay), decay});
    start[size_t(t) + 1] = start[size_t(t)] + x.n;
  }
  const int64_t total = start[size_t(count)];
  const Job<T, Rule> job{ts.data(), coef.data(), start.data(), count};
  parallel_ranges((total + kChunk - 1) / kChunk, 1, [&](int64_t cb, int64_t ce) {
    range(job, cb * kChunk, std::min(ce * kChunk, total));
  });
}

}  // namespace
}  // namespace optim_detail

using namespace optim_detail;

template <class T>
void sgd_update(const std::vector<OptimTensor<T>>& ts) {
  run<T, Sgd>(ts, [](const auto& j, int64_t b, int64_t e) { sgd_update_isa<T>(j, b, e); });
}

template <class T>
void momentum_update(const std::vector<OptimTensor<T>>& ts, double momentum) {
  run<T, Momentum>(ts, [](const auto& j, int64_t b, int64_t e) { momentum_update_isa<T>(j, b, e); }, momentum);
}

template <class T>
void nesterov_update(const std::vector<OptimTensor<T>>& ts, double momentum) {
  run<T, Nesterov>(ts, [](const auto& j, int64_t b, int64_t e) { nesterov_update_isa<T>(j, b, e); }, momentum);
}

template <class T>
void adagrad_update(const std::vector<OptimTensor<T>>& ts, double eps) {
  run<T, AdaGrad>(ts, [](const auto& j, int64_t b, int64_t e) { adagrad_update_isa<T>(j, b, e); }, eps);
}

template <class T>
void rmsprop_update(const std::vector<OptimTensor<T>>& ts, double decay_rate, double eps) {
  run<T, RMSprop>(ts, [](const auto& j, int64_t b, int64_t e) { rmsprop_update_isa<T>(j, b, e); }, decay_rate, eps);
}

template <class T>
void adam_update(const std::vector<OptimTensor<T>>& ts, double beta1, double beta2, double eps, int64_t step,
                 bool book) {
  assert(step >= 1);
  if (book)
    run<T, AdamBook>(ts, [](const auto& j, int64_t b, int64_t e) { adam_book_update_isa<T>(j, b, e); }, beta1, beta2,
                     eps, step);
  else
    run<T, AdamStandard>(ts, [](const auto& j, int64_t b, int64_t e) { adam_standard_update_isa<T>(j, b, e); }, beta1,
                         beta2, eps, step);
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
