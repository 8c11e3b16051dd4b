// Panel packing helpers of the implicit-GEMM convolution (conv2d_implicit_kernels.h): rows
// of a GEMM panel gathered from the image by zero-masked vector loads, and transposed copies
// of grad_out. Written over the vector traits of gemm_simd.h; internal linkage only (read the
// ISA rule there).
#pragma once
#include <cstdint>
#include "conv2d_implicit_ops.h"
#include "gemm_kernels.h"

namespace nnk {
namespace {

// One vector of a panel row comes from a few masked loads: lanes `mask` of the vector read
// base + off + lane (base is the tap's or the pixel's address).
struct Ent {
  int64_t off;
  int64_t mask;
};

template <class Tr>
struct ImplicitPack {
  using T = typename Tr::T;
  using V = typename Tr::V;
  static constexpr int W = Tr::W, NV = Tr::NV, MR = Tr::MR;

  // Rows i < count of a panel strip: row i (NR lanes at dst + i*dst_step) reads, for each
  // vector, its entries' lanes from origin + off[i*off_step] + entry offset. The strip's
  // E <= 3 entries per vector stay in registers; zero-masked loads are OR-ed (independent).
  template <int E>
  static void pack_rows(T* dst, int64_t dst_step, const T* origin, const int64_t* off, int64_t off_step,
                        int64_t count, const Ent* ents, const int64_t* nents, int64_t cap) {
    typename Tr::M m[NV][E];
    int64_t o[NV][E];
    for (int v = 0; v < NV; ++v)
      for (int e = 0; e < E; ++e) {
        const bool on = e < nents[v];
        m[v][e] = Tr::mask_of(on ? uint32_t(ents[v * cap + e].mask) : 0u);
        o[v][e] = on ? ents[v * cap + e].off : 0;
      }
    for (int64_t i = 0; i < count; ++i, dst += dst_step) {
      const T* base = origin + off[i * off_step];
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) {
        V r = Tr::load_z(m[v][0], base + o[v][0]);
#pragma GCC unroll 4
        for (int e = 1; e < E; ++e) r = Tr::or_(r, Tr::load_z(m[v][e], base + o[v][e]));
        Tr::store(dst + v * W, r);
      }
    }
  }
  static void pack_rows_any(T* dst, int64_t dst_step, const T* origin, const int64_t* off, int64_t off_step,
                            int64_t count, const Ent* ents, const int64_t* nents, int64_t cap) {
    int64_t e = 0;
    for (int v = 0; v < NV; ++v) e = imax(e, nents[v]);
    switch (e) {
      case 0:
        for (int64_t i = 0; i < count; ++i, dst += dst_step)
          for (int v = 0; v < NV; ++v) Tr::store(dst + v * W, Tr::zero());
        return;
      case 1: return pack_rows<1>(dst, dst_step, origin, off, off_step, count, ents, nents, cap);
      case 2: return pack_rows<2>(dst, dst_step, origin, off, off_step, count, ents, nents, cap);
      case 3: return pack_rows<3>(dst, dst_step, origin, off, off_step, count, ents, nents, cap);
      default: break;
    }
    for (int64_t i = 0; i < count; ++i, dst += dst_step) {  // narrow planes: many rows per vector
      const T* base = origin + off[i * off_step];
      for (int v = 0; v < NV; ++v) {
        V r = Tr::zero();
        for (int64_t k = 0; k < nents[v]; ++k)
          r = Tr::or_(r, Tr::load_z(Tr::mask_of(uint32_t(ents[v * cap + k].mask)), base + ents[v * cap + k].off));
        Tr::store(dst + v * W, r);
      }
    }
  }

  // Entries for lanes [lane, lane+len) of a strip whose lane l reads offset off0 + (l - lane);
  // ents/nents are the strip's NV vectors (cap entries each).
  static void add_run(Ent* ents, int64_t* nents, int64_t cap, int64_t lane, int64_t len, int64_t off0) {
    for (int64_t l = lane; l < lane + len;) {
      const int64_t v = l / W, hi = imin(lane + len, (v + 1) * W);
      uint32_t mask = 0;
      for (int64_t t = l; t < hi; ++t) mask |= 1u << (t - v * W);
      Ent& e = ents[v * cap + nents[v]++];
      e.off = off0 + v * W - lane;
      e.mask = mask;
      l = hi;
    }
  }

  // dst[q*MR + i] = src[i*lds + q] for q < len, i < h (zero for h <= i < MR); returns the end.
  static T* pack_transposed(const T* src, int64_t lds, int64_t h, int64_t len, T* dst) {
    int64_t q = 0;
    if constexpr (Tr::kTranspose && MR <= W) {
      for (; q + W <= len; q += W, dst += W * MR) {
        V r[W];
        for (int i = 0; i < W; ++i) r[i] = i < h ? Tr::load(src + i * lds + q) : Tr::zero();
        Tr::transpose(r);
        for (int l = 0; l < W; ++l) Tr::store_first(dst + l * MR, r[l], MR);
      }
    }
    for (; q < len; ++q, dst += MR) {
      for (int64_t i = 0; i < h; ++i) dst[i] = src[i * lds + q];
      for (int64_t i = h; i < MR; ++i) dst[i] = T(0);
    }
    return dst;
  }
};

}  // namespace
}  // namespace nnk
