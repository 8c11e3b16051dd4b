// nnkern's GEMM, written once over the vector traits of gemm_simd.h and instantiated by
// each ISA unit (gemm_<isa>.cpp, conv2d_implicit_<isa>.cpp). Internal linkage only: read
// the ISA rule at the top of gemm_simd.h before including this anywhere.
//
// Layouts (row-major C, vectors along C's rows, i.e. along n):
//   packed A: per K block [k0, k0+kl), the M strips one after the other, each (kl, MR):
//             element (row r0+i, col k0+p) of strip s at  base + k0*ns*MR + s*kl*MR + p*MR + i.
//             Strips are balanced: ns = ceil(m/MR) strips of ceil or floor(m/ns) rows, so
//             m = 16 runs as 8+8, not 12+4. Rows past a strip's height are zero.
//   packed B: per K block, the N strips one after the other, each (kl, NR): element
//             (k0+p, j0+j) at base + j0*kl + p*NR + j; columns past n are zero.
// Micro-kernel: an (h <= MR) x NR tile of C from kl rank-1 updates, accumulated in registers
// from zero in k order, then C = [C +] alpha*acc [+ bias] — so every element's arithmetic
// is the same wherever its tile lies and however work is split over threads.
#pragma once
#include <cstdint>
#include <cstring>
#include "gemm_ops.h"
#include "gemm_simd.h"

namespace nnk {
namespace {

#define NNK_GEMM_INLINE inline __attribute__((always_inline))

constexpr int64_t imin(int64_t a, int64_t b) { return a < b ? a : b; }
constexpr int64_t imax(int64_t a, int64_t b) { return a > b ? a : b; }
constexpr int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// K blocks: kb = ceil(k / KC) blocks of (nearly) equal length; block b is [k0, k0 + kl).
inline void k_block(int64_t k, int64_t KC, int64_t b, int64_t& k0, int64_t& kl) {
  const int64_t kb = ceil_div(k, KC), len = ceil_div(k, kb);
  k0 = b * len;
  kl = imin(len, k - k0);
}
inline int64_t k_blocks(int64_t k, int64_t KC) { return ceil_div(k, KC); }

// Balanced M strips: strip s of ns covers rows [s*m/ns, (s+1)*m/ns).
inline int64_t m_strips(int64_t m, int64_t MR) { return ceil_div(m, MR); }
inline int64_t strip_row(int64_t m, int64_t ns, int64_t s) { return s * m / ns; }

template <class Tr>
struct Gemm {
  using T = typename Tr::T;
  using V = typename Tr::V;
  static constexpr int W = Tr::W, NV = Tr::NV, MR = Tr::MR, NR = Tr::W * Tr::NV;
  using Kernel = void (*)(int64_t, const T*, const T*, T*, int64_t, int, T, bool, const T*);

  // C tile (h x n, n <= NR) [+]= alpha * A_strip(kl x h)^T . B_strip(kl x NR) [+ bias[i]].
  template <int H>
  static void micro(int64_t kl, const T* a, const T* b, T* c, int64_t ldc, int n, T alpha, bool accumulate,
                    const T* bias) {
    V acc[H][NV];
    rank1_updates<H, false>(kl, a, 0, b, acc);
    store_tile<H>(acc, c, ldc, n, alpha, accumulate, bias);
  }

  // The same tile with A read in place: row i of the strip at a + i * lda, k contiguous
  // (Winograd's transform-domain rows: no packing pass over them).
  template <int H>
  static void micro_strided_a(int64_t kl, const T* a, int64_t lda, const T* b, T* c, int64_t ldc, int n,
                              bool accumulate) {
    V acc[H][NV];
    rank1_updates<H, true>(kl, a, lda, b, acc);
    store_tile<H>(acc, c, ldc, n, T(1), accumulate, nullptr);
  }

  // acc[i][v] = sum_p A(i, p) B(p, v-th vector), in p order; A(i, p) at a[i + p * MR] (packed
  // strip) or, kStrided, at a[i * lda + p].
  template <int H, bool kStrided>
  static NNK_GEMM_INLINE void rank1_updates(int64_t kl, const T* a, int64_t lda, const T* b, V (&acc)[H][NV]) {
#pragma GCC unroll 16
    for (int i = 0; i < H; ++i)
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[i][v] = Tr::zero();
    const T* row[H];
#pragma GCC unroll 16
    for (int i = 0; i < H; ++i) row[i] = a + i * lda;
    for (int64_t p = 0; p < kl; ++p) {
      V bv[NV];
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) bv[v] = Tr::load(b + v * W);
#pragma GCC unroll 16
      for (int i = 0; i < H; ++i) {
        const V ai = Tr::set1(kStrided ? row[i][p] : a[i]);
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v) acc[i][v] = Tr::fma(ai, bv[v], acc[i][v]);
      }
      a += MR;
      b += NR;
    }
  }

