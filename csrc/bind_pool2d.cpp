// Bindings of max_pool2d_forward / max_pool2d_backward / avg_pool2d_forward / avg_pool2d_backward.
#include <limits>
#include <utility>
#include "checks.h"
#include "pool2d.h"

namespace py = pybind11;
using namespace nnk_py;
using Pair = std::pair<int64_t, int64_t>;

namespace {

std::string pair_str(int64_t a, int64_t b) { return "(" + std::to_string(a) + ", " + std::to_string(b) + ")"; }

// Validates the hyper-parameters against the input size (N, C, H, W) and derives the shape.
nnk::Pool2dShape pool_shape(const char* fn, int64_t n, int64_t c, int64_t h, int64_t w, Pair k, Pair stride,
                            Pair pad) {
  const std::string f(fn);
  require_param(fn, "kernel_size", k, 1);
  require_param(fn, "stride", stride, 1);
  require_param(fn, "padding", pad, 0);
  if (2 * pad.first > k.first || 2 * pad.second > k.second)
    throw py::value_error(f + ": padding " + pair_str(pad.first, pad.second) +
                          " must be at most half of kernel_size " + pair_str(k.first, k.second) +
                          " (torch's rule: every window must hold an input element)");
  checked_numel(fn, {n, c, h, w});
  if (h == 0 || w == 0)
    throw py::value_error(f + ": input planes must not be empty, got H=" + std::to_string(h) +
                          ", W=" + std::to_string(w));
  if (k.first > h + 2 * pad.first || k.second > w + 2 * pad.second)
    throw py::value_error(f + ": kernel_size " + pair_str(k.first, k.second) + " is larger than the padded input " +
                          pair_str(h + 2 * pad.first, w + 2 * pad.second));
  if (h * w >= std::numeric_limits<int32_t>::max())
    throw py::value_error(f + ": input planes of 2^31 - 1 elements or more are not supported");
  nnk::Pool2dShape s{n, c, h, w, k.first, k.second, stride.first, stride.second, pad.first, pad.second, 0, 0};
  s.oh = nnk::pool_out_size(h, s.kh, s.sh, s.ph);
  s.ow = nnk::pool_out_size(w, s.kw, s.sw, s.pw);
  return s;
}

nnk::Pool2dShape input_pool_shape(const char* fn, const py::array& x, Pair k, Pair stride, Pair pad) {
  float_dtype(fn, "x", x);
  require_ndim(fn, "x", x, 4, "(N, C, H, W)");
  auto s = pool_shape(fn, x.shape(0), x.shape(1), x.shape(2), x.shape(3), k, stride, pad);
  require_contiguous(fn, "x", x);
  return s;
}

std::vector<int64_t> input_shape4(const char* fn, const std::vector<int64_t>& shape) {
  if (shape.size() != 4)
    throw py::value_error(std::string(fn) + ": input_shape must be (N, C, H, W), got " +
                          std::to_string(shape.size()) + " entries");
  checked_numel(fn, {shape[0], shape[1], shape[2], shape[3]});
  return shape;
}

py::object max_pool2d_forward(const py::array& x, Pair k, Pair stride, Pair pad, bool return_indices) {
  const char* fn = "max_pool2d_forward";
  const auto s = input_pool_shape(fn, x, k, stride, pad);
  return dispatch_float(float_dtype(fn, "x", x), [&](auto t) -> py::object {
    using T = decltype(t);
    auto y = new_array<T>({s.n, s.c, s.oh, s.ow});
    py::object io = py::none();
    int64_t* ip = nullptr;
    if (return_indices) {
      auto a = new_array<int64_t>({s.n, s.c, s.oh, s.ow});
      ip = a.mutable_data();
      io = a;
    }
    T* yp = y.mutable_data();
    {
      KernelSection release;
      nnk::max_pool2d_forward<T>(data_of<T>(x), yp, ip, s);
    }
    if (return_indices) return py::make_tuple(y, io);
    return std::move(y);
  });
}

py::array max_pool2d_backward(const py::array& gy, const py::array& idx, const std::vector<int64_t>& input_shape) {
  const char* fn = "max_pool2d_backward";
  auto dt = float_dtype(fn, "grad_out", gy);
  require_ndim(fn, "grad_out", gy, 4, "(N, C, OH, OW)");
  auto in = input_shape4(fn, input_shape);
  require_dtype<int64_t>(fn, "indices", idx, "int64");
  require_shape(fn, "indices", idx, {gy.shape(0), gy.shape(1), gy.shape(2), gy.shape(3)});
  if (in[0] != gy.shape(0) || in[1] != gy.shape(1))
    throw py::value_error(std::string(fn) + ": input_shape " + pair_str(in[0], in[1]) +
                          " (N, C) does not match grad_out " + shape_str(gy));
  if (in[2] * in[3] == 0 && gy.size() > 0)
    throw py::value_error(std::string(fn) + ": input planes are empty but grad_out is not");
  // every window holds an input element (padding <= kernel/2), so OH <= H + 1 and OW <= W + 1;
  // and the forward's indices are int32 plane offsets
  if (gy.shape(2) > in[2] + 1 || gy.shape(3) > in[3] + 1)
    throw py::value_error(std::string(fn) + ": grad_out " + shape_str(gy) + " cannot come from input planes " +
                          pair_str(in[2], in[3]) + " (a pooling output has at most H + 1 rows and W + 1 columns)");
  if (in[2] * in[3] >= std::numeric_limits<int32_t>::max())
    throw py::value_error(std::string(fn) + ": input planes of 2^31 - 1 elements or more are not supported");
  require_contiguous(fn, "grad_out", gy);
  require_contiguous(fn, "indices", idx);
  const nnk::Pool2dShape s{in[0], in[1], in[2], in[3], 1, 1, 1, 1, 0, 0, gy.shape(2), gy.shape(3)};
  int64_t bad = 0;
  auto gx = float_output(dt, {s.n, s.c, s.h, s.w}, [&](auto* g) {
    bad = nnk::max_pool2d_backward(data_of<elem_t<decltype(g)>>(gy), data_of<int64_t>(idx), g, s);
  });
  if (bad)
    throw py::value_error(std::string(fn) + ": " + std::to_string(bad) + " of the indices lie outside [0, H*W) = [0, " +
                          std::to_string(s.h * s.w) + ")");
  return gx;
}

py::array avg_pool2d_forward(const py::array& x, Pair k, Pair stride, Pair pad, bool include_pad) {
  const char* fn = "avg_pool2d_forward";
  const auto s = input_pool_shape(fn, x, k, stride, pad);
  return float_output(float_dtype(fn, "x", x), {s.n, s.c, s.oh, s.ow}, [&](auto* y) {
    nnk::avg_pool2d_forward(data_of<elem_t<decltype(y)>>(x), y, s, include_pad);
  });
}

py::array avg_pool2d_backward(const py::array& gy, const std::vector<int64_t>& input_shape, Pair k, Pair stride,
                              Pair pad, bool include_pad) {
  const char* fn = "avg_pool2d_backward";
  auto dt = float_dtype(fn, "grad_out", gy);
  require_ndim(fn, "grad_out", gy, 4, "(N, C, OH, OW)");
  auto in = input_shape4(fn, input_shape);
  const auto s = pool_shape(fn, in[0], in[1], in[2], in[3], k, stride, pad);
  require_shape(fn, "grad_out", gy, {s.n, s.c, s.oh, s.ow});
  require_contiguous(fn, "grad_out", gy);
  return float_output(dt, {s.n, s.c, s.h, s.w}, [&](auto* gx) {
    nnk::avg_pool2d_backward(data_of<elem_t<decltype(gx)>>(gy), gx, s, include_pad);
  });
}

}  // namespace

