// What the baseline driver (conv2d_implicit.cpp) hands the per-ISA work-item functions of the
// implicit-GEMM convolution (conv2d_implicit_<isa>.cpp): plain structs and a constant table,
// no inline code (the ISA units include this; see the ISA rule in gemm_simd.h).
#pragma once
#include <cstdint>

namespace nnk {

struct ImplicitConv {  // Conv2dShape's fields; padding may be negative here (gx as a conv of gy)
  int64_t n, c, h, w, oc, kh, kw, sh, sw, ph, pw, dh, dw, groups, oh, ow;
};

// Forward plan: an item is (group g, a range of npix output pixels over the batch). Each
// NR-pixel strip of the item is described once as runs of consecutive pixels of one output
// row; a kernel tap then packs the strip with a few masked vector loads. With stride 1, x is
// read in place and padding is clipped per tap position (kh, kw): one descriptor set per
// position. With a column stride sw > 1, the item's input rows are first staged in `buf`,
// zero-padded and split into sw column phases, so that every tap reads consecutive pixels
// from consecutive addresses: one descriptor set serves every tap.
struct ImplicitFwdPlan {
  int64_t P, total, npix, items_per_group, items;  // P = OH*OW, total = N*P
  int64_t og, cg, kg;                              // per group: OC/G, C/G, C/G*KH*KW
  bool staged;
  int64_t wq, rowlen, nrows_max, plane, slots_max;  // staged rows: rowlen = sw*wq; plane = nrows_max*rowlen
  int64_t sets, ents_per_vec, segs_per_strip;      // descriptor sets (1 or KH*KW) and capacities
  // per-thread scratch, in elements: T (buf, then the packed B block), int64 (the rest)
  int64_t t_buf, t_bpack, t_total;
  int64_t i_toff, i_slots, i_ents, i_nents, i_segs, i_nsegs, i_total;
};

// grad_weight plan: an item is (group g, a range of ntap columns of the group's weight
// gradient in (kh, kw, c) order), summed over every output pixel of the batch in K blocks
// (whole images when P <= KC, else near-equal parts of one image). The block's images are
// staged channels-last (HWC, padded), so the taps of one pixel are consecutive addresses.
struct ImplicitWgtPlan {
  int64_t P, og, cg, kg, ntap, items_per_group, items;
  int64_t hp, wp;                  // padded rows / columns actually read
  int64_t img_per_block, blocks_per_img, kblocks, kc_max, slots_max;
  int64_t kb_begin, kb_end;        // the K blocks this item sums (a fixed range: see kparts)
  int64_t ents_per_vec;
  int64_t t_buf, t_apack, t_bpack, t_total;
  int64_t i_ents, i_nents, i_total;
};

template <class T>
struct ImplicitOps {
  int mr, nr, w, nv, kc, nc;  // the GEMM's register tile, vector width and blocking
  // Weights of each group packed for the GEMM (gemm_kernels.h layout), og x kg per group.
  void (*pack_weights)(const T* w, int64_t groups, int64_t og, int64_t kg, T* packed);
  // y for the item's pixels (all OC/G channels of its group); bias may be null.
  void (*forward_item)(const ImplicitConv& s, const ImplicitFwdPlan& p, const T* x, const T* wpacked, const T* bias,
                       T* y, int64_t item, T* tws, int64_t* iws);
  // gwp (G, OC/G, kg) in (kh, kw, c) column order, the item's columns, summed over the batch.
  void (*weight_item)(const ImplicitConv& s, const ImplicitWgtPlan& p, const T* gy, const T* x, T* gwp,
                      int64_t item, T* tws, int64_t* iws);
};

extern const ImplicitOps<float> kImplicitAvx512F32;
extern const ImplicitOps<double> kImplicitAvx512F64;
extern const ImplicitOps<float> kImplicitAvx2F32;
extern const ImplicitOps<double> kImplicitAvx2F64;
extern const ImplicitOps<float> kImplicitGenericF32;
extern const ImplicitOps<double> kImplicitGenericF64;

}  // namespace nnk
