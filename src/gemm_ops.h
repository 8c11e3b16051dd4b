// The table of entry points one ISA translation unit (src/gemm_<isa>.cpp) exports to the
// baseline dispatcher (src/gemm.cpp). Plain data: constant-initialised in the ISA unit, so
// nothing ISA-specific runs before the CPU check. Only declarations here (no inline code).
#pragma once
#include <cstdint>

namespace nnk {

template <class T>
struct GemmOps {
  int mr, nr, kc, mc, nc;  // register tile and cache blocking of this ISA (see gemm_simd.h)
  int64_t work_gemm, work_packed;  // elements of `work` that gemm / packed need
  // See gemm.h (gemm_nnk, gemm_pack_a, gemm_packed_a) for the contracts.
  void (*gemm)(bool ta, bool tb, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda, const T* b,
               int64_t ldb, T beta, T* c, int64_t ldc, T* work);
  void (*pack_a)(bool ta, int64_t m, int64_t k, const T* a, int64_t lda, T* packed);
  void (*packed)(const T* packed, int64_t m, int64_t k, bool tb, int64_t n, const T* b, int64_t ldb, T alpha,
                 T beta, T* c, int64_t ldc, T* work);
  void (*pack_b)(bool tb, int64_t k, int64_t n, const T* b, int64_t ldb, T* packed);
  void (*strided_a)(int64_t m, int64_t k, const T* a, int64_t lda, const T* packed_b, int64_t n, T* c,
                    int64_t ldc, bool accumulate);
  void (*packed_b_row)(int64_t k, int64_t n, int64_t kk, int64_t* offset, int64_t* strip);
};

extern const GemmOps<float> kGemmAvx512F32;
extern const GemmOps<double> kGemmAvx512F64;
extern const GemmOps<float> kGemmAvx2F32;
extern const GemmOps<double> kGemmAvx2F64;
extern const GemmOps<float> kGemmGenericF32;
extern const GemmOps<double> kGemmGenericF64;

}  // namespace nnk
