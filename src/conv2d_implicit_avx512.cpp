// Implicit-GEMM convolution work items for AVX-512 (F, DQ, BW, VL) + FMA: conv2d_implicit_kernels.h
// instantiated with this unit's flags (CMakeLists.txt). Only the constexpr tables below have
// external linkage; conv2d_implicit.cpp calls through them after the CPU check of gemm.cpp.
#include "conv2d_implicit_kernels.h"

#if !defined(__AVX512F__)
#error "src/conv2d_implicit_avx512.cpp must be compiled with its ISA flags (see CMakeLists.txt)"
#endif

namespace nnk {

constexpr ImplicitOps<float> kImplicitAvx512F32 = Implicit<Avx512F32>::ops();
constexpr ImplicitOps<double> kImplicitAvx512F64 = Implicit<Avx512F64>::ops();

}  // namespace nnk
