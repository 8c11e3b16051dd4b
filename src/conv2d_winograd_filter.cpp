// Winograd filter-side transforms: U = G k G^T of every r x r filter (r = 3 or 5) (forward and grad_x), and
// gw = G^T acc G back from the transform domain (grad_weight). Both run in double on blocks
// of filters (the block index is the vector lane) and round once, so they add one float
// rounding to the error bound (conv2d_winograd.h). Their cost is per filter, not per tile.
#include <algorithm>
#include "conv2d_winograd_impl.h"
#include "conv2d_winograd_tf.h"
#include "nnk_common.h"

namespace nnk {
namespace wino {

constexpr int64_t kLanes = 32;  // filters per block
// Filters per thread below which fewer threads run (~160 double multiply-adds each, ~10 us).
constexpr int64_t kFilterGrain = 2048;

// Rows [r0, r1) of u (row = g * K + k), all N filters of each, N in vector lanes.
template <class T, int M, int R>
static NNK_INLINE void filter_rows_impl(const T* w, T* u, const Conv2dShape& s, bool transposed, int64_t r0,
                                        int64_t r1) {
  constexpr int A = M + R - 1, RR = R * R;
  constexpr auto& G = Tile<M, R>::G;
  const int64_t og = s.oc / s.groups, cg = s.c / s.groups;
  const int64_t K = transposed ? og : cg, N = transposed ? cg : og;
  alignas(64) double f[RR][kLanes], h[R][A][kLanes];
  for (int64_t row = r0; row < r1; ++row) {
    const int64_t g = row / K, k = row % K;
    for (int64_t n0 = 0; n0 < N; n0 += kLanes) {
      const int64_t nb = std::min(kLanes, N - n0);
      for (int64_t jj = 0; jj < nb; ++jj) {
        const int64_t o = transposed ? k : n0 + jj, c = transposed ? n0 + jj : k;
        const T* src = w + ((g * og + o) * cg + c) * RR;
        for (int pq = 0; pq < RR; ++pq) f[pq][jj] = double(src[transposed ? RR - 1 - pq : pq]);
      }
      for (int p = 0; p < R; ++p)  // h[p][b] = sum_q f[p][q] G[b][q]
        for (int b = 0; b < A; ++b)
          for (int64_t jj = 0; jj < nb; ++jj) {
            double t = 0;
            for (int q = 0; q < R; ++q) t += G[b][q] * f[R * p + q][jj];
            h[p][b][jj] = t;
          }
      for (int a = 0; a < A; ++a)  // u[a][b] = sum_p G[a][p] h[p][b]
        for (int b = 0; b < A; ++b) {
          T* dst = u + ((g * A * A + a * A + b) * K + k) * N + n0;
          for (int64_t jj = 0; jj < nb; ++jj) {
            double t = 0;
            for (int p = 0; p < R; ++p) t += G[a][p] * h[p][b][jj];
            dst[jj] = T(t);
          }
        }
    }
  }
}

// Output channels [r0, r1) (row = g * og + o) of gw.
template <class T, int M, int R>
static NNK_INLINE void adjoint_rows_impl(const T* acc, int64_t parts, int64_t stride, T* gw, const Conv2dShape& s, int64_t r0,
                              int64_t r1) {
  constexpr int A = M + R - 1;
  constexpr auto& G = Tile<M, R>::G;
  const int64_t og = s.oc / s.groups, cg = s.c / s.groups, ldc = channel_ld(cg, sizeof(T));
  alignas(64) double v[A][A][kLanes], h[A][R][kLanes];
  for (int64_t row = r0; row < r1; ++row) {
    const int64_t g = row / og, o = row % og;
    for (int64_t c0 = 0; c0 < cg; c0 += kLanes) {
      const int64_t nb = std::min(kLanes, cg - c0);
      for (int xi = 0; xi < A * A; ++xi) {
        const T* src = acc + ((g * A * A + xi) * og + o) * ldc + c0;
        double* d = v[xi / A][xi % A];
        for (int64_t jj = 0; jj < nb; ++jj) d[jj] = double(src[jj]);
        for (int64_t part = 1; part < parts; ++part)
          for (int64_t jj = 0; jj < nb; ++jj) d[jj] += double(src[part * stride + jj]);
      }
      for (int a = 0; a < A; ++a)  // h[a][q] = sum_b v[a][b] G[b][q]
        for (int q = 0; q < R; ++q)
          for (int64_t jj = 0; jj < nb; ++jj) {
            double t = 0;
            for (int b = 0; b < A; ++b) t += v[a][b][jj] * G[b][q];
            h[a][q][jj] = t;
          }
      for (int p = 0; p < R; ++p)  // gw[p][q] = sum_a G[a][p] h[a][q]
        for (int q = 0; q < R; ++q)
          for (int64_t jj = 0; jj < nb; ++jj) {
            double t = 0;
            for (int a = 0; a < A; ++a) t += G[a][p] * h[a][q][jj];
            gw[((row * cg + c0 + jj) * R + p) * R + q] = T(t);
          }
    }
  }
}

// One clone set per (transform, algorithm F(M x M, R x R)), for float and double (nnk_common.h).
#define NNK_WINO_FILTER(M, R)                                                                                 \
  NNK_ISA_CLONES(conv2d_winograd_filter_f##M##x##R,                                                           \
                 (const T* w, T* u, const Conv2dShape& s, bool tr, int64_t r0, int64_t r1),                   \
                 (filter_rows_impl<T, M, R>(w, u, s, tr, r0, r1)))                                            \
  NNK_ISA_CLONES(conv2d_winograd_filter_adjoint_f##M##x##R,                                                   \
                 (const T* acc, int64_t parts, int64_t stride, T* gw, const Conv2dShape& s, int64_t r0,       \
                  int64_t r1),                                                                                \
                 (adjoint_rows_impl<T, M, R>(acc, parts, stride, gw, s, r0, r1)))
NNK_WINO_FILTER(2, 3)
NNK_WINO_FILTER(4, 3)
NNK_WINO_FILTER(2, 5)

template <class T>
void filter_transform(const T* w, T* u, const Conv2dShape& s, int m, bool transposed) {
  const int64_t rows = transposed ? s.oc : s.c;                           // groups * K
  const int64_t per_row = transposed ? s.c / s.groups : s.oc / s.groups;  // N filters per row
  parallel_ranges(rows, items_per_grain(kFilterGrain, per_row), [&](int64_t r0, int64_t r1) {
    if (s.kh == 5) conv2d_winograd_filter_f2x5_isa<T>(w, u, s, transposed, r0, r1);
    else if (m == 2) conv2d_winograd_filter_f2x3_isa<T>(w, u, s, transposed, r0, r1);
    else conv2d_winograd_filter_f4x3_isa<T>(w, u, s, transposed, r0, r1);
  });
}

template <class T>
void filter_adjoint(const T* acc, int64_t parts, int64_t stride, T* gw, const Conv2dShape& s, int m) {
  parallel_ranges(s.oc, items_per_grain(kFilterGrain, s.c / s.groups * parts), [&](int64_t r0, int64_t r1) {
    if (s.kh == 5) conv2d_winograd_filter_adjoint_f2x5_isa<T>(acc, parts, stride, gw, s, r0, r1);
    else if (m == 2) conv2d_winograd_filter_adjoint_f2x3_isa<T>(acc, parts, stride, gw, s, r0, r1);
    else conv2d_winograd_filter_adjoint_f4x3_isa<T>(acc, parts, stride, gw, s, r0, r1);
  });
}

template void filter_transform<float>(const float*, float*, const Conv2dShape&, int, bool);
template void filter_transform<double>(const double*, double*, const Conv2dShape&, int, bool);
template void filter_adjoint<float>(const float*, int64_t, int64_t, float*, const Conv2dShape&, int);
template void filter_adjoint<double>(const double*, int64_t, int64_t, double*, const Conv2dShape&, int);

}  // namespace wino
}  // namespace nnk
