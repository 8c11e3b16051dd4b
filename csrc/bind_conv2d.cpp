// Bindings of conv2d_forward / conv2d_backward / im2col / col2im.
#include <optional>
#include <utility>
#include <variant>
#include "checks.h"
#include "conv2d.h"
#include "conv2d_algo.h"
#include "conv2d_algo_args.h"

namespace py = pybind11;
using namespace nnk_py;
using Pair = std::pair<int64_t, int64_t>;

namespace {

// Validates the sizes of x (N, C, H, W) and weight (OC, C/groups, KH, KW) and the
// hyper-parameters, and derives the full shape.
nnk::Conv2dShape conv_shape_of(const char* fn, const std::vector<int64_t>& xs, const std::vector<int64_t>& ws,
                               Pair stride, Pair pad, Pair dil, int64_t groups) {
  require_param(fn, "stride", stride, 1);
  require_param(fn, "dilation", dil, 1);
  require_param(fn, "padding", pad, 0);
  require_param(fn, "groups", groups, 1);
  nnk::Conv2dShape s{xs[0], xs[1], xs[2], xs[3], ws[0], ws[2], ws[3],
                     stride.first, stride.second, pad.first, pad.second, dil.first, dil.second, groups, 0, 0};
  if (s.kh <= 0 || s.kw <= 0 || ws[1] <= 0 || s.oc <= 0)
    throw py::value_error(std::string(fn) + ": weight has a zero-size dimension (" + std::to_string(ws[0]) + ", " +
                          std::to_string(ws[1]) + ", " + std::to_string(ws[2]) + ", " + std::to_string(ws[3]) + ")");
  if (s.c % groups != 0 || s.oc % groups != 0)
    throw py::value_error(std::string(fn) + ": groups=" + std::to_string(groups) + " must divide both C=" +
                          std::to_string(s.c) + " and OC=" + std::to_string(s.oc));
  if (ws[1] != s.c / groups)
    throw py::value_error(std::string(fn) + ": x has C=" + std::to_string(s.c) + " channels but weight expects C/groups=" +
                          std::to_string(ws[1]) + " with groups=" + std::to_string(groups));
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
  return s;
}

// Validates x and weight (and hyper-parameters) and derives the full shape.
nnk::Conv2dShape conv_shape(const char* fn, const py::array& x, const py::array& w, Pair stride, Pair pad,
                            Pair dil, int64_t groups) {
  float_dtype(fn, "x", x);
  same_dtype(fn, "weight", w, "x", x);
  require_ndim(fn, "x", x, 4, "(N, C, H, W)");
  require_ndim(fn, "weight", w, 4, "(OC, C/groups, KH, KW)");
  auto s = conv_shape_of(fn, shape_of(x), shape_of(w), stride, pad, dil, groups);
  require_contiguous(fn, "x", x);
  require_contiguous(fn, "weight", w);
  return s;
}

nnk::ConvDtype conv_dtype(DType dt) { return dt == DType::f32 ? nnk::ConvDtype::F32 : nnk::ConvDtype::F64; }

template <class T>
py::array forward_t(const py::array& x, const py::array& w, const std::optional<py::array>& b,
                    const nnk::Conv2dShape& s, nnk::ConvAlgo algo) {
  auto y = new_array<T>({s.n, s.oc, s.oh, s.ow});
  const T* bp = b ? data_of<T>(*b) : nullptr;
  T* yp = y.mutable_data();
  {
    KernelSection release;
    nnk::conv2d_forward<T>(data_of<T>(x), data_of<T>(w), bp, yp, s, algo);
  }
  return std::move(y);
}

py::array conv2d_forward(const py::array& x, const py::array& w, const std::optional<py::array>& b, Pair stride,
                         Pair pad, Pair dil, int64_t groups, const std::string& algo_name) {
  const char* fn = "conv2d_forward";
  auto s = conv_shape(fn, x, w, stride, pad, dil, groups);
  if (b) {
    same_dtype(fn, "bias", *b, "x", x);
    require_shape(fn, "bias", *b, {s.oc});
    require_contiguous(fn, "bias", *b);
  }
  const DType dt = float_dtype(fn, "x", x);
  const nnk::ConvAlgo algo = conv_algo_arg(fn, algo_name, s, nnk::ConvPass::Forward, conv_dtype(dt));
  return dispatch_float(dt, [&](auto t) { return forward_t<decltype(t)>(x, w, b, s, algo); });
}

template <class T>
py::tuple backward_t(const py::array& gy, const py::array& x, const py::array& w, const nnk::Conv2dShape& s,
                     bool need_gx, bool need_gw, bool need_gb, nnk::ConvAlgo algo_gx, nnk::ConvAlgo algo_gw) {
  py::object gx_o = py::none(), gw_o = py::none(), gb_o = py::none();
  T *gxp = nullptr, *gwp = nullptr, *gbp = nullptr;  // null: that gradient is not computed
  if (need_gx) { auto a = new_array<T>({s.n, s.c, s.h, s.w}); gxp = a.mutable_data(); gx_o = a; }
  if (need_gw) { auto a = new_array<T>({s.oc, s.c / s.groups, s.kh, s.kw}); gwp = a.mutable_data(); gw_o = a; }
  if (need_gb) { auto a = new_array<T>({s.oc}); gbp = a.mutable_data(); gb_o = a; }
  {
    KernelSection release;
    nnk::conv2d_backward<T>(data_of<T>(gy), data_of<T>(x), data_of<T>(w), gxp, need_gw ? gwp : nullptr, gbp, s,
                            algo_gx, algo_gw);  // grad_weight only when asked for
  }
  return py::make_tuple(gx_o, gw_o, gb_o);
}

// `algo`: one name for both passes, or (algo for grad_x, algo for grad_weight).
using AlgoArg = std::variant<std::string, std::pair<std::string, std::string>>;

py::tuple conv2d_backward(const py::array& gy, const py::array& x, const py::array& w, Pair stride, Pair pad,
                          Pair dil, int64_t groups, bool need_gx, bool need_gw, bool need_gb, const AlgoArg& algo) {
  const char* fn = "conv2d_backward";
  auto s = conv_shape(fn, x, w, stride, pad, dil, groups);
  same_dtype(fn, "grad_out", gy, "x", x);
  require_shape(fn, "grad_out", gy, {s.n, s.oc, s.oh, s.ow});
  require_contiguous(fn, "grad_out", gy);
  const DType dt = float_dtype(fn, "x", x);
  const auto names = std::holds_alternative<std::string>(algo)
                         ? std::make_pair(std::get<std::string>(algo), std::get<std::string>(algo))
                         : std::get<std::pair<std::string, std::string>>(algo);
  const nnk::ConvAlgo agx = need_gx ? conv_algo_arg(fn, names.first, s, nnk::ConvPass::BackwardInput, conv_dtype(dt))
                                    : conv_algo_from_arg(fn, "algo", names.first);
  const nnk::ConvAlgo agw = need_gw ? conv_algo_arg(fn, names.second, s, nnk::ConvPass::BackwardWeight, conv_dtype(dt))
                                    : conv_algo_from_arg(fn, "algo", names.second);
  return dispatch_float(
      dt, [&](auto t) { return backward_t<decltype(t)>(gy, x, w, s, need_gx, need_gw, need_gb, agx, agw); });
}

struct AlgoQuery {
  nnk::Conv2dShape s;
  nnk::ConvPass pass;
  nnk::ConvDtype dt;
};

// The arguments of conv2d_algo_for / conv2d_algo_candidates, checked like a real call's.
AlgoQuery algo_query(const char* fn, std::vector<int64_t> xs, std::vector<int64_t> ws, Pair stride, Pair pad, Pair dil,
                     int64_t groups, const std::string& pass_name, const py::object& dtype) {
  if (xs.size() != 4 || ws.size() != 4)
    throw py::value_error(std::string(fn) + ": x_shape and weight_shape must have 4 entries, (N, C, H, W) and "
                          "(OC, C/groups, KH, KW)");
  checked_numel(fn, {xs[0], xs[1], xs[2], xs[3]});
  checked_numel(fn, {ws[0], ws[1], ws[2], ws[3]});
  AlgoQuery q{conv_shape_of(fn, xs, ws, stride, pad, dil, groups), nnk::ConvPass::Forward, nnk::ConvDtype::F32};
  if (pass_name == "backward_input" || pass_name == "grad_x") q.pass = nnk::ConvPass::BackwardInput;
  else if (pass_name == "backward_weight" || pass_name == "grad_weight") q.pass = nnk::ConvPass::BackwardWeight;
  else if (pass_name != "forward")
    throw py::value_error(std::string(fn) + ": unknown pass '" + pass_name +
                          "'; expected 'forward', 'backward_input' or 'backward_weight'");
  const py::dtype d = py::dtype::from_args(dtype);
  const bool f32 = dtype_equiv(d, py::dtype::of<float>()), f64 = dtype_equiv(d, py::dtype::of<double>());
  if (!f32 && !f64) throw py::type_error(std::string(fn) + ": dtype must be float32 or float64");
  if (f64) q.dt = nnk::ConvDtype::F64;
  return q;
}

// The algorithm that algo='auto' picks now for one pass, without running anything.
std::string conv2d_algo_for(std::vector<int64_t> xs, std::vector<int64_t> ws, Pair stride, Pair pad, Pair dil,
                            int64_t groups, const std::string& pass, const py::object& dtype) {
  const AlgoQuery q = algo_query("conv2d_algo_for", xs, ws, stride, pad, dil, groups, pass, dtype);
  return nnk::conv_algo_name(nnk::conv2d_select_peek(q.s, q.pass, q.dt));
}

// Every algorithm of this build that applies to one pass (the benchmark mode's candidates).
std::vector<std::string> conv2d_algo_candidates(std::vector<int64_t> xs, std::vector<int64_t> ws, Pair stride,
                                                Pair pad, Pair dil, int64_t groups, const std::string& pass,
                                                const py::object& dtype) {
  const AlgoQuery q = algo_query("conv2d_algo_candidates", xs, ws, stride, pad, dil, groups, pass, dtype);
  std::vector<std::string> out;
  for (nnk::ConvAlgo a : nnk::conv2d_candidates(q.s, q.pass, q.dt)) out.push_back(nnk::conv_algo_name(a));
  return out;
}

// im2col / col2im are exposed for tests and learners; they take the kernel size directly (the
// shape of a one-filter weight, checked like a convolution's, without allocating one).
nnk::Conv2dShape plain_shape(const char* fn, const std::vector<int64_t>& xs, Pair k, Pair stride, Pair pad, Pair dil) {
  require_param(fn, "kernel_size", k, 1);
  return conv_shape_of(fn, xs, {1, xs[1], k.first, k.second}, stride, pad, dil, 1);
}

template <class T>
py::array im2col_t(const py::array& x, const nnk::Conv2dShape& s) {
  const int64_t m = s.n * s.oh * s.ow;
  auto cols = new_array<T>({s.c * s.kh * s.kw, m});
  T* cp = cols.mutable_data();
  {
    KernelSection release;
    nnk::im2col<T>(data_of<T>(x), cp, s, s.n, m, 0, s.oh, true);
  }
  return std::move(cols);
}

py::array im2col(const py::array& x, Pair k, Pair stride, Pair pad, Pair dil) {
  const char* fn = "im2col";
  const DType dt = float_dtype(fn, "x", x);
  require_ndim(fn, "x", x, 4, "(N, C, H, W)");
  auto s = plain_shape(fn, shape_of(x), k, stride, pad, dil);
  require_contiguous(fn, "x", x);
  return dispatch_float(dt, [&](auto t) { return im2col_t<decltype(t)>(x, s); });
}

template <class T>
py::array col2im_t(const py::array& cols, const nnk::Conv2dShape& s) {
  auto x = new_array<T>({s.n, s.c, s.h, s.w});
  T* xp = x.mutable_data();
  {
    KernelSection release;
    nnk::col2im<T>(data_of<T>(cols), xp, s, s.n, s.n * s.oh * s.ow, true);
  }
  return std::move(x);
}

py::array col2im(const py::array& cols, std::vector<int64_t> shape, Pair k, Pair stride, Pair pad, Pair dil) {
  const char* fn = "col2im";
  auto dt = float_dtype(fn, "cols_t", cols);
  if (shape.size() != 4) throw py::value_error("col2im: input_shape must be (N, C, H, W)");
  auto s = plain_shape(fn, shape, k, stride, pad, dil);
  require_shape(fn, "cols_t", cols, {s.c * s.kh * s.kw, s.n * s.oh * s.ow});
  require_contiguous(fn, "cols_t", cols);
  return dispatch_float(dt, [&](auto t) { return col2im_t<decltype(t)>(cols, s); });
}

}  // namespace

