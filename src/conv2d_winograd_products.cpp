// Winograd transform-domain products for few channels (cg, og <= kSmallChannels, forward and
// grad_x): a register-blocked loop over tiles and channels instead of a^2 GEMM calls of K = cg
// per block (conv2d_winograd_impl.h: small_products). One NNK_CLONES function per number of
// output vectors.
#include <algorithm>
#include <cstring>
#include "conv2d_winograd_impl.h"
#include "nnk_common.h"

namespace nnk {
namespace wino {

// Tiles per step of small_products: enough independent accumulator chains (TB * NV >= 8) to
// cover the FMA latency (4 chains ran at half speed).
template <int NV>
constexpr int small_tiles() {
  return NV == 1 ? 8 : 4;
}

// mt rows of tiles [t0, t0 + TB) (clamped to the block's last tile: the extra rows are computed
// and dropped) at transform position xi = sum over c of v[c] * u[c][:], NV vectors of outputs.
template <class T, int NV>
static NNK_INLINE void products_tiles(const T* v, const T* ux, T* mt, const Geom& gm, int64_t nt, int64_t t0,
                                      int64_t xi, int64_t ldv, int64_t ldm, int64_t ldu) {
  using V = typename Vec<T>::type;
  constexpr int L = lanes<T>(), TB = small_tiles<NV>();
  const T* vr[TB];
  for (int i = 0; i < TB; ++i) vr[i] = v + tile_row(gm, nt, std::min(t0 + i, nt - 1), xi) * ldv;
  V acc[TB][NV];
  for (int i = 0; i < TB; ++i)
    for (int j = 0; j < NV; ++j) acc[i][j] = V{};
  for (int64_t c = 0; c < gm.cg; ++c) {
    V ur[NV];
    for (int j = 0; j < NV; ++j) std::memcpy(&ur[j], ux + c * ldu + j * L, sizeof(V));
    for (int i = 0; i < TB; ++i)
      for (int j = 0; j < NV; ++j) acc[i][j] += vr[i][c] * ur[j];
  }
  for (int i = 0; i < TB && t0 + i < nt; ++i)
    for (int j = 0; j < NV; ++j) std::memcpy(mt + tile_row(gm, nt, t0 + i, xi) * ldm + j * L, &acc[i][j], sizeof(V));
}

template <class T, int NV>
static NNK_INLINE void small_products_impl(const T* v, const T* u, T* mt, const Geom& gm, int64_t nt) {
  constexpr int L = lanes<T>();
  const int64_t a2 = int64_t(gm.a) * gm.a, ldv = channel_ld(gm.cg, sizeof(T)), ldm = channel_ld(gm.og, sizeof(T));
  const int64_t ldu = round_up(gm.og, L);
  for (int64_t t0 = 0; t0 < nt; t0 += small_tiles<NV>())  // tile-major rows: the tiles' a^2 rows lie together
    for (int64_t xi = 0; xi < a2; ++xi) products_tiles<T, NV>(v, u + xi * gm.cg * ldu, mt, gm, nt, t0, xi, ldv, ldm, ldu);
}

// NV = output vectors per row: 1 or 2 (float), 1 to 4 (double) for og <= kSmallChannels.
NNK_ISA_CLONES(conv2d_winograd_small_products_nv1,
               (const T* v, const T* u, T* mt, const Geom& gm, int64_t nt), (small_products_impl<T, 1>(v, u, mt, gm, nt)))
NNK_ISA_CLONES(conv2d_winograd_small_products_nv2,
               (const T* v, const T* u, T* mt, const Geom& gm, int64_t nt), (small_products_impl<T, 2>(v, u, mt, gm, nt)))
NNK_ISA_CLONES(conv2d_winograd_small_products_nv3,
               (const T* v, const T* u, T* mt, const Geom& gm, int64_t nt), (small_products_impl<T, 3>(v, u, mt, gm, nt)))
NNK_ISA_CLONES(conv2d_winograd_small_products_nv4,
               (const T* v, const T* u, T* mt, const Geom& gm, int64_t nt), (small_products_impl<T, 4>(v, u, mt, gm, nt)))

template <class T>
void small_products(const T* v, const T* u, T* mt, const Geom& gm, int64_t nt) {
  const int64_t nv = (gm.og + lanes<T>() - 1) / lanes<T>();
  if (nv == 1) conv2d_winograd_small_products_nv1_isa<T>(v, u, mt, gm, nt);
  else if (nv == 2) conv2d_winograd_small_products_nv2_isa<T>(v, u, mt, gm, nt);
  else if (nv == 3) conv2d_winograd_small_products_nv3_isa<T>(v, u, mt, gm, nt);
  else conv2d_winograd_small_products_nv4_isa<T>(v, u, mt, gm, nt);  // og <= 32 doubles: up to 4 vectors
}
template void small_products<float>(const float*, const float*, float*, const Geom&, int64_t);
template void small_products<double>(const double*, const double*, double*, const Geom&, int64_t);

}  // namespace wino
}  // namespace nnk
