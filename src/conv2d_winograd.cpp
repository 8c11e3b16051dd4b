// Winograd convolution F(m x m, r x r): the work-item plan, the tile-size choice, forward and grad_x (one
// correlation driver for both). Transforms: conv2d_winograd_tiles.cpp and _filter.cpp; few-channel
// products: _products.cpp;
// grad_weight: conv2d_winograd_weight.cpp. Contract and error bound: conv2d_winograd.h.
#include "conv2d_winograd.h"
#include <algorithm>
#include <atomic>
#include <optional>
#include "blas.h"
#include "conv2d_winograd_impl.h"
#include "gemm.h"
#include "nnk_common.h"

namespace nnk {

// Work-item size (tiles per block). Two costs bound it from below and one from above:
// - a GEMM over fewer than ~64 tiles runs at half speed (single-threaded OpenBLAS);
// - on OpenBLAS, every block's GEMMs pack all transformed filters again (a^2 cg og values,
//   cold in cache): against the block's own transform-domain data (a^2 (cg + og) per tile)
//   that costs little once the block holds 2 cg og / (cg + og) tiles (308 for 256 -> 384
//   channels; measured on alexnet-conv3: sgemm_itcopy 13% of the time with 152-tile blocks, 4%
//   with 512). With the filters packed once (packed_filters) this bound falls away: alexnet-conv3
//   then ran fastest with 32-128-tile blocks (8 work items for 2 threads) and 1.5-2x slower
//   with 512 (one item);
// - otherwise ~1 MiB of transform-domain data per block keeps it near the core's L2.
// Blocks are then evened out (same number of tile rows each, but for the last).
constexpr int64_t kItemBytes = int64_t(1) << 20;
constexpr int64_t kMinTiles = 64, kMaxTiles = 512;
// Below this many multiply-adds of the direct method (~20 us of Winograd work) one thread runs.
constexpr int64_t kSerialMacs = int64_t(1) << 21;

static std::atomic<int> g_forced_tile{0};
constexpr int64_t kChunkBudget = int64_t(1) << 23;  // positions schedule: see conv2d_winograd_impl.h
static std::atomic<int64_t> g_chunk_budget{kChunkBudget};
static std::atomic<int> g_last_schedule{0};
static std::atomic<int> g_last_products{0};

int64_t conv2d_winograd_set_chunk_budget(int64_t elements) {
  return g_chunk_budget.exchange(elements > 0 ? elements : kChunkBudget);
}
int conv2d_winograd_last_schedule() { return g_last_schedule.load(); }
const char* conv2d_winograd_last_products() {
  static const char* const names[] = {"none", "nnkern-gemm", "small-products", "openblas"};
  return names[g_last_products.load()];
}

// Whether the transform-domain GEMMs of a geometry run on nnkern's GEMM (the filter transform
// writes its packed layout, the transformed input is read in place: no packing pass, no
// zeroing of the products) rather than OpenBLAS. Measured in A/B pairs (1 thread, CPU time,
// AVX-512, noisy): alexnet-conv3 (K = 256 / 384 channels) 4-7% less forward time in the
// quieter pairs, before its work items could shrink (which only this path allows); with K <= 64
// channels (seed-keras-conv2, alexnet-conv2-g2, 64 -> 64 at 56x56) 0-6% slower, and with fewer
// output channels than the register tile is wide (deepconv-3x3: 16 < 32) 40% slower.
constexpr int64_t kNnkGemmMinK = 128;
static bool winograd_gemm_is_nnk(const wino::Geom& gm, int64_t elem_bytes) {
  const Isa isa = gemm_isa();
  if (isa == Isa::Generic || gm.cg < kNnkGemmMinK) return false;
  const int nr = elem_bytes == 4 ? gemm_blocking<float>(isa).nr : gemm_blocking<double>(isa).nr;
  return gm.og >= nr;
}

void conv2d_winograd_set_tile(int m) { g_forced_tile.store(m == 2 || m == 4 || m == 5 ? m : 0); }
int conv2d_winograd_forced_tile() { return g_forced_tile.load(); }

// F(4x4) for 3x3 kernels: it was the faster tile than F(2x2) on every 3x3 stride-1 shape
// measured (1 thread, CPU time: deepconv-3x3 1.3-2.0x faster per pass, seed-keras-conv2
// 1.3-2.0x, alexnet-conv3 1.1-1.2x, 8x64x56x56 1.35-1.5x), except batch 1 with 256 -> 384 channels
// at 13x13, where neither beats im2col (the filter transform dominates) and the selection should
// not pick Winograd. F(5x5) instead where its tiles cover the planes with clearly fewer
// transform-domain values (tiles x 7^2 <= 85% of tiles x 6^2): 13x13 and 14x14 planes (77%),
// 10x10 (60%), not 28x28 or 56x56 (100%). F(2x2) stays available (forced) for its ~20x smaller
// rounding error. A 5x5 kernel always runs F(2x2,5x5) (F(4x4,5x5) would need 8x8 tiles).
// The planes are the pass's output: grad_x tiles the input planes (h x w).
static int64_t transform_values(int64_t oh, int64_t ow, int64_t m) {
  return ((oh + m - 1) / m) * ((ow + m - 1) / m) * (m + 2) * (m + 2);
}
static int default_tile_for(const Conv2dShape& s, int64_t oh, int64_t ow) {
  if (s.kh == 5) return 2;
  return 100 * transform_values(oh, ow, 5) <= 85 * transform_values(oh, ow, 4) ? 5 : 4;
}
int conv2d_winograd_default_tile(const Conv2dShape& s) { return default_tile_for(s, s.oh, s.ow); }

int conv2d_winograd_tile(const Conv2dShape& s, ConvPass pass, ConvDtype) {
  const int forced = g_forced_tile.load();
  if (s.kh != 5 && forced) return forced;
  return pass == ConvPass::BackwardInput ? default_tile_for(s, s.h, s.w) : default_tile_for(s, s.oh, s.ow);
}

bool conv2d_winograd_applies(const Conv2dShape& s, ConvPass, ConvDtype) {
  return (s.kh == s.kw && (s.kh == 3 || s.kh == 5) && s.sh == 1 && s.sw == 1 && s.dh == 1 && s.dw == 1) ||
         conv2d_winograd_phases_apply(s);
}

namespace wino {

Geom make_geom(int64_t n, int64_t c, int64_t h, int64_t w, int64_t oc, int64_t oh, int64_t ow, int64_t groups,
               int64_t offy, int64_t offx, int m, int r, int64_t elem_bytes, bool product_pass,
               int64_t block_multiple) {
  Geom gm{};
  gm.n = n, gm.c = c, gm.h = h, gm.w = w, gm.oc = oc, gm.oh = oh, gm.ow = ow;
  gm.groups = groups, gm.cg = c / groups, gm.og = oc / groups, gm.offy = offy, gm.offx = offx;
  gm.m = m, gm.r = r, gm.a = m + r - 1;
  gm.tile_major = true;
  gm.tiles_y = (oh + m - 1) / m, gm.tiles_x = (ow + m - 1) / m;
  const int64_t per_tile = int64_t(gm.a) * gm.a * (channel_ld(gm.cg, elem_bytes) + channel_ld(gm.og, elem_bytes)) * elem_bytes;
  gm.packed_filters = product_pass && winograd_gemm_is_nnk(gm, elem_bytes);
  gm.small_products = product_pass && !gm.packed_filters && gm.cg <= kSmallChannels && gm.og <= kSmallChannels;
  // OpenBLAS repacks the filters per GEMM: the block must hold enough tiles to amortise it.
  const int64_t reuse = gm.packed_filters ? 0 : 2 * gm.cg * gm.og / (gm.cg + gm.og);
  // The positions schedule: at least kPositionsMinBlocks blocks (so its transforms are several
  // work items); on OpenBLAS each call still repacks its filters, from cache there.
  if (product_pass && positions_schedule(gm.og, gm.cg))
    block_multiple = std::max(block_multiple, kPositionsMinBlocks);
  const int64_t rows = n * gm.tiles_y;
  int64_t target = std::clamp(std::max(kItemBytes / per_tile, reuse), kMinTiles, kMaxTiles);
  // At least block_multiple blocks where the tile rows allow (grad_weight: one per partial sum).
  target = std::min(target, std::max<int64_t>(gm.tiles_x, rows * gm.tiles_x / block_multiple));
  if (gm.tiles_x <= target) {
    gm.blocks = (rows + target / gm.tiles_x - 1) / (target / gm.tiles_x);
    gm.blocks = std::min(rows, round_up(gm.blocks, block_multiple));
    gm.rows_per_block = (rows + gm.blocks - 1) / gm.blocks;
    gm.blocks = (rows + gm.rows_per_block - 1) / gm.rows_per_block;
    gm.segs_per_row = 1;
    gm.seg_tiles = gm.tiles_x;
    gm.tb = std::min(rows, gm.rows_per_block) * gm.tiles_x;
  } else {  // wide rows: segments of one tile row
    gm.rows_per_block = 1;
    gm.segs_per_row = (gm.tiles_x + target - 1) / target;
    gm.seg_tiles = (gm.tiles_x + gm.segs_per_row - 1) / gm.segs_per_row;
    gm.blocks = rows * gm.segs_per_row;
    gm.tb = gm.seg_tiles;
  }
  return gm;
}

int64_t positions_chunk_blocks(int64_t blocks, int64_t block_elements) {
  const int64_t most = std::clamp<int64_t>(g_chunk_budget.load() / block_elements, 1, blocks);
  const int64_t chunks = (blocks + most - 1) / most;
  return (blocks + chunks - 1) / chunks;  // evened out
}
void note_schedule(int schedule) { g_last_schedule.store(schedule); }

Block block_of(const Geom& gm, int64_t b) {
  if (gm.segs_per_row == 1) {
    const int64_t r0 = b * gm.rows_per_block;
    return {r0, std::min(gm.n * gm.tiles_y, r0 + gm.rows_per_block), 0, gm.tiles_x};
  }
  const int64_t r = b / gm.segs_per_row, tx0 = (b % gm.segs_per_row) * gm.seg_tiles;
  return {r, r + 1, tx0, std::min(gm.tiles_x, tx0 + gm.seg_tiles)};
}

int item_threads(int64_t items, int64_t macs) {
  if (macs < kSerialMacs) return 1;
  return int(std::min<int64_t>(num_threads(), items));
}

// Packed filters from this size on are written with non-temporal stores (filter_transform):
// about a core's L2 or more (2-4 MiB on the Xeon measured), so they would not stay in its cache
// for the products anyway (alexnet-conv3: 19 MiB); smaller ones are written as usual, for the
// products to read from cache.
constexpr int64_t kStreamFilterBytes = int64_t(4) << 20;

// Room for the transformed filters of a call (workspace slot 2): straight in nnkern GEMM's
// packed layout when the GEMMs run on it, else row-major (padded rows for small_products).
template <class T>
static FilterDest<T> filter_dest(const Geom& gm) {
  const int64_t mats = gm.groups * gm.a * gm.a;
  FilterDest<T> d{};
  d.packed = gm.packed_filters;
  d.ld = gm.small_products ? round_up(gm.og, channel_lanes(sizeof(T))) : gm.og;
  d.mat_stride = d.packed ? gemm_packed_b_size<T>(gm.cg, gm.og) : gm.cg * d.ld;
  d.data = workspace<T>(2, mats * d.mat_stride);  // may throw std::bad_alloc: nothing is written yet
  d.stream = d.packed && mats * d.mat_stride * int64_t(sizeof(T)) >= kStreamFilterBytes;
  d.layout = gemm_packed_b_layout<T>(gm.cg, gm.og, d.data);
  return d;
}

// mt[xi] (nt x og) = v[xi] (nt x cg) . u[xi] (cg x og) for one block's tile-major v and mt.
template <class T>
static void block_product(const T* v, const FilterDest<T>& u, T* mt, const Geom& gm, int64_t g, int64_t xi,
                          int64_t nt) {
  const int64_t a2 = int64_t(gm.a) * gm.a;
  const int64_t ldv = channel_ld(gm.cg, sizeof(T)), ldm = channel_ld(gm.og, sizeof(T));
  if (u.packed)
    gemm_strided_a<T>(nt, v + xi * ldv, a2 * ldv, u.matrix(g * a2 + xi), mt + xi * ldm, a2 * ldm, false);
  else
    gemm<T>(false, false, nt, gm.og, gm.cg, T(1), v + xi * ldv, a2 * ldv, u.data + (g * a2 + xi) * u.mat_stride,
            gm.og, T(0), mt + xi * ldm, a2 * ldm);
}

// The lanes past og of each mt row's last channel vector: read by the output transform, never
// written by the products; zeroed once per call.
template <class T>
static void zero_channel_padding(T* mt, int64_t rows, const Geom& gm) {
  const int64_t L = channel_lanes(sizeof(T)), ldm = channel_ld(gm.og, sizeof(T));
  if (gm.og % L == 0) return;
  for (int64_t r = 0; r < rows; ++r) std::fill(mt + r * ldm + gm.og, mt + r * ldm + round_up(gm.og, L), T(0));
}

// out = correlation of `in` with the transformed filters u (+ bias), per the header of
// conv2d_winograd_impl.h. Scratch: one slice of workspace slot 3 per thread, taken here.
template <class T>
static void correlate(const T* in, const FilterDest<T>& u, const T* bias, T* out, const Geom& gm) {
  const int64_t a2 = int64_t(gm.a) * gm.a;
  const int64_t ldv = channel_ld(gm.cg, sizeof(T)), ldm = channel_ld(gm.og, sizeof(T));
  const int64_t v_n = a2 * gm.tb * ldv, m_n = a2 * gm.tb * ldm;
  const int64_t per_thread = v_n + m_n + rows_scratch(gm, sizeof(T));
  const int64_t items = gm.groups * gm.blocks;
  const int nt = item_threads(items, gm.n * gm.oc * gm.oh * gm.ow * gm.cg * gm.r * gm.r);
  T* ws = workspace<T>(3, nt * per_thread);  // may throw std::bad_alloc: nothing is written yet
  std::optional<BlasSerialScope> serial;  // OpenBLAS runs single-threaded inside the region
  if (!u.packed && !gm.small_products) serial.emplace();
  for (int t = 0; t < nt; ++t) zero_channel_padding(ws + t * per_thread + v_n, a2 * gm.tb, gm);
  parallel_items(items, nt, [&](int64_t it, int t) {
    T* v = ws + t * per_thread;
    T* mt = v + v_n;
    T* buf = mt + m_n;
    const int64_t g = it / gm.blocks;
    const Block blk = block_of(gm, it % gm.blocks);
    const int64_t nt_ = blk.tiles();
    input_tiles(in, v, gm, g, blk, buf);
    if (gm.small_products) small_products(v, u.data + g * a2 * u.mat_stride, mt, gm, nt_);
    for (int64_t xi = 0; xi < a2 && !gm.small_products; ++xi) block_product(v, u, mt, gm, g, xi, nt_);
    output_tiles(mt, bias, out, gm, g, blk, buf);
  });
}

// correlate's positions schedule (conv2d_winograd_impl.h): per chunk of blocks, the input
// transforms per (block, group), the products per (group, position) over the chunk's blocks, the
// output transforms per (block, group). Scratch: the chunk's v and mt in workspace slot 3.
template <class T>
static void correlate_positions(const T* in, const FilterDest<T>& u, const T* bias, T* out, const Geom& gm) {
  const int64_t a2 = int64_t(gm.a) * gm.a;
  const int64_t v_n = a2 * gm.tb * channel_ld(gm.cg, sizeof(T));
  const int64_t item_n = v_n + a2 * gm.tb * channel_ld(gm.og, sizeof(T));  // one (block, group): v, then mt
  Geom gs = gm;  // the input transforms write the chunk's tiles with non-temporal stores
  gs.stream_tiles = true;
  const int64_t chunk = positions_chunk_blocks(gm.blocks, gm.groups * item_n);
  const int64_t macs = gm.n * gm.oc * gm.oh * gm.ow * gm.cg * gm.r * gm.r;
  const int nt_tf = item_threads(chunk * gm.groups, macs), nt_mm = item_threads(gm.groups * a2, macs);
  const int64_t rows_n = rows_scratch(gm, sizeof(T));
  T* tiles = workspace<T>(3, chunk * gm.groups * item_n + nt_tf * rows_n);  // may throw: nothing written yet
  T* rows = tiles + chunk * gm.groups * item_n;
  std::optional<BlasSerialScope> serial;  // OpenBLAS runs single-threaded inside the regions
  if (!u.packed) serial.emplace();
  for (int64_t i = 0; i < chunk * gm.groups; ++i) zero_channel_padding(tiles + i * item_n + v_n, a2 * gm.tb, gm);
  for (int64_t c0 = 0; c0 < gm.blocks; c0 += chunk) {
    const int64_t nb = std::min(chunk, gm.blocks - c0);
    parallel_items(nb * gm.groups, nt_tf, [&](int64_t it, int slot) {
      input_tiles(in, tiles + it * item_n, gs, it % gm.groups, block_of(gm, c0 + it / gm.groups), rows + slot * rows_n);
    });
    parallel_items(gm.groups * a2, nt_mm, [&](int64_t it, int) {
      const int64_t g = it / a2, xi = it % a2;
      for (int64_t k = 0; k < nb; ++k) {
        T* v = tiles + (k * gm.groups + g) * item_n;
        block_product(v, u, v + v_n, gm, g, xi, block_of(gm, c0 + k).tiles());
      }
    });
    parallel_items(nb * gm.groups, nt_tf, [&](int64_t it, int slot) {
      output_tiles(tiles + it * item_n + v_n, bias, out, gm, it % gm.groups, block_of(gm, c0 + it / gm.groups),
                   rows + slot * rows_n);
    });
  }
}

// The pass's correlation on the schedule its channels call for.
template <class T>
static void correlate_pass(const T* in, const FilterDest<T>& u, const T* bias, T* out, const Geom& gm) {
  const bool positions = positions_schedule(gm.og, gm.cg);  // never small_products (both > 96)
  note_schedule(positions ? 2 : 1);
  g_last_products.store(gm.packed_filters ? 1 : gm.small_products ? 2 : 3);
  if (positions)
    correlate_positions(in, u, bias, out, gm);
  else
    correlate(in, u, bias, out, gm);
}

}  // namespace wino

template <class T>
void conv2d_winograd_forward(const T* x, const T* w, const T* b, T* y, const Conv2dShape& s) {
  if (s.sh > 1) return conv2d_winograd_phases_forward(x, w, b, y, s);
  const int m = conv2d_winograd_tile(s, ConvPass::Forward, conv_dtype_of<T>());
  const wino::Geom gm = wino::make_geom(s.n, s.c, s.h, s.w, s.oc, s.oh, s.ow, s.groups, -s.ph, -s.pw, m, int(s.kh),
                                        sizeof(T), true);
  const wino::FilterDest<T> u = wino::filter_dest<T>(gm);
  wino::filter_transform(w, u, s, m, false);
  wino::correlate_pass(x, u, b, y, gm);
}

// grad_x[i][j] = sum_{o,p,q} gy[i + ph - (r-1) + p][j + pw - (r-1) + q] w[o][c][r-1 - p][r-1 - q].
template <class T>
void conv2d_winograd_backward_input(const T* gy, const T* w, T* gx, const Conv2dShape& s) {
  if (s.sh > 1) return conv2d_winograd_phases_backward_input(gy, w, gx, s);
  const int m = conv2d_winograd_tile(s, ConvPass::BackwardInput, conv_dtype_of<T>());
  const wino::Geom gm =
      wino::make_geom(s.n, s.oc, s.oh, s.ow, s.c, s.h, s.w, s.groups, s.ph - (s.kh - 1), s.pw - (s.kw - 1), m,
                      int(s.kh), sizeof(T), true);
  const wino::FilterDest<T> u = wino::filter_dest<T>(gm);
  wino::filter_transform(w, u, s, m, true);
  wino::correlate_pass<T>(gy, u, nullptr, gx, gm);
}

template void conv2d_winograd_forward<float>(const float*, const float*, const float*, float*, const Conv2dShape&);
template void conv2d_winograd_forward<double>(const double*, const double*, const double*, double*,
                                              const Conv2dShape&);
template void conv2d_winograd_backward_input<float>(const float*, const float*, float*, const Conv2dShape&);
template void conv2d_winograd_backward_input<double>(const double*, const double*, double*, const Conv2dShape&);

}  // namespace nnk
