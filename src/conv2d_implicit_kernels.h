// Work items of the implicit-GEMM convolution, written once over the vector traits of
// gemm_simd.h and instantiated by each ISA unit (conv2d_implicit_<isa>.cpp). Internal
// linkage only (read the ISA rule in gemm_simd.h). The plans and the scratch layout come
// from the baseline driver, conv2d_implicit.cpp, which also states the contracts.
//
// Forward, per item (group g, output pixels [q0, q1) of the batch):
//   for each K block of taps:  pack B (taps x pixels) straight from x, strip by strip;
//                              C (og x pixels) [+]= W_g(K block) . B with the GEMM's macro-kernel.
// grad_weight, per item (group g, weight-gradient columns [t0, t1) in (kh, kw, c) order):
//   for each K block of pixels: stage its images channels-last; pack A = gy^T and B = x^T;
//                               gw_g(:, t0:t1) [+]= A^T . B.
#pragma once
#include <cstdint>
#include "conv2d_implicit_ops.h"
#include "conv2d_implicit_pack.h"
#include "gemm_kernels.h"

namespace nnk {
namespace {

template <class Tr>
struct Implicit : ImplicitPack<Tr> {
  using G = Gemm<Tr>;
  using T = typename Tr::T;
  using V = typename Tr::V;
  using P = ImplicitPack<Tr>;
  using P::add_run, P::pack_rows_any, P::pack_transposed;
  static constexpr int W = Tr::W, NV = Tr::NV, MR = Tr::MR, NR = G::NR;

  // ---- forward ----

  // Rows [r0, r0+nrows) of the zero-padded input of image n, group g, split into sw column
  // phases: padded column i*sw + f lands at row[f*wq + i].
  static void stage_rows(const ImplicitConv& s, const ImplicitFwdPlan& p, const T* x, int64_t g, int64_t n,
                         int64_t r0, int64_t nrows, T* dst) {
    for (int64_t c = 0; c < p.cg; ++c) {
      const T* src = x + (n * s.c + g * p.cg + c) * s.h * s.w;
      for (int64_t r = 0; r < nrows; ++r) {
        T* row = dst + c * p.plane + r * p.rowlen;
        const int64_t ih = r0 + r - s.ph;
        if (ih < 0 || ih >= s.h) {
          for (int64_t i = 0; i < p.rowlen; ++i) row[i] = T(0);
          continue;
        }
        const T* srow = src + ih * s.w;
        for (int64_t f = 0; f < s.sw; ++f) {
          T* d = row + f * p.wq;
          for (int64_t i = 0; i < p.wq; ++i) {
            const int64_t iw = i * s.sw + f - s.pw;
            d[i] = iw >= 0 && iw < s.w ? srow[iw] : T(0);
          }
        }
      }
    }
  }

  // Descriptors of strip j: per set, the NV vectors' entries; and the output segments
  // (lane0, len, y offset of the segment's first pixel, image) where the strip crosses images.
  static void describe_strip(const ImplicitConv& s, const ImplicitFwdPlan& p, int64_t g, int64_t q0, int64_t q1,
                             int64_t j, const int64_t* slots, int64_t n_first, Ent* ents, int64_t* nents,
                             int64_t* segs, int64_t& nsegs) {
    const int64_t E = p.ents_per_vec;
    for (int64_t i = 0; i < p.sets * NV; ++i) nents[i] = 0;
    nsegs = 0;
    const int64_t qe = imin(q0 + (j + 1) * NR, q1);
    for (int64_t q = q0 + j * NR, lane = 0; q < qe;) {
      const int64_t n = q / p.P, pp = q % p.P, oh = pp / s.ow, ow = pp % s.ow, len = imin(s.ow - ow, qe - q);
      const int64_t* slot = slots + 3 * (n - n_first);  // (n, first staged row, offset)
      if (p.staged) {
        add_run(ents, nents, E, lane, len, slot[2] + (oh * s.sh - slot[1]) * p.rowlen + ow);
      } else {  // x in place: clip the run to the input per tap position
        for (int64_t kh = 0; kh < s.kh; ++kh) {
          const int64_t ih = oh * s.sh - s.ph + kh * s.dh;
          if (ih < 0 || ih >= s.h) continue;
          for (int64_t kw = 0; kw < s.kw; ++kw) {
            const int64_t shift = kw * s.dw - s.pw;  // iw = ow + shift
            const int64_t lo = imax(ow, -shift), hi = imin(ow + len, s.w - shift);
            if (lo >= hi) continue;
            const int64_t set = kh * s.kw + kw;
            add_run(ents + set * NV * E, nents + set * NV, E, lane + lo - ow, hi - lo,
                    slot[2] + ih * s.w + lo + shift);
          }
        }
      }
      const int64_t yoff = (n * s.oc + g * p.og) * p.P + pp;
      if (nsegs > 0 && segs[4 * (nsegs - 1) + 3] == n) {
        segs[4 * (nsegs - 1) + 1] += len;
      } else {
        int64_t* sg = segs + 4 * nsegs++;
        sg[0] = lane, sg[1] = len, sg[2] = yoff, sg[3] = n;
      }
      q += len;
      lane += len;
    }
  }

