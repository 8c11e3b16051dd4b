// Bindings of dropout_forward / dropout_backward.
#include <cmath>
#include <utility>
#include "checks.h"
#include "dropout.h"

namespace py = pybind11;
using namespace nnk_py;

namespace {

void check_p(const char* fn, double p) {
  if (!(p >= 0.0 && p < 1.0))
    throw py::value_error(std::string(fn) + ": p must be in [0, 1), got " + py::str(py::float_(p)).cast<std::string>());
}

// Scale of the kept elements in training (and of grad_x): 1/(1-p) inverted, else 1.
double train_scale(double p, bool inverted) { return inverted ? 1.0 / (1.0 - p) : 1.0; }

py::tuple dropout_forward(const py::array& x, double p, uint64_t seed, bool training, bool inverted) {
  const char* fn = "dropout_forward";
  const auto dt = float_dtype(fn, "x", x);
  check_p(fn, p);
  const int64_t n = numel_of(fn, x);
  require_contiguous(fn, "x", x);
  return dispatch_float(dt, [&](auto t) -> py::tuple {
    using T = decltype(t);
    auto y = new_array<T>(shape_of(x));
    T* yp = y.mutable_data();
    const T* xp = data_of<T>(x);
    if (!training) {
      const T scale = inverted ? T(1) : T(1.0 - p);
      {
        KernelSection release;
        nnk::dropout_scale<T>(xp, yp, n, scale);
      }
      return py::make_tuple(std::move(y), py::none());
    }
    auto mask = new_array<uint8_t>(shape_of(x));
    uint8_t* mp = mask.mutable_data();
    const T scale = T(train_scale(p, inverted));
    const uint64_t thr = nnk::dropout_threshold(p);
    {
      KernelSection release;
      nnk::dropout_forward<T>(xp, yp, mp, n, seed, thr, scale);
    }
    return py::make_tuple(std::move(y), std::move(mask));
  });
}

py::array dropout_backward(const py::array& gy, const py::array& mask, double p, bool inverted) {
  const char* fn = "dropout_backward";
  const auto dt = float_dtype(fn, "grad_out", gy);
  require_dtype<uint8_t>(fn, "mask", mask, "uint8 (the mask returned by dropout_forward)");
  check_p(fn, p);
  require_shape(fn, "mask", mask, shape_of(gy));
  const int64_t n = numel_of(fn, gy);
  require_contiguous(fn, "grad_out", gy);
  require_contiguous(fn, "mask", mask);
  const double scale = train_scale(p, inverted);
  return float_output(dt, shape_of(gy), [&](auto* gx) {
    using T = elem_t<decltype(gx)>;
    nnk::dropout_backward<T>(data_of<T>(gy), static_cast<const uint8_t*>(mask.data()), gx, n, T(scale));
  });
}

}  // namespace

void bind_dropout(py::module_& m) {
  m.def("dropout_forward", &dropout_forward, py::arg("x"), py::arg("p"), py::arg("seed"), py::arg("training") = true,
        py::arg("inverted") = true,
        "(y, mask): training keeps element i iff u_i >= p (u_i from SplitMix64(seed, i), independent of threads); "
        "y = x*mask/(1-p) (inverted) or x*mask. Inference: (x or x*(1-p), None).");
  m.def("dropout_backward", &dropout_backward, py::arg("grad_out"), py::arg("mask"), py::arg("p"),
        py::arg("inverted") = true, "grad_x = grad_out*mask/(1-p) (inverted) or grad_out*mask.");
}
