// 2-D convolution (NCHW): the shape, the algorithms and the passes, and the one dispatch.
//
// Each pass (forward, grad_x = backward_input, grad_weight = backward_weight) picks its own
// algorithm in conv2d.cpp; the selection (heuristic, measured autotune, forced) lives in
// conv2d_algo.{h,cpp}. To add an algorithm <algo>:
//  1. src/conv2d_<algo>.{h,cpp}: bool conv2d_<algo>_applies(const Conv2dShape&, ConvPass,
//     ConvDtype) and, for the passes it supports, kernels with the signatures of ConvKernels<T>:
//     conv2d_<algo>_forward, conv2d_<algo>_backward_input, conv2d_<algo>_backward_weight.
//     The dispatch never calls a kernel with N = 0 or for a shape where applies() is false.
//  2. One line in kConvAlgos (conv2d.cpp): applies, what it needs (error text), the kernels
//     per dtype ({} for a dtype it lacks, nullptr for a pass it lacks).
//  3. One line in ALGOS of tests/test_conv2d_algos.py (its float32 tolerance and why), and an
//     INAPPLICABLE example there.
//  4. Once measured, a rule in kRules (conv2d_algo.cpp) with the measurement in a comment.
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

// Algorithms; Auto = the selection of conv2d_algo.h (heuristic, or measured in benchmark mode).
enum class ConvAlgo { Auto, Im2col, Winograd, Implicit, Direct };
constexpr int kConvAlgoCount = 5;
// The three passes of a convolution; each may use a different algorithm.
enum class ConvPass { Forward, BackwardInput, BackwardWeight };
enum class ConvDtype { F32, F64 };

template <class T>
constexpr ConvDtype conv_dtype_of() {
  return sizeof(T) == 4 ? ConvDtype::F32 : ConvDtype::F64;
}

// "auto", "im2col", "winograd", "implicit", "direct" / "forward", "backward_input", "backward_weight".
const char* conv_algo_name(ConvAlgo a);
const char* conv_pass_name(ConvPass p);
// false when `name` is not an algorithm name.
bool conv_algo_from_name(const char* name, ConvAlgo& out);

// The kernels of one algorithm for one dtype; a null pointer = pass not implemented.
// forward: y (N, OC, OH, OW) = conv(x, w) + b, b may be null.
// backward_input: gx (N, C, H, W) from gy and w. backward_weight: gw (OC, C/groups, KH, KW)
// from gy and x. Every kernel writes all of its output, is bit-identical for any thread
// count, releases nothing it did not take, and throws only std::bad_alloc (before writing).
template <class T>
struct ConvKernels {
  void (*forward)(const T* x, const T* w, const T* b, T* y, const Conv2dShape& s);
  void (*backward_input)(const T* gy, const T* w, T* gx, const Conv2dShape& s);
  void (*backward_weight)(const T* gy, const T* x, T* gw, const Conv2dShape& s);
};

// One line of the dispatch table.
struct ConvAlgoEntry {
  ConvAlgo algo;
  bool (*applies)(const Conv2dShape& s, ConvPass pass, ConvDtype dt);
  const char* needs;  // what applies() requires, for error messages ("a 3x3 kernel, stride 1, ...")
  ConvKernels<float> f32;
  ConvKernels<double> f64;
};

// The algorithms compiled into this build, in table order (Im2col first: it applies to all).
const ConvAlgoEntry* conv_algo_table(int& count);
// The entry of `a`, or null when this build has no such algorithm.
const ConvAlgoEntry* conv_algo_entry(ConvAlgo a);
// Whether algorithm `a` exists in this build and applies to (s, pass, dt).
bool conv_algo_applies(ConvAlgo a, const Conv2dShape& s, ConvPass pass, ConvDtype dt);

// The dispatch: y = conv(x, w) + b with `algo` for the forward pass (Auto = selection).
// A forced algorithm must apply (the binding checks conv_algo_applies first).
template <class T>
void conv2d_forward(const T* x, const T* w, const T* b, T* y, const Conv2dShape& s, ConvAlgo algo = ConvAlgo::Auto);
// Gradients of conv2d_forward; gx and gb may be null (not computed), gw too. Each pass uses
// its own algorithm. Deterministic: reductions run in a fixed order whatever the thread count.
template <class T>
void conv2d_backward(const T* gy, const T* x, const T* w, T* gx, T* gw, T* gb, const Conv2dShape& s,
                     ConvAlgo algo_gx = ConvAlgo::Auto, ConvAlgo algo_gw = ConvAlgo::Auto);
// gb[o] = sum over n, q of gy[n, o, q] (shared by every algorithm; fixed order, double sums).
template <class T>
void conv2d_bias_backward(const T* gy, T* gb, const Conv2dShape& s);

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

}  // namespace nnk