  static void forward_item(const ImplicitConv& s, const ImplicitFwdPlan& p, const T* x, const T* wpk,
                           const T* bias, T* y, int64_t item, T* tws, int64_t* iws) {
    const int64_t g = item / p.items_per_group, q0 = (item % p.items_per_group) * p.npix;
    const int64_t q1 = imin(p.total, q0 + p.npix), nstrips = ceil_div(q1 - q0, NR);
    const int64_t E = p.ents_per_vec, S = p.segs_per_strip, KK = s.kh * s.kw;
    int64_t* toff = iws + p.i_toff;
    int64_t* slots = iws + p.i_slots;
    Ent* ents = reinterpret_cast<Ent*>(iws + p.i_ents);
    int64_t* nents = iws + p.i_nents;
    int64_t* segs = iws + p.i_segs;
    int64_t* nsegs = iws + p.i_nsegs;
    T* bp = tws + p.t_bpack;
    // The item's images: staged rows (stride > 1) or x in place.
    const int64_t n_first = q0 / p.P, n_last = (q1 - 1) / p.P;
    for (int64_t n = n_first; n <= n_last; ++n) {
      int64_t* slot = slots + 3 * (n - n_first);
      slot[0] = n;
      if (p.staged) {
        const int64_t plo = imax(q0, n * p.P) - n * p.P, phi = imin(q1, (n + 1) * p.P) - n * p.P;
        const int64_t oh0 = plo / s.ow, oh1 = (phi - 1) / s.ow;
        slot[1] = oh0 * s.sh;
        slot[2] = (n - n_first) * p.cg * p.plane;
        stage_rows(s, p, x, g, n, slot[1], (oh1 - oh0) * s.sh + (s.kh - 1) * s.dh + 1, tws + p.t_buf + slot[2]);
      } else {
        slot[1] = 0;
        slot[2] = n * s.c * s.h * s.w;
      }
    }
    const T* origin = p.staged ? tws + p.t_buf : x + g * p.cg * s.h * s.w;
    for (int64_t j = 0; j < nstrips; ++j)
      describe_strip(s, p, g, q0, q1, j, slots, n_first, ents + j * p.sets * NV * E, nents + j * p.sets * NV,
                     segs + j * 4 * S, nsegs[j]);

    const int64_t ns = m_strips(p.og, MR), kb = k_blocks(p.kg, Tr::KC);
    const T* wg = wpk + g * ns * MR * p.kg;
    for (int64_t b = 0; b < kb; ++b) {
      int64_t k0, kl;
      k_block(p.kg, Tr::KC, b, k0, kl);
      for (int64_t k = 0; k < kl; ++k) {  // tap (c, kh, kw): its address offset
        const int64_t tap = k0 + k, c = tap / KK, kh = tap % KK / s.kw, kw = tap % s.kw;
        toff[k] = p.staged ? c * p.plane + kh * s.dh * p.rowlen + kw * s.dw % s.sw * p.wq + kw * s.dw / s.sw
                           : c * s.h * s.w;
      }
      for (int64_t j = 0; j < nstrips; ++j) {  // B block: strip j, taps k0.., NR pixels each
        T* dst = bp + j * kl * NR;
        const Ent* ej = ents + j * p.sets * NV * E;
        const int64_t* nj = nents + j * p.sets * NV;
        if (p.staged) {
          pack_rows_any(dst, NR, origin, toff, 1, kl, ej, nj, E);
          continue;
        }
        for (int64_t set = 0; set < KK; ++set) {  // taps at position (kh, kw) = set: every KK-th row
          const int64_t first = ((set - k0) % KK + KK) % KK;
          if (first < kl)
            pack_rows_any(dst + first * NR, KK * NR, origin, toff + first, KK, (kl - 1 - first) / KK + 1,
                          ej + set * NV * E, nj + set * NV, E);
        }
      }
      for (int64_t m = 0; m < ns; ++m) {  // C (og x np) [+]= W_g(:, k0..) . B
        const int64_t r0 = strip_row(p.og, ns, m), h = strip_row(p.og, ns, m + 1) - r0;
        const typename G::Kernel kern = G::kernel(int(h));
        const T* as = wg + k0 * ns * MR + m * kl * MR;
        const T* bs = b == 0 && bias ? bias + g * p.og + r0 : nullptr;
        for (int64_t j = 0; j < nstrips; ++j) {
          const int64_t* sg = segs + j * 4 * S;
          if (nsegs[j] == 1) {
            kern(kl, as, bp + j * kl * NR, y + sg[2] + r0 * p.P, p.P, int(sg[1]), T(1), b > 0, bs);
            continue;
          }
          alignas(64) T tmp[MR * NR];  // the strip crosses images: compute, then scatter
          kern(kl, as, bp + j * kl * NR, tmp, NR, NR, T(1), false, bs);
          for (int64_t e = 0; e < nsegs[j]; ++e, sg += 4)
            for (int64_t i = 0; i < h; ++i) {
              T* d = y + sg[2] + (r0 + i) * p.P;
              const T* t = tmp + i * NR + sg[0];
              if (b > 0)
                for (int64_t l = 0; l < sg[1]; ++l) d[l] = d[l] + t[l];
              else
                for (int64_t l = 0; l < sg[1]; ++l) d[l] = t[l];
            }
        }
      }
    }
  }

