// Winograd grad_weight: dL/dk = G^T [ sum over tiles (A dY A^T) (.) (B^T d B) ] G per (o, c).
// The sum over tiles is, per group g and transform position xi, a sum of GEMMs
//   acc[g][xi] (og x cg) += W[xi] (og x tiles) . V[xi]^T (tiles x cg)
// one per block of tiles, then G^T acc G in double (filter_adjoint). Two schedules, chosen by
// the shape alone; both sum in an order fixed by the shape, so the result is bit-identical for
// any thread count:
// - partials (the general one): a work item transforms a run of blocks and runs their GEMMs at
//   once, into one of 2-16 partial accumulators of all positions (consecutive runs of blocks);
//   the partials are summed in order inside the adjoint. The transforms never leave the cache,
//   but every block streams its partial's whole accumulator (a2 og cg) through memory.
// - positions (wide layers, conv2d_winograd_impl.h: positions_schedule): the blocks are taken a
//   chunk at a time; first every (block, group) of the chunk is transformed into the chunk's
//   buffer, then every (group, position) runs its GEMMs over the chunk's blocks in order, its
//   og x cg accumulator staying in cache; one accumulator in all. alexnet-conv3 (256 -> 384
//   channels, 19 MiB of accumulator per partial), 1 thread, CPU-time minimums of 15 calls over
//   three alternating pairs: 50.1-78.8 -> 44.2-62.3 ms (2 threads 33.2-39.4 -> 27.3-30.5); on
//   deepconv-3x3 (16 channels) it was 2x slower, so that one keeps partials.
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
static void backward_weight_partials(const T* gy, const T* x, T* gw, const Conv2dShape& s, int m) {
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

template <class T>
static void backward_weight_positions(const T* gy, const T* x, T* gw, const Conv2dShape& s, int m) {
  wino::Geom gm = wino::make_geom(s.n, s.c, s.h, s.w, s.oc, s.oh, s.ow, s.groups, -s.ph, -s.pw, m, int(s.kh),
                                  sizeof(T), false, wino::kPositionsMinBlocks);
  gm.tile_major = false;  // position-major: each GEMM's K (tiles) runs down contiguous rows
  gm.stream_tiles = true;  // the chunk's transformed tiles are written with non-temporal stores
  const int64_t a2 = int64_t(gm.a) * gm.a, ldv = wino::channel_ld(gm.cg, sizeof(T));
  const int64_t ldw = wino::channel_ld(gm.og, sizeof(T));
  const int64_t v_n = a2 * gm.tb * ldv, w_n = a2 * gm.tb * ldw, item_n = v_n + w_n;  // one (block, group)
  const int64_t chunk = wino::positions_chunk_blocks(gm.blocks, gm.groups * item_n);
  const int64_t macs = gm.n * gm.oc * gm.oh * gm.ow * gm.cg * gm.r * gm.r;
  const int nt_tf = wino::item_threads(chunk * gm.groups, macs), nt_mm = wino::item_threads(gm.groups * a2, macs);
  const int64_t rows_n = wino::rows_scratch(gm, sizeof(T));
  T* acc = workspace<T>(2, gm.groups * a2 * gm.og * ldv);  // may throw std::bad_alloc: nothing is written yet
  T* tiles = workspace<T>(3, chunk * gm.groups * item_n + nt_tf * rows_n);
  T* rows = tiles + chunk * gm.groups * item_n;
  BlasSerialScope serial;
  for (int64_t c0 = 0; c0 < gm.blocks; c0 += chunk) {
    const int64_t nb = std::min(chunk, gm.blocks - c0);
    parallel_items(nb * gm.groups, nt_tf, [&](int64_t it, int slot) {
      const wino::Block blk = wino::block_of(gm, c0 + it / gm.groups);
      const int64_t g = it % gm.groups;
      T* v = tiles + it * item_n;
      wino::input_tiles(x, v, gm, g, blk, rows + slot * rows_n);
      wino::grad_output_tiles(gy, v + v_n, gm, g, blk, rows + slot * rows_n);
    });
    parallel_items(gm.groups * a2, nt_mm, [&](int64_t it, int) {
      const int64_t g = it / a2, xi = it % a2;
      T* accx = acc + it * gm.og * ldv;  // acc[g][xi]
      for (int64_t k = 0; k < nb; ++k) {  // acc[g][xi] (og x cg) += wt[xi]^T (og x nt) . v[xi] (nt x cg)
        const int64_t nt_ = wino::block_of(gm, c0 + k).tiles();
        const T* v = tiles + (k * gm.groups + g) * item_n;
        const T* wt = v + v_n;
        gemm<T>(true, false, gm.og, gm.cg, nt_, T(1), wt + xi * nt_ * ldw, ldw, v + xi * nt_ * ldv, ldv,
                c0 == 0 && k == 0 ? T(0) : T(1), accx, ldv);
      }
    });
  }
  wino::filter_adjoint(acc, 1, 0, gw, s, m);
}

template <class T>
void conv2d_winograd_backward_weight(const T* gy, const T* x, T* gw, const Conv2dShape& s) {
  if (s.sh > 1) return conv2d_winograd_phases_backward_weight(gy, x, gw, s);
  const int m = conv2d_winograd_tile(s, ConvPass::BackwardWeight, conv_dtype_of<T>());
  const int64_t og = s.oc / s.groups, cg = s.c / s.groups;
  const bool positions = wino::positions_schedule(og, cg);
  wino::note_schedule(positions ? 2 : 1);
  if (positions)
    backward_weight_positions(gy, x, gw, s, m);
  else
    backward_weight_partials(gy, x, gw, s, m);
}

template void conv2d_winograd_backward_weight<float>(const float*, const float*, float*, const Conv2dShape&);
template void conv2d_winograd_backward_weight<double>(const double*, const double*, double*, const Conv2dShape&);

}  // namespace nnk
