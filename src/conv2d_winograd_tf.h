// The 1-D transforms of Winograd's minimal filtering algorithms F(2,3), F(4,3), F(2,5) and F(5,3)
// (Lavin & Gray 2016, "Fast Algorithms for Convolutional Neural Networks", section 4;
// interpolation points 0, +-1, infinity (F(2,3)) and 0, +-1, +-2, infinity (F(4,3), F(2,5):
// the same six points, hence the same B^T). With a = m + r - 1 for an r-tap filter:
//   output tile  Y = A^T [ (G g G^T) (.) (B^T d B) ] A      (m x m from an a x a input tile d)
//   weight grad  dg = G^T [ (A dY A^T) (.) (B^T d B) ] G    (the adjoint in g, summed over tiles)
// Every 2-D transform runs as two passes of these 1-D ones over whole rows: a function reads
// k source rows and writes k' destination rows of n values, element i of every row belonging
// to one tile (or one pixel column), so the loop over i is the vector loop. The data-side
// transforms (B^T, A^T, A) are hand-factored with their zeros skipped; the filter-side ones
// (G, G^T) run in double on the filters only, from the matrices below.
// Always-inline: each is compiled into the NNK_CLONES function that calls it.
#pragma once
#include <cstdint>
#include "nnk_common.h"

namespace nnk {
namespace wino {

template <int M, int R>
struct Tile;

template <>
struct Tile<2, 3> {
  static constexpr int m = 2, r = 3, a = 4;
  static constexpr double G[4][3] = {{1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0, 0, 1}};

  // d = B^T x: B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1].
  template <class T>
  static NNK_INLINE void input(const T* const* s, T* const* d, int64_t n) {
    const T *s0 = s[0], *s1 = s[1], *s2 = s[2], *s3 = s[3];
    T *d0 = d[0], *d1 = d[1], *d2 = d[2], *d3 = d[3];
#pragma GCC ivdep
    for (int64_t i = 0; i < n; ++i) {
      const T x0 = s0[i], x1 = s1[i], x2 = s2[i], x3 = s3[i];
      d0[i] = x0 - x2;
      d1[i] = x1 + x2;
      d2[i] = x2 - x1;
      d3[i] = x1 - x3;
    }
  }
  // y = A^T v: A^T = [1 1 1 0; 0 1 -1 -1].
  template <class T>
  static NNK_INLINE void output(const T* const* s, T* const* d, int64_t n) {
    const T *s0 = s[0], *s1 = s[1], *s2 = s[2], *s3 = s[3];
    T *d0 = d[0], *d1 = d[1];
#pragma GCC ivdep
    for (int64_t i = 0; i < n; ++i) {
      const T v1 = s1[i], v2 = s2[i];
      d0[i] = s0[i] + v1 + v2;
      d1[i] = v1 - v2 - s3[i];
    }
  }
  // v = A y (the adjoint of output): A = (A^T)^T.
  template <class T>
  static NNK_INLINE void grad_output(const T* const* s, T* const* d, int64_t n) {
    const T *s0 = s[0], *s1 = s[1];
    T *d0 = d[0], *d1 = d[1], *d2 = d[2], *d3 = d[3];
#pragma GCC ivdep
    for (int64_t i = 0; i < n; ++i) {
      const T y0 = s0[i], y1 = s1[i];
      d0[i] = y0;
      d1[i] = y0 + y1;
      d2[i] = y0 - y1;
      d3[i] = -y1;
    }
  }
};

template <>
struct Tile<4, 3> {
  static constexpr int m = 4, r = 3, a = 6;
  static constexpr double G[6][3] = {{1.0 / 4, 0, 0},
                                     {-1.0 / 6, -1.0 / 6, -1.0 / 6},
                                     {-1.0 / 6, 1.0 / 6, -1.0 / 6},
                                     {1.0 / 24, 1.0 / 12, 1.0 / 6},
                                     {1.0 / 24, -1.0 / 12, 1.0 / 6},
                                     {0, 0, 1}};