void bind_pool2d(py::module_& m) {
  m.def("max_pool2d_forward", &max_pool2d_forward, py::arg("x"), py::arg("kernel_size"), py::arg("stride"),
        py::arg("padding"), py::arg("return_indices") = false,
        "y (N, C, OH, OW) = max over each window of x (N, C, H, W), padding as -inf; with return_indices, "
        "(y, indices) where indices (int64) is the flat index ih*W + iw of the first maximum in its input plane.");
  m.def("max_pool2d_backward", &max_pool2d_backward, py::arg("grad_out"), py::arg("indices"), py::arg("input_shape"),
        "grad_x (input_shape) = scatter-add of grad_out (N, C, OH, OW) through indices.");
  m.def("avg_pool2d_forward", &avg_pool2d_forward, py::arg("x"), py::arg("kernel_size"), py::arg("stride"),
        py::arg("padding"), py::arg("count_include_pad") = true,
        "y (N, C, OH, OW) = mean over each window of x (N, C, H, W).");
  m.def("avg_pool2d_backward", &avg_pool2d_backward, py::arg("grad_out"), py::arg("input_shape"),
        py::arg("kernel_size"), py::arg("stride"), py::arg("padding"), py::arg("count_include_pad") = true,
        "grad_x (input_shape) of avg_pool2d_forward for grad_out (N, C, OH, OW).");
}
