// Bindings of local_response_norm_forward / local_response_norm_backward.
#include <cmath>
#include "checks.h"
#include "local_response_norm.h"

namespace py = pybind11;
using namespace nnk_py;

namespace {

nnk::LrnShape lrn_shape(const char* fn, const py::array& x, int64_t size, double alpha, double beta, double k) {
  float_dtype(fn, "x", x);
  require_ndim(fn, "x", x, 4, "(N, C, H, W)");
  checked_numel(fn, {x.shape(0), x.shape(1), x.shape(2), x.shape(3)});
  if (size < 1) throw py::value_error(std::string(fn) + ": size must be >= 1, got " + std::to_string(size));
  require_param(fn, "size", size, 1);
  if (!(k > 0.0) || !std::isfinite(k)) throw py::value_error(std::string(fn) + ": k must be finite and > 0");
  if (!std::isfinite(alpha) || alpha < 0.0) throw py::value_error(std::string(fn) + ": alpha must be finite and >= 0");
  if (!std::isfinite(beta)) throw py::value_error(std::string(fn) + ": beta must be finite");
  require_contiguous(fn, "x", x);
  return nnk::LrnShape{x.shape(0), x.shape(1), x.shape(2) * x.shape(3)};
}

py::array local_response_norm_forward(const py::array& x, int64_t size, double alpha, double beta, double k,
                                      bool alpha_over_size) {
  const char* fn = "local_response_norm_forward";
  const auto s = lrn_shape(fn, x, size, alpha, beta, k);
  const nnk::LrnParams p{size, alpha, beta, k, alpha_over_size};
  return float_output(float_dtype(fn, "x", x), shape_of(x), [&](auto* y) {
    nnk::local_response_norm_forward(data_of<elem_t<decltype(y)>>(x), y, s, p);
  });
}

py::array local_response_norm_backward(const py::array& gy, const py::array& x, int64_t size, double alpha, double beta,
                                       double k, bool alpha_over_size) {
  const char* fn = "local_response_norm_backward";
  const auto s = lrn_shape(fn, x, size, alpha, beta, k);
  same_dtype(fn, "grad_out", gy, "x", x);
  require_shape(fn, "grad_out", gy, shape_of(x));
  require_contiguous(fn, "grad_out", gy);
  const nnk::LrnParams p{size, alpha, beta, k, alpha_over_size};
  return float_output(float_dtype(fn, "x", x), shape_of(x), [&](auto* gx) {
    using T = elem_t<decltype(gx)>;
    nnk::local_response_norm_backward<T>(data_of<T>(gy), data_of<T>(x), gx, s, p);
  });
}

}  // namespace

void bind_local_response_norm(py::module_& m) {
  m.def("local_response_norm_forward", &local_response_norm_forward, py::arg("x"), py::arg("size") = 5,
        py::arg("alpha") = 1e-4, py::arg("beta") = 0.75, py::arg("k") = 2.0, py::arg("alpha_over_size") = true,
        "y = x * (k + a * window sum of x^2 across channels)^(-beta) for x (N, C, H, W); a = alpha/size "
        "when alpha_over_size (torch), else alpha (Krizhevsky et al. 2012).");
  m.def("local_response_norm_backward", &local_response_norm_backward, py::arg("grad_out"), py::arg("x"),
        py::arg("size") = 5, py::arg("alpha") = 1e-4, py::arg("beta") = 0.75, py::arg("k") = 2.0,
        py::arg("alpha_over_size") = true,
        "grad_x of local_response_norm_forward for grad_out (N, C, H, W).");
}
