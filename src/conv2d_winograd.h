// Winograd convolution F(m x m, 3 x 3), m = 2 or 4 (Lavin & Gray 2016, "Fast Algorithms for
// Convolutional Neural Networks"): 3x3 kernels, stride 1, dilation 1, any padding and groups,
// float32 and float64 (the same templates).
//
// Contract (as every algorithm of conv2d.h): NCHW, writes all of its output, bit-identical
// for any thread count (work items and their order depend on the shape alone), scratch
// bounded by the work item size (never proportional to the batch), throws only
// std::bad_alloc and only before writing anything.
//
// Algorithm, per group: U[xi] = G k G^T for every filter (once per call, in double); for each
// work item (a block of up to tb tiles of the (image, tile row) sequence) the input tiles
// V[xi] = B^T d B, then a^2 GEMMs M[xi] (og x tiles) = U[xi] (og x cg) . V[xi] (cg x tiles)
// on single-threaded OpenBLAS, then Y = A^T M A + bias into the output. grad_x is the same
// correlation of grad_out with the flipped, channel-transposed kernel ("full" padding 2 - p);
// grad_weight is the adjoint: acc[xi] += (A dY A^T)[xi] . V[xi]^T over tiles, in fixed partial
// sums, then G^T acc G.
//
// Rounding error. With u = 2^-24 (float32) and the absolute-value transforms |B|, |G|, |A|,
// each output satisfies (first order, Higham-style forward analysis of the three transforms
// and the length-cg dot products)
//   |y~ - y| <= (cg + kappa_m) u * E,   E = sum_c |A^T| [ (|G||k_c||G^T|) (.) (|B^T||d_c||B|) ] |A|,
// kappa_2 = 8, kappa_4 = 12 (the longest chain of roundings through the transforms). E is at
// most beta_m * sum |k||x| of the 3x3 window ... see README (conv section) for the measured
// values; tests/test_conv2d_winograd.py computes E in float64 and checks every output.
#pragma once
#include "conv2d.h"

namespace nnk {

// Whether Winograd handles this shape: a 3x3 kernel, stride 1, dilation 1 (every pass, both dtypes).
bool conv2d_winograd_applies(const Conv2dShape& s, ConvPass pass, ConvDtype dt);

template <class T>
void conv2d_winograd_forward(const T* x, const T* w, const T* b, T* y, const Conv2dShape& s);
template <class T>
void conv2d_winograd_backward_input(const T* gy, const T* w, T* gx, const Conv2dShape& s);
template <class T>
void conv2d_winograd_backward_weight(const T* gy, const T* x, T* gw, const Conv2dShape& s);

// The output tile size m used for a shape, pass and dtype: the forced one if set, else the
// measured choice (conv2d_winograd.cpp).
int conv2d_winograd_tile(const Conv2dShape& s, ConvPass pass, ConvDtype dt);
// Force m = 2 or 4 for every shape (tests, comparisons); 0 restores the per-shape choice.
void conv2d_winograd_set_tile(int m);
int conv2d_winograd_forced_tile();

}  // namespace nnk
