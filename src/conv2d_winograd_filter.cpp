// Winograd filter-side transforms: U = G k G^T of every 3x3 filter (forward and grad_x), and
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
template <class T, int M>
static NNK_INLINE void filter_rows_impl(const T* w, T* u, const Conv2dShape& s, bool transposed, int64_t r0,
                                        int64_t r1) {
  constexpr int A = M + 2;
  constexpr auto& G = Tile<M>::G;
  const int64_t og = s.oc / s.groups, cg = s.c / s.groups;
  const int64_t K = transposed ? og : cg, N = transposed ? cg : og;
  alignas(64) double f[9][kLanes], h[3][A][kLanes];
  for (int64_t row = r0; row < r1; ++row) {
    const int64_t g = row / K, k = row % K;
    for (int64_t n0 = 0; n0 < N; n0 += kLanes) {
      const int64_t nb = std::min(kLanes, N - n0);
      for (int64_t jj = 0; jj < nb; ++jj) {
        const int64_t o = transposed ? k : n0 + jj, c = transposed ? n0 + jj : k;
        const T* src = w + ((g * og + o) * cg + c) * 9;
        for (int pq = 0; pq < 9; ++pq) f[pq][jj] = double(src[transposed ? 8 - pq : pq]);
      }
      for (int p = 0; p < 3; ++p)  // h[p][b] = sum_q f[p][q] G[b][q]
        for (int b = 0; b < A; ++b)
          for (int64_t jj = 0; jj < nb; ++jj)
            h[p][b][jj] = G[b][0] * f[3 * p][jj] + G[b][1] * f[3 * p + 1][jj] + G[b][2] * f[3 * p + 2][jj];
      for (int a = 0; a < A; ++a)  // u[a][b] = sum_p G[a][p] h[p][b]
        for (int b = 0; b < A; ++b) {
          T* dst = u + ((g * A * A + a * A + b) * K + k) * N + n0;
          for (int64_t jj = 0; jj < nb; ++jj)
            dst[jj] = T(G[a][0] * h[0][b][jj] + G[a][1] * h[1][b][jj] + G[a][2] * h[2][b][jj]);
        }
    }
  }
}

// Output channels [r0, r1) (row = g * og + o) of gw.
template <class T, int M>
static NNK_INLINE void adjoint_rows_impl(const T* acc, int64_t parts, int64_t stride, T* gw, const Conv2dShape& s, int64_t r0,
                              int64_t r1) {
  constexpr int A = M + 2;
  constexpr auto& G = Tile<M>::G;
  const int64_t og = s.oc / s.groups, cg = s.c / s.groups, ldc = channel_ld(cg, sizeof(T));
  alignas(64) double v[A][A][kLanes], h[A][3][kLanes];
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
        for (int q = 0; q < 3; ++q)
          for (int64_t jj = 0; jj < nb; ++jj) {
            double t = 0;
            for (int b = 0; b < A; ++b) t += v[a][b][jj] * G[b][q];
            h[a][q][jj] = t;
          }
      for (int p = 0; p < 3; ++p)  // gw[p][q] = sum_a G[a][p] h[a][q]
        for (int q = 0; q < 3; ++q)
          for (int64_t jj = 0; jj < nb; ++jj) {
            double t = 0;
            for (int a = 0; a < A; ++a) t += G[a][p] * h[a][q][jj];
            gw[(row * cg + c0 + jj) * 9 + p * 3 + q] = T(t);
          }
    }
  }
}

// One clone set per (transform, tile size), for float and double (nnk_common.h).
#define NNK_WINO_FILTER(M)                                                                                    \
  NNK_ISA_CLONES(conv2d_winograd_filter_m##M,                                                                 \
                 (const T* w, T* u, const Conv2dShape& s, bool tr, int64_t r0, int64_t r1),                   \
                 filter_rows_impl<T, M>(w, u, s, tr, r0, r1))                                                 \
  NNK_ISA_CLONES(conv2d_winograd_filter_adjoint_m##M,                                                         \
                 (const T* acc, int64_t parts, int64_t stride, T* gw, const Conv2dShape& s, int64_t r0,       \
                  int64_t r1),                                                                                \
                 adjoint_rows_impl<T, M>(acc, parts, stride, gw, s, r0, r1))
NNK_WINO_FILTER(2)
NNK_WINO_FILTER(4)

template <class T>
void filter_transform(const T* w, T* u, const Conv2dShape& s, int m, bool transposed) {
  const int64_t rows = transposed ? s.oc : s.c;                           // groups * K
  const int64_t per_row = transposed ? s.c / s.groups : s.oc / s.groups;  // N filters per row
  parallel_ranges(rows, items_per_grain(kFilterGrain, per_row), [&](int64_t r0, int64_t r1) {
    if (m == 2) conv2d_winograd_filter_m2_isa<T>(w, u, s, transposed, r0, r1);
    else conv2d_winograd_filter_m4_isa<T>(w, u, s, transposed, r0, r1);
  });
}

template <class T>
void filter_adjoint(const T* acc, int64_t parts, int64_t stride, T* gw, const Conv2dShape& s, int m) {
  parallel_ranges(s.oc, items_per_grain(kFilterGrain, s.c / s.groups * parts), [&](int64_t r0, int64_t r1) {
    if (m == 2) conv2d_winograd_filter_adjoint_m2_isa<T>(acc, parts, stride, gw, s, r0, r1);
    else conv2d_winograd_filter_adjoint_m4_isa<T>(acc, parts, stride, gw, s, r0, r1);
  });
}

template void filter_transform<float>(const float*, float*, const Conv2dShape&, int, bool);
template void filter_transform<double>(const double*, double*, const Conv2dShape&, int, bool);
template void filter_adjoint<float>(const float*, int64_t, int64_t, float*, const Conv2dShape&, int);
template void filter_adjoint<double>(const double*, int64_t, int64_t, double*, const Conv2dShape&, int);

}  // namespace wino
}  // namespace nnk