  template <int H>
  static NNK_GEMM_INLINE void store_tile(V (&acc)[H][NV], T* c, int64_t ldc, int n, T alpha, bool accumulate,
                                         const T* bias) {
    alignas(64) T tmp[H * NR];
    T* d = c;
    int64_t ld = ldc;
    if (n < NR) {  // edge tile: work on a full-width copy, write back the n valid columns
      d = tmp;
      ld = NR;
      if (accumulate)
        for (int i = 0; i < H; ++i) std::memcpy(tmp + i * NR, c + i * ldc, sizeof(T) * size_t(n));
    }
#pragma GCC unroll 16
    for (int i = 0; i < H; ++i) {
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) {
        V x = acc[i][v];
        if (alpha != T(1)) x = Tr::mul(x, Tr::set1(alpha));
        if (bias) x = Tr::add(x, Tr::set1(bias[i]));
        if (accumulate) x = Tr::add(Tr::load(d + i * ld + v * W), x);
        Tr::store(d + i * ld + v * W, x);
      }
    }
    if (n < NR)
      for (int i = 0; i < H; ++i) std::memcpy(c + i * ldc, tmp + i * NR, sizeof(T) * size_t(n));
  }

  // kernel(h) / strided_kernel(h) compute an h-row tile (h = 1..MR): constant tables of the instances.
  using StridedKernel = void (*)(int64_t, const T*, int64_t, const T*, T*, int64_t, int, bool);
  struct KernelTable {
    Kernel k[MR + 1];
    StridedKernel s[MR + 1];
  };
  template <int H>
  static constexpr void fill(KernelTable& t) {
    if constexpr (H > 0) {
      t.k[H] = &micro<H>;
      t.s[H] = &micro_strided_a<H>;
      fill<H - 1>(t);
    }
  }
  static constexpr KernelTable make_table() {
    KernelTable t{};
    fill<MR>(t);
    return t;
  }
  static constexpr KernelTable kTable = make_table();
  static Kernel kernel(int h) { return kTable.k[h]; }
  static StridedKernel strided_kernel(int h) { return kTable.s[h]; }

  // Rows [i0, i0+mb) x K block [k0, k0+kl) of op(A) into balanced strips (see the layout).
  static void pack_a_block(bool ta, const T* a, int64_t lda, int64_t i0, int64_t mb, int64_t k0, int64_t kl,
                           T* dst) {
    const int64_t ns = m_strips(mb, MR);
    for (int64_t s = 0; s < ns; ++s, dst += kl * MR) {
      const int64_t r0 = i0 + strip_row(mb, ns, s), h = i0 + strip_row(mb, ns, s + 1) - r0;
      if (ta) {  // op(A) = A^T: rows of A hold k, columns the strip's rows
        for (int64_t p = 0; p < kl; ++p) {
          const T* src = a + (k0 + p) * lda + r0;
          T* d = dst + p * MR;
          for (int64_t i = 0; i < h; ++i) d[i] = src[i];
          for (int64_t i = h; i < MR; ++i) d[i] = T(0);
        }
      } else {
        for (int64_t i = 0; i < h; ++i) {
          const T* src = a + (r0 + i) * lda + k0;
          for (int64_t p = 0; p < kl; ++p) dst[p * MR + i] = src[p];
        }
        for (int64_t i = h; i < MR; ++i)
          for (int64_t p = 0; p < kl; ++p) dst[p * MR + i] = T(0);
      }
    }
  }

  // Columns [j0, j0+nb) x K block [k0, k0+kl) of op(B) into NR-wide strips.
  static void pack_b_block(bool tb, const T* b, int64_t ldb, int64_t k0, int64_t kl, int64_t j0, int64_t nb,
                           T* dst) {
    for (int64_t js = 0; js < nb; js += NR, dst += kl * NR) {
      const int64_t w = imin(NR, nb - js);
      if (!tb && w == NR) {
        for (int64_t p = 0; p < kl; ++p) std::memcpy(dst + p * NR, b + (k0 + p) * ldb + j0 + js, sizeof(T) * NR);
      } else if (!tb) {
        for (int64_t p = 0; p < kl; ++p) {
          const T* src = b + (k0 + p) * ldb + j0 + js;
          T* d = dst + p * NR;
          for (int64_t j = 0; j < w; ++j) d[j] = src[j];
          for (int64_t j = w; j < NR; ++j) d[j] = T(0);
        }
      } else {  // op(B) = B^T: row j0+js+j of B holds column j
        for (int64_t j = 0; j < w; ++j) {
          const T* src = b + (j0 + js + j) * ldb + k0;
          for (int64_t p = 0; p < kl; ++p) dst[p * NR + j] = src[p];
        }
        for (int64_t j = w; j < NR; ++j)
          for (int64_t p = 0; p < kl; ++p) dst[p * NR + j] = T(0);
      }
    }
  }

  // C (m x n) [+]= alpha * A_block . B_block for one K block: A packed (m rows, balanced
  // strips), B packed (n columns). The A micro-panel stays in L1 while B streams.
  static void macro(const T* ap, int64_t m, int64_t kl, const T* bp, int64_t n, T* c, int64_t ldc, T alpha,
                    bool accumulate, const T* bias) {
    const int64_t ns = m_strips(m, MR);
    for (int64_t s = 0; s < ns; ++s) {
      const int64_t r0 = strip_row(m, ns, s), h = strip_row(m, ns, s + 1) - r0;
      const Kernel kern = kernel(int(h));
      const T* as = ap + s * kl * MR;
      for (int64_t j = 0; j < n; j += NR)
        kern(kl, as, bp + j * kl, c + r0 * ldc + j, ldc, int(imin(NR, n - j)), alpha, accumulate,
             bias ? bias + r0 : nullptr);
    }
  }

  // C = beta * C without reading C when beta == 0 (BLAS semantics: NaN in C is dropped).
  static void scale_c(int64_t m, int64_t n, T beta, T* c, int64_t ldc) {
    for (int64_t i = 0; i < m; ++i) {
      T* row = c + i * ldc;
      if (beta == T(0))
        for (int64_t j = 0; j < n; ++j) row[j] = T(0);
      else
        for (int64_t j = 0; j < n; ++j) row[j] *= beta;
    }
  }

  // The BLAS edge cases, shared by both drivers: nothing to do for an empty C; C = beta * C
  // when A . B contributes nothing; else C is pre-scaled for beta other than 0 and 1 (the
  // macro-kernel then accumulates). Returns whether the product still has to be computed.
  static bool prologue(int64_t m, int64_t n, int64_t k, T alpha, T beta, T* c, int64_t ldc) {
    if (m <= 0 || n <= 0) return false;
    if (k <= 0 || alpha == T(0)) {
      scale_c(m, n, beta, c, ldc);
      return false;
    }
    if (beta != T(0) && beta != T(1)) scale_c(m, n, beta, c, ldc);
    return true;
  }

  static constexpr int64_t nc_pad() { return ceil_div(Tr::NC, NR) * NR; }
  static constexpr int64_t mc_pad() { return ceil_div(Tr::MC, MR) * MR; }
  static constexpr int64_t work_b() { return int64_t(Tr::KC) * nc_pad(); }
  static constexpr int64_t work_gemm() { return work_b() + mc_pad() * Tr::KC; }

  // General single-threaded GEMM: work holds work_b() + mc_pad()*KC elements.
  static void gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda,
                   const T* b, int64_t ldb, T beta, T* c, int64_t ldc, T* work) {
    if (!prologue(m, n, k, alpha, beta, c, ldc)) return;
    T* bp = work;
    T* ap = work + work_b();
    const int64_t kb = k_blocks(k, Tr::KC);
    for (int64_t jc = 0; jc < n; jc += Tr::NC) {
      const int64_t nb = imin(Tr::NC, n - jc);
      for (int64_t q = 0; q < kb; ++q) {
        int64_t k0, kl;
        k_block(k, Tr::KC, q, k0, kl);
        pack_b_block(tb, b, ldb, k0, kl, jc, nb, bp);
        for (int64_t ic = 0; ic < m; ic += Tr::MC) {
          const int64_t mb = imin(Tr::MC, m - ic);
          pack_a_block(ta, a, lda, ic, mb, k0, kl, ap);
          macro(ap, mb, kl, bp, nb, c + ic * ldc + jc, ldc, alpha, beta != T(0) || q > 0, nullptr);
        }
      }
    }
  }

  // The whole op(A) (m x k) packed: K blocks of KC, each all M strips (size ns*MR*k).
  static void pack_a(bool ta, int64_t m, int64_t k, const T* a, int64_t lda, T* dst) {
    const int64_t ns = m_strips(m, MR), kb = k_blocks(k, Tr::KC);
    for (int64_t q = 0; q < kb; ++q) {
      int64_t k0, kl;
      k_block(k, Tr::KC, q, k0, kl);
      pack_a_block(ta, a, lda, 0, m, k0, kl, dst + k0 * ns * MR);
    }
  }

  // C = alpha * A . op(B) + beta * C with A packed by pack_a; work holds work_b() elements.
  static void packed(const T* ap, int64_t m, int64_t k, bool tb, int64_t n, const T* b, int64_t ldb, T alpha,
                     T beta, T* c, int64_t ldc, T* work) {
    if (!prologue(m, n, k, alpha, beta, c, ldc)) return;
    const int64_t ns = m_strips(m, MR), kb = k_blocks(k, Tr::KC);
    for (int64_t jc = 0; jc < n; jc += Tr::NC) {
      const int64_t nb = imin(Tr::NC, n - jc);
      for (int64_t q = 0; q < kb; ++q) {
        int64_t k0, kl;
        k_block(k, Tr::KC, q, k0, kl);
        pack_b_block(tb, b, ldb, k0, kl, jc, nb, work);
        macro(ap + k0 * ns * MR, m, kl, work, nb, c + jc, ldc, alpha, beta != T(0) || q > 0, nullptr);
      }
    }
  }

  // The whole op(B) (k x n) packed: K blocks of KC, each all N strips (size k * n_pad).
  static void pack_b(bool tb, int64_t k, int64_t n, const T* b, int64_t ldb, T* dst) {
    const int64_t kb = k_blocks(k, Tr::KCS), n_pad = ceil_div(n, NR) * NR;
    for (int64_t q = 0; q < kb; ++q) {
      int64_t k0, kl;
      k_block(k, Tr::KCS, q, k0, kl);
      pack_b_block(tb, b, ldb, k0, kl, 0, n, dst + k0 * n_pad);
    }
  }

  // Where row kk of a packed (k x n) B lies: element (kk, nn) at offset + (nn / NR) * strip + nn % NR.
  static void packed_b_row(int64_t k, int64_t n, int64_t kk, int64_t* offset, int64_t* strip) {
    const int64_t n_pad = ceil_div(n, NR) * NR, len = ceil_div(k, k_blocks(k, Tr::KCS));
    int64_t k0, kl;
    k_block(k, Tr::KCS, kk / len, k0, kl);
    *offset = k0 * n_pad + (kk - k0) * NR;
    *strip = kl * NR;
  }

  // C (m x n) [+]= A . B with A (m x k) row-major read in place and B packed by pack_b. Per K
  // block, each A strip stays in L1 while the B strips stream from L2.
  static void strided_a(int64_t m, int64_t k, const T* a, int64_t lda, const T* bp, int64_t n, T* c, int64_t ldc,
                        bool accumulate) {
    if (m <= 0 || n <= 0) return;
    if (k <= 0) {
      if (!accumulate) scale_c(m, n, T(0), c, ldc);
      return;
    }
    const int64_t ns = m_strips(m, MR), kb = k_blocks(k, Tr::KCS), n_pad = ceil_div(n, NR) * NR;
    for (int64_t q = 0; q < kb; ++q) {
      int64_t k0, kl;
      k_block(k, Tr::KCS, q, k0, kl);
      const T* bq = bp + k0 * n_pad;
      for (int64_t s = 0; s < ns; ++s) {
        const int64_t r0 = strip_row(m, ns, s), h = strip_row(m, ns, s + 1) - r0;
        const StridedKernel kern = strided_kernel(int(h));
        for (int64_t j = 0; j < n; j += NR)
          kern(kl, a + r0 * lda + k0, lda, bq + j * kl, c + r0 * ldc + j, ldc, int(imin(NR, n - j)),
               accumulate || q > 0);
      }
    }
  }

  static constexpr GemmOps<T> ops() {
    return {MR, NR, Tr::KC, Tr::MC, Tr::NC, work_gemm(), work_b(), &gemm, &pack_a, &packed, &pack_b, &strided_a, &packed_b_row};
  }
};

}  // namespace
}  // namespace nnk
