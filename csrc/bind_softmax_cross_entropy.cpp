// Bindings of softmax_cross_entropy_forward / softmax_cross_entropy_backward.
#include <utility>
#include "checks.h"
#include "softmax_cross_entropy.h"

namespace py = pybind11;
using namespace nnk_py;

namespace {

// Validates logits-like (N, K) `a` and the target; returns true for int64 labels (N,).
bool check_target(const char* fn, const char* a_name, const py::array& a, const py::array& target) {
  float_dtype(fn, a_name, a);
  require_ndim(fn, a_name, a, 2, "(N, K)");
  const int64_t n = a.shape(0), k = a.shape(1);
  if (n == 0 || k == 0)
    throw py::value_error(std::string(fn) + ": " + a_name + " must have at least one row and one class, got shape " +
                          shape_str(a));
  checked_numel(fn, {n, k});
  require_contiguous(fn, a_name, a);
  require_native_order(fn, "target", target);
  const bool labels = has_dtype<int64_t>(target);
  if (!labels && !dtype_equiv(target.dtype(), a.dtype()))
    throw py::type_error(std::string(fn) + ": target must be int64 labels or a one-hot array of the dtype of " +
                         a_name + " (" + dtype_name(a) + "), got " + dtype_name(target));
  const bool shape_ok = labels ? (target.ndim() == 1 && target.shape(0) == n)
                               : (target.ndim() == 2 && target.shape(0) == n && target.shape(1) == k);
  if (!shape_ok)
    throw py::value_error(std::string(fn) + ": target must be labels of shape (" + std::to_string(n) +
                          ",) or one-hot of shape (" + std::to_string(n) + ", " + std::to_string(k) + "), got " +
                          (labels ? "int64 " : "") + "shape " + shape_str(target));
  require_contiguous(fn, "target", target);
  if (labels) {
    const int64_t* l = static_cast<const int64_t*>(target.data());
    for (int64_t i = 0; i < n; ++i)
      if (l[i] < 0 || l[i] >= k)
        throw py::value_error(std::string(fn) + ": labels must be in [0, " + std::to_string(k) + "), got " +
                              std::to_string(l[i]) + " at index " + std::to_string(i));
  }
  return labels;
}

py::tuple softmax_cross_entropy_forward(const py::array& logits, const py::array& target) {
  const char* fn = "softmax_cross_entropy_forward";
  const bool labels = check_target(fn, "logits", logits, target);
  return dispatch_float(float_dtype(fn, "logits", logits), [&](auto t) -> py::tuple {
    using T = decltype(t);
    const int64_t n = logits.shape(0), k = logits.shape(1);
    auto probs = new_array<T>({n, k});
    T* pp = probs.mutable_data();
    const int64_t* lp = labels ? static_cast<const int64_t*>(target.data()) : nullptr;
    const T* tp = labels ? nullptr : data_of<T>(target);
    double loss;
    {
      KernelSection release;
      loss = nnk::softmax_cross_entropy_forward<T>(data_of<T>(logits), lp, tp, pp, n, k);
    }
    return py::make_tuple(loss, std::move(probs));
  });
}

py::array softmax_cross_entropy_backward(const py::array& probs, const py::array& target, double grad_loss) {
  const char* fn = "softmax_cross_entropy_backward";
  const bool labels = check_target(fn, "probs", probs, target);
  const int64_t n = probs.shape(0), k = probs.shape(1);
  const int64_t* lp = labels ? static_cast<const int64_t*>(target.data()) : nullptr;
  return float_output(float_dtype(fn, "probs", probs), {n, k}, [&](auto* g) {
    using T = elem_t<decltype(g)>;
    const T* tp = labels ? nullptr : data_of<T>(target);
    nnk::softmax_cross_entropy_backward<T>(data_of<T>(probs), lp, tp, g, n, k, T(grad_loss / double(n)));
  });
}

}  // namespace

void bind_softmax_cross_entropy(py::module_& m) {
  m.def("softmax_cross_entropy_forward", &softmax_cross_entropy_forward, py::arg("logits"), py::arg("target"),
        "(loss, probs): mean over rows of logsumexp(logits) - <target, logits>; target int64 labels (N,) or "
        "one-hot (N, K); probs = softmax(logits) per row.");
  m.def("softmax_cross_entropy_backward", &softmax_cross_entropy_backward, py::arg("probs"), py::arg("target"),
        py::arg("grad_loss") = 1.0, "grad_logits = (probs - onehot(target)) / N * grad_loss.");
}
