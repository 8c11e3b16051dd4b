// Bindings of conv2d_forward / conv2d_backward / im2col / col2im.
#include <optional>
#include <utility>
#include "checks.h"
#include "conv2d.h"

namespace py = pybind11;
using namespace nnk_py;
using Pair = std::pair<int64_t, int64_t>;

namespace {

// Validates x and weight (and hyper-parameters) and derives the full shape.
nnk::Conv2dShape conv_shape(const char* fn, const py::array& x, const py::array& w, Pair stride, Pair pad,
                            Pair dil, int64_t groups) {
  float_dtype(fn, "x", x);
  same_dtype(fn, "weight", w, "x", x);
  require_ndim(fn, "x", x, 4, "(N, C, H, W)");
  require_ndim(fn, "weight", w, 4, "(OC, C/groups, KH, KW)");
  if (stride.first <= 0 || stride.second <= 0) throw py::value_error(std::string(fn) + ": stride must be positive");
  if (dil.first <= 0 || dil.second <= 0) throw py::value_error(std::string(fn) + ": dilation must be positive");
  if (pad.first < 0 || pad.second < 0) throw py::value_error(std::string(fn) + ": padding must be non-negative");
  if (groups <= 0) throw py::value_error(std::string(fn) + ": groups must be positive");
  nnk::Conv2dShape s{x.shape(0), x.shape(1), x.shape(2), x.shape(3), w.shape(0), w.shape(2), w.shape(3),
                     stride.first, stride.second, pad.first, pad.second, dil.first, dil.second, groups, 0, 0};
  if (s.kh <= 0 || s.kw <= 0 || w.shape(1) <= 0 || s.oc <= 0)
    throw py::value_error(std::string(fn) + ": weight has a zero-size dimension " + shape_str(w));
  if (s.c % groups != 0 || s.oc % groups != 0)
    throw py::value_error(std::string(fn) + ": groups=" + std::to_string(groups) + " must divide both C=" +
                          std::to_string(s.c) + " and OC=" + std::to_string(s.oc));
  if (w.shape(1) * groups != s.c)
    throw py::value_error(std::string(fn) + ": x has C=" + std::to_string(s.c) + " channels but weight expects C/groups=" +
                          std::to_string(w.shape(1)) + " with groups=" + std::to_string(groups));
  checked_numel(fn, {s.n, s.c, s.h, s.w});
  const int64_t ekh = checked_numel(fn, {s.dh, s.kh - 1}) + 1, ekw = checked_numel(fn, {s.dw, s.kw - 1}) + 1;
  if (ekh > s.h + 2 * s.ph || ekw > s.w + 2 * s.pw)
    throw py::value_error(std::string(fn) + ": kernel (" + std::to_string(ekh) + ", " + std::to_string(ekw) +
                          ", dilated) is larger than the padded input (" + std::to_string(s.h + 2 * s.ph) + ", " +
                          std::to_string(s.w + 2 * s.pw) + ")");
  s.oh = nnk::conv_out_size(s.h, s.kh, s.sh, s.ph, s.dh);
  s.ow = nnk::conv_out_size(s.w, s.kw, s.sw, s.pw, s.dw);
  checked_numel(fn, {s.n, s.oc, s.oh, s.ow});
  if (checked_numel(fn, {s.oh, s.ow, s.c, s.kh, s.kw}) >= (int64_t(1) << 31))
    throw py::value_error(std::string(fn) + ": one image's im2col matrix exceeds 2^31 elements (BLAS int limit)");
  require_contiguous(fn, "x", x);
  require_contiguous(fn, "weight", w);
  return s;
}

template <class T>
py::array forward_t(const py::array& x, const py::array& w, const std::optional<py::array>& b,
                    const nnk::Conv2dShape& s) {
  auto y = new_array<T>({s.n, s.oc, s.oh, s.ow});
  const T* bp = b ? data_of<T>(*b) : nullptr;
  T* yp = y.mutable_data();
  {
    py::gil_scoped_release release;
    nnk::conv2d_forward<T>(data_of<T>(x), data_of<T>(w), bp, yp, s);
  }
  return std::move(y);
}

py::array conv2d_forward(const py::array& x, const py::array& w, const std::optional<py::array>& b, Pair stride,
                         Pair pad, Pair dil, int64_t groups) {
  const char* fn = "conv2d_forward";
  auto s = conv_shape(fn, x, w, stride, pad, dil, groups);
  if (b) {
    same_dtype(fn, "bias", *b, "x", x);
    require_shape(fn, "bias", *b, {s.oc});
    require_contiguous(fn, "bias", *b);
  }
  if (float_dtype(fn, "x", x) == DType::f32) return forward_t<float>(x, w, b, s);
  return forward_t<double>(x, w, b, s);
}

template <class T>
py::tuple backward_t(const py::array& gy, const py::array& x, const py::array& w, const nnk::Conv2dShape& s,
                     bool need_gx, bool need_gw, bool need_gb) {
  auto gw = new_array<T>({s.oc, s.c / s.groups, s.kh, s.kw});
  py::object gx_o = py::none(), gb_o = py::none();
  T *gxp = nullptr, *gbp = nullptr;
  if (need_gx) { auto a = new_array<T>({s.n, s.c, s.h, s.w}); gxp = a.mutable_data(); gx_o = a; }
  if (need_gb) { auto a = new_array<T>({s.oc}); gbp = a.mutable_data(); gb_o = a; }
  T* gwp = gw.mutable_data();
  {
    py::gil_scoped_release release;
    nnk::conv2d_backward<T>(data_of<T>(gy), data_of<T>(x), data_of<T>(w), gxp, gwp, gbp, s);
  }
  return py::make_tuple(gx_o, need_gw ? py::object(gw) : py::none(), gb_o);
}

py::tuple conv2d_backward(const py::array& gy, const py::array& x, const py::array& w, Pair stride, Pair pad,
                          Pair dil, int64_t groups, bool need_gx, bool need_gw, bool need_gb) {
  const char* fn = "conv2d_backward";
  auto s = conv_shape(fn, x, w, stride, pad, dil, groups);
  same_dtype(fn, "grad_out", gy, "x", x);
  require_shape(fn, "grad_out", gy, {s.n, s.oc, s.oh, s.ow});
  require_contiguous(fn, "grad_out", gy);
  if (float_dtype(fn, "x", x) == DType::f32) return backward_t<float>(gy, x, w, s, need_gx, need_gw, need_gb);
  return backward_t<double>(gy, x, w, s, need_gx, need_gw, need_gb);
}

// im2col / col2im are exposed for tests and learners; they take the kernel size directly.
nnk::Conv2dShape plain_shape(const char* fn, const py::array& x4, Pair k, Pair stride, Pair pad, Pair dil) {
  if (k.first <= 0 || k.second <= 0) throw py::value_error(std::string(fn) + ": kernel_size must be positive");
  py::array w = py::array(x4.dtype(), std::vector<py::ssize_t>{1, x4.ndim() == 4 ? x4.shape(1) : 1, k.first, k.second});
  return conv_shape(fn, x4, w, stride, pad, dil, 1);
}

template <class T>
py::array im2col_t(const py::array& x, const nnk::Conv2dShape& s) {
  const int64_t m = s.n * s.oh * s.ow;
  auto cols = new_array<T>({s.c * s.kh * s.kw, m});
  T* cp = cols.mutable_data();
  {
    py::gil_scoped_release release;
    nnk::im2col<T>(data_of<T>(x), cp, s, s.n, m, 0, s.oh, true);
  }
  return std::move(cols);
}

py::array im2col(const py::array& x, Pair k, Pair stride, Pair pad, Pair dil) {
  auto s = plain_shape("im2col", x, k, stride, pad, dil);
  if (float_dtype("im2col", "x", x) == DType::f32) return im2col_t<float>(x, s);
  return im2col_t<double>(x, s);
}

template <class T>
py::array col2im_t(const py::array& cols, const nnk::Conv2dShape& s) {
  auto x = new_array<T>({s.n, s.c, s.h, s.w});
  T* xp = x.mutable_data();
  {
    py::gil_scoped_release release;
    nnk::col2im<T>(data_of<T>(cols), xp, s, s.n, s.n * s.oh * s.ow, true);
  }
  return std::move(x);
}

py::array col2im(const py::array& cols, std::vector<int64_t> shape, Pair k, Pair stride, Pair pad, Pair dil) {
  const char* fn = "col2im";
  auto dt = float_dtype(fn, "cols_t", cols);
  if (shape.size() != 4) throw py::value_error("col2im: input_shape must be (N, C, H, W)");
  checked_numel(fn, {shape[0], shape[1], shape[2], shape[3]});
  py::array proto(cols.dtype(), std::vector<py::ssize_t>{0, shape[1], shape[2], shape[3]});
  auto s = plain_shape(fn, proto, k, stride, pad, dil);
  s.n = shape[0];
  require_shape(fn, "cols_t", cols, {s.c * s.kh * s.kw, s.n * s.oh * s.ow});
  require_contiguous(fn, "cols_t", cols);
  if (dt == DType::f32) return col2im_t<float>(cols, s);
  return col2im_t<double>(cols, s);
}

}  // namespace

