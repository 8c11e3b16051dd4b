// Bindings of batch_norm_forward / batch_norm_backward. Running statistics are updated in
// place, so they are checked (dtype, shape, contiguity, writability) and never copied.
#include <cmath>
#include <optional>
#include "batch_norm.h"
#include "checks.h"

namespace py = pybind11;
using namespace nnk_py;
using OptArray = std::optional<py::array>;

namespace {

// x: (N, C) or (N, C, H, W) -> (N, C, S).
nnk::BatchNormShape bn_shape(const char* fn, const py::array& x) {
  if (x.ndim() != 2 && x.ndim() != 4)
    throw py::value_error(std::string(fn) + ": x must be 2-D (N, D) or 4-D (N, C, H, W), got shape " + shape_str(x));
  nnk::BatchNormShape s{x.shape(0), x.shape(1), x.ndim() == 4 ? x.shape(2) * x.shape(3) : 1};
  if (x.ndim() == 4) checked_numel(fn, {x.shape(0), x.shape(1), x.shape(2), x.shape(3)});
  else checked_numel(fn, {x.shape(0), x.shape(1)});
  require_contiguous(fn, "x", x);
  return s;
}

// A per-channel (C,) parameter of x's dtype; `inplace` also requires it to be writable.
void check_param(const char* fn, const char* name, const OptArray& p, const py::array& x, int64_t c, bool inplace) {
  if (!p) return;
  same_dtype(fn, name, *p, "x", x);
  require_shape(fn, name, *p, {c});
  require_contiguous(fn, name, *p);
  if (inplace) require_writable(fn, name, *p);
}

template <class T>
const T* opt_ptr(const OptArray& a) {
  return a ? data_of<T>(*a) : nullptr;
}

// The three fresh outputs of either pass: one of x's shape, two per channel (C,).
template <class T>
struct BnOutputs {
  py::array_t<T> full, c1, c2;
  BnOutputs(const py::array& x, int64_t c)
      : full(new_array<T>(shape_of(x))), c1(new_array<T>({c})), c2(new_array<T>({c})) {}
  py::tuple tuple() const { return py::make_tuple(full, c1, c2); }
};

// Running statistics must already be NumPy arrays: converting a list (or anything else) would
// update a temporary copy and silently lose the update.
OptArray running_arg(const char* fn, const char* name, const py::object& o) {
  if (o.is_none()) return std::nullopt;
  if (!py::isinstance<py::array>(o))
    throw py::type_error(std::string(fn) + ": " + name +
                         " must be a numpy.ndarray or None (it is updated in place), got " +
                         py::str(py::type::of(o).attr("__name__")).cast<std::string>());
  return o.cast<py::array>();
}

py::tuple batch_norm_forward(const py::array& x, const py::object& rm_o, const py::object& rv_o, const OptArray& w,
                             const OptArray& b, bool training, double momentum, double eps, bool unbiased) {
  const char* fn = "batch_norm_forward";
  const OptArray rm = running_arg(fn, "running_mean", rm_o), rv = running_arg(fn, "running_var", rv_o);
  auto dt = float_dtype(fn, "x", x);
  auto s = bn_shape(fn, x);
  if (bool(rm) != bool(rv))
    throw py::value_error(std::string(fn) + ": running_mean and running_var must both be arrays or both be None");
  if (!training && !rm)
    throw py::value_error(std::string(fn) + ": inference (training=False) needs running_mean and running_var");
  check_param(fn, "running_mean", rm, x, s.c, training);
  check_param(fn, "running_var", rv, x, s.c, training);
  check_param(fn, "weight", w, x, s.c, false);
  check_param(fn, "bias", b, x, s.c, false);
  if (training && rm) {  // updated in place while x, weight and bias are read
    std::vector<Operand> ops{{x, false, "x"}, {*rm, true, "running_mean"}, {*rv, true, "running_var"}};
    if (w) ops.push_back({*w, false, "weight"});
    if (b) ops.push_back({*b, false, "bias"});
    require_no_overlap(fn, ops, "the running statistics are updated in place and must not overlap another argument");
  }
  if (!(eps >= 0.0) || !std::isfinite(eps)) throw py::value_error(std::string(fn) + ": eps must be finite and >= 0");
  if (!(momentum >= 0.0 && momentum <= 1.0)) throw py::value_error(std::string(fn) + ": momentum must lie in [0, 1]");
  if (training && s.n * s.s < 2)
    throw py::value_error(std::string(fn) + ": expected more than 1 value per channel when training, got input shape " +
                          shape_str(x));
  return dispatch_float(dt, [&](auto t) -> py::tuple {
    using T = decltype(t);
    BnOutputs<T> out(x, s.c);  // y, save_mean, save_invstd
    T *yp = out.full.mutable_data(), *mp = out.c1.mutable_data(), *ip = out.c2.mutable_data();
    const T *xp = data_of<T>(x), *wp = opt_ptr<T>(w), *bp = opt_ptr<T>(b);
    T* rmp = rm ? data_of<T>(*rm) : nullptr;
    T* rvp = rv ? data_of<T>(*rv) : nullptr;
    {
      KernelSection release;
      if (training) nnk::batch_norm_forward_train<T>(xp, wp, bp, yp, mp, ip, rmp, rvp, s, momentum, eps, unbiased);
      else nnk::batch_norm_forward_infer<T>(xp, wp, bp, rmp, rvp, yp, mp, ip, s, eps);
    }
    return out.tuple();
  });
}

py::tuple batch_norm_backward(const py::array& gy, const py::array& x, const OptArray& w, const py::array& mean,
                              const py::array& invstd, bool training) {
  const char* fn = "batch_norm_backward";
  auto dt = float_dtype(fn, "x", x);
  auto s = bn_shape(fn, x);
  same_dtype(fn, "grad_out", gy, "x", x);
  require_shape(fn, "grad_out", gy, shape_of(x));
  require_contiguous(fn, "grad_out", gy);
  check_param(fn, "weight", w, x, s.c, false);
  check_param(fn, "save_mean", mean, x, s.c, false);
  check_param(fn, "save_invstd", invstd, x, s.c, false);
  return dispatch_float(dt, [&](auto t) -> py::tuple {
    using T = decltype(t);
    BnOutputs<T> out(x, s.c);  // grad_x, grad_weight, grad_bias
    T *gxp = out.full.mutable_data(), *gwp = out.c1.mutable_data(), *gbp = out.c2.mutable_data();
    const T *gyp = data_of<T>(gy), *xp = data_of<T>(x), *wp = opt_ptr<T>(w), *mp = data_of<T>(mean),
            *ip = data_of<T>(invstd);
    {
      KernelSection release;
      nnk::batch_norm_backward<T>(gyp, xp, wp, mp, ip, gxp, gwp, gbp, s, training);
    }
    return out.tuple();
  });
}

}  // namespace

void bind_batch_norm(py::module_& m) {
  m.def("batch_norm_forward", &batch_norm_forward, py::arg("x"), py::arg("running_mean").none(true),
        py::arg("running_var").none(true), py::arg("weight").none(true), py::arg("bias").none(true),
        py::arg("training"), py::arg("momentum") = 0.1, py::arg("eps") = 1e-5, py::arg("unbiased_running_var") = true,
        "(y, save_mean, save_invstd) of batch normalization over x (N, C, H, W) per channel or (N, D) per "
        "feature; in training the running statistics (if given) are updated in place.");
  m.def("batch_norm_backward", &batch_norm_backward, py::arg("grad_out"), py::arg("x"), py::arg("weight").none(true),
        py::arg("save_mean"), py::arg("save_invstd"), py::arg("training") = true,
        "(grad_x, grad_weight, grad_bias) of batch_norm_forward with its saved statistics.");
}
