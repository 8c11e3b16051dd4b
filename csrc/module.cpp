// nnkern._core: the pybind11 module. Binding code only: checks, allocation, GIL release.
#include <pybind11/pybind11.h>

namespace py = pybind11;

void bind_info(py::module_& m);
void bind_conv2d(py::module_& m);
void bind_conv2d_algo(py::module_& m);
void bind_conv2d_winograd(py::module_& m);
void bind_optim(py::module_& m);
void bind_pool2d(py::module_& m);
void bind_batch_norm(py::module_& m);
void bind_activation(py::module_& m);
void bind_dropout(py::module_& m);
void bind_affine(py::module_& m);
void bind_softmax_cross_entropy(py::module_& m);
void bind_local_response_norm(py::module_& m);
void bind_gemm(py::module_& m);

PYBIND11_MODULE(_core, m) {
  m.doc() = "nnkern native kernels (C++17 + OpenMP, GEMM from scipy-openblas32).";
  bind_info(m);
  bind_conv2d(m);
  bind_conv2d_algo(m);
  bind_conv2d_winograd(m);
  bind_optim(m);
  bind_pool2d(m);
  bind_batch_norm(m);
  bind_activation(m);
  bind_dropout(m);
  bind_affine(m);
  bind_softmax_cross_entropy(m);
  bind_local_response_norm(m);
  bind_gemm(m);
}
