// The update rules of src/optim.cpp, one struct per rule: `coef` computes the per-tensor
// scalars in double on the host; `step` updates one element (w, g, state a, state b) in T.
// Each line of each `step` is one line of nnkern/reference/optim.py, in the same order, so
// that (with -ffp-contract=off on optim.cpp, which includes this file) the roundings match.
#pragma once
#include <cmath>
#include <cstdint>
#include "nnk_common.h"

namespace nnk {
namespace optim_detail {

// Rule-wide hyper-parameters (meaning per rule, see the coef functions).
struct Glob {
  double a, b, eps;
  int64_t step;
};

// The scalars of one tensor, rounded to T (lrt stays double: the book's lr_t is float64).
template <class T>
struct Ks {
  T k[7];
  double lrt;
};

template <class T>
NNK_INLINE T sign_of(T w) {  // np.sign: 0 for +-0, NaN for NaN
  return w > T(0) ? T(1) : (w < T(0) ? T(-1) : (w == T(0) ? T(0) : w));
}

struct Sgd {
  static constexpr int nstate = 0;
  static void coef(double lr, const Glob&, double* k, double&) { k[0] = lr; }
  template <class T>
  static NNK_INLINE void step(T& w, T g, T&, T&, const Ks<T>& c) { w = w - c.k[0] * g; }
};

struct Momentum {
  static constexpr int nstate = 1;
  static void coef(double lr, const Glob& h, double* k, double&) { k[0] = h.a; k[1] = lr; }
  template <class T>
  static NNK_INLINE void step(T& w, T g, T& v, T&, const Ks<T>& c) {
    v = c.k[0] * v - c.k[1] * g;
    w = w + v;
  }
};

struct Nesterov {
  static constexpr int nstate = 1;
  static void coef(double lr, const Glob& h, double* k, double&) {
    k[0] = h.a; k[1] = lr; k[2] = h.a * h.a; k[3] = (1 + h.a) * lr;
  }
  template <class T>
  static NNK_INLINE void step(T& w, T g, T& v, T&, const Ks<T>& c) {
    v = v * c.k[0];
    v = v - c.k[1] * g;
    w = w + c.k[2] * v;
    w = w - c.k[3] * g;
  }
};

struct AdaGrad {
  static constexpr int nstate = 1;
  static void coef(double lr, const Glob& h, double* k, double&) { k[0] = lr; k[1] = h.eps; }
  template <class T>
  static NNK_INLINE void step(T& w, T g, T& s, T&, const Ks<T>& c) {
    s = s + g * g;
    w = w - (c.k[0] * g) / (std::sqrt(s) + c.k[1]);
  }
};

struct RMSprop {
  static constexpr int nstate = 1;
  static void coef(double lr, const Glob& h, double* k, double&) {
    k[0] = lr; k[1] = h.a; k[2] = 1 - h.a; k[3] = h.eps;
  }
  template <class T>
  static NNK_INLINE void step(T& w, T g, T& s, T&, const Ks<T>& c) {
    s = s * c.k[1];
    s = s + (c.k[2] * g) * g;
    w = w - (c.k[0] * g) / (std::sqrt(s) + c.k[3]);
  }
};

struct AdamStd {
  static constexpr int nstate = 2;
  static void coef(double lr, const Glob& h, double* k, double&) {
    const double t = double(h.step);
    k[0] = h.a; k[1] = 1 - h.a; k[2] = h.b; k[3] = 1 - h.b;
    k[4] = lr / (1 - std::pow(h.a, t));   // step size
    k[5] = std::sqrt(1 - std::pow(h.b, t));  // sqrt of the second bias correction
    k[6] = h.eps;
  }
  template <class T>
  static NNK_INLINE void step(T& w, T g, T& m, T& v, const Ks<T>& c) {
    m = c.k[0] * m + c.k[1] * g;
    v = c.k[2] * v + (c.k[3] * g) * g;
    const T d = std::sqrt(v) / c.k[5] + c.k[6];
    w = w - (c.k[4] * m) / d;
  }
};

struct AdamBook {
  static constexpr int nstate = 2;
  static void coef(double lr, const Glob& h, double* k, double& lrt) {
    const double t = double(h.step);
    k[0] = 1 - h.a; k[1] = 1 - h.b; k[2] = h.eps;
    lrt = lr * std::sqrt(1.0 - std::pow(h.b, t)) / (1.0 - std::pow(h.a, t));
  }
  template <class T>
  static NNK_INLINE void step(T& w, T g, T& m, T& v, const Ks<T>& c) {
    m = m + c.k[0] * (g - m);
    v = v + c.k[1] * (g * g - v);
    const T d = std::sqrt(v) + c.k[2];
    w = T(double(w) - (c.lrt * double(m)) / double(d));
  }
};

}  // namespace optim_detail
}  // namespace nnk
