// Batch normalization (Ioffe & Szegedy 2015): training and inference forward, backward.
#pragma once
#include <cstdint>

namespace nnk {

// x viewed as (N, C, S): S = H*W for NCHW input, S = 1 for (N, D) input (C = D features).
struct BatchNormShape {
  int64_t n, c, s;
};

// Training forward: per-channel batch mean and biased variance over the N*S elements (N*S >= 2),
// y = (x - mean) * invstd * gamma + beta with invstd = 1/sqrt(var + eps). save_mean and
// save_invstd (C,) receive the batch statistics. When running_mean/running_var are non-null
// they are updated in place: r = (1 - momentum) * r + momentum * stat, where the variance
// stat is unbiased (times M/(M-1)) when `unbiased`. gamma/beta may be null (1 and 0).
// Reductions run in double over fixed chunks (one (n, c) plane, or one feature column, in
// 16 interleaved lanes) combined in a fixed order: bit-identical for any thread count.
template <class T>
void batch_norm_forward_train(const T* x, const T* gamma, const T* beta, T* y, T* save_mean, T* save_invstd,
                              T* running_mean, T* running_var, const BatchNormShape& s, double momentum, double eps,
                              bool unbiased);
// Inference forward: mean/var/eps/gamma/beta are folded into one scale and shift per channel,
// y = x * scale + shift. save_mean = running_mean, save_invstd = 1/sqrt(running_var + eps).
template <class T>
void batch_norm_forward_infer(const T* x, const T* gamma, const T* beta, const T* running_mean,
                              const T* running_var, T* y, T* save_mean, T* save_invstd, const BatchNormShape& s,
                              double eps);
// Backward with the saved statistics. gbeta = sum gy, ggamma = sum gy * xhat; in training
// gx = gamma*invstd * (gy - gbeta/M - xhat*ggamma/M) (the statistics depend on x), in
// inference gx = gamma*invstd * gy. gamma may be null (1).
template <class T>
void batch_norm_backward(const T* gy, const T* x, const T* gamma, const T* mean, const T* invstd, T* gx,
                         T* ggamma, T* gbeta, const BatchNormShape& s, bool training);

}  // namespace nnk
