// Winograd tile transforms of one work item (a block of tiles, one group), vectorised across
// channels: a strip of input rows (one tile row's a rows) is gathered for CB channels at a
// time into pixel-major order (CB = one 64-byte vector of channels), so each 1-D transform
// pass is a loop over whole vectors with no tail: the vertical pass over the whole strip,
// the horizontal pass per tile. Channels past the group's count are zeros (lanes of a
// vector the GEMMs never read). The output transform runs backwards and scatters the
// strip back into the NCHW planes. One NNK_CLONES function per (transform, dtype, tile
// size), called once per work item.
#include <algorithm>
#include <cstring>
#include <type_traits>
#include <utility>
#include "conv2d_winograd_impl.h"
#include "conv2d_winograd_tf.h"
#include "conv2d_winograd_transpose.h"
#include "gemm.h"
#include "nnk_common.h"

namespace nnk {
namespace wino {

// s[(i * pw + col) * CB + l] = plane l (of `nch`, `hw` apart) at row y0 + i, column x0 + col,
// read as 0 outside the h x w plane and for l >= nch. CB columns at a time: CB row vectors
// transposed into CB pixel vectors, the last chunk overlapping the one before; a row shorter
// than CB: the same from CB columns when the plane has them after it (the extra pixels are
// dropped), else scalar.
template <class T, int CB, int VB>
static NNK_INLINE void gather_strip(const T* planes, int64_t hw, int64_t h, int64_t w, int64_t y0, int64_t x0,
                                    int rows, int64_t pw, int nch, T* NNK_RESTRICT s) {
  using V = typename Vec<T>::type;
  const int64_t lo = std::clamp<int64_t>(-x0, 0, pw), hi = std::clamp<int64_t>(w - x0, lo, pw);
  for (int i = 0; i < rows; ++i) {
    T* dst = s + i * pw * CB;
    const int64_t y = y0 + i;
    if (y < 0 || y >= h) {
      std::fill(dst, dst + pw * CB, T(0));
      continue;
    }
    std::fill(dst, dst + lo * CB, T(0));
    std::fill(dst + hi * CB, dst + pw * CB, T(0));
    const T* src = planes + y * w + x0;
    if (hi - lo < CB) {  // a short row: CB columns from inside the plane if it has them, else scalar
      if (y * w + x0 + lo + CB <= hw) {
        V r[CB];
        for (int l = 0; l < CB; ++l) {
          r[l] = V{};
          if (l < nch) std::memcpy(&r[l], src + l * hw + lo, sizeof(V));
        }
        transpose<VB, CB>(r);
        for (int64_t j = 0; j < hi - lo; ++j) std::memcpy(dst + (lo + j) * CB, &r[j], sizeof(V));
      } else {
        for (int64_t col = lo; col < hi; ++col)
          for (int l = 0; l < CB; ++l) dst[col * CB + l] = l < nch ? src[l * hw + col] : T(0);
      }
      continue;
    }
    for (int64_t c0 = lo; c0 < hi; c0 += CB) {
      const int64_t col = std::min(c0, hi - CB);  // the last chunk overlaps the one before
      if constexpr (VB == 32) {
        gather_chunk_narrow<T, CB>(src + col, hw, nch, dst + col * CB);
        continue;
      }
      V r[CB];
      for (int l = 0; l < CB; ++l) {
        r[l] = V{};
        if (l < nch) std::memcpy(&r[l], src + l * hw + col, sizeof(V));
      }
      transpose<VB, CB>(r);
      for (int j = 0; j < CB; ++j) std::memcpy(dst + (col + j) * CB, &r[j], sizeof(V));
    }
  }
}

// dst[0, n) = src[0, n) for n < CB, as fixed-size copies of CB/2, CB/4, ... elements (moves
// the compiler inlines; a libc memcpy call per short row cost 5% of a 13x13 layer's forward).
template <class T, int CB>
static NNK_INLINE void copy_short(T* dst, const void* src, int64_t n) {
  const T* s = static_cast<const T*>(src);
  int64_t off = 0;
  for (int chunk = CB / 2; chunk >= 1; chunk /= 2)
    if (n & chunk) {
      std::memcpy(dst + off, s + off, sizeof(T) * size_t(chunk));
      off += chunk;
    }
}

// Plane l < nch (`hw` apart), row y0 + i < h, column x0 + col < w (col < cols) =
// s[(i * pw + col) * CB + l] + bias[l] (bias may be null). CB columns at a time (transposed
// back into row vectors; the last chunk overlaps and rewrites the same values); a row shorter
// than CB: one transpose of CB pixels (those past the strip are scratch) and partial stores.
template <class T, int CB, int VB>
static NNK_INLINE void scatter_strip(const T* NNK_RESTRICT s, const T* bias, int64_t hw, int64_t h, int64_t w,
                                     int64_t y0, int64_t x0, int rows, int64_t pw, int nch, T* planes) {
  using V = typename Vec<T>::type;
  rows = int(std::min<int64_t>(rows, h - y0));
  const int64_t cols = std::min(pw, w - x0);
  for (int i = 0; i < rows; ++i) {
    T* row = planes + (y0 + i) * w + x0;
    const T* src = s + i * pw * CB;
    if (cols < CB) {  // a short row: one transpose (the strip buffer has CB pixels), partial stores
      V r[CB];
      for (int j = 0; j < CB; ++j) std::memcpy(&r[j], src + j * CB, sizeof(V));
      transpose<VB, CB>(r);
      for (int l = 0; l < nch; ++l) {
        const V out = r[l] + (bias ? bias[l] : T(0));
        copy_short<T, CB>(row + l * hw, &out, cols);
      }
      continue;
    }
    for (int64_t c0 = 0; c0 < cols; c0 += CB) {
      const int64_t col = std::min(c0, cols - CB);  // the last chunk overlaps (same values again)
      if constexpr (VB == 32) {
        scatter_chunk_narrow<T, CB>(src + col * CB, bias, hw, nch, row + col);
        continue;
      }
      V r[CB];
      for (int j = 0; j < CB; ++j) std::memcpy(&r[j], src + (col + j) * CB, sizeof(V));
      transpose<VB, CB>(r);
      for (int l = 0; l < nch; ++l) {
        const V out = r[l] + (bias ? bias[l] : T(0));
        std::memcpy(row + l * hw + col, &out, sizeof(V));
      }
    }
  }
}

// Lambdas called from inside a clone must be inlined into it (else they are baseline code).
#define NNK_INLINE_LAMBDA __attribute__((always_inline))

// The A vectors one transform writes to dst[0..A), written instead into an L1 buffer and from
// there with non-temporal stores (Geom::stream_tiles: the positions schedules, whose
// transformed tiles are read back only after they have left the cache).
template <class T, int A, class F>
static NNK_INLINE void transform_streamed(T* const* dst, F&& transform) {
  constexpr int CB = lanes<T>();
  alignas(64) T stage[A][CB];
  T* d[A];
  for (int l = 0; l < A; ++l) d[l] = stage[l];
  transform(d);
  for (int l = 0; l < A; ++l) stream_run(dst[l], stage[l], CB);
}

// body(c0, nch, n, ty, t0) for each block of CB of the `channels` (c0, nch of them) and each
// tile row of the block (image n, tile row ty, its first tile t0 within the block).
template <int CB, class F>
static NNK_INLINE void for_each_strip(const Geom& gm, const Block& blk, int64_t channels, F&& body) {
  const int64_t nx = blk.tx1 - blk.tx0;
  for (int64_t c0 = 0; c0 < channels; c0 += CB) {
    const int nch = int(std::min<int64_t>(CB, channels - c0));
    for (int64_t r = blk.r0; r < blk.r1; ++r) body(c0, nch, r / gm.tiles_y, r % gm.tiles_y, (r - blk.r0) * nx);
  }
}

template <class T, int M, int R, int VB>
static NNK_INLINE void input_tiles_impl(const T* in, T* v, const Geom& gm, int64_t g, const Block& blk, T* buf) {
  constexpr int A = M + R - 1, CB = lanes<T>();
  const int64_t nx = blk.tx1 - blk.tx0, pw = M * nx + R - 1, nt = blk.tiles(), ld = channel_ld(gm.cg, sizeof(T));
  T* strip = buf;               // A rows x pw pixels x CB channels
  T* vert = buf + A * pw * CB;  // their vertical transform
  const T* src[A];
  T* dst[A];
  for_each_strip<CB>(gm, blk, gm.cg, [&](int64_t c0, int nch, int64_t n, int64_t ty, int64_t t0) NNK_INLINE_LAMBDA {
    gather_strip<T, CB, VB>(in + (n * gm.c + g * gm.cg + c0) * gm.h * gm.w, gm.h * gm.w, gm.h, gm.w, ty * M + gm.offy,
                        blk.tx0 * M + gm.offx, A, pw, nch, strip);
    for (int i = 0; i < A; ++i) src[i] = strip + i * pw * CB, dst[i] = vert + i * pw * CB;
    Tile<M, R>::input(src, dst, pw * CB);
    for (int64_t tx = 0; tx < nx; ++tx)
      for (int k = 0; k < A; ++k) {
        for (int j = 0; j < A; ++j) src[j] = vert + (k * pw + tx * M + j) * CB;
        for (int l = 0; l < A; ++l) dst[l] = v + tile_row(gm, nt, t0 + tx, k * A + l) * ld + c0;
        if (gm.stream_tiles)
          transform_streamed<T, A>(dst, [&](T* const* d) NNK_INLINE_LAMBDA { Tile<M, R>::input(src, d, CB); });
        else
          Tile<M, R>::input(src, dst, CB);
      }
  });
  if (gm.stream_tiles) stream_fence();
}

template <class T, int M, int R, int VB>
static NNK_INLINE void output_tiles_impl(const T* mt, const T* bias, T* out, const Geom& gm, int64_t g,
                                         const Block& blk, T* buf) {
  constexpr int A = M + R - 1, CB = lanes<T>();
  const int64_t nx = blk.tx1 - blk.tx0, pw = M * nx, nt = blk.tiles(), ld = channel_ld(gm.og, sizeof(T));
  T* horz = buf;                // A rows x pw pixels x CB channels: horizontal transforms
  T* rows = buf + A * pw * CB;  // M output rows of the strip
  const T* src[A];
  T* dst[A];
  for_each_strip<CB>(gm, blk, gm.og, [&](int64_t o0, int nch, int64_t n, int64_t ty, int64_t t0) NNK_INLINE_LAMBDA {
    for (int64_t tx = 0; tx < nx; ++tx)
      for (int k = 0; k < A; ++k) {
        for (int l = 0; l < A; ++l) src[l] = mt + tile_row(gm, nt, t0 + tx, k * A + l) * ld + o0;
        for (int j = 0; j < M; ++j) dst[j] = horz + (k * pw + tx * M + j) * CB;
        Tile<M, R>::output(src, dst, CB);
      }
    for (int k = 0; k < A; ++k) src[k] = horz + k * pw * CB;
    for (int i = 0; i < M; ++i) dst[i] = rows + i * pw * CB;
    Tile<M, R>::output(src, dst, pw * CB);
    scatter_strip<T, CB, VB>(rows, bias ? bias + g * gm.og + o0 : nullptr, gm.oh * gm.ow, gm.oh, gm.ow, ty * M,
                         blk.tx0 * M, M, pw, nch, out + (n * gm.oc + g * gm.og + o0) * gm.oh * gm.ow);
  });
}

template <class T, int M, int R, int VB>
static NNK_INLINE void grad_output_tiles_impl(const T* gy, T* wt, const Geom& gm, int64_t g, const Block& blk,
                                              T* buf) {
  constexpr int A = M + R - 1, CB = lanes<T>();
  const int64_t nx = blk.tx1 - blk.tx0, pw = M * nx, nt = blk.tiles(), ld = channel_ld(gm.og, sizeof(T));
  T* strip = buf;               // M rows of grad_out x pw pixels x CB channels
  T* vert = buf + M * pw * CB;  // A rows: their vertical transform
  const T* src[A];
  T* dst[A];
  for_each_strip<CB>(gm, blk, gm.og, [&](int64_t o0, int nch, int64_t n, int64_t ty, int64_t t0) NNK_INLINE_LAMBDA {
    gather_strip<T, CB, VB>(gy + (n * gm.oc + g * gm.og + o0) * gm.oh * gm.ow, gm.oh * gm.ow, gm.oh, gm.ow, ty * M,
                        blk.tx0 * M, M, pw, nch, strip);
    for (int i = 0; i < M; ++i) src[i] = strip + i * pw * CB;
    for (int k = 0; k < A; ++k) dst[k] = vert + k * pw * CB;
    Tile<M, R>::grad_output(src, dst, pw * CB);
    for (int64_t tx = 0; tx < nx; ++tx)
      for (int k = 0; k < A; ++k) {
        for (int j = 0; j < M; ++j) src[j] = vert + (k * pw + tx * M + j) * CB;
        for (int l = 0; l < A; ++l) dst[l] = wt + tile_row(gm, nt, t0 + tx, k * A + l) * ld + o0;
        if (gm.stream_tiles)
          transform_streamed<T, A>(dst, [&](T* const* d) NNK_INLINE_LAMBDA { Tile<M, R>::grad_output(src, d, CB); });
        else
          Tile<M, R>::grad_output(src, dst, CB);
      }
  });
  if (gm.stream_tiles) stream_fence();
}

int64_t channel_lanes(int64_t elem_bytes) { return 64 / elem_bytes; }

int64_t channel_ld(int64_t n, int64_t elem_bytes) {
  const int64_t L = channel_lanes(elem_bytes), lines = (n + L - 1) / L;
  return (lines | 1) * L;
}

int64_t rows_scratch(const Geom& gm, int64_t elem_bytes) {
  const int64_t nx = gm.segs_per_row > 1 ? gm.seg_tiles : gm.tiles_x;
  const int64_t L = channel_lanes(elem_bytes);
  return 2 * gm.a * (gm.m * nx + gm.r - 1) * L + L * L;  // the largest layout above, + CB pixels read past a short strip
}

// One clone set per (transform, algorithm F(M x M, R x R), transpose vectors VB: _wide 64 bytes,
// _narrow 32), for float and double (nnk_common.h). The transposes only move values, so both
// give the same bits.
// The _wide set runs only on AVX-512 CPUs and is compiled for x86-64-v4 alone (NNK_ISA_AVX512).
#define NNK_WINO_TILES_VB(FUNCS, M, R, VB, W)                                                                 \
  FUNCS(conv2d_winograd_input_tiles_f##M##x##R##W,                                                            \
        (const T* in, T* v, const Geom& gm, int64_t g, const Block& blk, T* buf),                             \
        (input_tiles_impl<T, M, R, VB>(in, v, gm, g, blk, buf)))                                              \
  FUNCS(conv2d_winograd_output_tiles_f##M##x##R##W,                                                           \
        (const T* mt, const T* bias, T* out, const Geom& gm, int64_t g, const Block& blk, T* buf),            \
        (output_tiles_impl<T, M, R, VB>(mt, bias, out, gm, g, blk, buf)))                                     \
  FUNCS(conv2d_winograd_grad_output_tiles_f##M##x##R##W,                                                      \
        (const T* gy, T* wt, const Geom& gm, int64_t g, const Block& blk, T* buf),                            \
        (grad_output_tiles_impl<T, M, R, VB>(gy, wt, gm, g, blk, buf)))
#define NNK_WINO_TILES(M, R)                            \
  NNK_WINO_TILES_VB(NNK_ISA_AVX512, M, R, 64, _wide)    \
  NNK_WINO_TILES_VB(NNK_ISA_CLONES, M, R, 32, _narrow)
NNK_WINO_TILES(2, 3)
NNK_WINO_TILES(4, 3)
NNK_WINO_TILES(2, 5)
NNK_WINO_TILES(5, 3)

// The clone of each transform for the geometry's algorithm (m, r): F(2,3), F(4,3), F(5,3) or
// F(2,5); 64-byte transposes where the CPU has 32 vector registers of 64 bytes (AVX-512).
#define NNK_WINO_PICK_W(fn, W, ...)                       \
  if (gm.r == 5) fn##_f2x5##W##_isa<T>(__VA_ARGS__);      \
  else if (gm.m == 2) fn##_f2x3##W##_isa<T>(__VA_ARGS__); \
  else if (gm.m == 5) fn##_f5x3##W##_isa<T>(__VA_ARGS__); \
  else fn##_f4x3##W##_isa<T>(__VA_ARGS__)
#define NNK_WINO_PICK(fn, ...)                        \
  if (gemm_isa() == Isa::Avx512) {                    \
    NNK_WINO_PICK_W(fn, _wide, __VA_ARGS__);          \
  } else {                                            \
    NNK_WINO_PICK_W(fn, _narrow, __VA_ARGS__);        \
  }

template <class T>
void input_tiles(const T* in, T* v, const Geom& gm, int64_t g, const Block& blk, T* buf) {
  NNK_WINO_PICK(conv2d_winograd_input_tiles, in, v, gm, g, blk, buf);
}
template <class T>
void output_tiles(const T* mt, const T* bias, T* out, const Geom& gm, int64_t g, const Block& blk, T* buf) {
  NNK_WINO_PICK(conv2d_winograd_output_tiles, mt, bias, out, gm, g, blk, buf);
}
template <class T>
void grad_output_tiles(const T* gy, T* wt, const Geom& gm, int64_t g, const Block& blk, T* buf) {
  NNK_WINO_PICK(conv2d_winograd_grad_output_tiles, gy, wt, gm, g, blk, buf);
}
template void input_tiles<float>(const float*, float*, const Geom&, int64_t, const Block&, float*);
template void input_tiles<double>(const double*, double*, const Geom&, int64_t, const Block&, double*);
template void output_tiles<float>(const float*, const float*, float*, const Geom&, int64_t, const Block&, float*);
template void output_tiles<double>(const double*, const double*, double*, const Geom&, int64_t, const Block&,
                                   double*);
template void grad_output_tiles<float>(const float*, float*, const Geom&, int64_t, const Block&, float*);
template void grad_output_tiles<double>(const double*, double*, const Geom&, int64_t, const Block&, double*);

}  // namespace wino
}  // namespace nnk
