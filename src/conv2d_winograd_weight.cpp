// Winograd grad_weight: dL/dk = G^T [ sum over tiles (A dY A^T) (.) (B^T d B) ] G per (o, c).
// The sum over tiles is, per transform position xi and group, one GEMM
//   acc[xi] (og x cg) += W[xi] (og x tiles) . V[xi]^T (tiles x cg)
// per work item. Items are summed into a fixed number of partial accumulators (consecutive
// runs of blocks, the split set by the shape alone), and the partials in order inside the
// final G^T acc G (in double): bit-identical for any thread count.
#include <algorithm>
#include "blas.h"
#include "conv2d_winograd.h"
#include "conv2d_winograd_impl.h"
#include "nnk_common.h"

namespace nnk {

// Elements of partial accumulators wanted at most; never fewer than 2 partials (so 2 threads
// have work), never more than 16.
constexpr int64_t kPartialBudget = int64_t(1) << 22;

template <class T>
void conv2d_winograd_backward_weight(const T* gy, const T* x, T* gw, const Conv2dShape& s) {
  if (s.sh > 1) return conv2d_winograd_phases_backward_weight(gy, x, gw, s);
  const int m = conv2d_winograd_tile(s, ConvPass::BackwardWeight, conv_dtype_of<T>());
  const int64_t a2 = int64_t(m + s.kh - 1) * (m + s.kh - 1), ldv = wino::channel_ld(s.c / s.groups, sizeof(T));
  const int64_t acc_n = s.groups * a2 * (s.oc / s.groups) * ldv;
  int64_t parts = std::clamp<int64_t>(kPartialBudget / acc_n, 2, 16);
  wino::Geom gm = wino::make_geom(s.n, s.c, s.h, s.w, s.oc, s.oh, s.ow, s.groups, -s.ph, -s.pw, m, int(s.kh),
                                  sizeof(T), false, parts);
  gm.tile_major = false;  // position-major: each GEMM's K (tiles) runs down contiguous rows
  const int64_t ldw = wino::channel_ld(gm.og, sizeof(T));
  parts = std::min(parts, gm.blocks);  // partial j sums blocks [j B / parts, (j + 1) B / parts): none empty
  const int64_t v_n = a2 * gm.tb * ldv, w_n = a2 * gm.tb * ldw;
  const int64_t per_thread = v_n + w_n + wino::rows_scratch(gm, sizeof(T));
  const int nt = wino::item_threads(parts, gm.n * gm.oc * gm.oh * gm.ow * gm.cg * gm.r * gm.r);
  T* acc = workspace<T>(2, parts * acc_n);  // may throw std::bad_alloc: nothing is written yet
  T* ws = workspace<T>(3, nt * per_thread);
  {
    BlasSerialScope serial;
    parallel_items(parts, nt, [&](int64_t j, int t) {
      T* v = ws + t * per_thread;
      T* wt = v + v_n;
      T* buf = wt + w_n;
      T* accj = acc + j * acc_n;
      const int64_t b0 = j * gm.blocks / parts, b1 = (j + 1) * gm.blocks / parts;
      for (int64_t b = b0; b < b1; ++b) {
        const wino::Block blk = wino::block_of(gm, b);
        const int64_t nt_ = blk.tiles();
        for (int64_t g = 0; g < gm.groups; ++g) {
          wino::input_tiles(x, v, gm, g, blk, buf);
          wino::grad_output_tiles(gy, wt, gm, g, blk, buf);
          for (int64_t xi = 0; xi < a2; ++xi)  // acc[xi] (og x cg) += wt[xi]^T (og x nt) . v[xi] (nt x cg)
            gemm<T>(true, false, gm.og, gm.cg, nt_, T(1), wt + xi * nt_ * ldw, ldw, v + xi * nt_ * ldv, ldv,
                    b == b0 ? T(0) : T(1), accj + (g * a2 + xi) * gm.og * ldv, ldv);
        }
      }
    });
  }
  wino::filter_adjoint(acc, parts, acc_n, gw, s, m);
}

template void conv2d_winograd_backward_weight<float>(const float*, const float*, float*, const Conv2dShape&);
template void conv2d_winograd_backward_weight<double>(const double*, const double*, double*, const Conv2dShape&);

}  // namespace nnk