  static void pack_weights(const T* w, int64_t groups, int64_t og, int64_t kg, T* packed) {
    const int64_t per = m_strips(og, MR) * MR * kg;
    for (int64_t g = 0; g < groups; ++g) G::pack_a(false, og, kg, w + g * og * kg, kg, packed + g * per);
  }

  // ---- grad_weight ----

  // Image n, group g, channels-last and zero-padded: dst[(r*wp + c')*cg + c] for padded
  // row r < hp and padded column c' < wp.
  static void stage_hwc(const ImplicitConv& s, const ImplicitWgtPlan& p, const T* x, int64_t g, int64_t n,
                        T* dst) {
    for (int64_t r = 0; r < p.hp; ++r) {
      T* drow = dst + r * p.wp * p.cg;
      const int64_t ih = r - s.ph;
      if (ih < 0 || ih >= s.h) {
        for (int64_t i = 0; i < p.wp * p.cg; ++i) drow[i] = T(0);
        continue;
      }
      const int64_t lo = imin(imax(s.pw, 0), p.wp), hi = imax(lo, imin(s.w + s.pw, p.wp));
      for (int64_t i = 0; i < lo * p.cg; ++i) drow[i] = T(0);
      for (int64_t i = hi * p.cg; i < p.wp * p.cg; ++i) drow[i] = T(0);
      for (int64_t c = 0; c < p.cg; ++c) {
        const T* srow = x + ((n * s.c + g * p.cg + c) * s.h + ih) * s.w - s.pw;
        for (int64_t i = lo; i < hi; ++i) drow[i * p.cg + c] = srow[i];
      }
    }
  }

  // K block kb: (image, first pixel, pixel count) runs, at most slots_max of them.
  static int64_t block_runs(const ImplicitConv& s, const ImplicitWgtPlan& p, int64_t kb, int64_t* runs) {
    if (p.img_per_block > 0) {
      const int64_t n0 = kb * p.img_per_block, n1 = imin(s.n, n0 + p.img_per_block);
      for (int64_t n = n0; n < n1; ++n) runs[3 * (n - n0)] = n, runs[3 * (n - n0) + 1] = 0, runs[3 * (n - n0) + 2] = p.P;
      return n1 - n0;
    }
    const int64_t n = kb / p.blocks_per_img, part = kb % p.blocks_per_img;
    const int64_t lo = part * p.P / p.blocks_per_img, hi = (part + 1) * p.P / p.blocks_per_img;
    runs[0] = n, runs[1] = lo, runs[2] = hi - lo;
    return 1;
  }

