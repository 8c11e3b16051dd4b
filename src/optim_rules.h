// The update rules of src/optim.cpp, one class template per rule. A rule object holds the
// per-tensor coefficients of its update, computed in double on the host from the tensor's lr
// and the rule's hyper-parameters (its constructor's arguments after lr) and rounded to T (as
// NumPy rounds Python-float scalars to the array's dtype); step() updates one element
// (w, g, state a, state b) in T. The coefficients carry the names of
// nnkern/reference/optim.py and each line of each step() is one line of it, in the same order,
// so that (with -ffp-contract=off on optim.cpp, which includes this file) the roundings match
// the reference bit for bit.
#pragma once
#include <cmath>
#include <cstdint>
#include "nnk_common.h"

namespace nnk {
namespace optim_detail {

template <class T>
NNK_INLINE T sign_of(T w) {  // np.sign: 0 for +-0, NaN for NaN
  return w > T(0) ? T(1) : (w < T(0) ? T(-1) : (w == T(0) ? T(0) : w));
}

// W <- W - lr * g
template <class T>
struct Sgd {
  static constexpr int nstate = 0;
  T lr;
  explicit Sgd(double lr_) : lr(T(lr_)) {}
  NNK_INLINE void step(T& w, T g, T&, T&) const { w = w - lr * g; }
};

// v <- momentum * v - lr * g;  W <- W + v
template <class T>
struct Momentum {
  static constexpr int nstate = 1;
  T momentum, lr;
  Momentum(double lr_, double momentum_) : momentum(T(momentum_)), lr(T(lr_)) {}
  NNK_INLINE void step(T& w, T g, T& v, T&) const {
    v = momentum * v - lr * g;
    w = w + v;
  }
};

// v *= momentum;  v -= lr * g;  W += momentum*momentum * v;  W -= (1 + momentum)*lr * g
template <class T>
struct Nesterov {
  static constexpr int nstate = 1;
  T momentum, lr, momentum_squared, lr_one_plus_momentum;
  Nesterov(double lr_, double momentum_)
      : momentum(T(momentum_)), lr(T(lr_)), momentum_squared(T(momentum_ * momentum_)),
        lr_one_plus_momentum(T((1 + momentum_) * lr_)) {}
  NNK_INLINE void step(T& w, T g, T& v, T&) const {
    v = v * momentum;
    v = v - lr * g;
    w = w + momentum_squared * v;
    w = w - lr_one_plus_momentum * g;
  }
};

// h += g * g;  W -= lr * g / (sqrt(h) + eps)
template <class T>
struct AdaGrad {
  static constexpr int nstate = 1;
  T lr, eps;
  AdaGrad(double lr_, double eps_) : lr(T(lr_)), eps(T(eps_)) {}
  NNK_INLINE void step(T& w, T g, T& h, T&) const {
    h = h + g * g;
    w = w - (lr * g) / (std::sqrt(h) + eps);
  }
};

// h *= decay_rate;  h += (1 - decay_rate) * g * g;  W -= lr * g / (sqrt(h) + eps)
template <class T>
struct RMSprop {
  static constexpr int nstate = 1;
  T lr, decay_rate, one_minus_decay_rate, eps;
  RMSprop(double lr_, double decay_rate_, double eps_)
      : lr(T(lr_)), decay_rate(T(decay_rate_)), one_minus_decay_rate(T(1 - decay_rate_)), eps(T(eps_)) {}
  NNK_INLINE void step(T& w, T g, T& h, T&) const {
    h = h * decay_rate;
    h = h + (one_minus_decay_rate * g) * g;
    w = w - (lr * g) / (std::sqrt(h) + eps);
  }
};

// Kingma & Ba (2015), as torch.optim.Adam:
//   m = beta1 m + (1 - beta1) g;  v = beta2 v + (1 - beta2) g g;
//   W -= step_size m / (sqrt(v) / bias_correction2_sqrt + eps)
//   with step_size = lr / (1 - beta1^t), bias_correction2_sqrt = sqrt(1 - beta2^t).
template <class T>
struct AdamStandard {
  static constexpr int nstate = 2;
  T beta1, one_minus_beta1, beta2, one_minus_beta2, step_size, bias_correction2_sqrt, eps;
  AdamStandard(double lr_, double beta1_, double beta2_, double eps_, int64_t t)
      : beta1(T(beta1_)), one_minus_beta1(T(1 - beta1_)), beta2(T(beta2_)), one_minus_beta2(T(1 - beta2_)),
        step_size(T(lr_ / (1 - std::pow(beta1_, double(t))))),
        bias_correction2_sqrt(T(std::sqrt(1 - std::pow(beta2_, double(t))))), eps(T(eps_)) {}
  NNK_INLINE void step(T& w, T g, T& m, T& v) const {
    m = beta1 * m + one_minus_beta1 * g;
    v = beta2 * v + (one_minus_beta2 * g) * g;
    const T denom = std::sqrt(v) / bias_correction2_sqrt + eps;
    w = w - (step_size * m) / denom;
  }
};

// The book's listing (DLFS common/optimizer.py Adam):
//   m += (1 - beta1) (g - m);  v += (1 - beta2) (g g - v);  W -= lr_t m / (sqrt(v) + eps)
//   with lr_t = lr sqrt(1 - beta2^t) / (1 - beta1^t), a float64 scalar there: the last line
//   is evaluated in double (NumPy promotes it), so lr_t stays double here.
template <class T>
struct AdamBook {
  static constexpr int nstate = 2;
  T one_minus_beta1, one_minus_beta2, eps;
  double lr_t;
  AdamBook(double lr_, double beta1_, double beta2_, double eps_, int64_t t)
      : one_minus_beta1(T(1 - beta1_)), one_minus_beta2(T(1 - beta2_)), eps(T(eps_)),
        lr_t(lr_ * std::sqrt(1.0 - std::pow(beta2_, double(t))) / (1.0 - std::pow(beta1_, double(t)))) {}
  NNK_INLINE void step(T& w, T g, T& m, T& v) const {
    m = m + one_minus_beta1 * (g - m);
    v = v + one_minus_beta2 * (g * g - v);
    const T denom = std::sqrt(v) + eps;
    w = T(double(w) - (lr_t * double(m)) / double(denom));
  }
};

}  // namespace optim_detail
}  // namespace nnk
