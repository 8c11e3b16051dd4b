// 2-D convolution by im2col + GEMM (NCHW), forward and backward.
#pragma once
#include <cstdint>

namespace nnk {

struct Conv2dShape {
  int64_t n, c, h, w;          // input x: (N, C, H, W)
  int64_t oc, kh, kw;          // weight: (OC, C/groups, KH, KW)
  int64_t sh, sw, ph, pw, dh, dw, groups;
  int64_t oh, ow;              // output: (N, OC, OH, OW)
};

// floor((in + 2p - d(k-1) - 1) / s) + 1; the caller has checked that it is >= 1.
inline int64_t conv_out_size(int64_t in, int64_t k, int64_t s, int64_t p, int64_t d) {
  return (in + 2 * p - d * (k - 1) - 1) / s + 1;
}

// Column layout: cols is (C*KH*KW, ld), one row per kernel tap (c, kh, kw) and one column
// per output pixel (n, oh, ow) of the nb images starting at x, output lines [h0, h1) only
// (ld >= nb*(h1-h0)*OW). This is the transpose of DLFS's (N*OH*OW, C*KH*KW) matrix;
// padding reads as 0. `parallel` = false when called from inside a parallel region.
template <class T>
void im2col(const T* x, T* cols, const Conv2dShape& s, int64_t nb, int64_t ld, int64_t h0, int64_t h1,
            bool parallel);
// Adjoint of im2col over all output lines: x (nb, C, H, W) = scatter-add of cols; every
// element of x is written.
template <class T>
void col2im(const T* cols, T* x, const Conv2dShape& s, int64_t nb, int64_t ld, bool parallel);

// y (N, OC, OH, OW) = conv(x, w) + b; b may be null.
template <class T>
void conv2d_forward(const T* x, const T* w, const T* b, T* y, const Conv2dShape& s);
// Gradients of conv2d_forward. gx and gb may be null (not computed). Deterministic:
// reductions run in a fixed order whatever the thread count.
template <class T>
void conv2d_backward(const T* gy, const T* x, const T* w, T* gx, T* gw, T* gb, const Conv2dShape& s);



}  // namespace nnk
