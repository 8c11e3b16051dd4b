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

// Blocking: the A micro-panel (KC x MR) stays in L1, the packed B block (KC x NC) in L2,
// B micro-panels (KC x NR) stream from L2; MC bounds the packed A block of the general GEMM.
// AVX-512 figures suit 48 KiB L1d / 2 MiB L2 (Intel Xeon); AVX2 figures 32 KiB / 512 KiB (Zen 3).

#if defined(__AVX512F__)
struct Avx512F32 {
  using T = float;
  using V = __m512;
  static constexpr int W = 16, MR = 12, NV = 2, KC = 384, MC = 192, NC = 640;
  static V zero() { return _mm512_setzero_ps(); }
  static V load(const T* p) { return _mm512_loadu_ps(p); }
  static void store(T* p, V v) { _mm512_storeu_ps(p, v); }
  static V set1(T x) { return _mm512_set1_ps(x); }
  static V fma(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
  static V add(V a, V b) { return _mm512_add_ps(a, b); }
  static V mul(V a, V b) { return _mm512_mul_ps(a, b); }
  // lanes [0, 16) where bit l of `mask` is set come from p + l; the others keep r.
  static V load_lanes(V r, uint32_t mask, const T* p) { return _mm512_mask_loadu_ps(r, __mmask16(mask), p); }
  static T sum(V v) { return _mm512_reduce_add_ps(v); }
};
struct Avx512F64 {
  using T = double;
  using V = __m512d;
  static constexpr int W = 8, MR = 12, NV = 2, KC = 256, MC = 192, NC = 480;
  static V zero() { return _mm512_setzero_pd(); }
  static V load(const T* p) { return _mm512_loadu_pd(p); }
  static void store(T* p, V v) { _mm512_storeu_pd(p, v); }
  static V set1(T x) { return _mm512_set1_pd(x); }
  static V fma(V a, V b, V c) { return _mm512_fmadd_pd(a, b, c); }
  static V add(V a, V b) { return _mm512_add_pd(a, b); }
  static V mul(V a, V b) { return _mm512_mul_pd(a, b); }
  static V load_lanes(V r, uint32_t mask, const T* p) { return _mm512_mask_loadu_pd(r, __mmask8(mask), p); }
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
  static constexpr int W = 8, MR = 6, NV = 2, KC = 256, MC = 120, NC = 256;
  static V zero() { return _mm256_setzero_ps(); }
  static V load(const T* p) { return _mm256_loadu_ps(p); }
  static void store(T* p, V v) { _mm256_storeu_ps(p, v); }
  static V set1(T x) { return _mm256_set1_ps(x); }
  static V fma(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
  static V add(V a, V b) { return _mm256_add_ps(a, b); }
  static V mul(V a, V b) { return _mm256_mul_ps(a, b); }
  static V load_lanes(V r, uint32_t mask, const T* p) {
    const __m256i m = avx2_mask32(mask);  // masked-out lanes are not read (no fault)
    return _mm256_blendv_ps(r, _mm256_maskload_ps(p, m), _mm256_castsi256_ps(m));
  }
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
  static constexpr int W = 4, MR = 6, NV = 2, KC = 192, MC = 120, NC = 192;
  static V zero() { return _mm256_setzero_pd(); }
  static V load(const T* p) { return _mm256_loadu_pd(p); }
  static void store(T* p, V v) { _mm256_storeu_pd(p, v); }
  static V set1(T x) { return _mm256_set1_pd(x); }
  static V fma(V a, V b, V c) { return _mm256_fmadd_pd(a, b, c); }
  static V add(V a, V b) { return _mm256_add_pd(a, b); }
  static V mul(V a, V b) { return _mm256_mul_pd(a, b); }
  static V load_lanes(V r, uint32_t mask, const T* p) {
    const __m256i m = avx2_mask64(mask);
    return _mm256_blendv_pd(r, _mm256_maskload_pd(p, m), _mm256_castsi256_pd(m));
  }
  static T sum(V v) {
    __m128d s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
    return _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)));
  }
};
#endif

// Portable x86-64 baseline (SSE2, no FMA: a*b+c rounds twice, consistently everywhere).
#if defined(__SSE2__)
struct GenericF32 {
  using T = float;
  using V = __m128;
  static constexpr int W = 4, MR = 4, NV = 2, KC = 256, MC = 128, NC = 256;
  static V zero() { return _mm_setzero_ps(); }
  static V load(const T* p) { return _mm_loadu_ps(p); }
  static void store(T* p, V v) { _mm_storeu_ps(p, v); }
  static V set1(T x) { return _mm_set1_ps(x); }
  static V fma(V a, V b, V c) { return _mm_add_ps(_mm_mul_ps(a, b), c); }
  static V add(V a, V b) { return _mm_add_ps(a, b); }
  static V mul(V a, V b) { return _mm_mul_ps(a, b); }
  static V load_lanes(V r, uint32_t mask, const T* p) {
    alignas(16) T t[4];
    _mm_store_ps(t, r);
    for (int l = 0; l < 4; ++l)
      if (mask >> l & 1u) t[l] = p[l];
    return _mm_load_ps(t);
  }
  static T sum(V v) {
    alignas(16) T t[4];
    _mm_store_ps(t, v);
    return (t[0] + t[1]) + (t[2] + t[3]);
  }
};
struct GenericF64 {
  using T = double;
  using V = __m128d;
  static constexpr int W = 2, MR = 4, NV = 2, KC = 256, MC = 128, NC = 192;
  static V zero() { return _mm_setzero_pd(); }
  static V load(const T* p) { return _mm_loadu_pd(p); }
  static void store(T* p, V v) { _mm_storeu_pd(p, v); }
  static V set1(T x) { return _mm_set1_pd(x); }
  static V fma(V a, V b, V c) { return _mm_add_pd(_mm_mul_pd(a, b), c); }
  static V add(V a, V b) { return _mm_add_pd(a, b); }
  static V mul(V a, V b) { return _mm_mul_pd(a, b); }
  static V load_lanes(V r, uint32_t mask, const T* p) {
    alignas(16) T t[2];
    _mm_store_pd(t, r);
    for (int l = 0; l < 2; ++l)
      if (mask >> l & 1u) t[l] = p[l];
    return _mm_load_pd(t);
  }
  static T sum(V v) {
    alignas(16) T t[2];
    _mm_store_pd(t, v);
    return t[0] + t[1];
  }
};
#endif

}  // namespace
}  // namespace nnk
