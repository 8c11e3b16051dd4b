// Convolution = im2col (OpenMP) + one GEMM per group over a whole chunk of images
// (BLAS threads, outside any parallel region) + a transposing output pass (OpenMP).
// 1x1 stride-1 convolutions skip im2col: x is already a (C, H*W) matrix per image.
#include <algorithm>
#include <cassert>
#include "blas.h"
#include "conv2d.h"
#include "nnk_common.h"

namespace nnk {

constexpr int64_t kScratchBudget = int64_t(1) << 22;  // elements: 16 MiB of float32

int64_t conv2d_chunk_images(const Conv2dShape& s) {
  const int64_t per_image = s.oh * s.ow * (s.c * s.kh * s.kw + s.oc);
  return std::max<int64_t>(1, std::min<int64_t>(s.n, kScratchBudget / std::max<int64_t>(per_image, 1)));
}

static bool is_pointwise(const Conv2dShape& s) {
  return s.kh == 1 && s.kw == 1 && s.sh == 1 && s.sw == 1 && s.ph == 0 && s.pw == 0;
}

// y[n, o, :] = yt[o, n*P : (n+1)*P] + b[o]: (OC, nb*P) -> NCHW, bias fused. yt may equal y
// when nb == 1 (the GEMM then wrote y directly and this only adds the bias).
template <class T>
static void cnp_to_nchw(const T* yt, const T* b, T* y, int64_t nb, int64_t oc, int64_t P) {
  if (yt == y && !b) return;
#pragma omp parallel for num_threads(num_threads()) schedule(static)
  for (int64_t r = 0; r < nb * oc; ++r) {
    const int64_t n = r / oc, o = r % oc;
    const T* src = yt + (o * nb + n) * P;
    T* dst = y + r * P;
    const T bo = b ? b[o] : T(0);
    for (int64_t q = 0; q < P; ++q) dst[q] = src[q] + bo;
  }
}

// gt[o, n*P + q] = g[n, o, q]: NCHW -> (OC, nb*P).
template <class T>
static void nchw_to_cnp(const T* NNK_RESTRICT g, T* NNK_RESTRICT gt, int64_t nb, int64_t oc, int64_t P) {
#pragma omp parallel for num_threads(num_threads()) schedule(static)
  for (int64_t r = 0; r < nb * oc; ++r) {
    const int64_t n = r / oc, o = r % oc;
    std::copy(g + r * P, g + (r + 1) * P, gt + (o * nb + n) * P);
  }
}

// gb[o] = sum over n, q of gy[n, o, q], in a fixed order (double accumulator).
template <class T>
static void bias_grad(const T* gy, T* gb, const Conv2dShape& s) {
  const int64_t P = s.oh * s.ow;
#pragma omp parallel for num_threads(num_threads()) schedule(static)
  for (int64_t o = 0; o < s.oc; ++o) {
    double acc = 0.0;
    for (int64_t n = 0; n < s.n; ++n) {
      const T* g = gy + (n * s.oc + o) * P;
      double part = 0.0;
      for (int64_t q = 0; q < P; ++q) part += g[q];
      acc += part;
    }
    gb[o] = T(acc);
  }
}

template <class T>
static void pointwise_forward(const T* x, const T* w, const T* b, T* y, const Conv2dShape& s) {
  const int64_t P = s.h * s.w, cg = s.c / s.groups, og = s.oc / s.groups;
  if (b) {
#pragma omp parallel for num_threads(num_threads()) schedule(static)
    for (int64_t q = 0; q < s.n * s.oc; ++q) std::fill(y + q * P, y + (q + 1) * P, b[q % s.oc]);
  }
  for (int64_t n = 0; n < s.n; ++n)
    for (int64_t g = 0; g < s.groups; ++g)
      gemm<T>(false, false, og, P, cg, T(1), w + g * og * cg, cg, x + (n * s.c + g * cg) * P, P,
              b ? T(1) : T(0), y + (n * s.oc + g * og) * P, P);
}

template <class T>
static void pointwise_backward(const T* gy, const T* x, const T* w, T* gx, T* gw, const Conv2dShape& s) {
  const int64_t P = s.h * s.w, cg = s.c / s.groups, og = s.oc / s.groups;
  for (int64_t n = 0; n < s.n; ++n) {
    for (int64_t g = 0; g < s.groups; ++g) {
      const T* gyg = gy + (n * s.oc + g * og) * P;
      gemm<T>(false, true, og, cg, P, T(1), gyg, P, x + (n * s.c + g * cg) * P, P,
              n == 0 ? T(0) : T(1), gw + g * og * cg, cg);
      if (gx)
        gemm<T>(true, false, cg, P, og, T(1), w + g * og * cg, cg, gyg, P, T(0),
                gx + (n * s.c + g * cg) * P, P);
    }
  }
}

template <class T>
void conv2d_forward(const T* x, const T* w, const T* b, T* y, const Conv2dShape& s) {
  assert(s.c % s.groups == 0 && s.oc % s.groups == 0 && s.oh > 0 && s.ow > 0);
  if (s.n == 0) return;
  if (is_pointwise(s)) return pointwise_forward(x, w, b, y, s);
  const int64_t P = s.oh * s.ow, K = s.c * s.kh * s.kw, kg = K / s.groups, og = s.oc / s.groups;
  const int64_t nbmax = conv2d_chunk_images(s);
  auto cols = scratch<T>(nbmax * P * K);
  auto yt = scratch<T>(nbmax > 1 ? nbmax * P * s.oc : 0);
  for (int64_t n0 = 0; n0 < s.n; n0 += nbmax) {
    const int64_t nb = std::min(nbmax, s.n - n0), m = nb * P;
    T* out = nb == 1 ? y + n0 * s.oc * P : yt.get();  // one image: GEMM straight into y
    im2col(x + n0 * s.c * s.h * s.w, cols.get(), s, nb, m);
    for (int64_t g = 0; g < s.groups; ++g)  // out_g (og, m) = w_g (og, kg) . cols_g (kg, m)
      gemm<T>(false, false, og, m, kg, T(1), w + g * og * kg, kg, cols.get() + g * kg * m, m, T(0),
              out + g * og * m, m);
    cnp_to_nchw(out, b, y + n0 * s.oc * P, nb, s.oc, P);
  }
}

template <class T>
void conv2d_backward(const T* gy, const T* x, const T* w, T* gx, T* gw, T* gb, const Conv2dShape& s) {
  const int64_t P = s.oh * s.ow, K = s.c * s.kh * s.kw, kg = K / s.groups, og = s.oc / s.groups;
  if (gb) bias_grad(gy, gb, s);
  if (s.n == 0) {
    std::fill(gw, gw + s.oc * kg, T(0));
    return;
  }
  if (is_pointwise(s)) return pointwise_backward(gy, x, w, gx, gw, s);
  const int64_t nbmax = conv2d_chunk_images(s);
  auto cols = scratch<T>(nbmax * P * K);
  auto gbuf = scratch<T>(nbmax > 1 ? nbmax * P * s.oc : 0);
  for (int64_t n0 = 0; n0 < s.n; n0 += nbmax) {
    const int64_t nb = std::min(nbmax, s.n - n0), m = nb * P;
    const T* gt = gy + n0 * s.oc * P;  // one image: NCHW already is (OC, P)
    if (nb > 1) {
      nchw_to_cnp(gt, gbuf.get(), nb, s.oc, P);
      gt = gbuf.get();
    }
    im2col(x + n0 * s.c * s.h * s.w, cols.get(), s, nb, m);
    for (int64_t g = 0; g < s.groups; ++g)  // gw_g (og, kg) += gt_g (og, m) . cols_g^T (m, kg)
      gemm<T>(false, true, og, kg, m, T(1), gt + g * og * m, m, cols.get() + g * kg * m, m,
              n0 == 0 ? T(0) : T(1), gw + g * og * kg, kg);
    if (!gx) continue;
    for (int64_t g = 0; g < s.groups; ++g)  // dcols_g (kg, m) = w_g^T (kg, og) . gt_g (og, m)
      gemm<T>(true, false, kg, m, og, T(1), w + g * og * kg, kg, gt + g * og * m, m, T(0),
              cols.get() + g * kg * m, m);
    col2im(cols.get(), gx + n0 * s.c * s.h * s.w, s, nb, m);
  }
}

template void conv2d_forward<float>(const float*, const float*, const float*, float*, const Conv2dShape&);
template void conv2d_forward<double>(const double*, const double*, const double*, double*, const Conv2dShape&);
template void conv2d_backward<float>(const float*, const float*, const float*, float*, float*, float*,
                                     const Conv2dShape&);
template void conv2d_backward<double>(const double*, const double*, const double*, double*, double*, double*,
                                      const Conv2dShape&);

}  // namespace nnk
