// Bindings of affine_forward / affine_backward (the book's layout: weight is (in, out)).
#include <climits>
#include <optional>
#include <utility>
#include "affine.h"
#include "checks.h"

namespace py = pybind11;
using namespace nnk_py;

namespace {

struct AffineShape {
  int64_t n, in, out;
};

AffineShape affine_shape(const char* fn, const py::array& x, const py::array& w) {
  float_dtype(fn, "x", x);
  same_dtype(fn, "weight", w, "x", x);
  require_ndim(fn, "x", x, 2, "(N, in) (the functional wrapper flattens (N, ...) input)");
  require_ndim(fn, "weight", w, 2, "(in, out)");
  AffineShape s{x.shape(0), x.shape(1), w.shape(1)};
  if (w.shape(0) != s.in)
    throw py::value_error(std::string(fn) + ": x has " + std::to_string(s.in) + " features per sample but weight " +
                          shape_str(w) + " expects " + std::to_string(w.shape(0)) + " (weight is (in, out))");
  for (int64_t d : {s.n, s.in, s.out})
    if (d >= INT_MAX)
      throw py::value_error(std::string(fn) + ": dimension " + std::to_string(d) + " exceeds the BLAS int limit");
  checked_numel(fn, {s.n, s.in});
  checked_numel(fn, {s.in, s.out});
  checked_numel(fn, {s.n, s.out});
  require_contiguous(fn, "x", x);
  require_contiguous(fn, "weight", w);
  return s;
}

py::array affine_forward(const py::array& x, const py::array& w, const std::optional<py::array>& b) {
  const char* fn = "affine_forward";
  const auto s = affine_shape(fn, x, w);
  if (b) {
    same_dtype(fn, "bias", *b, "x", x);
    require_shape(fn, "bias", *b, {s.out});
    require_contiguous(fn, "bias", *b);
  }
  return float_output(float_dtype(fn, "x", x), {s.n, s.out}, [&](auto* y) {
    using T = elem_t<decltype(y)>;
    nnk::affine_forward<T>(data_of<T>(x), data_of<T>(w), b ? data_of<T>(*b) : nullptr, y, s.n, s.in, s.out);
  });
}

py::tuple affine_backward(const py::array& gy, const py::array& x, const py::array& w, bool need_gx) {
  const char* fn = "affine_backward";
  const auto s = affine_shape(fn, x, w);
  same_dtype(fn, "grad_out", gy, "x", x);
  require_shape(fn, "grad_out", gy, {s.n, s.out});
  require_contiguous(fn, "grad_out", gy);
  return dispatch_float(float_dtype(fn, "x", x), [&](auto t) -> py::tuple {
    using T = decltype(t);
    auto gw = new_array<T>({s.in, s.out});
    auto gb = new_array<T>({s.out});
    py::object gx_o = py::none();
    T* gxp = nullptr;
    if (need_gx) {
      auto a = new_array<T>({s.n, s.in});
      gxp = a.mutable_data();
      gx_o = a;
    }
    T *gwp = gw.mutable_data(), *gbp = gb.mutable_data();
    {
      KernelSection release;
      nnk::affine_backward<T>(data_of<T>(gy), data_of<T>(x), data_of<T>(w), gxp, gwp, gbp, s.n, s.in, s.out);
    }
    return py::make_tuple(gx_o, std::move(gw), std::move(gb));
  });
}

}  // namespace

void bind_affine(py::module_& m) {
  m.def("affine_forward", &affine_forward, py::arg("x"), py::arg("weight"), py::arg("bias").none(true),
        "y (N, out) = x (N, in) @ weight (in, out) + bias (out,); GEMM by OpenBLAS.");
  m.def("affine_backward", &affine_backward, py::arg("grad_out"), py::arg("x"), py::arg("weight"),
        py::arg("need_grad_x") = true,
        "(grad_x (N, in) or None, grad_weight (in, out), grad_bias (out,)) of affine_forward.");
}