  // d = B^T x: B^T = [4 0 -5 0 1 0; 0 -4 -4 1 1 0; 0 4 -4 -1 1 0; 0 -2 -1 2 1 0;
  //                   0 2 -1 -2 1 0; 0 4 0 -5 0 1].
  template <class T>
  static NNK_INLINE void input(const T* const* s, T* const* d, int64_t n) {
    const T *s0 = s[0], *s1 = s[1], *s2 = s[2], *s3 = s[3], *s4 = s[4], *s5 = s[5];
    T *d0 = d[0], *d1 = d[1], *d2 = d[2], *d3 = d[3], *d4 = d[4], *d5 = d[5];
#pragma GCC ivdep
    for (int64_t i = 0; i < n; ++i) {
      const T x0 = s0[i], x1 = s1[i], x2 = s2[i], x3 = s3[i], x4 = s4[i], x5 = s5[i];
      const T p12 = x1 + x2, m12 = x1 - x2, p34 = x3 + x4, m43 = x4 - x3;
      const T m42 = x4 - x2, m31 = x3 - x1;
      d0[i] = T(4) * x0 - T(5) * x2 + x4;
      d1[i] = p34 - T(4) * p12;
      d2[i] = m43 + T(4) * m12;
      d3[i] = m42 + T(2) * m31;
      d4[i] = m42 - T(2) * m31;
      d5[i] = T(4) * x1 - T(5) * x3 + x5;
    }
  }
  // y = A^T v: A^T = [1 1 1 1 1 0; 0 1 -1 2 -2 0; 0 1 1 4 4 0; 0 1 -1 8 -8 1].
  template <class T>
  static NNK_INLINE void output(const T* const* s, T* const* d, int64_t n) {
    const T *s0 = s[0], *s1 = s[1], *s2 = s[2], *s3 = s[3], *s4 = s[4], *s5 = s[5];
    T *d0 = d[0], *d1 = d[1], *d2 = d[2], *d3 = d[3];
#pragma GCC ivdep
    for (int64_t i = 0; i < n; ++i) {
      const T v1 = s1[i], v2 = s2[i], v3 = s3[i], v4 = s4[i];
      const T p12 = v1 + v2, m12 = v1 - v2, p34 = v3 + v4, m34 = v3 - v4;
      d0[i] = s0[i] + p12 + p34;
      d1[i] = m12 + T(2) * m34;
      d2[i] = p12 + T(4) * p34;
      d3[i] = m12 + T(8) * m34 + s5[i];
    }
  }
  // v = A y (the adjoint of output).
  template <class T>
  static NNK_INLINE void grad_output(const T* const* s, T* const* d, int64_t n) {
    const T *s0 = s[0], *s1 = s[1], *s2 = s[2], *s3 = s[3];
    T *d0 = d[0], *d1 = d[1], *d2 = d[2], *d3 = d[3], *d4 = d[4], *d5 = d[5];
#pragma GCC ivdep
    for (int64_t i = 0; i < n; ++i) {
      const T y0 = s0[i], y1 = s1[i], y2 = s2[i], y3 = s3[i];
      const T e1 = y0 + y2, o1 = y1 + y3, e2 = y0 + T(4) * y2, o2 = T(2) * y1 + T(8) * y3;
      d0[i] = y0;
      d1[i] = e1 + o1;
      d2[i] = e1 - o1;
      d3[i] = e2 + o2;
      d4[i] = e2 - o2;
      d5[i] = y3;
    }
  }
};

// F(2,5): 5 taps, the points of F(4,3). G solves A^T [(G g) (.) (B^T d)] = the correlation of d
// with g for A^T and B^T below (unique; checked in tests/test_conv2d_winograd.py).
template <>
struct Tile<2, 5> {
  static constexpr int m = 2, r = 5, a = 6;
  static constexpr double G[6][5] = {{1.0 / 4, 0, 0, 0, 0},
                                     {-1.0 / 6, -1.0 / 6, -1.0 / 6, -1.0 / 6, -1.0 / 6},
                                     {-1.0 / 6, 1.0 / 6, -1.0 / 6, 1.0 / 6, -1.0 / 6},
                                     {1.0 / 24, 1.0 / 12, 1.0 / 6, 1.0 / 3, 2.0 / 3},
                                     {1.0 / 24, -1.0 / 12, 1.0 / 6, -1.0 / 3, 2.0 / 3},
                                     {0, 0, 0, 0, 1}};

