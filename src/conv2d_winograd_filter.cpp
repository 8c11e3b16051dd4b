// Winograd filter-side transforms: U = G k G^T of every r x r filter (r = 3 or 5) (forward and grad_x), and
// gw = G^T acc G back from the transform domain (grad_weight). Both run in double on blocks
// of filters (the block index is the vector lane) and round once, so they add one float
// rounding to the error bound (conv2d_winograd.h). Their cost is per filter, not per tile.
#include <algorithm>
#include <cstring>
#include "conv2d_winograd_impl.h"
#include "conv2d_winograd_tf.h"
#include "nnk_common.h"

namespace nnk {
namespace wino {

constexpr int64_t kLanes = 32;  // filters per block
// Filters per thread below which fewer threads run (~160 double multiply-adds each, ~10 us).
constexpr int64_t kFilterGrain = 2048;

// dst[0, n) = src[0, n) for a packed-B run (n = 4, 8, 16 or 32), as a fixed-size move.
template <class T>
static NNK_INLINE void copy_run(T* dst, const T* src, int n) {
  switch (n) {
    case 32: std::memcpy(dst, src, sizeof(T) * 32); break;
    case 16: std::memcpy(dst, src, sizeof(T) * 16); break;
    case 8: std::memcpy(dst, src, sizeof(T) * 8); break;
    default: std::memcpy(dst, src, sizeof(T) * size_t(n));
  }
}

// stream_run (conv2d_winograd_impl.h) for large filter sets (FilterDest::stream): the packed
// filters (19 MiB for alexnet-conv3) are written in a^2 streams of one run per row and read back
// only by the products; ordinary stores first read every line they fill, and the transform ran
// store-bound, at 13% of the forward (1 thread; 4% with non-temporal stores). The caller fences
// (stream_fence) before another thread may read them.
// f (R*R taps x kLanes filters) -> out[xi][lane] = (G f G^T)[xi] rounded to T, on all kLanes
// lanes (fixed-length vector loops; lanes whose taps are zero give zeros).
template <class T, int M, int R>
static NNK_INLINE void transform_lanes(const double (&f)[R * R][kLanes], T (&out)[(M + R - 1) * (M + R - 1)][kLanes]) {
  constexpr int A = M + R - 1;
  constexpr auto& G = Tile<M, R>::G;
  alignas(64) double h[R][A][kLanes];
  for (int p = 0; p < R; ++p)  // h[p][b] = sum_q f[p][q] G[b][q]
    for (int b = 0; b < A; ++b)
      for (int jj = 0; jj < kLanes; ++jj) {
        double t = 0;
        for (int q = 0; q < R; ++q) t += G[b][q] * f[R * p + q][jj];
        h[p][b][jj] = t;
      }
  for (int a = 0; a < A; ++a)  // u[a][b] = sum_p G[a][p] h[p][b]
    for (int b = 0; b < A; ++b)
      for (int jj = 0; jj < kLanes; ++jj) {
        double t = 0;
        for (int p = 0; p < R; ++p) t += G[a][p] * h[p][b][jj];
        out[a * A + b][jj] = T(t);
      }
}

// Row k of every matrix (g, xi) <- out[xi][0, nb): row-major at k * ld + n0, or (packed) in
// runs of nr columns `strip` apart (whole runs: the lanes past nb are zeros, the padding the
// packed layout needs).
template <class T, int A2>
static NNK_INLINE void store_row(const FilterDest<T>& u, const T (&out)[A2][kLanes], int64_t g, int64_t k, int64_t N,
                                 int64_t n0, int64_t nb) {
  int64_t row_off = k * u.ld + n0, strip = 0;
  const int nr = u.packed ? gemm_packed_b_nr(u.layout) : 0;
  if (u.packed) {
    gemm_packed_b_row(u.layout, k, &row_off, &strip);
    row_off += n0 / nr * strip;
  }
  for (int xi = 0; xi < A2; ++xi) {
    T* dst = u.data + (g * A2 + xi) * u.mat_stride + row_off;
    if (!u.packed)  // nb values and, when the rows are padded, the zeros after them
      std::memcpy(dst, out[xi], sizeof(T) * size_t(std::min<int64_t>(kLanes, u.ld - n0)));
    else
      for (int64_t j = 0; j < nb; j += nr) {
        if (u.stream)
          stream_run(dst + j / nr * strip, out[xi] + j, nr);
        else
          copy_run(dst + j / nr * strip, out[xi] + j, nr);
      }
  }
}

// Rows [r0, r1) of u (row = g * K + k), all N filters of each, N in vector lanes. Forward, a
// block's kLanes filters of a row lie cg * RR apart in w: rows are taken CR at a time, each
// lane's CR consecutive filters copied as one contiguous run first (the strided gather straight
// from w cost 8% of alexnet-conv3's forward in cache misses).
template <class T, int M, int R>
static NNK_INLINE void filter_rows_impl(const T* w, const FilterDest<T>& u, const Conv2dShape& s, bool transposed,
                                        int64_t r0, int64_t r1) {
  constexpr int A = M + R - 1, RR = R * R, CR = 64 / RR;
  const int64_t og = s.oc / s.groups, cg = s.c / s.groups;
  const int64_t K = transposed ? og : cg, N = transposed ? cg : og;
  alignas(64) double f[RR][kLanes];
  alignas(64) T run[kLanes][CR * RR];
  alignas(64) T out[A * A][kLanes];
  for (int64_t n0 = 0; n0 < N; n0 += kLanes) {
    const int64_t nb = std::min(kLanes, N - n0);
    if (nb < kLanes)
      for (int pq = 0; pq < RR; ++pq) std::fill(f[pq] + nb, f[pq] + kLanes, 0.0);
    for (int64_t row0 = r0; row0 < r1;) {
      const int64_t g = row0 / K, k0 = row0 % K, rows = std::min({r1 - row0, int64_t(CR), K - k0});
      if (!transposed)
        for (int64_t jj = 0; jj < nb; ++jj)
          std::memcpy(run[jj], w + ((g * og + n0 + jj) * cg + k0) * RR, sizeof(T) * size_t(rows * RR));
      for (int64_t kk = 0; kk < rows; ++kk) {
        if (transposed) {  // filter jj: w[g * og + k][n0 + jj] rotated by 180 degrees, contiguous
          const T* src = w + ((g * og + k0 + kk) * cg + n0) * RR;
          for (int pq = 0; pq < RR; ++pq)
            for (int64_t jj = 0; jj < nb; ++jj) f[pq][jj] = double(src[jj * RR + RR - 1 - pq]);
        } else {
          for (int pq = 0; pq < RR; ++pq)
            for (int64_t jj = 0; jj < nb; ++jj) f[pq][jj] = double(run[jj][kk * RR + pq]);
        }
        transform_lanes<T, M, R>(f, out);
        store_row<T, A * A>(u, out, g, k0 + kk, N, n0, nb);
      }
      row0 += rows;
    }
  }
  stream_fence();
}

// Output channels [r0, r1) (row = g * og + o) of gw. Per row, the partial sums of a run of up to
// kStageChannels input channels are first summed (in double) into st, one transform position
// at a time: each read is a contiguous run of the row (1 KiB of floats), where reading the A^2
// positions (og * ldc elements apart) per block of kLanes channels kept 2 A^2 streams of two
// cache lines each in flight and ran at a few GB/s (alexnet-conv3: 9% of forward+backward).
constexpr int64_t kStageChannels = 256;

template <class T, int M, int R>
static NNK_INLINE void adjoint_rows_impl(const T* acc, int64_t parts, int64_t stride, T* gw, const Conv2dShape& s, int64_t r0,
                              int64_t r1) {
  constexpr int A = M + R - 1;
  constexpr auto& G = Tile<M, R>::G;
  const int64_t og = s.oc / s.groups, cg = s.c / s.groups, ldc = channel_ld(cg, sizeof(T));
  // st on the heap (100 KiB for F(5x5,3x3)): a Python thread may have a small stack.
  const auto st_buf = scratch<double>(A * A * kStageChannels);  // may throw std::bad_alloc: before any write
  double(*st)[kStageChannels] = reinterpret_cast<double(*)[kStageChannels]>(st_buf.get());
  alignas(64) double h[A][R][kLanes];
  for (int64_t row = r0; row < r1; ++row) {
    const int64_t g = row / og, o = row % og;
    for (int64_t s0 = 0; s0 < cg; s0 += kStageChannels) {
      const int64_t sn = std::min(kStageChannels, cg - s0);
      for (int xi = 0; xi < A * A; ++xi) {  // st[xi] = the sum of the partials, in part order
        const T* src = acc + ((g * A * A + xi) * og + o) * ldc + s0;
        double* d = st[xi];
        for (int64_t c = 0; c < sn; ++c) d[c] = double(src[c]);
        for (int64_t part = 1; part < parts; ++part)
          for (int64_t c = 0; c < sn; ++c) d[c] += double(src[part * stride + c]);
      }
      for (int64_t c0 = 0; c0 < sn; c0 += kLanes) {
        const int64_t nb = std::min(kLanes, sn - c0);
        for (int a = 0; a < A; ++a)  // h[a][q] = sum_b v[a][b] G[b][q]
          for (int q = 0; q < R; ++q)
            for (int64_t jj = 0; jj < nb; ++jj) {
              double t = 0;
              for (int b = 0; b < A; ++b) t += st[a * A + b][c0 + jj] * G[b][q];
              h[a][q][jj] = t;
            }
        for (int p = 0; p < R; ++p)  // gw[p][q] = sum_a G[a][p] h[a][q]
          for (int q = 0; q < R; ++q)
            for (int64_t jj = 0; jj < nb; ++jj) {
              double t = 0;
              for (int a = 0; a < A; ++a) t += G[a][p] * h[a][q][jj];
              gw[((row * cg + s0 + c0 + jj) * R + p) * R + q] = T(t);
            }
      }
    }
  }
}

// One clone set per (transform, algorithm F(M x M, R x R)), for float and double (nnk_common.h).
#define NNK_WINO_FILTER(M, R)                                                                                 \
  NNK_ISA_CLONES(conv2d_winograd_filter_f##M##x##R,                                                           \
                 (const T* w, const FilterDest<T>& u, const Conv2dShape& s, bool tr, int64_t r0, int64_t r1),                   \
                 (filter_rows_impl<T, M, R>(w, u, s, tr, r0, r1)))                                            \
  NNK_ISA_CLONES(conv2d_winograd_filter_adjoint_f##M##x##R,                                                   \
                 (const T* acc, int64_t parts, int64_t stride, T* gw, const Conv2dShape& s, int64_t r0,       \
                  int64_t r1),                                                                                \
                 (adjoint_rows_impl<T, M, R>(acc, parts, stride, gw, s, r0, r1)))
NNK_WINO_FILTER(2, 3)
NNK_WINO_FILTER(4, 3)
NNK_WINO_FILTER(2, 5)
NNK_WINO_FILTER(5, 3)

template <class T>
void filter_transform(const T* w, const FilterDest<T>& u, const Conv2dShape& s, int m, bool transposed) {
  const int64_t rows = transposed ? s.oc : s.c;                           // groups * K
  const int64_t per_row = transposed ? s.c / s.groups : s.oc / s.groups;  // N filters per row
  parallel_ranges(rows, items_per_grain(kFilterGrain, per_row), [&](int64_t r0, int64_t r1) {
    if (s.kh == 5) conv2d_winograd_filter_f2x5_isa<T>(w, u, s, transposed, r0, r1);
    else if (m == 2) conv2d_winograd_filter_f2x3_isa<T>(w, u, s, transposed, r0, r1);
    else if (m == 5) conv2d_winograd_filter_f5x3_isa<T>(w, u, s, transposed, r0, r1);
    else conv2d_winograd_filter_f4x3_isa<T>(w, u, s, transposed, r0, r1);
  });
}

template <class T>
void filter_adjoint(const T* acc, int64_t parts, int64_t stride, T* gw, const Conv2dShape& s, int m) {
  parallel_ranges(s.oc, items_per_grain(kFilterGrain, s.c / s.groups * parts), [&](int64_t r0, int64_t r1) {
    if (s.kh == 5) conv2d_winograd_filter_adjoint_f2x5_isa<T>(acc, parts, stride, gw, s, r0, r1);
    else if (m == 2) conv2d_winograd_filter_adjoint_f2x3_isa<T>(acc, parts, stride, gw, s, r0, r1);
    else if (m == 5) conv2d_winograd_filter_adjoint_f5x3_isa<T>(acc, parts, stride, gw, s, r0, r1);
    else conv2d_winograd_filter_adjoint_f4x3_isa<T>(acc, parts, stride, gw, s, r0, r1);
  });
}

template void filter_transform<float>(const float*, const FilterDest<float>&, const Conv2dShape&, int, bool);
template void filter_transform<double>(const double*, const FilterDest<double>&, const Conv2dShape&, int, bool);
template void filter_adjoint<float>(const float*, int64_t, int64_t, float*, const Conv2dShape&, int);
template void filter_adjoint<double>(const double*, int64_t, int64_t, double*, const Conv2dShape&, int);

}  // namespace wino
}  // namespace nnk
