// Fused in-place optimizer updates over many tensors at once (one pass over memory):
// sgd_update, momentum_update, nesterov_update, adagrad_update, rmsprop_update, adam_update.
//
// Every rule reads each parameter, gradient and state element once and writes each once.
// The element order of the arithmetic mirrors nnkern/reference/optim.py (the book's NumPy
// listings) operation by operation, and the file is compiled with -ffp-contract=off, so the
// native result equals the NumPy reference bit for bit in both float32 and float64.
#pragma once
#include <cstdint>
#include <vector>

namespace nnk {

// How weight decay enters a tensor's update.
//   l2:        g <- g + wd * W        (the book's MultiLayerNet: d/dW of wd/2 * ||W||^2)
//   l1:        g <- g + wd * sign(W)  (sign(0) = 0, sign(NaN) = NaN, as np.sign)
//   decoupled: W <- W * (1 - lr * wd) before the rule (AdamW, Loshchilov & Hutter 2019)
enum class Decay : int { none = 0, l2 = 1, l1 = 2, decoupled = 3 };

// One tensor of a multi-tensor update. param, grad and the state buffers the rule uses
// (state1/state2, else null) hold n elements of T each, contiguous and non-overlapping
// (the binding checks it). lr and weight_decay are per tensor (per-parameter options).
template <class T>
struct OptimTensor {
  T* param;
  const T* grad;
  T* state1;
  T* state2;
  int64_t n;
  double lr;
  double weight_decay;
  Decay decay;
};

// W <- W - lr * g
template <class T> void sgd_update(const std::vector<OptimTensor<T>>& ts);
// v <- momentum * v - lr * g;  W <- W + v                         (state1 = v)
template <class T> void momentum_update(const std::vector<OptimTensor<T>>& ts, double momentum);
// DLFS common/optimizer.py Nesterov (Sutskever et al. 2013 form):  (state1 = v)
// v <- v * mu;  v <- v - lr * g;  W <- W + mu*mu * v;  W <- W - (1 + mu)*lr * g
template <class T> void nesterov_update(const std::vector<OptimTensor<T>>& ts, double momentum);
// h <- h + g*g;  W <- W - lr*g / (sqrt(h) + eps)                   (state1 = h)
template <class T> void adagrad_update(const std::vector<OptimTensor<T>>& ts, double eps);
// h <- h * rho;  h <- h + (1 - rho)*g*g;  W <- W - lr*g / (sqrt(h) + eps)   (state1 = h)
template <class T> void rmsprop_update(const std::vector<OptimTensor<T>>& ts, double decay_rate, double eps);
// Adam, step = t >= 1 is the count including this update; state1 = m, state2 = v.
//  standard (Kingma & Ba 2015, as torch.optim.Adam):
//    m <- b1*m + (1-b1)*g;  v <- b2*v + (1-b2)*g*g;
//    W <- W - (lr/(1-b1^t)) * m / (sqrt(v)/sqrt(1-b2^t) + eps)
//  book (the book's listing, DLFS common/optimizer.py):
//    m <- m + (1-b1)*(g - m);  v <- v + (1-b2)*(g*g - v);
//    W <- W - lr_t * m / (sqrt(v) + eps),  lr_t = lr*sqrt(1-b2^t)/(1-b1^t); the last line is
//    evaluated in double (lr_t is a float64 scalar in the listing, so NumPy promotes it).
template <class T>
void adam_update(const std::vector<OptimTensor<T>>& ts, double beta1, double beta2, double eps, int64_t step,
                 bool book);

}  // namespace nnk
