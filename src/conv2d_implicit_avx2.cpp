// Implicit-GEMM convolution work items for AVX2 + FMA: conv2d_implicit_kernels.h
// instantiated with this unit's flags (CMakeLists.txt). Only the constexpr tables below have
// external linkage; conv2d_implicit.cpp calls through them after the CPU check of gemm.cpp.
#include "conv2d_implicit_kernels.h"

#if !defined(__AVX2__)
#error "src/conv2d_implicit_avx2.cpp must be compiled with its ISA flags (see CMakeLists.txt)"
#endif

namespace nnk {

constexpr ImplicitOps<float> kImplicitAvx2F32 = Implicit<Avx2F32>::ops();
constexpr ImplicitOps<double> kImplicitAvx2F64 = Implicit<Avx2F64>::ops();

}  // namespace nnk
