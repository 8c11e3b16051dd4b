// Winograd transform-domain products for few channels (cg, og <= kSmallChannels, forward and
// grad_x): a register-blocked loop over tiles and channels instead of a^2 GEMM calls of K = cg
// per block (conv2d_winograd_impl.h: small_products). One NNK_CLONES function per (number of
// output vectors NV, tiles per step TB).
#include <algorithm>
#include <cstring>
#include "conv2d_winograd_impl.h"
#include "gemm.h"
#include "nnk_common.h"

namespace nnk {
namespace wino {

// Tiles per step of small_products: TB * NV 64-byte accumulators, enough independent chains to
// cover the FMA latency (4 chains ran at half speed) and few enough to stay in registers.
// AVX-512 (32 zmm): TB * NV = 8 accumulators. AVX2 (16 ymm, a 64-byte vector is two): at most
// 4 vectors (8 ymm) of accumulators beside the NV filter vectors and the broadcast, but 6 tiles
// (12 ymm, 15 in all, no spills) for NV = 1: deepconv-3x3's forward 1-3% faster than with 4 on
// Zen 3 (medians of 400 calls, three alternating pairs); the AVX-512 counts there spilled and ran
// that forward 4x slower than on AVX-512.
template <int NV>
constexpr int small_tiles_wide() {
  return NV == 1 ? 8 : 4;
}
template <int NV>
constexpr int small_tiles_narrow() {
  return NV == 1 ? 6 : NV == 2 ? 2 : 1;
}

// mt rows of tiles [t0, t0 + TB) (clamped to the block's last tile: the extra rows are computed
// and dropped) at transform position xi = sum over c of v[c] * u[c][:], NV vectors of outputs.
// VB: the bytes of the vectors the arithmetic runs on, 64 (AVX-512) or 32 (AVX2: GCC lowers
// 64-byte vector arithmetic there through the stack, which ran 4x slower); a row's NV 64-byte
// channel vectors are NV * 64 / VB of them.
template <class T, int NV, int TB, int VB>
static NNK_INLINE void products_tiles(const T* v, const T* ux, T* mt, const Geom& gm, int64_t nt, int64_t t0,
                                      int64_t xi, int64_t ldv, int64_t ldm, int64_t ldu) {
  typedef T V __attribute__((vector_size(VB)));
  typedef T VU __attribute__((vector_size(VB), aligned(sizeof(T)), may_alias));  // unaligned loads/stores
  constexpr int L = VB / int(sizeof(T)), NW = NV * 64 / VB;
  const T* vr[TB];
  for (int i = 0; i < TB; ++i) vr[i] = v + tile_row(gm, nt, std::min(t0 + i, nt - 1), xi) * ldv;
  V acc[TB][NW];  // registers: fully unrolled below, never indexed at run time
#pragma GCC unroll 16
  for (int i = 0; i < TB; ++i)
#pragma GCC unroll 16
    for (int j = 0; j < NW; ++j) acc[i][j] = V{};
  for (int64_t c = 0; c < gm.cg; ++c) {
    const T* uc = ux + c * ldu;
#pragma GCC unroll 16
    for (int i = 0; i < TB; ++i) {
      const T vi = vr[i][c];
#pragma GCC unroll 16
      for (int j = 0; j < NW; ++j) acc[i][j] += vi * *reinterpret_cast<const VU*>(uc + j * L);
    }
  }
#pragma GCC unroll 16
  for (int i = 0; i < TB; ++i) {
    if (t0 + i >= nt) break;
    T* row = mt + tile_row(gm, nt, t0 + i, xi) * ldm;
#pragma GCC unroll 16
    for (int j = 0; j < NW; ++j) *reinterpret_cast<VU*>(row + j * L) = acc[i][j];
  }
}

template <class T, int NV, int TB, int VB>
static NNK_INLINE void small_products_impl(const T* v, const T* u, T* mt, const Geom& gm, int64_t nt) {
  constexpr int L = lanes<T>();
  const int64_t a2 = int64_t(gm.a) * gm.a, ldv = channel_ld(gm.cg, sizeof(T)), ldm = channel_ld(gm.og, sizeof(T));
  const int64_t ldu = round_up(gm.og, L);
  for (int64_t t0 = 0; t0 < nt; t0 += TB)  // tile-major rows: the tiles' a^2 rows lie together
    for (int64_t xi = 0; xi < a2; ++xi) products_tiles<T, NV, TB, VB>(v, u + xi * gm.cg * ldu, mt, gm, nt, t0, xi, ldv, ldm, ldu);
}

// NV = output vectors per row: 1 or 2 (float), 1 to 4 (double) for og <= kSmallChannels; the
// wide (AVX-512) and narrow (AVX2 and older) tile counts. Every output element is the same sum
// over the channels in the same order whichever TB runs, so the results do not depend on it.
#define NNK_SMALL_PRODUCTS(NV)                                                                                  \
  NNK_ISA_AVX512(conv2d_winograd_small_products_nv##NV##_wide,                                                   \
                 (const T* v, const T* u, T* mt, const Geom& gm, int64_t nt),                                   \
                 (small_products_impl<T, NV, small_tiles_wide<NV>(), 64>(v, u, mt, gm, nt)))                    \
  NNK_ISA_CLONES(conv2d_winograd_small_products_nv##NV##_narrow,                                                \
                 (const T* v, const T* u, T* mt, const Geom& gm, int64_t nt),                                   \
                 (small_products_impl<T, NV, small_tiles_narrow<NV>(), 32>(v, u, mt, gm, nt)))
NNK_SMALL_PRODUCTS(1)
NNK_SMALL_PRODUCTS(2)
NNK_SMALL_PRODUCTS(3)
NNK_SMALL_PRODUCTS(4)

#define NNK_SMALL_PRODUCTS_PICK(NV)                                                   \
  return wide ? conv2d_winograd_small_products_nv##NV##_wide_isa<T>(v, u, mt, gm, nt) \
              : conv2d_winograd_small_products_nv##NV##_narrow_isa<T>(v, u, mt, gm, nt)

template <class T>
void small_products(const T* v, const T* u, T* mt, const Geom& gm, int64_t nt) {
  const int64_t nv = (gm.og + lanes<T>() - 1) / lanes<T>();
  const bool wide = gemm_isa() == Isa::Avx512;  // 32 vector registers
  if (nv == 1) NNK_SMALL_PRODUCTS_PICK(1);
  if (nv == 2) NNK_SMALL_PRODUCTS_PICK(2);
  if (nv == 3) NNK_SMALL_PRODUCTS_PICK(3);
  NNK_SMALL_PRODUCTS_PICK(4);  // og <= 32 doubles: up to 4 vectors
}
template void small_products<float>(const float*, const float*, float*, const Geom&, int64_t);
template void small_products<double>(const double*, const double*, double*, const Geom&, int64_t);

}  // namespace wino
}  // namespace nnk
