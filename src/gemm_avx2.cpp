// nnkern's GEMM for AVX2 + FMA: the templates of gemm_kernels.h instantiated with this
// unit's flags (CMakeLists.txt). Only the constexpr tables below have external linkage;
// src/gemm.cpp calls through them after checking the CPU.
#include "gemm_kernels.h"

#if !defined(__AVX2__)
#error "src/gemm_avx2.cpp must be compiled with its ISA flags (see CMakeLists.txt)"
#endif

namespace nnk {

constexpr GemmOps<float> kGemmAvx2F32 = Gemm<Avx2F32>::ops();
constexpr GemmOps<double> kGemmAvx2F64 = Gemm<Avx2F64>::ops();

}  // namespace nnk
