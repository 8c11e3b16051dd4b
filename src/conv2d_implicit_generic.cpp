// Implicit-GEMM convolution work items for the x86-64 baseline (SSE2): conv2d_implicit_kernels.h
// instantiated with this unit's flags (CMakeLists.txt). Only the constexpr tables below have
// external linkage; conv2d_implicit.cpp calls through them after the CPU check of gemm.cpp.
#include "conv2d_implicit_kernels.h"

#if !defined(__SSE2__)
#error "src/conv2d_implicit_generic.cpp must be compiled with its ISA flags (see CMakeLists.txt)"
#endif

namespace nnk {

constexpr ImplicitOps<float> kImplicitGenericF32 = Implicit<GenericF32>::ops();
constexpr ImplicitOps<double> kImplicitGenericF64 = Implicit<GenericF64>::ops();

}  // namespace nnk
