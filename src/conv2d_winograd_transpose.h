// Channel-pixel transposes of the Winograd tile transforms (conv2d_winograd_tiles.cpp): a
// CB x CB block between CB planes' rows and CB pixel vectors of CB channels (CB = one 64-byte
// vector of lanes), as butterfly networks on GCC vector extensions, and the AVX2 forms of one
// full chunk of the strip gather and scatter. Pure data movement: every form gives the same bits.
#pragma once
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <utility>
#include "nnk_common.h"

namespace nnk {
namespace wino {

// One butterfly of an N x N transpose: rows a (bit B of the row index 0) and b (bit 1) swap
// bit B of the row index with bit B of the lane index.
template <int B, int N, class V, size_t... J>
static NNK_INLINE void butterfly(V& a, V& b, std::index_sequence<J...>) {
  const V lo = __builtin_shufflevector(a, b, (((J >> B) & 1) ? int(N + J - (1 << B)) : int(J))...);
  const V hi = __builtin_shufflevector(a, b, (((J >> B) & 1) ? int(N + J) : int(J + (1 << B)))...);
  a = lo;
  b = hi;
}

template <int B, int N, class V>
static NNK_INLINE void transpose_stage(V* r) {
  for (int i = 0; i < N; ++i)
    if (!((i >> B) & 1)) butterfly<B, N>(r[i], r[i | (1 << B)], std::make_index_sequence<N>{});
}

// r[i][j] <- r[j][i] for N = 4, 8 or 16 vectors of N lanes (log2 N butterfly stages).
template <int N, class V>
static NNK_INLINE void transpose_square(V* r) {
  transpose_stage<0, N>(r);
  transpose_stage<1, N>(r);
  if constexpr (N >= 8) transpose_stage<2, N>(r);
  if constexpr (N == 16) transpose_stage<3, N>(r);
}

// The CB x CB transpose of r (CB 64-byte vectors of CB lanes) with vectors of VB bytes: 64, one
// butterfly network on whole rows (AVX-512); 32, four networks on the half-rows, blocks
// [rb][cb] of rows rb and columns cb moving to [cb][rb] (AVX2: GCC lowers 64-byte shuffles
// there to scalar moves through the stack, which ran the transforms 3x slower).
template <int VB, int CB, class V>
static NNK_INLINE void transpose(V* r) {
  if constexpr (VB == 64) {
    transpose_square<CB>(r);
  } else {
    using T = std::remove_reference_t<decltype(r[0][0])>;
    typedef T H __attribute__((vector_size(32)));
    typedef T HU __attribute__((vector_size(32), may_alias));  // a half-row of r, read in place
    constexpr int h = CB / 2;
    HU* hr = reinterpret_cast<HU*>(r);  // hr[2 * i + cb]: row i, columns [cb * h, cb * h + h)
    H q[2][2][h];                       // q[rb][cb][i] = hr[2 * (rb * h + i) + cb], then transposed
#pragma GCC unroll 16
    for (int rb = 0; rb < 2; ++rb)
#pragma GCC unroll 16
      for (int cb = 0; cb < 2; ++cb)
#pragma GCC unroll 16
        for (int i = 0; i < h; ++i) q[rb][cb][i] = hr[2 * (rb * h + i) + cb];
#pragma GCC unroll 16
    for (int rb = 0; rb < 2; ++rb)
#pragma GCC unroll 16
      for (int cb = 0; cb < 2; ++cb) transpose_square<h>(q[rb][cb]);
#pragma GCC unroll 16
    for (int cb = 0; cb < 2; ++cb)
#pragma GCC unroll 16
      for (int i = 0; i < h; ++i)
#pragma GCC unroll 16
        for (int rb = 0; rb < 2; ++rb) hr[2 * (cb * h + i) + rb] = q[rb][cb][i];
  }
}

// The AVX2 (VB = 32) form of one full chunk of gather_strip: dst[j * CB + l] = src[l * hw + j]
// for j, l < CB (0 for l >= nch), as four h x h transposes of 32-byte vectors (h = CB / 2) loaded
// from the planes and stored into the strip directly. Staging the CB x CB block in 64-byte
// vectors, as transpose<32> does, needs twice the 16 ymm registers and went through the stack.
template <class T, int CB>
static NNK_INLINE void gather_chunk_narrow(const T* src, int64_t hw, int nch, T* NNK_RESTRICT dst) {
  typedef T H __attribute__((vector_size(32)));
  constexpr int h = CB / 2;
#pragma GCC unroll 2
  for (int rb = 0; rb < 2; ++rb)
#pragma GCC unroll 2
    for (int cb = 0; cb < 2; ++cb) {
      H q[h];  // q[i]: channel rb * h + i, columns [cb * h, cb * h + h); transposed: column cb * h + i
#pragma GCC unroll 16
      for (int i = 0; i < h; ++i) {
        q[i] = H{};
        if (rb * h + i < nch) std::memcpy(&q[i], src + (rb * h + i) * hw + cb * h, sizeof(H));
      }
      transpose_square<h>(q);
#pragma GCC unroll 16
      for (int i = 0; i < h; ++i) std::memcpy(dst + (cb * h + i) * CB + rb * h, &q[i], sizeof(H));
    }
}

// The AVX2 form of one full chunk of scatter_strip, its inverse: row[l * hw + j] = src[j * CB + l]
// + (bias ? bias[l] : 0) for j < CB, l < nch, in the same four h x h blocks.
template <class T, int CB>
static NNK_INLINE void scatter_chunk_narrow(const T* NNK_RESTRICT src, const T* bias, int64_t hw, int nch, T* row) {
  typedef T H __attribute__((vector_size(32)));
  constexpr int h = CB / 2;
#pragma GCC unroll 2
  for (int rb = 0; rb < 2; ++rb) {
    if (rb * h >= nch) break;
#pragma GCC unroll 2
    for (int cb = 0; cb < 2; ++cb) {
      H q[h];  // q[i]: pixel cb * h + i, channels [rb * h, rb * h + h); transposed: channel rb * h + i
#pragma GCC unroll 16
      for (int i = 0; i < h; ++i) std::memcpy(&q[i], src + (cb * h + i) * CB + rb * h, sizeof(H));
      transpose_square<h>(q);
#pragma GCC unroll 16
      for (int i = 0; i < h; ++i) {
        const int l = rb * h + i;
        if (l >= nch) break;
        const H out = q[i] + (bias ? bias[l] : T(0));
        std::memcpy(row + l * hw + cb * h, &out, sizeof(H));
      }
    }
  }
}

}  // namespace wino
}  // namespace nnk
