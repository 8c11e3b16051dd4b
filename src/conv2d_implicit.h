// Convolution by implicit GEMM (nnkern's own GEMM, src/gemm.h): im2col fused into the
// packing of the GEMM's panels, so no column matrix is ever materialised.
//   forward:          y_g = W_g . cols_g(x), the B panels packed straight from x;
//   backward_input:   stride 1 only: gx is the forward convolution of gy with the flipped,
//                     transposed weights (padding dh*(KH-1) - ph, possibly negative);
//   backward_weight:  gw_g = gy_g . cols_g(x)^T, A = gy^T and B = cols^T panels packed from
//                     gy and from a channels-last staging of x, summed over the batch.
// float32 and float64, every padding, dilation and group count; AVX-512, AVX2+FMA or SSE2
// kernels (gemm_isa()). Scratch per thread is sized by the blocking (one image at most),
// never by the batch; grad_weight adds at most a few weight-sized partial sums.
#pragma once
#include "conv2d.h"

namespace nnk {

bool conv2d_implicit_applies(const Conv2dShape& s, ConvPass pass, ConvDtype dt);
template <class T>
void conv2d_implicit_forward(const T* x, const T* w, const T* b, T* y, const Conv2dShape& s);
template <class T>
void conv2d_implicit_backward_input(const T* gy, const T* w, T* gx, const Conv2dShape& s);
template <class T>
void conv2d_implicit_backward_weight(const T* gy, const T* x, T* gw, const Conv2dShape& s);

}  // namespace nnk