  static void weight_item(const ImplicitConv& s, const ImplicitWgtPlan& p, const T* gy, const T* x, T* gwp,
                          int64_t item, T* tws, int64_t* iws) {
    const int64_t g = item / p.items_per_group, t0 = (item % p.items_per_group) * p.ntap;
    const int64_t t1 = imin(p.kg, t0 + p.ntap), nt = t1 - t0, tstrips = ceil_div(nt, NR), E = p.ents_per_vec;
    Ent* ents = reinterpret_cast<Ent*>(iws + p.i_ents);
    int64_t* nents = iws + p.i_nents;
    int64_t runs[3 * 64];
    // Tap strips: columns (kh, kw, c) are consecutive staged addresses along c, and along kw
    // too when the dilation is 1.
    const int64_t run_len = s.dw == 1 ? s.kw * p.cg : p.cg;
    for (int64_t js = 0; js < tstrips; ++js) {
      for (int v = 0; v < NV; ++v) nents[js * NV + v] = 0;
      const int64_t te = imin(t0 + (js + 1) * NR, t1);
      for (int64_t t = t0 + js * NR, lane = 0; t < te;) {
        const int64_t pos = t / p.cg, c = t % p.cg, kh = pos / s.kw, kw = pos % s.kw;
        const int64_t len = imin((t / run_len + 1) * run_len, te) - t;
        add_run(ents + js * NV * E, nents + js * NV, E, lane, len, (kh * s.dh * p.wp + kw * s.dw) * p.cg + c);
        t += len;
        lane += len;
      }
    }
    const int64_t ns = m_strips(p.og, MR), ncb = ceil_div(Tr::NC, NR) * NR, HWC = p.hp * p.wp * p.cg;
    T* buf = tws + p.t_buf;
    T* ap = tws + p.t_apack;
    T* bp = tws + p.t_bpack;
    T* gwg = gwp + g * p.og * p.kg;
    int64_t staged = -1;  // image in slot 0 when K blocks are parts of one image (stage it once)
    for (int64_t kb = p.kb_begin; kb < p.kb_end; ++kb) {
      const int64_t nr = block_runs(s, p, kb, runs);
      int64_t kl = 0;
      for (int64_t r = 0; r < nr; ++r) {
        if (nr > 1 || runs[0] != staged) stage_hwc(s, p, x, g, runs[3 * r], buf + r * HWC);
        kl += runs[3 * r + 2];
      }
      staged = nr == 1 ? runs[0] : -1;
      for (int64_t m = 0; m < ns; ++m) {  // A = gy^T: row q of the block, the strip's channels
        const int64_t r0 = strip_row(p.og, ns, m), h = strip_row(p.og, ns, m + 1) - r0;
        T* dst = ap + m * kl * MR;
        for (int64_t r = 0; r < nr; ++r) {
          const T* src = gy + (runs[3 * r] * s.oc + g * p.og + r0) * p.P + runs[3 * r + 1];
          dst = pack_transposed(src, p.P, h, runs[3 * r + 2], dst);
        }
      }
      int64_t* pix = iws + p.i_pix;  // staged address of each pixel (row of the block)
      for (int64_t r = 0, i = 0; r < nr; ++r)
        for (int64_t q = runs[3 * r + 1]; q < runs[3 * r + 1] + runs[3 * r + 2]; ++q, ++i)
          pix[i] = r * HWC + ((q / s.ow) * s.sh * p.wp + (q % s.ow) * s.sw) * p.cg;
      for (int64_t tb = 0; tb < nt; tb += ncb) {  // B = x^T for columns [t0+tb, ...), then the GEMM
        const int64_t nb = imin(ncb, nt - tb);
        for (int64_t js = tb / NR; js < ceil_div(tb + nb, NR); ++js)
          pack_rows_any(bp + (js - tb / NR) * kl * NR, NR, buf, pix, 1, kl, ents + js * NV * E, nents + js * NV, E);
        G::macro(ap, p.og, kl, bp, nb, gwg + t0 + tb, p.kg, T(1), kb > p.kb_begin, nullptr);
      }
    }
  }

  static constexpr ImplicitOps<T> ops() {
    return {MR, NR, W, NV, Tr::KC, Tr::NC, &pack_weights, &forward_item, &weight_item};
  }
};

}  // namespace
}  // namespace nnk
