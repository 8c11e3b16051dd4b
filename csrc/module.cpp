// nnkern._core: the pybind11 module. Binding code only: checks, allocation, GIL release.
#include <pybind11/pybind11.h>

namespace py = pybind11;

// One binder per csrc/bind_<family>.cpp.
void bind_info(py::module_&), bind_conv2d(py::module_&), bind_conv2d_algo(py::module_&),
    bind_conv2d_winograd(py::module_&), bind_optim(py::module_&), bind_pool2d(py::module_&),
    bind_batch_norm(py::module_&), bind_activation(py::module_&), bind_dropout(py::module_&), bind_affine(py::module_&),
    bind_softmax_cross_entropy(py::module_&), bind_local_response_norm(py::module_&), bind_gemm(py::module_&),
    bind_thread_pool(py::module_&);

PYBIND11_MODULE(_core, m) {
  m.doc() = "nnkern native kernels (C++17, GEMM from scipy-openblas32).";
  for (auto bind : {bind_info, bind_conv2d, bind_conv2d_algo, bind_conv2d_winograd, bind_optim, bind_pool2d,
                    bind_batch_norm, bind_activation, bind_dropout, bind_affine, bind_softmax_cross_entropy,
                    bind_local_response_norm, bind_gemm, bind_thread_pool})
    bind(m);
}
