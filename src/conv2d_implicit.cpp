// Implicit-GEMM convolution (see conv2d_implicit.h): plans, scratch and the parallel loops.
// The math runs in the ISA units (conv2d_implicit_kernels.h), chosen by gemm_isa().
//
// Contracts. Work items depend on the shape only; every output element of forward and
// backward_input is computed by one item, by the GEMM's arithmetic (its value does not
// depend on where its tile lies), and grad_weight sums fixed K blocks in a fixed order
// (partial sums over fixed block ranges, added in order): results are bit-identical for
// any thread count. All scratch is taken before the parallel region (std::bad_alloc is
// thrown there, before any output is written); items never allocate or throw.
// float32 error: each output is a dot product of length C/G*KH*KW (forward), OC/G*KH*KW
// (backward_input) or N*OH*OW (backward_weight), summed with FMAs in K blocks: the usual
// dot-product bound (test_conv2d.tol).
#include "conv2d_implicit.h"
#include <algorithm>
#include "conv2d_implicit_ops.h"
#include "gemm.h"
#include "nnk_common.h"

namespace nnk {

namespace {

template <class T>
const ImplicitOps<T>& implicit_ops() {
  const Isa isa = gemm_isa();
  if constexpr (sizeof(T) == 4)
    return isa == Isa::Avx512 ? kImplicitAvx512F32 : isa == Isa::Avx2 ? kImplicitAvx2F32 : kImplicitGenericF32;
  else
    return isa == Isa::Avx512 ? kImplicitAvx512F64 : isa == Isa::Avx2 ? kImplicitAvx2F64 : kImplicitGenericF64;
}

int64_t cdiv(int64_t a, int64_t b) { return (a + b - 1) / b; }
int64_t round_up(int64_t a, int64_t b) { return cdiv(a, b) * b; }

ImplicitConv geometry(const Conv2dShape& s) {
  return {s.n, s.c, s.h, s.w, s.oc, s.kh, s.kw, s.sh, s.sw, s.ph, s.pw, s.dh, s.dw, s.groups, s.oh, s.ow};
}

// Threads for a pass of `madds` multiply-adds split into `items`: one below 2^20 (~10 us of
// work: a parallel region costs more than it saves), never more than the items.
constexpr double kParallelMadds = double(1 << 20);
int threads_for_items(double madds, int64_t items) {
  const int nt = madds < kParallelMadds ? 1 : num_threads();
  return static_cast<int>(std::min<int64_t>(nt, items));
}

constexpr int64_t kMinItems = 16;  // forward: enough items for dynamic balance on a few threads

template <class T>
ImplicitFwdPlan plan_forward(const ImplicitConv& s, const ImplicitOps<T>& o) {
  ImplicitFwdPlan p{};
  p.P = s.oh * s.ow;
  p.total = s.n * p.P;
  p.og = s.oc / s.groups;
  p.cg = s.c / s.groups;
  p.kg = p.cg * s.kh * s.kw;
  // Pixels per item: the L2 block NC, smaller when the batch would give few items.
  p.npix = std::max<int64_t>(o.nr, std::min(round_up(o.nc, o.nr), round_up(cdiv(p.total * s.groups, kMinItems), o.nr)));
  p.npix = std::min(p.npix, round_up(p.total, o.nr));
  p.items_per_group = cdiv(p.total, p.npix);
  p.items = s.groups * p.items_per_group;
  p.staged = s.sw != 1;
  if (p.staged) {
    p.wq = s.ow + (s.kw - 1) * s.dw / s.sw;
    p.rowlen = s.sw * p.wq;
    const int64_t rows_out = std::min(s.oh, cdiv(p.npix, s.ow) + 1);
    p.nrows_max = (rows_out - 1) * s.sh + (s.kh - 1) * s.dh + 1;
    p.plane = p.nrows_max * p.rowlen;
  } else {
    p.wq = p.rowlen = s.w;
    p.nrows_max = s.h;
    p.plane = s.h * s.w;
  }
  p.slots_max = std::min(s.n, cdiv(p.npix, p.P) + 1);
  p.sets = p.staged ? 1 : s.kh * s.kw;
  p.ents_per_vec = std::min<int64_t>(o.w, (o.w - 1) / s.ow + 2);
  p.segs_per_strip = std::min<int64_t>(o.nr, (o.nr - 1) / p.P + 2);
  const int64_t strips = p.npix / o.nr;
  p.t_buf = 0;
  p.t_bpack = p.staged ? round_up(p.slots_max * p.cg * p.plane, 16) : 0;
  p.t_total = round_up(p.t_bpack + int64_t(o.kc) * p.npix, 16);
  p.i_toff = 0;
  p.i_slots = int64_t(o.kc);
  p.i_ents = p.i_slots + 3 * p.slots_max;
  p.i_nents = p.i_ents + 2 * strips * p.sets * o.nv * p.ents_per_vec;
  p.i_segs = p.i_nents + strips * p.sets * o.nv;
  p.i_nsegs = p.i_segs + 4 * strips * p.segs_per_strip;
  p.i_total = round_up(p.i_nsegs + strips, 8);
  return p;
}

// y (N, OC', OH', OW') of the convolution described by s, with weights packed by pack_weights.
template <class T>
void run_forward(const ImplicitOps<T>& o, const ImplicitConv& s, const T* x, const T* wpk, const T* b, T* y) {
  const ImplicitFwdPlan p = plan_forward(s, o);
  const int nt = threads_for_items(double(p.total) * p.og * p.kg * s.groups, p.items);
  T* tws = workspace<T>(2, nt * p.t_total);
  int64_t* iws = workspace<int64_t>(3, nt * p.i_total);
  parallel_items(p.items, nt, [&](int64_t i, int t) {
    o.forward_item(s, p, x, wpk, b, y, i, tws + t * p.t_total, iws + t * p.i_total);
  });
}

template <class T>
int64_t packed_weights_size(const ImplicitOps<T>& o, int64_t groups, int64_t og, int64_t kg) {
  return groups * round_up(og, o.mr) * kg;
}

}  // namespace

bool conv2d_implicit_applies(const Conv2dShape& s, ConvPass pass, ConvDtype) {
  if (pass == ConvPass::BackwardInput) return s.sh == 1 && s.sw == 1;
  return true;
}

template <class T>
void conv2d_implicit_forward(const T* x, const T* w, const T* b, T* y, const Conv2dShape& shape) {
  const ImplicitOps<T>& o = implicit_ops<T>();
  const ImplicitConv s = geometry(shape);
  const int64_t og = s.oc / s.groups, kg = s.c / s.groups * s.kh * s.kw;
  T* wpk = workspace<T>(1, packed_weights_size(o, s.groups, og, kg));
  o.pack_weights(w, s.groups, og, kg, wpk);
  run_forward(o, s, x, wpk, b, y);
}

// gx = conv(gy, W') with W'[g*cg + c][o][i][j] = W[g*og + o][c][KH-1-i][KW-1-j], stride 1,
// padding d*(K-1) - p: gx[c][h][w] = sum W[o][c][i][j] gy[o][h + ph - i*dh][w + pw - j*dw].
template <class T>
void conv2d_implicit_backward_input(const T* gy, const T* w, T* gx, const Conv2dShape& shape) {
  const ImplicitOps<T>& o = implicit_ops<T>();
  const int64_t G = shape.groups, og = shape.oc / G, cg = shape.c / G, KK = shape.kh * shape.kw;
  const ImplicitConv s{shape.n,  shape.oc, shape.oh, shape.ow, shape.c, shape.kh, shape.kw,
                       1,        1,        shape.dh * (shape.kh - 1) - shape.ph,
                       shape.dw * (shape.kw - 1) - shape.pw,           shape.dh, shape.dw,
                       G,        shape.h,  shape.w};
  auto wt = scratch<T>(shape.c * og * KK);
  for (int64_t g = 0; g < G; ++g)
    for (int64_t c = 0; c < cg; ++c)
      for (int64_t oo = 0; oo < og; ++oo) {
        const T* src = w + ((g * og + oo) * cg + c) * KK;
        T* dst = wt.get() + ((g * cg + c) * og + oo) * KK;
        for (int64_t k = 0; k < KK; ++k) dst[k] = src[KK - 1 - k];
      }
  T* wpk = workspace<T>(1, packed_weights_size(o, G, cg, og * KK));
  o.pack_weights(wt.get(), G, cg, og * KK, wpk);
  run_forward(o, s, gy, wpk, static_cast<const T*>(nullptr), gx);
}

namespace {

constexpr int64_t kWgtTargetItems = 8;
constexpr int64_t kWgtMinTapsPerItem = 512;  // A (gy^T) is repacked per tap range: keep ranges long

template <class T>
ImplicitWgtPlan plan_weight(const ImplicitConv& s, const ImplicitOps<T>& o, int64_t& kparts) {
  ImplicitWgtPlan p{};
  p.P = s.oh * s.ow;
  p.og = s.oc / s.groups;
  p.cg = s.c / s.groups;
  p.kg = p.cg * s.kh * s.kw;
  p.hp = (s.oh - 1) * s.sh + (s.kh - 1) * s.dh + 1;
  p.wp = (s.ow - 1) * s.sw + (s.kw - 1) * s.dw + 1;
  if (p.P <= o.kc) {  // K blocks of whole images
    p.img_per_block = std::min<int64_t>(64, o.kc / p.P);
    p.kblocks = cdiv(s.n, p.img_per_block);
    p.kc_max = p.img_per_block * p.P;
    p.slots_max = p.img_per_block;
  } else {  // near-equal parts of one image
    p.blocks_per_img = cdiv(p.P, o.kc);
    p.kblocks = s.n * p.blocks_per_img;
    p.kc_max = cdiv(p.P, p.blocks_per_img);
    p.slots_max = 1;
  }
  const int64_t tap_parts =
      std::max<int64_t>(1, std::min(cdiv(kWgtTargetItems, s.groups), p.kg / kWgtMinTapsPerItem));
  p.ntap = round_up(cdiv(p.kg, tap_parts), o.nr);
  p.items_per_group = cdiv(p.kg, p.ntap);
  kparts = std::max<int64_t>(1, std::min(p.kblocks, cdiv(kWgtTargetItems, s.groups * p.items_per_group)));
  p.items = s.groups * p.items_per_group;
  const int64_t run_len = s.dw == 1 ? s.kw * p.cg : p.cg;
  p.ents_per_vec = std::min<int64_t>(o.w, (o.w - 1) / run_len + 2);
  p.t_buf = 0;
  p.t_apack = round_up(p.slots_max * p.hp * p.wp * p.cg, 16);
  p.t_bpack = p.t_apack + round_up(round_up(p.og, o.mr) * p.kc_max, 16);
  p.t_total = round_up(p.t_bpack + p.kc_max * round_up(o.nc, o.nr), 16);
  const int64_t tstrips = cdiv(p.ntap, o.nr);
  p.i_ents = 0;
  p.i_nents = 2 * tstrips * o.nv * p.ents_per_vec;
  p.i_pix = p.i_nents + tstrips * o.nv;
  p.i_total = round_up(p.i_pix + p.kc_max, 8);
  return p;
}

}  // namespace

// gw = sum over K blocks (pixels of the batch) of gy_g . cols_g^T, in (kh, kw, c) column
// order into a scratch, then reordered to (c, kh, kw). With kparts > 1 the K blocks are cut
// into kparts fixed ranges with one partial sum each, added in range order.
template <class T>
void conv2d_implicit_backward_weight(const T* gy, const T* x, T* gw, const Conv2dShape& shape) {
  const ImplicitOps<T>& o = implicit_ops<T>();
  const ImplicitConv s = geometry(shape);
  int64_t kparts = 1;
  ImplicitWgtPlan base = plan_weight(s, o, kparts);
  const int64_t wsize = s.oc * base.kg, items = base.items * kparts;
  const int nt = threads_for_items(double(s.n) * base.P * wsize, items);
  T* gwp = workspace<T>(1, kparts * wsize);
  T* tws = workspace<T>(2, nt * base.t_total);
  int64_t* iws = workspace<int64_t>(3, nt * base.i_total);
  parallel_items(items, nt, [&](int64_t i, int t) {
    const int64_t part = i / base.items, kb0 = part * base.kblocks / kparts, kb1 = (part + 1) * base.kblocks / kparts;
    ImplicitWgtPlan p = base;  // this part's K blocks only
    p.kb_begin = kb0;
    p.kb_end = kb1;
    o.weight_item(s, p, gy, x, gwp + part * wsize, i % base.items, tws + t * base.t_total, iws + t * base.i_total);
  });
  const int64_t KK = s.kh * s.kw, cg = base.cg;
  parallel_ranges(s.oc, items_per_grain(grain::kLight, kparts * base.kg), [&](int64_t o0, int64_t o1) {
    for (int64_t oo = o0; oo < o1; ++oo)
      for (int64_t k = 0; k < base.kg; ++k) {  // column k = (kh*KW + kw)*cg + c of the scratch
        T v = gwp[oo * base.kg + k];
        for (int64_t part = 1; part < kparts; ++part) v += gwp[part * wsize + oo * base.kg + k];
        gw[(oo * cg + k % cg) * KK + k / cg] = v;
      }
  });
}

template void conv2d_implicit_forward<float>(const float*, const float*, const float*, float*, const Conv2dShape&);
template void conv2d_implicit_forward<double>(const double*, const double*, const double*, double*,
                                              const Conv2dShape&);
template void conv2d_implicit_backward_input<float>(const float*, const float*, float*, const Conv2dShape&);
template void conv2d_implicit_backward_input<double>(const double*, const double*, double*, const Conv2dShape&);
template void conv2d_implicit_backward_weight<float>(const float*, const float*, float*, const Conv2dShape&);
template void conv2d_implicit_backward_weight<double>(const double*, const double*, double*, const Conv2dShape&);

}  // namespace nnk