  // d = B^T x, the B^T of F(4,3).
  template <class T>
  static NNK_INLINE void input(const T* const* s, T* const* d, int64_t n) {
    Tile<4, 3>::input(s, d, n);
  }
  // y = A^T v: A^T = [1 1 1 1 1 0; 0 1 -1 2 -2 1].
  template <class T>
  static NNK_INLINE void output(const T* const* s, T* const* d, int64_t n) {
    const T *s0 = s[0], *s1 = s[1], *s2 = s[2], *s3 = s[3], *s4 = s[4], *s5 = s[5];
    T *d0 = d[0], *d1 = d[1];
#pragma GCC ivdep
    for (int64_t i = 0; i < n; ++i) {
      const T v1 = s1[i], v2 = s2[i], v3 = s3[i], v4 = s4[i];
      d0[i] = s0[i] + (v1 + v2) + (v3 + v4);
      d1[i] = (v1 - v2) + T(2) * (v3 - v4) + s5[i];
    }
  }
  // v = A y (the adjoint of output).
  template <class T>
  static NNK_INLINE void grad_output(const T* const* s, T* const* d, int64_t n) {
    const T *s0 = s[0], *s1 = s[1];
    T *d0 = d[0], *d1 = d[1], *d2 = d[2], *d3 = d[3], *d4 = d[4], *d5 = d[5];
#pragma GCC ivdep
    for (int64_t i = 0; i < n; ++i) {
      const T y0 = s0[i], y1 = s1[i];
      d0[i] = y0;
      d1[i] = y0 + y1;
      d2[i] = y0 - y1;
      d3[i] = y0 + T(2) * y1;
      d4[i] = y0 - T(2) * y1;
      d5[i] = y1;
    }
  }
};

// out[j][i] = sum_k C[j][k] in[k][i] for a constant J x K matrix C: the loops over j and k
// unroll, so the zero coefficients drop out and +-1 ones cost no multiply. The general form of
// the hand-factored transforms above, for the larger tiles.
template <int J, int K, class T>
static NNK_INLINE void apply_matrix(const double (&c)[J][K], const T* const* s, T* const* d, int64_t n) {
  const T* sp[K];
  T* dp[J];
#pragma GCC unroll 8
  for (int k = 0; k < K; ++k) sp[k] = s[k];
#pragma GCC unroll 8
  for (int j = 0; j < J; ++j) dp[j] = d[j];
#pragma GCC ivdep
  for (int64_t i = 0; i < n; ++i) {
    T x[K];
#pragma GCC unroll 8
    for (int k = 0; k < K; ++k) x[k] = sp[k][i];
#pragma GCC unroll 8
    for (int j = 0; j < J; ++j) {
      T acc = T(0);
      bool first = true;
#pragma GCC unroll 8
      for (int k = 0; k < K; ++k) {
        if (c[j][k] == 0) continue;
        const T term = c[j][k] == 1 ? x[k] : c[j][k] == -1 ? -x[k] : T(c[j][k]) * x[k];
        acc = first ? term : acc + term;
        first = false;
      }
      dp[j][i] = acc;
    }
  }
}

// F(5,3): points 0, +-1, +-2, 1/2 and infinity, the Cook-Toom construction (Lavin & Gray 2016,
// section 4) without rescaling: B^T row j holds the coefficients (x^0 first) of prod_{l != j}
// (x - p_l) over the finite points, its last row those of prod_l (x - p_l); G[j][k] = p_j^k /
// prod_{l != j} (p_j - p_l); A^T[i][j] = p_j^i (last column e_{m-1}). For tiles 5 wide:
// 13x13 planes (AlexNet's conv3-5) need 9 of them (49 values each) against F(4,3)'s 16 (36
// each), 23% fewer transform-domain values. Rounding: 1.1-1.8x F(4,3)'s (conv2d_winograd.h).
template <>
struct Tile<5, 3> {
  static constexpr int m = 5, r = 3, a = 7;
  static constexpr double G[7][3] = {{-1.0 / 2, 0, 0},         {-1.0 / 3, -1.0 / 3, -1.0 / 3},
                                     {1.0 / 9, -1.0 / 9, 1.0 / 9}, {1.0 / 36, 1.0 / 18, 1.0 / 9},
                                     {-1.0 / 60, 1.0 / 30, -1.0 / 15}, {32.0 / 45, 16.0 / 45, 8.0 / 45},
                                     {0, 0, 1}};
  static constexpr double BT[7][7] = {{-2, 4, 2.5, -5, -0.5, 1, 0},   {0, 2, -2, -4.5, 0.5, 1, 0},
                                      {0, -2, 6, -3.5, -1.5, 1, 0},  {0, 1, -1.5, -2, 1.5, 1, 0},
                                      {0, -1, 2.5, 0, -2.5, 1, 0},   {0, 4, 0, -5, 0, 1, 0},
                                      {0, -2, 4, 2.5, -5, -0.5, 1}};
  static constexpr double AT[5][7] = {{1, 1, 1, 1, 1, 1, 0},
                                      {0, 1, -1, 2, -2, 0.5, 0},
                                      {0, 1, 1, 4, 4, 0.25, 0},
                                      {0, 1, -1, 8, -8, 0.125, 0},
                                      {0, 1, 1, 16, 16, 0.0625, 1}};
  static constexpr double A[7][5] = {{1, 0, 0, 0, 0},          {1, 1, 1, 1, 1},        {1, -1, 1, -1, 1},
                                     {1, 2, 4, 8, 16},         {1, -2, 4, -8, 16},     {1, 0.5, 0.25, 0.125, 0.0625},
                                     {0, 0, 0, 0, 1}};

  template <class T>
  static NNK_INLINE void input(const T* const* s, T* const* d, int64_t n) {
    apply_matrix(BT, s, d, n);
  }
  template <class T>
  static NNK_INLINE void output(const T* const* s, T* const* d, int64_t n) {
    apply_matrix(AT, s, d, n);
  }
  template <class T>
  static NNK_INLINE void grad_output(const T* const* s, T* const* d, int64_t n) {
    apply_matrix(A, s, d, n);
  }
};

}  // namespace wino
}  // namespace nnk
