// Vector traits of nnkern's GEMM, one struct per (ISA, element type): lane count, register
// tile (MR rows x NV vectors of W lanes) and cache blocking (KC, MC, NC), and the handful of
// vector operations the micro-kernels and packers use.
//
// ISA rule: this header is included ONLY by the per-ISA translation units
// (src/*_avx512.cpp, src/*_avx2.cpp, src/*_generic.cpp), each compiled with its own -m flags
// (CMakeLists.txt), and everything in it has internal linkage (anonymous namespace), so no
// AVX-512 instruction can leak into code that runs before the run-time CPU check. Those
// units must not include headers with external-linkage inline functions either (the
// linker could keep their AVX-512 copy), and must have no dynamic initialisers.
#pragma once
#include <cstdint>
#if defined(__SSE2__)
#include <immintrin.h>
#endif

namespace nnk {
namespace {

// Traits with kTranspose also transpose W x W blocks in registers (packing gy^T for grad_weight).
//
// Blocking: the A micro-panel (KC x MR) stays in L1, the packed B block (KC x NC) in L2,
// B micro-panels (KC x NR) stream from L2; MC bounds the packed A block of the general GEMM.
// KCS is the K block of the in-place-A product (gemm_strided_a): only its A strip (MR x KCS) must
// stay in L1 and the packed B block (KCS x n) in L2; AVX-512 float32 384 (alexnet-conv3's 256
// channels in one block, so C is written once instead of written, read and written again).
// AVX-512 figures suit 48 KiB L1d / 2 MiB L2 (Intel Xeon: KC 192 beat 256 and 384 by 5-30% on the
// AlexNet layers, measured; NC 384-640 within noise); AVX2 figures 32 KiB / 512 KiB (Zen 3, not
// measured on one: KC x NC sized to keep the B block near 200 KiB).

// The element-wise operations every traits struct has, from the ISA's intrinsic prefix and
// type suffix (_mm512/_mm256/_mm, ps/pd); the SSE2 baseline has no FMA (a*b+c rounds twice).
#define NNK_SIMD_COMMON(pre, sfx)                                    \
  static V zero() { return pre##_setzero_##sfx(); }                  \
  static V load(const T* p) { return pre##_loadu_##sfx(p); }         \
  static void store(T* p, V v) { pre##_storeu_##sfx(p, v); }         \
  static V set1(T x) { return pre##_set1_##sfx(x); }                 \
  static V add(V a, V b) { return pre##_add_##sfx(a, b); }           \
  static V mul(V a, V b) { return pre##_mul_##sfx(a, b); }           \
  static V or_(V a, V b) { return pre##_or_##sfx(a, b); }
#define NNK_SIMD_OPS(pre, sfx) \
  NNK_SIMD_COMMON(pre, sfx)    \
  static V fma(V a, V b, V c) { return pre##_fmadd_##sfx(a, b, c); }
#define NNK_SIMD_OPS_NOFMA(pre, sfx) \
  NNK_SIMD_COMMON(pre, sfx)          \
  static V fma(V a, V b, V c) { return pre##_add_##sfx(pre##_mul_##sfx(a, b), c); }
// Traits without in-register transposes.
#define NNK_SIMD_NO_TRANSPOSE               \
  static constexpr bool kTranspose = false; \
  static void transpose(V*) {}              \
  static void store_first(T*, V, int) {}

#if defined(__AVX512F__)
struct Avx512F32 {
  using T = float;
  using V = __m512;
  static constexpr int W = 16, MR = 12, NV = 2, KC = 192, MC = 192, NC = 512, KCS = 384;
  NNK_SIMD_OPS(_mm512, ps)
  // lanes [0, 16) where bit l of `mask` is set come from p + l; the others keep r.
  static V load_lanes(V r, uint32_t mask, const T* p) { return _mm512_mask_loadu_ps(r, __mmask16(mask), p); }
  // Zero-masked loads (masked-out lanes are not read: no fault), OR-ed into one vector.
  using M = __mmask16;
  static M mask_of(uint32_t bits) { return M(bits); }
  static V load_z(M m, const T* p) { return _mm512_maskz_loadu_ps(m, p); }
  static T sum(V v) { return _mm512_reduce_add_ps(v); }
  // r[i][l] -> r[l][i] for a W x W block: four butterfly stages, stage s swapping bit s of the
  // row index with bit s of the lane index (two-source permutes).
  static constexpr bool kTranspose = true;
  struct Perm {
    alignas(64) int32_t lo[4][16], hi[4][16];
  };
  static constexpr Perm perm() {
    Perm p{};
    for (int b = 0; b < 4; ++b)
      for (int l = 0, s = 1 << b; l < 16; ++l) {
        p.lo[b][l] = (l & s) ? 16 + (l ^ s) : l;
        p.hi[b][l] = (l & s) ? 16 + l : (l | s);
      }
    return p;
  }
  static void transpose(V* r) {
    static constexpr Perm kPerm = perm();
#pragma GCC unroll 4
    for (int b = 0; b < 4; ++b) {
      const int s = 1 << b;
      const __m512i ilo = _mm512_load_si512(kPerm.lo[b]), ihi = _mm512_load_si512(kPerm.hi[b]);
#pragma GCC unroll 16
      for (int i = 0; i < W; ++i)
        if (!(i & s)) {
          const V a = r[i], c = r[i | s];
          r[i] = _mm512_permutex2var_ps(a, ilo, c);
          r[i | s] = _mm512_permutex2var_ps(a, ihi, c);
        }
    }
  }
  static void store_first(T* p, V v, int n) { _mm512_mask_storeu_ps(p, __mmask16((1u << n) - 1), v); }
};
struct Avx512F64 {
  using T = double;
  using V = __m512d;
  static constexpr int W = 8, MR = 12, NV = 2, KC = 128, MC = 192, NC = 384, KCS = 192;
  NNK_SIMD_OPS(_mm512, pd)
  static V load_lanes(V r, uint32_t mask, const T* p) { return _mm512_mask_loadu_pd(r, __mmask8(mask), p); }
  using M = __mmask8;
  static M mask_of(uint32_t bits) { return M(bits); }
  static V load_z(M m, const T* p) { return _mm512_maskz_loadu_pd(m, p); }
  NNK_SIMD_NO_TRANSPOSE
  static T sum(V v) { return _mm512_reduce_add_pd(v); }
};
#endif

#if defined(__AVX2__) && defined(__FMA__)
inline __m256i avx2_mask32(uint32_t mask) {  // bit l of mask -> lane l all-ones (8 lanes)
  const __m256i bits = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
  return _mm256_cmpeq_epi32(_mm256_and_si256(_mm256_set1_epi32(int(mask)), bits), bits);
}
inline __m256i avx2_mask64(uint32_t mask) {  // bit l of mask -> 64-bit lane l all-ones (4 lanes)
  const __m256i bits = _mm256_setr_epi64x(1, 2, 4, 8);
  return _mm256_cmpeq_epi64(_mm256_and_si256(_mm256_set1_epi64x(int64_t(mask)), bits), bits);
}
struct Avx2F32 {
  using T = float;
  using V = __m256;
  static constexpr int W = 8, MR = 6, NV = 2, KC = 192, MC = 120, NC = 256, KCS = 192;
  NNK_SIMD_OPS(_mm256, ps)
  static V load_lanes(V r, uint32_t mask, const T* p) {
    const __m256i m = avx2_mask32(mask);  // masked-out lanes are not read (no fault)
    return _mm256_blendv_ps(r, _mm256_maskload_ps(p, m), _mm256_castsi256_ps(m));
  }
  using M = __m256i;
  static M mask_of(uint32_t bits) { return avx2_mask32(bits); }
  static V load_z(M m, const T* p) { return _mm256_maskload_ps(p, m); }
  static constexpr bool kTranspose = true;
  static void transpose(V* r) {  // the classic 8 x 8: unpack, shuffle, swap 128-bit halves
    V t[8], u[8];
    for (int i = 0; i < 8; i += 2) {
      t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
      t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 8; i += 4) {
      u[i] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(1, 0, 1, 0));
      u[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(3, 2, 3, 2));
      u[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(1, 0, 1, 0));
      u[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(3, 2, 3, 2));
    }
    for (int i = 0; i < 4; ++i) {
      r[i] = _mm256_permute2f128_ps(u[i], u[i + 4], 0x20);
      r[i + 4] = _mm256_permute2f128_ps(u[i], u[i + 4], 0x31);
    }
  }
  static void store_first(T* p, V v, int n) { _mm256_maskstore_ps(p, avx2_mask32((1u << n) - 1), v); }
  static T sum(V v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
    return _mm_cvtss_f32(s);
  }
};
struct Avx2F64 {
  using T = double;
  using V = __m256d;
  static constexpr int W = 4, MR = 6, NV = 2, KC = 128, MC = 120, NC = 192, KCS = 128;
  NNK_SIMD_OPS(_mm256, pd)
  static V load_lanes(V r, uint32_t mask, const T* p) {
    const __m256i m = avx2_mask64(mask);
    return _mm256_blendv_pd(r, _mm256_maskload_pd(p, m), _mm256_castsi256_pd(m));
  }
  using M = __m256i;
  static M mask_of(uint32_t bits) { return avx2_mask64(bits); }
  static V load_z(M m, const T* p) { return _mm256_maskload_pd(p, m); }
  NNK_SIMD_NO_TRANSPOSE
  static T sum(V v) {
    __m128d s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
    return _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)));
  }
};
#endif

// Portable x86-64 baseline (SSE2, no FMA: a*b+c rounds twice, consistently everywhere).
#if defined(__SSE2__)
// The SSE2 structs' lane operations, through memory (no masked loads before AVX).
template <class S>
struct GenericLanes {
  using T = typename S::T;
  using V = typename S::V;
  static constexpr int W = S::W;
  using M = uint32_t;
  static M mask_of(uint32_t bits) { return bits; }
  static V load_lanes(V r, uint32_t mask, const T* p) {
    alignas(16) T t[W];
    S::store(t, r);
    for (int l = 0; l < W; ++l)
      if (mask >> l & 1u) t[l] = p[l];
    return S::load(t);
  }
  static V load_z(M m, const T* p) { return m == (1u << W) - 1 ? S::load(p) : load_lanes(S::zero(), m, p); }
  static T sum(V v) {  // pairwise: (t0 + t1) + (t2 + t3)
    alignas(16) T t[W];
    S::store(t, v);
    for (int h = W / 2; h >= 1; h /= 2)
      for (int l = 0; l < h; ++l) t[l] = t[2 * l] + t[2 * l + 1];
    return t[0];
  }
};
struct GenericF32Ops {
  using T = float;
  using V = __m128;
  static constexpr int W = 4;
  NNK_SIMD_OPS_NOFMA(_mm, ps)
};
struct GenericF64Ops {
  using T = double;
  using V = __m128d;
  static constexpr int W = 2;
  NNK_SIMD_OPS_NOFMA(_mm, pd)
};
struct GenericF32 : GenericF32Ops, GenericLanes<GenericF32Ops> {
  using T = GenericF32Ops::T;
  using V = GenericF32Ops::V;
  static constexpr int W = GenericF32Ops::W;
  static constexpr int MR = 4, NV = 2, KC = 256, MC = 128, NC = 256, KCS = 256;
  NNK_SIMD_NO_TRANSPOSE
};
struct GenericF64 : GenericF64Ops, GenericLanes<GenericF64Ops> {
  using T = GenericF64Ops::T;
  using V = GenericF64Ops::V;
  static constexpr int W = GenericF64Ops::W;
  static constexpr int MR = 4, NV = 2, KC = 256, MC = 128, NC = 192, KCS = 256;
  NNK_SIMD_NO_TRANSPOSE
};
#endif

}  // namespace
}  // namespace nnk

#undef NNK_SIMD_COMMON
#undef NNK_SIMD_OPS
#undef NNK_SIMD_OPS_NOFMA
#undef NNK_SIMD_NO_TRANSPOSE
