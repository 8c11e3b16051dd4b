// Bindings of relu / sigmoid / tanh / softmax, forward and backward.
#include <string>
#include <utility>
#include "activation.h"
#include "checks.h"

namespace py = pybind11;
using namespace nnk_py;

namespace {

// y = kernel(x), elementwise, any shape; kernel(x, y, n) is a kernel template of nnk.
template <class K>
py::array unary(const char* fn, const py::array& x, K kernel) {
  const auto dt = float_dtype(fn, "x", x);
  const int64_t n = numel_of(fn, x);
  require_contiguous(fn, "x", x);
  return float_output(dt, shape_of(x), [&](auto* y) { kernel(data_of<elem_t<decltype(y)>>(x), y, n); });
}

// gx = kernel(grad_out, a) elementwise; a is x or y (named a_name), grad_out has its shape.
template <class K>
py::array binary(const char* fn, const py::array& gy, const char* a_name, const py::array& a, K kernel) {
  const auto dt = float_dtype(fn, a_name, a);
  float_dtype(fn, "grad_out", gy);
  same_dtype(fn, "grad_out", gy, a_name, a);
  require_shape(fn, "grad_out", gy, shape_of(a));
  const int64_t n = numel_of(fn, a);
  require_contiguous(fn, "grad_out", gy);
  require_contiguous(fn, a_name, a);
  return float_output(dt, shape_of(a), [&](auto* gx) {
    using T = elem_t<decltype(gx)>;
    kernel(data_of<T>(gy), data_of<T>(a), gx, n);
  });
}

// (outer, k, inner) view of a around `axis` (negative counts from the end).
struct AxisSplit {
  int64_t outer = 1, k = 1, inner = 1;
};

AxisSplit split_axis(const char* fn, const py::array& x, int64_t axis) {
  const int64_t nd = x.ndim();
  if (nd == 0) throw py::value_error(std::string(fn) + ": x must have at least 1 dimension, got a 0-D array");
  if (axis < -nd || axis >= nd)
    throw py::value_error(std::string(fn) + ": axis " + std::to_string(axis) + " is out of range for a " +
                          std::to_string(nd) + "-D array");
  if (axis < 0) axis += nd;
  AxisSplit s;
  for (int64_t i = 0; i < nd; ++i) {
    const int64_t d = x.shape(i);
    if (i < axis) s.outer = checked_numel(fn, {s.outer, d});
    else if (i == axis) s.k = d;
    else s.inner = checked_numel(fn, {s.inner, d});
  }
  checked_numel(fn, {s.outer, s.k, s.inner});
  return s;
}

py::array softmax_forward(const py::array& x, int64_t axis) {
  const char* fn = "softmax_forward";
  const auto dt = float_dtype(fn, "x", x);
  const auto s = split_axis(fn, x, axis);
  require_contiguous(fn, "x", x);
  return float_output(dt, shape_of(x), [&](auto* y) {
    using T = elem_t<decltype(y)>;
    if (s.outer * s.k * s.inner > 0) nnk::softmax_forward<T>(data_of<T>(x), y, s.outer, s.k, s.inner);
  });
}

py::array softmax_backward(const py::array& gy, const py::array& y, int64_t axis) {
  const char* fn = "softmax_backward";
  const auto dt = float_dtype(fn, "y", y);
  float_dtype(fn, "grad_out", gy);
  same_dtype(fn, "grad_out", gy, "y", y);
  const auto s = split_axis(fn, y, axis);
  require_shape(fn, "grad_out", gy, shape_of(y));
  require_contiguous(fn, "grad_out", gy);
  require_contiguous(fn, "y", y);
  return float_output(dt, shape_of(y), [&](auto* gx) {
    using T = elem_t<decltype(gx)>;
    if (s.outer * s.k * s.inner > 0) nnk::softmax_backward<T>(data_of<T>(gy), data_of<T>(y), gx, s.outer, s.k, s.inner);
  });
}

// <op>_forward(x) and <op>_backward(grad_out, saved) of an elementwise activation (saved: "x"
// or "y", the forward input or output its gradient reads).
template <class Fwd, class Bwd>
void def_elementwise(py::module_& m, const char* op, const char* saved, Fwd fwd, Bwd bwd, const char* fwd_doc,
                     const char* bwd_doc) {
  const std::string forward = std::string(op) + "_forward", backward = std::string(op) + "_backward";
  m.def(forward.c_str(), [forward, fwd](const py::array& x) { return unary(forward.c_str(), x, fwd); }, py::arg("x"),
        fwd_doc);
  m.def(backward.c_str(), [backward, saved, bwd](const py::array& gy, const py::array& a) {
    return binary(backward.c_str(), gy, saved, a, bwd);
  }, py::arg("grad_out"), py::arg(saved), bwd_doc);
}

// A kernel template of nnk as a generic lambda, instantiated for each dtype by unary/binary.
#define NNK_KERNEL(f) [](auto... args) { f(args...); }

}  // namespace

// relu_forward, relu_backward, sigmoid_forward, sigmoid_backward, tanh_forward, tanh_backward,
// softmax_forward, softmax_backward.
void bind_activation(py::module_& m) {
  def_elementwise(m, "relu", "x", NNK_KERNEL(nnk::relu_forward), NNK_KERNEL(nnk::relu_backward),
                  "y = max(x, 0), elementwise (NaN propagates).", "grad_x = grad_out where x > 0, else 0.");
  def_elementwise(m, "sigmoid", "y", NNK_KERNEL(nnk::sigmoid_forward), NNK_KERNEL(nnk::sigmoid_backward),
                  "y = 1 / (1 + exp(-x)), elementwise.", "grad_x = grad_out * y * (1 - y), from the forward output y.");
  def_elementwise(m, "tanh", "y", NNK_KERNEL(nnk::tanh_forward), NNK_KERNEL(nnk::tanh_backward),
                  "y = tanh(x), elementwise.", "grad_x = grad_out * (1 - y^2), from the forward output y.");
  m.def("softmax_forward", &softmax_forward, py::arg("x"), py::arg("axis") = -1,
        "y = exp(x - max) / sum(exp(x - max)) along axis.");
  m.def("softmax_backward", &softmax_backward, py::arg("grad_out"), py::arg("y"), py::arg("axis") = -1,
        "grad_x = y * (grad_out - sum(grad_out * y, axis)), from the forward output y.");
}
