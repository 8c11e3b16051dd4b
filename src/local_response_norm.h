// Local response normalization across channels (Krizhevsky et al. 2012), forward and backward.
#pragma once
#include <cstdint>

namespace nnk {

// x viewed as (N, C, S), S = H*W.
struct LrnShape {
  int64_t n, c, s;
};

// y_c = x_c * d_c^(-beta), d_c = k + a * sum_{c' = c - size/2}^{c + (size-1)/2} x_{c'}^2 (clipped to
// [0, C)), with a = alpha / size when alpha_over_size (torch, Caffe) and a = alpha otherwise
// (the paper's formula). size >= 1, k > 0 or the sums positive (the caller checks k > 0).
struct LrnParams {
  int64_t size;
  double alpha, beta, k;
  bool alpha_over_size;
};

template <class T> void local_response_norm_forward(const T* x, T* y, const LrnShape& s, const LrnParams& p);
// gx_j = gy_j * d_j^(-beta) - 2 a beta x_j * sum_{c: j in window(c)} gy_c * x_c * d_c^(-beta-1).
template <class T>
void local_response_norm_backward(const T* gy, const T* x, T* gx, const LrnShape& s, const LrnParams& p);

}  // namespace nnk
