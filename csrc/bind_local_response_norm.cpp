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
  if (!(k > 0.0) || !std::isfinite(k)) throw py::value_error(std::string(fn) + ": k must be finite and > 0");
  if (!std::isfinite(alpha) || alpha < 0.0) throw py::value_error(std::string(fn) + ": alpha must be finite and >= 0");
  if (!std::isfinite(beta)) throw py::value_error(std::string(fn) + ": beta must be finite");
  require_contiguous(fn, "x", x);
  return nnk::LrnShape{x.shape(0), x.shape(1), x.shape(2) * x.shape(3)};
}


template <class T>
py::array forward_t(const py::array& x, const nnk::LrnShape& s, const nnk::LrnParams& p) {
  auto y = new_array<T>(shape_of(x));
  T* yp = y.mutable_data();
  {
    py::gil_scoped_release release;
    nnk::local_response_norm_forward<T>(data_of<T>(x), yp, s, p);
  }
  return std::move(y);
}

py::array local_response_norm_forward(const py::array& x, int64_t size, double alpha, double beta, double k,
                                      bool alpha_over_size) {
  const char* fn = "local_response_norm_forward";
  auto s = lrn_shape(fn, x, size, alpha, beta, k);
  nnk::LrnParams p{size, alpha, beta, k, alpha_over_size};
  if (float_dtype(fn, "x", x) == DType::f32) return forward_t<float>(x, s, p);
  return forward_t<double>(x, s, p);
}

template <class T>
py::array backward_t(const py::array& gy, const py::array& x, const nnk::LrnShape& s, const nnk::LrnParams& p) {
  auto gx = new_array<T>(shape_of(x));
  T* gp = gx.mutable_data();
  {
    py::gil_scoped_release release;
    nnk::local_response_norm_backward<T>(data_of<T>(gy), data_of<T>(x), gp, s, p);
  }
  return std::move(gx);
}

py::array local_response_norm_backward(const py::array& gy, const py::array& x, int64_t size, double alpha, double beta,
                                       double k, bool alpha_over_size) {
  const char* fn = "local_response_norm_backward";
  auto s = lrn_shape(fn, x, size, alpha, beta, k);
  same_dtype(fn, "grad_out", gy, "x", x);
  require_shape(fn, "grad_out", gy, shape_of(x));
  require_contiguous(fn, "grad_out", gy);
  nnk::LrnParams p{size, alpha, beta, k, alpha_over_size};
  if (float_dtype(fn, "x", x) == DType::f32) return backward_t<float>(gy, x, s, p);
  return backward_t<double>(gy, x, s, p);
}

}  // namespace

void bind_local_response_norm(py::module_& m) {
  m.def("local_response_norm_forward", &local_response_norm_forward, py::arg("x"), py::arg("size") = 5,
        py::arg("alpha") = 1e-4, py::arg("beta") = 0.75, py::arg("k") = 2.0, py::arg("alpha_over_size") = true,
        "y = x * (k + a * window sum of x^2 across channels)^(-beta) for x (N, C, H, W); a = alpha/size "
        "when alpha_over_size (torch), else alpha (Krizhevsky et al. 2012).");
  m.def("local_response_norm_backward", &local_response_norm_backward, py::arg("grad_out"), py::arg("x"),
        py::arg("size") = 5, py::arg("alpha") = 1e-4, py::arg("beta") = 0.75, py::arg("k") = 2.0, py::arg("alpha_over_size") = true,
        "grad_x of local_response_norm_forward for grad_out (N, C, H, W).");
}
