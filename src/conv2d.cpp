// The one convolution dispatch. For each pass: which algorithms of the table apply to the
// shape, pass and dtype; which one the caller forced or the selection picks (conv2d_algo.h);
// then call it. The kernels themselves live in conv2d_<algo>.cpp.
#include <algorithm>
#include <cstring>
#include "conv2d.h"
#include "conv2d_algo.h"
#include "conv2d_direct.h"
#include "conv2d_im2col.h"
#include "conv2d_implicit.h"
#include "conv2d_winograd.h"
#include "nnk_common.h"
#include "nnk_reduce.h"

namespace nnk {

// One line per algorithm: the test of the shapes it handles, what that test requires (for
// error messages), and its kernels for float32 and float64 ({} = not for that dtype, null =
// pass not implemented). Im2col first: it applies to every shape and is the fallback.
static const ConvAlgoEntry kConvAlgos[] = {
    {ConvAlgo::Im2col, conv2d_im2col_applies, "any shape",
     {conv2d_im2col_forward<float>, conv2d_im2col_backward_input<float>, conv2d_im2col_backward_weight<float>},
     {conv2d_im2col_forward<double>, conv2d_im2col_backward_input<double>, conv2d_im2col_backward_weight<double>}},
    {ConvAlgo::Winograd, conv2d_winograd_applies, "a 3x3 or 5x5 kernel at stride 1, or a square kernel with ceil(k / stride) = 3 or 5 at an equal stride on both axes, dilation 1",
     {conv2d_winograd_forward<float>, conv2d_winograd_backward_input<float>, conv2d_winograd_backward_weight<float>},
     {conv2d_winograd_forward<double>, conv2d_winograd_backward_input<double>,
      conv2d_winograd_backward_weight<double>}},
    {ConvAlgo::Implicit, conv2d_implicit_applies, "stride 1 for backward_input (forward and backward_weight: any shape)",
     {conv2d_implicit_forward<float>, conv2d_implicit_backward_input<float>, conv2d_implicit_backward_weight<float>},
     {conv2d_implicit_forward<double>, conv2d_implicit_backward_input<double>,
      conv2d_implicit_backward_weight<double>}},
    {ConvAlgo::Direct, conv2d_direct_applies,
     "the forward pass, stride 1, dilation 1, <= 4 input channels per group, padding below the kernel size and "
     "padded input planes of at most 2^24 elements per group",
     {conv2d_direct_forward<float>, nullptr, nullptr},
     {conv2d_direct_forward<double>, nullptr, nullptr}},
};

static const char* const kAlgoNames[kConvAlgoCount] = {"auto", "im2col", "winograd", "implicit", "direct"};

const char* conv_algo_name(ConvAlgo a) { return kAlgoNames[static_cast<int>(a)]; }

const char* conv_pass_name(ConvPass p) {
  switch (p) {
    case ConvPass::Forward: return "forward";
    case ConvPass::BackwardInput: return "backward_input";
    case ConvPass::BackwardWeight: return "backward_weight";
  }
  return "?";
}

bool conv_algo_from_name(const char* name, ConvAlgo& out) {
  for (int i = 0; i < kConvAlgoCount; ++i)
    if (std::strcmp(name, kAlgoNames[i]) == 0) {
      out = static_cast<ConvAlgo>(i);
      return true;
    }
  return false;
}

const ConvAlgoEntry* conv_algo_table(int& count) {
  count = static_cast<int>(sizeof(kConvAlgos) / sizeof(kConvAlgos[0]));
  return kConvAlgos;
}

const ConvAlgoEntry* conv_algo_entry(ConvAlgo a) {
  for (const ConvAlgoEntry& e : kConvAlgos)
    if (e.algo == a) return &e;
  return nullptr;
}

template <class T>
static const ConvKernels<T>& kernels_of(const ConvAlgoEntry& e) {
  if constexpr (sizeof(T) == 4) return e.f32; else return e.f64;
}

template <class T>
static bool has_pass(const ConvKernels<T>& k, ConvPass pass) {
  switch (pass) {
    case ConvPass::Forward: return k.forward != nullptr;
    case ConvPass::BackwardInput: return k.backward_input != nullptr;
    case ConvPass::BackwardWeight: return k.backward_weight != nullptr;
  }
  return false;
}

bool conv_algo_applies(ConvAlgo a, const Conv2dShape& s, ConvPass pass, ConvDtype dt) {
  const ConvAlgoEntry* e = conv_algo_entry(a);
  if (!e) return false;
  const bool kernel = dt == ConvDtype::F32 ? has_pass(e->f32, pass) : has_pass(e->f64, pass);
  return kernel && e->applies(s, pass, dt);
}

// The forced algorithm, or the selection's pick. `run(algo)` executes one candidate on the
// caller's buffers (the benchmark mode times it).
template <class T, class Run>
static const ConvKernels<T>& choose(const Conv2dShape& s, ConvPass pass, ConvAlgo algo, const Run& run) {
  if (algo == ConvAlgo::Auto) algo = conv2d_select(s, pass, conv_dtype_of<T>(), run);
  const ConvAlgoEntry* e = conv_algo_entry(algo);
  if (!e || !conv_algo_applies(algo, s, pass, conv_dtype_of<T>())) e = conv_algo_entry(ConvAlgo::Im2col);
  return kernels_of<T>(*e);
}

template <class T>
void conv2d_forward(const T* x, const T* w, const T* b, T* y, const Conv2dShape& s, ConvAlgo algo) {
  if (s.n == 0) return;
  auto run = [&](ConvAlgo a) { kernels_of<T>(*conv_algo_entry(a)).forward(x, w, b, y, s); };
  choose<T>(s, ConvPass::Forward, algo, run).forward(x, w, b, y, s);
}

template <class T>
void conv2d_backward(const T* gy, const T* x, const T* w, T* gx, T* gw, T* gb, const Conv2dShape& s,
                     ConvAlgo algo_gx, ConvAlgo algo_gw) {
  if (gb) conv2d_bias_backward(gy, gb, s);
  if (s.n == 0) {
    if (gw) std::fill(gw, gw + s.oc * (s.c / s.groups) * s.kh * s.kw, T(0));
    return;
  }
  if (gw) {
    auto run = [&](ConvAlgo a) { kernels_of<T>(*conv_algo_entry(a)).backward_weight(gy, x, gw, s); };
    choose<T>(s, ConvPass::BackwardWeight, algo_gw, run).backward_weight(gy, x, gw, s);
  }
  if (gx) {
    auto run = [&](ConvAlgo a) { kernels_of<T>(*conv_algo_entry(a)).backward_input(gy, w, gx, s); };
    choose<T>(s, ConvPass::BackwardInput, algo_gx, run).backward_input(gy, w, gx, s);
  }
}

// grad_bias[o] = sum over images n of the plane sum of grad_out[n][o], for o in [o0, o1): each
// plane in nnk_reduce.h's fixed lanes (vectorised; a sequential double sum was 10% of a
// SimpleConvNet step), the planes in image order.
NNK_ISA_CLONES(conv2d_bias_backward_rows, (const T* gy, T* gb, const Conv2dShape& s, int64_t o0, int64_t o1), {
  const int64_t P = s.oh * s.ow;
  for (int64_t o = o0; o < o1; ++o) {
    double acc = 0.0;
    for (int64_t n = 0; n < s.n; ++n) acc += chunk_sum(gy + (n * s.oc + o) * P, P);
    gb[o] = T(acc);
  }
})

template <class T>
void conv2d_bias_backward(const T* gy, T* gb, const Conv2dShape& s) {
  parallel_ranges(s.oc, items_per_grain(grain::kLight, s.n * s.oh * s.ow), [&](int64_t o0, int64_t o1) {
    conv2d_bias_backward_rows_isa<T>(gy, gb, s, o0, o1);
  });
}

template void conv2d_forward<float>(const float*, const float*, const float*, float*, const Conv2dShape&, ConvAlgo);
template void conv2d_forward<double>(const double*, const double*, const double*, double*, const Conv2dShape&,
                                     ConvAlgo);
template void conv2d_backward<float>(const float*, const float*, const float*, float*, float*, float*,
                                     const Conv2dShape&, ConvAlgo, ConvAlgo);
template void conv2d_backward<double>(const double*, const double*, const double*, double*, double*, double*,
                                      const Conv2dShape&, ConvAlgo, ConvAlgo);
template void conv2d_bias_backward<float>(const float*, float*, const Conv2dShape&);
template void conv2d_bias_backward<double>(const double*, double*, const Conv2dShape&);

}  // namespace nnk
