// Convolution by im2col + GEMM (OpenBLAS): every shape, pass and dtype (the general path).
#pragma once
#include "conv2d.h"

namespace nnk {

bool conv2d_im2col_applies(const Conv2dShape& s, ConvPass pass, ConvDtype dt);
template <class T>
void conv2d_im2col_forward(const T* x, const T* w, const T* b, T* y, const Conv2dShape& s);
template <class T>
void conv2d_im2col_backward_input(const T* gy, const T* w, T* gx, const Conv2dShape& s);
template <class T>
void conv2d_im2col_backward_weight(const T* gy, const T* x, T* gw, const Conv2dShape& s);

}  // namespace nnk
