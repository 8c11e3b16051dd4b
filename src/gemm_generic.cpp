// nnkern's GEMM for the x86-64 baseline (SSE2): the templates of gemm_kernels.h instantiated with this
// unit's flags (CMakeLists.txt). Only the constexpr tables below have external linkage;
// src/gemm.cpp calls through them after checking the CPU.
#include "gemm_kernels.h"

#if !defined(__SSE2__)
#error "src/gemm_generic.cpp must be compiled with its ISA flags (see CMakeLists.txt)"
#endif

namespace nnk {

constexpr GemmOps<float> kGemmGenericF32 = Gemm<GenericF32>::ops();
constexpr GemmOps<double> kGemmGenericF64 = Gemm<GenericF64>::ops();

}  // namespace nnk
