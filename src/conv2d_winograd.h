// Winograd convolution F(m x m, r x r): F(2x2,3x3), F(4x4,3x3) and F(5x5,3x3) for 3x3 kernels,
// F(2x2,5x5) for 5x5 ones (Lavin & Gray 2016, "Fast Algorithms for Convolutional Neural Networks"),
// stride 1, dilation 1, any padding and groups, float32 and float64 (the same templates).
//
// Contract (as every algorithm of conv2d.h): NCHW, writes all of its output, bit-identical
// for any thread count (work items and their order depend on the shape alone), scratch
// bounded by the work item size (never proportional to the batch), throws only
// std::bad_alloc and only before writing anything.
//
// Algorithm, per group: U[xi] = G k G^T for every filter (once per call, in double); for each
// work item (a block of 64 to 512 tiles of the (image, tile row) sequence) the input tiles
// V[xi] = B^T d B (vectorised across 64-byte blocks of channels), then a^2 GEMMs
// M[xi] (tiles x og) = V[xi] (tiles x cg) . U[xi] (cg x og), then Y = A^T M A + bias into the
// output. The GEMMs run on nnkern's GEMM for wide layers (U written in its packed layout, V
// read in place; any dot-product order keeps the bound below) and on single-threaded OpenBLAS
// otherwise (conv2d_winograd.cpp, winograd_gemm_is_nnk). grad_x is the same
// correlation of grad_out with the flipped, channel-transposed kernel ("full" padding r-1 - p);
// grad_weight is the adjoint: acc[xi] += (A dY A^T)[xi] . V[xi]^T over tiles, in fixed partial
// sums or (wide layers) one accumulator per position (conv2d_winograd_weight.cpp), then G^T acc G.
//
// Rounding error (first-order forward analysis, u = 2^-24 for float32, 2^-53 for float64).
// Let E be the same pipeline run on absolute values, per output:
//   E = sum_c |A^T| [ (|G| |k_c| |G^T|) (.) (|B^T| |d_c| |B|) ] |A|.
// Every output then satisfies |y~ - y| <= gamma(K + kappa_m) * E (+ u |bias|), gamma(n) = nu/(1-nu),
// with K the length of the transform-domain dot products (input channels per group; for
// grad_weight the number of tiles summed) and kappa_m the other roundings along the longest
// path: 7 for the filter transform (double, then one rounding; 11 for 5 taps, 15 for F(5x5,3x3)
// with its inexact constants and its adjoint's 6-term sums), 2 / 6 / 12 for the
// input tile (a = 4 / 6 / 7), 4 / 6 / 12 for the output tile (F(2x2,5x5): 6), 2 / 4 / 10 for
// grad_out tiles (F(2x2,5x5): 2), 1 for the bias (F(5x5,3x3)'s plain sums of up to 6 terms are
// counted as 6 roundings per 1-D pass, 5 for its A); grad_weight adds up to 15 for its partial
// sums (summed in double, so they matter only for float64).
// E <= beta_m * sum|k| * max|x| (x over the tile's input patch) with beta_2 = 16, beta_4 = 860,
// beta_5 = 1593 (the square of the largest 1-D |A^T| |G| row-sum(|B^T|) product; 860 for
// F(2x2,5x5) too, which shares F(4x4,3x3)'s points), against 1 for direct convolution: the
// points +-2 (and 1/2) amplify rounding. Measured on N(0,1) data, float32, as max |y~ - y| /
// (u sum|k||x|) per output: im2col 1.2-4.5, F(2x2) 1.6-2.4, F(4x4) 33-48 (means 0.2-0.3,
// 0.2-0.3, 1.0-1.5) for C = 16, 64, 256 (README, "How the kernels work"); on 13x13 planes,
// C = 16, 64, 256, F(5x5) 26-45 where F(4x4) gave 23-25 (means 1.8-2.4 against 1.0-1.3): about
// one bit more than F(4x4) on the same data.
// tests/test_conv2d_winograd.py checks every output against the bound, computed in float64
// from the data.
#pragma once
#include "conv2d.h"

namespace nnk {

// Whether Winograd handles this shape: a 3x3 or 5x5 kernel, stride 1, dilation 1, or a strided
// one whose phases are (conv2d_winograd_phases_apply) (every pass, both dtypes).
bool conv2d_winograd_applies(const Conv2dShape& s, ConvPass pass, ConvDtype dt);

template <class T>
void conv2d_winograd_forward(const T* x, const T* w, const T* b, T* y, const Conv2dShape& s);
template <class T>
void conv2d_winograd_backward_input(const T* gy, const T* w, T* gx, const Conv2dShape& s);
template <class T>
void conv2d_winograd_backward_weight(const T* gy, const T* x, T* gw, const Conv2dShape& s);

// Strided shapes through Winograd (conv2d_winograd_phases.cpp): stride S > 1 (the same on both
// axes), a square k x k kernel with ceil(k / S) = 3 or 5 taps per phase, dilation 1. The
// conv2d_winograd_* kernels run them as the stride-1 correlation of the S^2 phase planes.
bool conv2d_winograd_phases_apply(const Conv2dShape& s);
// That stride-1 problem (C S^2 channels, r x r kernel, no padding, the same output).
Conv2dShape conv2d_winograd_phase_shape(const Conv2dShape& s);
// Elements of phase planes built at a time (the chunk of images); <= 0 restores the default.
// Returns the previous budget. A testing hook (chunks of one image exercise the chunk loop).
int64_t conv2d_winograd_set_phase_budget(int64_t elements);
// The "positions" schedule of wide layers (conv2d_winograd_impl.h: positions_schedule), in
// every pass: elements of transformed tiles per chunk (<= 0 restores the default); returns the
// previous budget. And the schedule the latest stride-1 Winograd pass ran: 1 blocks (forward,
// grad_x) or partials (grad_weight), 2 positions (0: none yet). Testing hooks: chunking never
// changes the result (every output sums in the same order either way).
int64_t conv2d_winograd_set_chunk_budget(int64_t elements);
int conv2d_winograd_last_schedule();
// And what ran the transform-domain products of the latest stride-1 forward or grad_x pass:
// "nnkern-gemm" (the packed filters on nnkern's micro-kernels), "small-products", "openblas"
// ("none" before any). A testing hook: on some CPUs two engines give the same bits.
const char* conv2d_winograd_last_products();
template <class T>
void conv2d_winograd_phases_forward(const T* x, const T* w, const T* b, T* y, const Conv2dShape& s);
template <class T>
void conv2d_winograd_phases_backward_input(const T* gy, const T* w, T* gx, const Conv2dShape& s);
template <class T>
void conv2d_winograd_phases_backward_weight(const T* gy, const T* x, T* gw, const Conv2dShape& s);

// The output tile size m used for a shape, pass and dtype: the forced one if set, else the
// per-shape choice on the pass's output planes (grad_x: h x w; conv2d_winograd.cpp).
int conv2d_winograd_tile(const Conv2dShape& s, ConvPass pass, ConvDtype dt);
// The per-shape choice for the forward's output planes: 4 or 5 for 3x3 kernels (by the planes'
// size), 2 for 5x5.
int conv2d_winograd_default_tile(const Conv2dShape& s);
// Force m = 2, 4 or 5 for every 3x3 shape (tests, comparisons); 0 restores the per-shape choice.
// 5x5 kernels always use m = 2.
void conv2d_winograd_set_tile(int m);
int conv2d_winograd_forced_tile();

}  // namespace nnk