void bind_conv2d(py::module_& m) {
  m.def("conv2d_forward", &conv2d_forward, py::arg("x"), py::arg("weight"), py::arg("bias").none(true),
        py::arg("stride"), py::arg("padding"), py::arg("dilation"), py::arg("groups"), py::arg("algo") = "auto",
        "y (N, OC, OH, OW) = conv2d(x (N, C, H, W), weight (OC, C/groups, KH, KW)) + bias (OC,). "
        "algo: 'auto' (the selection, see set_conv_algo) or an algorithm name (ValueError if it does not apply).");
  m.def("conv2d_backward", &conv2d_backward, py::arg("grad_out"), py::arg("x"), py::arg("weight"),
        py::arg("stride"), py::arg("padding"), py::arg("dilation"), py::arg("groups"), py::arg("need_grad_x") = true,
        py::arg("need_grad_weight") = true, py::arg("need_grad_bias") = true, py::arg("algo") = "auto",
        "(grad_x, grad_weight, grad_bias) of conv2d_forward; unrequested grads are None. algo: one name for "
        "both passes, or (algo for grad_x, algo for grad_weight).");
  m.def("conv2d_algo_for", &conv2d_algo_for, py::arg("x_shape"), py::arg("weight_shape"), py::arg("stride") = Pair{1, 1},
        py::arg("padding") = Pair{0, 0}, py::arg("dilation") = Pair{1, 1}, py::arg("groups") = 1,
        py::arg("pass_") = "forward", py::arg("dtype") = py::str("float32"),
        "The algorithm algo='auto' would pick now for one pass ('forward', 'backward_input', "
        "'backward_weight') of a convolution of these sizes (benchmark mode: the cached choice, else the heuristic's).");
  m.def("conv2d_algo_candidates", &conv2d_algo_candidates, py::arg("x_shape"), py::arg("weight_shape"),
        py::arg("stride") = Pair{1, 1}, py::arg("padding") = Pair{0, 0}, py::arg("dilation") = Pair{1, 1},
        py::arg("groups") = 1, py::arg("pass_") = "forward", py::arg("dtype") = py::str("float32"),
        "Every algorithm of this build that applies to one pass of a convolution of these sizes.");
  m.def("im2col", &im2col, py::arg("x"), py::arg("kernel_size"), py::arg("stride"), py::arg("padding"),
        py::arg("dilation"),
        "cols_t (C*KH*KW, N*OH*OW) of x (N, C, H, W): the kernel's layout, the transpose of DLFS's "
        "im2col matrix; padding reads as 0.");
  m.def("col2im", &col2im, py::arg("cols_t"), py::arg("input_shape"), py::arg("kernel_size"), py::arg("stride"),
        py::arg("padding"), py::arg("dilation"),
        "Adjoint of im2col: scatter-add cols_t (C*KH*KW, N*OH*OW) back to (N, C, H, W).");
}
