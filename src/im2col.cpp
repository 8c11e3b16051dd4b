// im2col / col2im in the transposed ("Caffe", batch-folded) column layout:
// cols is (C*KH*KW, ld) with one row per kernel tap (c, kh, kw) and one column per
// output pixel (n, oh, ow), so both passes move whole contiguous output rows
// (a memcpy when stride is 1). Parallel over (tap, image) rows in im2col and over input
// planes in col2im (each thread owns whole planes: no races, fixed summation order).
#include <algorithm>
#include <cassert>
#include "conv2d.h"
#include "nnk_common.h"

namespace nnk {

// Output columns [lo, hi) whose input column ow*stride + off lies inside [0, size).
static NNK_INLINE void valid_range(int64_t off, int64_t size, int64_t stride, int64_t count, int64_t& lo,
                                   int64_t& hi) {
  lo = off < 0 ? (-off + stride - 1) / stride : 0;
  hi = size - off > 0 ? (size - off + stride - 1) / stride : 0;
  lo = std::min(lo, count);
  hi = std::max(lo, std::min(hi, count));
}

// One (tap, image) row: output lines [h0, h1) of OW values each, read from plane `img`.
template <class T>
static void im2col_row(const T* NNK_RESTRICT img, T* NNK_RESTRICT dst, const Conv2dShape& s, int64_t kh,
                       int64_t kw, int64_t h0, int64_t h1) {
  const int64_t off_w = kw * s.dw - s.pw;
  int64_t lo, hi;
  valid_range(off_w, s.w, s.sw, s.ow, lo, hi);
  for (int64_t oh = h0; oh < h1; ++oh, dst += s.ow) {
    const int64_t ih = oh * s.sh - s.ph + kh * s.dh;
    if (ih < 0 || ih >= s.h) {
      std::fill(dst, dst + s.ow, T(0));
      continue;
    }
    const T* src = img + ih * s.w + off_w;
    for (int64_t ow = 0; ow < lo; ++ow) dst[ow] = T(0);
    if (s.sw == 1)
      std::copy(src + lo, src + hi, dst + lo);
    else
      for (int64_t ow = lo; ow < hi; ++ow) dst[ow] = src[ow * s.sw];
    for (int64_t ow = hi; ow < s.ow; ++ow) dst[ow] = T(0);
  }
}

template <class T>
void im2col(const T* x, T* cols, const Conv2dShape& s, int64_t nb, int64_t ld, int64_t h0, int64_t h1,
            bool parallel) {
  const int64_t K = s.c * s.kh * s.kw, kk = s.kh * s.kw, m = (h1 - h0) * s.ow;
  assert(0 <= h0 && h0 < h1 && h1 <= s.oh && ld >= nb * m);
  const auto rows = [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t k = r / nb, n = r % nb, c = k / kk;
      im2col_row(x + (n * s.c + c) * s.h * s.w, cols + k * ld + n * m, s, (k % kk) / s.kw, k % s.kw, h0, h1);
    }
  };
  if (parallel)
    parallel_ranges(K * nb, items_per_grain(grain::kLight, m), rows);
  else
    rows(0, K * nb);
}

// Input plane (n, c) gathers every column entry that im2col read from it.
template <class T>
static void col2im_plane(const T* NNK_RESTRICT cols, T* NNK_RESTRICT plane, const Conv2dShape& s, int64_t c,
                         int64_t ld) {
  std::fill(plane, plane + s.h * s.w, T(0));
  for (int64_t kh = 0; kh < s.kh; ++kh) {
    for (int64_t kw = 0; kw < s.kw; ++kw) {
      const T* src = cols + ((c * s.kh + kh) * s.kw + kw) * ld;
      const int64_t off_w = kw * s.dw - s.pw;
      int64_t lo, hi;
      valid_range(off_w, s.w, s.sw, s.ow, lo, hi);
      for (int64_t oh = 0; oh < s.oh; ++oh, src += s.ow) {
        const int64_t ih = oh * s.sh - s.ph + kh * s.dh;
        if (ih < 0 || ih >= s.h) continue;
        T* drow = plane + ih * s.w + off_w;
        for (int64_t ow = lo; ow < hi; ++ow) drow[ow * s.sw] += src[ow];
      }
    }
  }
}

template <class T>
void col2im(const T* cols, T* x, const Conv2dShape& s, int64_t nb, int64_t ld, bool parallel) {
  const int64_t P = s.oh * s.ow;
  const auto planes = [&](int64_t q0, int64_t q1) {
    for (int64_t q = q0; q < q1; ++q) {
      const int64_t n = q / s.c, c = q % s.c;
      col2im_plane(cols + n * P, x + q * s.h * s.w, s, c, ld);
    }
  };
  if (parallel)
    parallel_ranges(nb * s.c, items_per_grain(grain::kLight, s.kh * s.kw * P), planes);
  else
    planes(0, nb * s.c);
}

template void im2col<float>(const float*, float*, const Conv2dShape&, int64_t, int64_t, int64_t, int64_t, bool);
template void im2col<double>(const double*, double*, const Conv2dShape&, int64_t, int64_t, int64_t, int64_t,
                             bool);
template void col2im<float>(const float*, float*, const Conv2dShape&, int64_t, int64_t, bool);
template void col2im<double>(const double*, double*, const Conv2dShape&, int64_t, int64_t, bool);

}  // namespace nnk
