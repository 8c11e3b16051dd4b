// Convolution by im2col + GEMM (conv2d_im2col_*), on one thread pool. The output pixels are
// cut into work items (a few whole images, or a block of output lines of one image) that
// depend only on the shape; nnkern's pool runs the items, and each item does its own im2col into a per-thread
// workspace and single-threaded GEMMs straight into y. So im2col and GEMM share the cache,
// OpenBLAS never spins against nnkern's threads, and every result is bit-identical for any thread
// count: weight gradients are summed over fixed groups of items, in item order.
// 1x1 stride-1 convolutions skip im2col: each image already is a (C, H*W) matrix.
#include <algorithm>
#include <cassert>
#include "blas.h"
#include "conv2d_im2col.h"
#include "nnk_common.h"

namespace nnk {

constexpr int64_t kItemCols = 1024;             // target output pixels (GEMM columns) per item
constexpr int64_t kPartialBudget = int64_t(1) << 22;  // elements of partial weight gradients

static bool is_pointwise(const Conv2dShape& s) {
  return s.kh == 1 && s.kw == 1 && s.sh == 1 && s.sw == 1 && s.ph == 0 && s.pw == 0;
}

struct Item {
  int64_t n0, nb, h0, h1;  // images [n0, n0 + nb), output lines [h0, h1)
};

struct Plan {
  int64_t img_per_item = 1, rows = 1, items_per_img = 1, count = 0, n = 0, oh = 0;
  Item item(int64_t i) const {
    if (items_per_img > 1) {
      const int64_t h0 = (i % items_per_img) * rows;
      return {i / items_per_img, 1, h0, std::min(oh, h0 + rows)};
    }
    const int64_t n0 = i * img_per_item;
    return {n0, std::min(img_per_item, n - n0), 0, oh};
  }
};

// whole_images: never split an image (col2im of overlapping windows must own its planes).
// one_image: never group images (the 1x1 path reads x and writes y in place of cols).
static Plan make_plan(const Conv2dShape& s, bool whole_images, bool one_image) {
  Plan p;
  p.n = s.n;
  p.oh = s.oh;
  const int64_t P = s.oh * s.ow;
  if (P >= kItemCols && !whole_images) {
    p.rows = std::max<int64_t>(1, kItemCols / s.ow);
    p.items_per_img = (s.oh + p.rows - 1) / p.rows;
    p.count = s.n * p.items_per_img;
  } else {
    p.rows = s.oh;
    p.img_per_item = one_image ? 1 : std::max<int64_t>(1, kItemCols / P);
    p.count = (s.n + p.img_per_item - 1) / p.img_per_item;
  }
  return p;
}

// The (K, m) matrix of an item's columns: im2col into workspace slot 0, or x itself (1x1).
template <class T>
static const T* item_cols(const T* x, const Conv2dShape& s, const Item& it, int64_t& ld) {
  const int64_t m = it.nb * (it.h1 - it.h0) * s.ow;
  if (is_pointwise(s)) {
    ld = s.h * s.w;
    return x + it.n0 * s.c * ld + it.h0 * s.ow;
  }
  T* cols = workspace<T>(0, s.c * s.kh * s.kw * m);
  im2col(x + it.n0 * s.c * s.h * s.w, cols, s, it.nb, m, it.h0, it.h1, false);
  ld = m;
  return cols;
}

// The (OC, m) slice of grad_out for an item: gy itself for one image, else a copy (slot 1).
template <class T>
static const T* item_grad_out(const T* gy, const Conv2dShape& s, const Item& it, int64_t& ld) {
  const int64_t P = s.oh * s.ow;
  if (it.nb == 1) {
    ld = P;
    return gy + it.n0 * s.oc * P + it.h0 * s.ow;
  }
  ld = it.nb * P;
  T* g = workspace<T>(1, s.oc * ld);
  for (int64_t o = 0; o < s.oc; ++o)
    for (int64_t n = 0; n < it.nb; ++n) {
      const T* src = gy + ((it.n0 + n) * s.oc + o) * P;
      std::copy(src, src + P, g + o * ld + n * P);
    }
  return g;
}

template <class T>
static void forward_item(const T* x, const T* w, const T* b, T* y, const Conv2dShape& s, const Item& it) {
  const int64_t P = s.oh * s.ow, kg = s.c / s.groups * s.kh * s.kw, og = s.oc / s.groups;
  const int64_t mi = (it.h1 - it.h0) * s.ow, m = it.nb * mi;
  int64_t ldc, ldo;
  const T* cols = item_cols(x, s, it, ldc);
  T* out = it.nb == 1 ? y + it.n0 * s.oc * P + it.h0 * s.ow : workspace<T>(1, s.oc * m);
  ldo = it.nb == 1 ? P : m;
  for (int64_t g = 0; g < s.groups; ++g)  // out_g (og, m) = w_g (og, kg) . cols_g (kg, m)
    gemm<T>(false, false, og, m, kg, T(1), w + g * og * kg, kg, cols + g * kg * ldc, ldc, T(0),
            out + g * og * ldo, ldo);
  if (it.nb == 1 && !b) return;
  for (int64_t o = 0; o < s.oc; ++o) {  // bias, and (OC, nb, mi) -> NCHW for grouped images
    const T bo = b ? b[o] : T(0);
    for (int64_t n = 0; n < it.nb; ++n) {
      const T* src = out + o * ldo + n * mi;
      T* dst = y + ((it.n0 + n) * s.oc + o) * P + it.h0 * s.ow;
      for (int64_t q = 0; q < mi; ++q) dst[q] = src[q] + bo;
    }
  }
}

bool conv2d_im2col_applies(const Conv2dShape&, ConvPass, ConvDtype) { return true; }

template <class T>
void conv2d_im2col_forward(const T* x, const T* w, const T* b, T* y, const Conv2dShape& s) {
  assert(s.n > 0 && s.c % s.groups == 0 && s.oc % s.groups == 0 && s.oh > 0 && s.ow > 0);
  const Plan plan = make_plan(s, false, is_pointwise(s));
  BlasSerialScope serial;
  // A failed workspace allocation in an item is rethrown here, after the join.
  parallel_items(plan.count, num_threads(), [&](int64_t i, int) { forward_item(x, w, b, y, s, plan.item(i)); });
}

// acc (OC, kg) (+)= grad_out_item (OC, m) . cols_item^T (m, kg), per group.
template <class T>
static void weight_grad_item(const T* gy, const T* x, T* acc, const Conv2dShape& s, const Item& it, bool add) {
  const int64_t kg = s.c / s.groups * s.kh * s.kw, og = s.oc / s.groups;
  const int64_t m = it.nb * (it.h1 - it.h0) * s.ow;
  int64_t ldg, ldc;
  const T* gt = item_grad_out(gy, s, it, ldg);
  const T* cols = item_cols(x, s, it, ldc);
  for (int64_t g = 0; g < s.groups; ++g)
    gemm<T>(false, true, og, kg, m, T(1), gt + g * og * ldg, ldg, cols + g * kg * ldc, ldc, add ? T(1) : T(0),
            acc + g * og * kg, kg);
}

// Items are summed in fixed consecutive groups (one partial each), then the partials in
// order: the grouping depends on the shape only, never on the thread count.
template <class T>
void conv2d_im2col_backward_weight(const T* gy, const T* x, T* gw, const Conv2dShape& s) {
  const int64_t wsize = s.oc * (s.c / s.groups) * s.kh * s.kw;
  BlasSerialScope serial;
  const Plan plan = make_plan(s, false, is_pointwise(s));
  const int64_t want = std::max<int64_t>(2, std::min<int64_t>(16, kPartialBudget / wsize));
  const int64_t per = (plan.count + std::min(want, plan.count) - 1) / std::min(want, plan.count);
  const int64_t parts = (plan.count + per - 1) / per;
  auto partial = scratch<T>((parts - 1) * wsize);
  parallel_items(parts, num_threads(), [&](int64_t j, int) {
    T* acc = j == 0 ? gw : partial.get() + (j - 1) * wsize;
    for (int64_t i = j * per; i < std::min(plan.count, (j + 1) * per); ++i)
      weight_grad_item(gy, x, acc, s, plan.item(i), i != j * per);
  });
  if (parts == 1) return;
  parallel_ranges(wsize, items_per_grain(grain::kLight, parts), [&](int64_t e0, int64_t e1) {
    for (int64_t e = e0; e < e1; ++e) {
      T v = gw[e];
      for (int64_t j = 1; j < parts; ++j) v += partial[(j - 1) * wsize + e];
      gw[e] = v;
    }
  });
}

// gx for an item of whole images: dcols = w_g^T . grad_out_g, then col2im (the item owns
// its planes). For 1x1 stride-1 the GEMM writes gx directly.
template <class T>
static void input_grad_item(const T* gy, const T* w, T* gx, const Conv2dShape& s, const Item& it) {
  const int64_t kg = s.c / s.groups * s.kh * s.kw, og = s.oc / s.groups, HW = s.h * s.w;
  const int64_t m = it.nb * (it.h1 - it.h0) * s.ow;
  int64_t ldg;
  const T* gt = item_grad_out(gy, s, it, ldg);
  const bool direct = is_pointwise(s);
  T* dcols = direct ? gx + it.n0 * s.c * HW + it.h0 * s.ow : workspace<T>(0, s.c * s.kh * s.kw * m);
  const int64_t ldd = direct ? HW : m;
  for (int64_t g = 0; g < s.groups; ++g)  // dcols_g (kg, m) = w_g^T (kg, og) . gt_g (og, m)
    gemm<T>(true, false, kg, m, og, T(1), w + g * og * kg, kg, gt + g * og * ldg, ldg, T(0),
            dcols + g * kg * ldd, ldd);
  if (!direct) col2im(dcols, gx + it.n0 * s.c * HW, s, it.nb, m, false);
}

template <class T>
void conv2d_im2col_backward_input(const T* gy, const T* w, T* gx, const Conv2dShape& s) {
  BlasSerialScope serial;
  const bool pw = is_pointwise(s);
  const Plan plan = make_plan(s, !pw, pw);
  parallel_items(plan.count, num_threads(), [&](int64_t i, int) { input_grad_item(gy, w, gx, s, plan.item(i)); });
}

template void conv2d_im2col_forward<float>(const float*, const float*, const float*, float*, const Conv2dShape&);
template void conv2d_im2col_forward<double>(const double*, const double*, const double*, double*,
                                            const Conv2dShape&);
template void conv2d_im2col_backward_input<float>(const float*, const float*, float*, const Conv2dShape&);
template void conv2d_im2col_backward_input<double>(const double*, const double*, double*, const Conv2dShape&);
template void conv2d_im2col_backward_weight<float>(const float*, const float*, float*, const Conv2dShape&);
template void conv2d_im2col_backward_weight<double>(const double*, const double*, double*, const Conv2dShape&);

}  // namespace nnk
