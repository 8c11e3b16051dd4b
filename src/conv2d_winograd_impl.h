// Internals shared by the Winograd convolution files: the geometry of one r x r stride-1
// correlation (r = 3 or 5), its cut into work items, the per-item tile transforms
// (conv2d_winograd_tiles.cpp) and few-channel products (conv2d_winograd_products.cpp). Not part
// of the kernel API (that is conv2d_winograd.h).
#pragma once
#include <cstdint>
#include <cstring>
#if defined(__SSE2__)
#include <immintrin.h>
#endif
#include "conv2d.h"
#include "gemm.h"

namespace nnk {
namespace wino {

// out[n][o][i][j] = sum_{c, p, q} in[n][c][i + offy + p][j + offx + q] k[o][c][p][q], with p, q
// in 0..r-1 and `in` read as 0 outside its planes, per group. The forward pass is the
// correlation of x with padding ph, pw (offy = -ph); grad_x is the correlation of grad_out
// with the flipped, channel-transposed kernel (offy = ph - (r - 1)); grad_weight uses the
// forward geometry.
struct Geom {
  int64_t n, c, h, w;           // input planes (N, C, H, W)
  int64_t oc, oh, ow;           // output planes (N, OC, OH, OW)
  int64_t groups, cg, og;       // per group: cg input and og output channels
  int64_t offy, offx;
  int m, r, a;                  // output tile m x m, kernel r x r, input tile a x a (a = m + r - 1)
  int64_t tiles_y, tiles_x;     // tiles per image: tiles_y rows of tiles_x
  // Work items: `blocks` blocks of tiles per group, cut by shape alone. Each block is either
  // `rows_per_block` whole tile rows of the (image, tile row) sequence, or (wide images) one
  // segment of `seg_tiles` tiles of one tile row; tb = the most tiles of a block.
  int64_t rows_per_block, segs_per_row, seg_tiles, blocks, tb;
  bool tile_major;              // the row order of the transform-domain layouts (below); make_geom: true
  bool packed_filters;          // the products run on nnkern's GEMM, filters in its packed layout
  bool small_products;          // few channels (cg, og <= kSmallChannels): products in small_products
  bool stream_tiles;            // input_tiles / grad_output_tiles write with stream_run (make_geom: false)
};

// Channels per group (both sides) up to which the products skip GEMM calls (small_products).
// Measured (1 thread, CPU time): deepconv-3x3 (16 -> 16) forward 3.5-4.0 -> 2.4 ms; with 64
// (seed-keras-conv2's 32 -> 64) it was 15-20% slower than the GEMMs.
constexpr int64_t kSmallChannels = 32;

// One block: tile rows [r0, r1) of the (image, tile row) sequence, tiles [tx0, tx1) of each;
// tile t of the block is (r - r0) * (tx1 - tx0) + (tx - tx0).
struct Block {
  int64_t r0, r1, tx0, tx1;
  int64_t tiles() const { return (r1 - r0) * (tx1 - tx0); }
};

// product_pass: forward or grad_x (v . u products, which may run on nnkern's GEMM), not grad_weight.
// block_multiple: at least this many blocks where the tile rows allow (grad_weight: its number
// of partial sums; the blocks are shared out among them as evenly as their count allows); a
// product pass of a wide layer (positions_schedule) asks kPositionsMinBlocks itself.
Geom make_geom(int64_t n, int64_t c, int64_t h, int64_t w, int64_t oc, int64_t oh, int64_t ow, int64_t groups,
               int64_t offy, int64_t offx, int m, int r, int64_t elem_bytes, bool product_pass,
               int64_t block_multiple = 1);
Block block_of(const Geom& gm, int64_t b);
// Threads for a region of `items` work items of a convolution of `macs` direct multiply-adds:
// 1 for small calls, else up to num_threads() (never more than the items).
int item_threads(int64_t items, int64_t macs);

// One 64-byte vector of channels (GCC vector extension: zmm, or two ymm / four xmm in the
// v3 / baseline clones).
template <class T>
struct Vec;
template <>
struct Vec<float> {
  typedef float type __attribute__((vector_size(64)));
};
template <>
struct Vec<double> {
  typedef double type __attribute__((vector_size(64)));
};

template <class T>
constexpr int lanes() {
  return int(64 / sizeof(T));
}

inline int64_t round_up(int64_t v, int64_t to) { return (v + to - 1) / to * to; }

// dst[0, n) = src[0, n) with non-temporal stores (SSE2) when dst is 64-byte aligned and n fills
// whole 64-byte lines, else memcpy: for transform-domain data written in many streams and read
// back only after it has left the cache (ordinary stores first read every line they fill).
// The writer calls stream_fence() before another thread may read what it wrote.
template <class T>
inline void stream_run(T* dst, const T* src, int64_t n) {
#if defined(__SSE2__)
  constexpr int64_t kPer = int64_t(16 / sizeof(T));  // elements per 16-byte store
  if (reinterpret_cast<uintptr_t>(dst) % 64 == 0 && (n * int64_t(sizeof(T))) % 64 == 0) {
    for (int64_t j = 0; j < n; j += kPer) {
      if constexpr (sizeof(T) == 4)
        _mm_stream_ps(reinterpret_cast<float*>(dst + j), _mm_loadu_ps(reinterpret_cast<const float*>(src + j)));
      else
        _mm_stream_pd(reinterpret_cast<double*>(dst + j), _mm_loadu_pd(reinterpret_cast<const double*>(src + j)));
    }
    return;
  }
#endif
  std::memcpy(dst, src, sizeof(T) * size_t(n));
}
inline void stream_fence() {
#if defined(__SSE2__)
  _mm_sfence();
#endif
}

// The "positions" schedule of wide layers, in every pass: the blocks are taken a chunk at a
// time; every (block, group) of the chunk is transformed into the chunk's buffer, one work item
// each, then every (group, transform position) runs its GEMMs over the chunk's blocks, one work
// item each, so that the position's transformed filters (forward, grad_x) or its og x cg
// accumulator (grad_weight) stay in cache across the blocks (the block schedules stream all
// a^2 of them through memory once per block: 19 MiB for alexnet-conv3); the forward and grad_x
// then run the output transforms per (block, group). The transforms make a round trip through
// memory instead, which pays where og cg / (og + cg) is large (the filter values per tile
// value): alexnet-conv3 (256 -> 384 channels: 154), not deepconv-3x3 (16 channels: 8, where
// grad_weight ran 2x slower on it). Each GEMM is the block schedule's own, so chunking and
// threads never change the result. The transforms write the chunk's tiles with non-temporal
// stores (Geom::stream_tiles): they are read back only after the chunk (18 MiB for
// alexnet-conv3) has left the cache, and ordinary stores ran store-bound. alexnet-conv3,
// CPU-time minimums of 15 calls in alternating pairs: grad_weight 1 thread 47.5-49.3 -> 36.8-
// 37.9 ms (four pairs), 2 threads 29.4-35.0 -> 22.5-26.6 (three); forward and grad_x, 2 threads,
// wall minimums of 12 calls: 28.4-32.8 -> 24.2-32.7 and 27.0-32.2 -> 23.6-26.0 ms (four pairs).
constexpr int64_t kPositionsChannels = 96;
inline bool positions_schedule(int64_t og, int64_t cg) { return og * cg >= kPositionsChannels * (og + cg); }
// Blocks wanted at least where the tile rows allow (so that a chunk's transforms are several
// work items), and the elements of transformed tiles (all groups) of one chunk at most (more
// for a single block that is larger; conv2d_winograd_set_chunk_budget changes it).
constexpr int64_t kPositionsMinBlocks = 8;
// Blocks per chunk: as many as the budget holds of block_elements each (at least 1), evened out.
int64_t positions_chunk_blocks(int64_t blocks, int64_t block_elements);
void note_schedule(int schedule);  // for conv2d_winograd_last_schedule

// Transform-domain layouts (channel-vectorised: channels contiguous, padded to whole 64-byte
// vectors of L = 64 / sizeof(T) lanes; padding lanes are zero or never read):
//   v  (input tiles)        v[row * channel_ld(cg) + c]
//   mt (products, outputs)  mt[row * channel_ld(og) + o]
//   wt (grad_out tiles)     wt[row * channel_ld(og) + o]
// with row = tile_row(gm, nt, t, xi) for transform position xi < a^2 and tile t < nt of the
// block. Tile-major rows (t a^2 + xi; forward and grad_x) let a transform read or write one
// tile's a^2 rows from consecutive lines: position-major ones (xi nt + t) cost F(2x2,5x5)'s
// output transform a quarter of the forward in L1 misses. grad_weight keeps position-major rows,
// so that its GEMMs' K (the tiles) runs down contiguous rows. Per xi, v is an (nt x cg)
// matrix and mt[xi] = v[xi] . u[xi] with u[xi] (cg x og) (filter_transform).
// and each matrix row is channel_ld(channels) long: whole 64-byte lines, an odd number of
// them (a power-of-two row stride would map a GEMM panel's rows onto a few L1 sets).
inline int64_t tile_row(const Geom& gm, int64_t nt, int64_t t, int64_t xi) {
  return gm.tile_major ? t * gm.a * gm.a + xi : xi * nt + t;
}
int64_t channel_lanes(int64_t elem_bytes);
int64_t channel_ld(int64_t n, int64_t elem_bytes);
// Scratch elements per thread of the tile transforms (strip buffers).
int64_t rows_scratch(const Geom& gm, int64_t elem_bytes);

// v[xi] for the tiles of the block, input channels of group g; `in` is (N, C, H, W).
template <class T>
void input_tiles(const T* in, T* v, const Geom& gm, int64_t g, const Block& blk, T* buf);
// The output planes' part of every tile of the block: A^T mt A + bias[o] (bias may be null).
template <class T>
void output_tiles(const T* mt, const T* bias, T* out, const Geom& gm, int64_t g, const Block& blk, T* buf);
// mt[xi] = v[xi] . u[xi] for the block's nt tiles with few channels (cg, og <= kSmallChannels):
// a register-blocked loop over tiles instead of a^2 GEMM calls of K = cg (tiny GEMMs spent 31%
// of deepconv-3x3's forward in OpenBLAS's small-matrix kernel). u is row-major with rows
// round_up(og, L) apart, zero-padded; each output is summed in channel order
// (conv2d_winograd_products.cpp).
template <class T>
void small_products(const T* v, const T* u, T* mt, const Geom& gm, int64_t nt);
// wt[xi] = (A dY A^T)[xi] of the block's tiles of grad_out (N, OC, OH, OW) (0 outside it).
template <class T>
void grad_output_tiles(const T* gy, T* wt, const Geom& gm, int64_t g, const Block& blk, T* buf);

// Where the transformed filters go: matrix mat = g * a^2 + xi (K x N) at data + mat * mat_stride,
// row-major with rows ld apart (OpenBLAS's operand: ld = N; small_products: N rounded up to
// whole vectors, the padding zero), or in nnkern GEMM's packed-B layout
// (`packed`: the layout of every matrix is `layout`'s), so that no packing pass runs.
template <class T>
struct FilterDest {
  T* data;
  int64_t mat_stride;
  int64_t ld;  // row stride of the row-major layout: N, or N padded to whole vectors (small_products)
  bool packed;
  bool stream;  // packed runs written with non-temporal stores (filters larger than a core's cache)
  GemmPackedB<T> layout;
  GemmPackedB<T> matrix(int64_t mat) const { return {layout.isa, layout.k, layout.n, data + mat * mat_stride}; }
};

// Transformed filters U[g * a^2 + xi] (k, n) = (G f G^T)[xi], the GEMM operand (K x N) per
// (group, xi): forward, (k, n) = (c, o) and f = w[g*og + o][c]; `transposed` (grad_x, K = og,
// N = cg), (k, n) = (o, c) and f = w[g*og + o][c] rotated by 180 degrees. Computed in double,
// rounded once. Parallel inside.
template <class T>
void filter_transform(const T* w, const FilterDest<T>& u, const Conv2dShape& s, int m, bool transposed);
// gw[o][c][p][q] = (G^T acc G)[p][q], acc[((g * a^2 + xi) * og + o) * ldc + c] (ldc =
// channel_ld(cg)) summed over
// `parts` partial arrays `part_stride` apart, in part order, in double. Parallel inside.
template <class T>
void filter_adjoint(const T* acc, int64_t parts, int64_t part_stride, T* gw, const Conv2dShape& s, int m);

}  // namespace wino
}  // namespace nnk
