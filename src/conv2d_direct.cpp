// Direct convolution for few input channels per group (conv2d_direct.h), forward pass.
// Per work item (image n, group g, block of output channels): the group's cg input planes,
// zero-padded (once for consecutive blocks of one image and group) into scratch rows of
// wp = max(OW, lanes) + KW - 1 elements (so every tap's vector load is in bounds and padding
// costs no test); then, per block of up to kBlock output channels and output row, one vector of
// output columns at a time (the last one overlapping the one before, or partial when OW is
// shorter than a vector): acc[j] += w[o0 + j][c][i][k] * x_padded[c][oh + i][ow0 + k ...] over the
// taps in (c, i, k) order, then + bias. Each output is one thread's fixed sum: the results do not
// depend on the thread count or on which column block computed them.
#include "conv2d_direct.h"
#include <algorithm>
#include <cstring>
#include "gemm.h"
#include "nnk_common.h"

namespace nnk {
namespace {

constexpr int kBlock = 6;  // output channels per register block: 6 x 2 accumulators + 2 x + weight

struct DirectGeom {
  int64_t cg, og, taps;  // channels per group in and out, taps per output channel (cg KH KW)
  int64_t hp, wp;        // padded plane rows and row length
};

DirectGeom direct_geom(const Conv2dShape& s, int64_t lanes) {
  DirectGeom g;
  g.cg = s.c / s.groups;
  g.og = s.oc / s.groups;
  g.taps = g.cg * s.kh * s.kw;
  g.hp = s.h + 2 * s.ph;
  g.wp = std::max(s.ow, lanes) + s.kw - 1;
  return g;
}

// The cg planes of image n, group `grp`, into p (cg x hp x wp), zeros around them.
template <class T>
NNK_INLINE void direct_pad_planes(const T* x, T* p, const Conv2dShape& s, const DirectGeom& g, int64_t n,
                                  int64_t grp) {
  std::fill(p, p + g.cg * g.hp * g.wp, T(0));
  for (int64_t c = 0; c < g.cg; ++c) {
    const T* src = x + ((n * s.c + grp * g.cg + c) * s.h) * s.w;
    T* dst = p + (c * g.hp + s.ph) * g.wp + s.pw;
    for (int64_t r = 0; r < s.h; ++r) std::memcpy(dst + r * g.wp, src + r * s.w, sizeof(T) * size_t(s.w));
  }
}

// OCB output channels (weights w, OCB x taps; bias b or null; output planes y, OH*OW apart) at
// output rows [oh, oh + NR), columns [ow0, ow0 + ncols), ncols <= VB / sizeof(T). Each weight
// broadcast serves NR rows (one load per NR multiply-adds).
template <class T, int VB, int OCB, int NR>
NNK_INLINE void direct_block(const T* p, const T* w, const T* b, T* y, const Conv2dShape& s, const DirectGeom& g,
                             int64_t oh, int64_t ow0, int64_t ncols) {
  typedef T V __attribute__((vector_size(VB)));
  typedef T VU __attribute__((vector_size(VB), aligned(sizeof(T)), may_alias));
  constexpr int64_t L = VB / int64_t(sizeof(T));
  V acc[OCB][NR];
#pragma GCC unroll 8
  for (int j = 0; j < OCB; ++j)
#pragma GCC unroll 2
    for (int r = 0; r < NR; ++r) acc[j][r] = V{};
  for (int64_t c = 0; c < g.cg; ++c)
    for (int64_t i = 0; i < s.kh; ++i) {
      const T* xr = p + (c * g.hp + oh + i) * g.wp + ow0;
      const T* wr = w + (c * s.kh + i) * s.kw;
      for (int64_t k = 0; k < s.kw; ++k) {
        V xv[NR];
#pragma GCC unroll 2
        for (int r = 0; r < NR; ++r) xv[r] = *reinterpret_cast<const VU*>(xr + r * g.wp + k);
#pragma GCC unroll 8
        for (int j = 0; j < OCB; ++j) {
          const T wv = wr[j * g.taps + k];
#pragma GCC unroll 2
          for (int r = 0; r < NR; ++r) acc[j][r] += wv * xv[r];
        }
      }
    }
  const int64_t plane = s.oh * s.ow;
#pragma GCC unroll 8
  for (int j = 0; j < OCB; ++j)
#pragma GCC unroll 2
    for (int r = 0; r < NR; ++r) {
      const V out = acc[j][r] + (b ? b[j] : T(0));
      T* dst = y + j * plane + (oh + r) * s.ow + ow0;
      if (ncols == L) *reinterpret_cast<VU*>(dst) = out;
      else std::memcpy(dst, &out, sizeof(T) * size_t(ncols));
    }
}

// The column blocks of output rows [oh, oh + NR): one vector at a time, the last one overlapping
// the one before (the same sums again), or one partial block when OW is shorter than a vector.
template <class T, int VB, int OCB, int NR>
NNK_INLINE void direct_rows(const T* p, const T* w, const T* b, T* y, const Conv2dShape& s, const DirectGeom& g,
                            int64_t oh) {
  constexpr int64_t L = VB / int64_t(sizeof(T));
  if (s.ow < L) return direct_block<T, VB, OCB, NR>(p, w, b, y, s, g, oh, 0, s.ow);
  for (int64_t ow0 = 0; ow0 < s.ow; ow0 += L)
    direct_block<T, VB, OCB, NR>(p, w, b, y, s, g, oh, std::min(ow0, s.ow - L), L);
}

// Every output row of OCB channels (group-local weights w): rows in pairs, an odd last one alone.
template <class T, int VB, int OCB>
NNK_INLINE void direct_channels(const T* p, const T* w, const T* b, T* y, const Conv2dShape& s, const DirectGeom& g) {
  int64_t oh = 0;
  for (; oh + 2 <= s.oh; oh += 2) direct_rows<T, VB, OCB, 2>(p, w, b, y, s, g, oh);
  if (oh < s.oh) direct_rows<T, VB, OCB, 1>(p, w, b, y, s, g, oh);
}

// Items [i0, i1): item = (image n, group grp, block ob of kBlock output channels); consecutive
// items of one (n, grp) reuse its padded planes.
template <class T, int VB>
NNK_INLINE void direct_items(const T* x, const T* w, const T* b, T* y, const Conv2dShape& s, int64_t i0, int64_t i1) {
  const DirectGeom g = direct_geom(s, VB / int64_t(sizeof(T)));
  const int64_t blocks = (g.og + kBlock - 1) / kBlock;
  T* p = workspace<T>(0, g.cg * g.hp * g.wp);  // may throw std::bad_alloc before this thread writes any output
  int64_t padded = -1;                          // the (n, grp) whose planes p holds
  for (int64_t item = i0; item < i1; ++item) {
    const int64_t plane = item / blocks, n = plane / s.groups, grp = plane % s.groups, o = item % blocks * kBlock;
    if (plane != padded) direct_pad_planes(x, p, s, g, n, grp), padded = plane;
    const int64_t oc = grp * g.og + o;
    const T* wo = w + oc * g.taps;
    const T* bo = b ? b + oc : nullptr;
    T* yo = y + (n * s.oc + oc) * s.oh * s.ow;
    switch (std::min<int64_t>(kBlock, g.og - o)) {
      case 1: direct_channels<T, VB, 1>(p, wo, bo, yo, s, g); break;
      case 2: direct_channels<T, VB, 2>(p, wo, bo, yo, s, g); break;
      case 3: direct_channels<T, VB, 3>(p, wo, bo, yo, s, g); break;
      case 4: direct_channels<T, VB, 4>(p, wo, bo, yo, s, g); break;
      case 5: direct_channels<T, VB, 5>(p, wo, bo, yo, s, g); break;
      default: direct_channels<T, VB, kBlock>(p, wo, bo, yo, s, g); break;
    }
  }
}

// 64-byte vectors on AVX-512 (compiled for it alone), 32-byte ones elsewhere (GCC lowers 64-byte
// vector arithmetic through the stack without AVX-512 registers).
NNK_ISA_AVX512(conv2d_direct_forward_wide,
               (const T* x, const T* w, const T* b, T* y, const Conv2dShape& s, int64_t i0, int64_t i1),
               direct_items<T, 64>(x, w, b, y, s, i0, i1))
NNK_ISA_CLONES(conv2d_direct_forward_narrow,
               (const T* x, const T* w, const T* b, T* y, const Conv2dShape& s, int64_t i0, int64_t i1),
               direct_items<T, 32>(x, w, b, y, s, i0, i1))

}  // namespace

// cg x hp x wp for the most lanes of any path (16, float32 on AVX-512), in checked arithmetic: false if it
// overflows or passes kDirectMaxScratch.
static bool direct_scratch_fits(const Conv2dShape& s) {
  int64_t hp = 0, wp = 0, n = 0;
  return !__builtin_add_overflow(s.h, 2 * s.ph, &hp) &&
         !__builtin_add_overflow(std::max<int64_t>(s.ow, 16), s.kw - 1, &wp) &&
         !__builtin_mul_overflow(hp, wp, &n) && !__builtin_mul_overflow(n, s.c / s.groups, &n) && n <= kDirectMaxScratch;
}

bool conv2d_direct_applies(const Conv2dShape& s, ConvPass pass, ConvDtype) {
  return pass == ConvPass::Forward && s.c / s.groups <= kDirectMaxChannels && s.sh == 1 && s.sw == 1 && s.dh == 1 &&
         s.dw == 1 && s.ph < s.kh && s.pw < s.kw && direct_scratch_fits(s);
}

template <class T>
void conv2d_direct_forward(const T* x, const T* w, const T* b, T* y, const Conv2dShape& s) {
  const int64_t og = s.oc / s.groups, items = s.n * s.groups * ((og + kBlock - 1) / kBlock);
  // multiply-adds per item, in double: only its size matters, and the product may pass 2^63
  const double work = double(std::min<int64_t>(og, kBlock)) * double(s.oh) * double(s.ow) * double(s.c / s.groups) *
                      double(s.kh) * double(s.kw);
  const bool wide = gemm_isa() == Isa::Avx512;
  parallel_ranges(items, items_per_grain(grain::kLight, int64_t(std::min(work, 1e18))), [&](int64_t i0, int64_t i1) {
    if (wide) conv2d_direct_forward_wide_isa<T>(x, w, b, y, s, i0, i1);
    else conv2d_direct_forward_narrow_isa<T>(x, w, b, y, s, i0, i1);
  });
}

template void conv2d_direct_forward<float>(const float*, const float*, const float*, float*, const Conv2dShape&);
template void conv2d_direct_forward<double>(const double*, const double*, const double*, double*,
                                            const Conv2dShape&);

}  // namespace nnk