void bind_conv2d(py::module_& m) {
  m.def("conv2d_forward", &conv2d_forward, py::arg("x"), py::arg("weight"), py::arg("bias").none(true),
        py::arg("stride"), py::arg("padding"), py::arg("dilation"), py::arg("groups"),
        "y (N, OC, OH, OW) = conv2d(x (N, C, H, W), weight (OC, C/groups, KH, KW)) + bias (OC,).");
  m.def("conv2d_backward", &conv2d_backward, py::arg("grad_out"), py::arg("x"), py::arg("weight"),
        py::arg("stride"), py::arg("padding"), py::arg("dilation"), py::arg("groups"), py::arg("need_grad_x") = true,
        py::arg("need_grad_weight") = true, py::arg("need_grad_bias") = true,
        "(grad_x, grad_weight, grad_bias) of conv2d_forward; unrequested grads are None.");
  m.def("im2col", &im2col, py::arg("x"), py::arg("kernel_size"), py::arg("stride"), py::arg("padding"),
        py::arg("dilation"),
        "cols_t (C*KH*KW, N*OH*OW) of x (N, C, H, W): the kernel's layout, the transpose of DLFS's "
        "im2col matrix; padding reads as 0.");
  m.def("col2im", &col2im, py::arg("cols_t"), py::arg("input_shape"), py::arg("kernel_size"), py::arg("stride"),
        py::arg("padding"), py::arg("dilation"),
        "Adjoint of im2col: scatter-add cols_t (C*KH*KW, N*OH*OW) back to (N, C, H, W).");
}
