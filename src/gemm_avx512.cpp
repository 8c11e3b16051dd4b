// nnkern's GEMM for AVX-512 (F, DQ, BW, VL) + FMA: the templates of gemm_kernels.h instantiated with this
// unit's flags (CMakeLists.txt). Only the constexpr tables below have external linkage;
// src/gemm.cpp calls through them after checking the CPU.
#include "gemm_kernels.h"

#if !defined(__AVX512F__)
#error "src/gemm_avx512.cpp must be compiled with its ISA flags (see CMakeLists.txt)"
#endif

namespace nnk {

constexpr GemmOps<float> kGemmAvx512F32 = Gemm<Avx512F32>::ops();
constexpr GemmOps<double> kGemmAvx512F64 = Gemm<Avx512F64>::ops();

}  // namespace nnk
