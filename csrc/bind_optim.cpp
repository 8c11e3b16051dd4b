// Bindings of the multi-tensor in-place updates sgd_update ... adam_update.
// Each takes lists of arrays (one entry per parameter tensor). Every check on every tensor
// runs before the kernel writes anything, so a bad call leaves all arrays untouched; the
// arrays are never converted or copied: the caller's memory is updated or an error raised.
// float32 and float64 tensors may be mixed in one call (each grad and state has its param's
// dtype); `names` (optional, one string per tensor) labels the tensors in error messages.
#include <algorithm>
#include <cmath>
#include <string>
#include <type_traits>
#include <vector>
#include "checks.h"
#include "optim.h"

namespace py = pybind11;
using namespace nnk_py;
using nnk::Decay;

namespace {

struct Lists {
  std::vector<py::array> params, grads;
  std::vector<std::vector<py::array>> states;  // one list per state buffer of the rule
  std::vector<const char*> state_names;
  std::vector<double> lr, wd;
  std::vector<Decay> decay;
  std::vector<DType> dt;            // per tensor
  std::vector<std::string> label;   // "[i]" or "['name']", per tensor
};

std::vector<py::array> array_list(const char* fn, const char* name, const py::handle& obj) {
  if (py::isinstance<py::array>(obj) || py::isinstance<py::str>(obj) || !py::isinstance<py::sequence>(obj))
    throw py::type_error(std::string(fn) + ": " + name + " must be a list of numpy arrays (one per parameter tensor)");
  std::vector<py::array> out;
  for (const py::handle& item : py::reinterpret_borrow<py::sequence>(obj)) {
    if (!py::isinstance<py::array>(item))  // never convert: a converted copy would be updated silently
      throw py::type_error(std::string(fn) + ": " + name + "[" + std::to_string(out.size()) +
                           "] must be a numpy.ndarray, got " + py::type::of(item).attr("__name__").cast<std::string>());
    out.push_back(py::reinterpret_borrow<py::array>(item));
  }
  return out;
}

template <class T>
T cast_or_type_error(const char* fn, const char* name, const char* what, const py::handle& x) {
  try {
    return x.cast<T>();
  } catch (const py::cast_error&) {
    throw py::type_error(std::string(fn) + ": " + name + " must be " + what + ", got " +
                         py::type::of(x).attr("__name__").cast<std::string>());
  }
}

// A float or one float per tensor.
std::vector<double> per_tensor(const char* fn, const char* name, const py::handle& obj, size_t n) {
  std::vector<double> v;
  if (py::isinstance<py::sequence>(obj) && !py::isinstance<py::str>(obj)) {
    for (const py::handle& x : py::reinterpret_borrow<py::sequence>(obj))
      v.push_back(cast_or_type_error<double>(fn, name, "a float or a list of floats", x));
    if (v.size() != n)
      throw py::value_error(std::string(fn) + ": " + name + " has " + std::to_string(v.size()) +
                            " values but there are " + std::to_string(n) + " tensors");
  } else {
    v.assign(n, cast_or_type_error<double>(fn, name, "a float or a list of floats", obj));
  }
  return v;
}

// "[i]" per tensor, or "['<name>']" when the caller names the tensors (nnkern.optimizers passes its keys).
std::vector<std::string> labels_of(const char* fn, const py::handle& names, size_t n) {
  std::vector<std::string> out;
  if (names.is_none()) {
    for (size_t i = 0; i < n; ++i) out.push_back("[" + std::to_string(i) + "]");
    return out;
  }
  if (py::isinstance<py::str>(names))
    throw py::type_error(std::string(fn) + ": names must be a list of strings, got str");
  for (const auto& s : cast_or_type_error<std::vector<std::string>>(fn, "names", "a list of strings", names))
    out.push_back("['" + s + "']");
  if (out.size() != n)
    throw py::value_error(std::string(fn) + ": names has " + std::to_string(out.size()) + " entries but params has " +
                          std::to_string(n));
  return out;
}

Decay decay_of(const char* fn, const std::string& s) {
  if (s == "l2") return Decay::l2;
  if (s == "l1") return Decay::l1;
  if (s == "decoupled") return Decay::decoupled;
  if (s == "none") return Decay::none;
  throw py::value_error(std::string(fn) + ": decay must be 'l2', 'l1', 'decoupled' or 'none', got '" + s + "'");
}

void require_range(const char* fn, const char* name, double x, double lo, bool lo_open, double hi, bool hi_open,
                   const char* what) {
  const bool ok = std::isfinite(x) && (lo_open ? x > lo : x >= lo) && (hi_open ? x < hi : x <= hi);
  if (!ok) throw py::value_error(std::string(fn) + ": " + name + " must be " + what + ", got " + std::to_string(x));
}

// Written buffers (params, states) may overlap nothing; gradients may overlap each other.
void require_distinct(const char* fn, const Lists& L) {
  std::vector<Operand> ops;
  for (size_t i = 0; i < L.params.size(); ++i) {
    ops.push_back({L.params[i], true, "params" + L.label[i]});
    ops.push_back({L.grads[i], false, "grads" + L.label[i]});
    for (size_t s = 0; s < L.states.size(); ++s) ops.push_back({L.states[s][i], true, L.state_names[s] + L.label[i]});
  }
  require_no_overlap(fn, ops, "every parameter and state array must be distinct");
}

Lists gather(const char* fn, const py::handle& params, const py::handle& grads,
             std::initializer_list<std::pair<const char*, py::handle>> states, const py::handle& lr,
             const py::handle& wd, const py::handle& decay, const py::handle& names) {
  Lists L;
  L.params = array_list(fn, "params", params);
  L.grads = array_list(fn, "grads", grads);
  const size_t n = L.params.size();
  L.label = labels_of(fn, names, n);
  auto same_count = [&](const char* name, size_t k) {
    if (k != n)
      throw py::value_error(std::string(fn) + ": " + name + " has " + std::to_string(k) + " arrays but params has " +
                            std::to_string(n));
  };
  same_count("grads", L.grads.size());
  for (const auto& st : states) {
    L.states.push_back(array_list(fn, st.first, st.second));
    L.state_names.push_back(st.first);
    same_count(st.first, L.states.back().size());
  }
  L.lr = per_tensor(fn, "lr", lr, n);
  L.wd = per_tensor(fn, "weight_decay", wd, n);
  std::vector<std::string> dstr;
  if (py::isinstance<py::str>(decay)) dstr.assign(n, decay.cast<std::string>());
  else dstr = cast_or_type_error<std::vector<std::string>>(fn, "decay", "a string or a list of strings", decay);
  same_count("decay", dstr.size());
  for (size_t i = 0; i < n; ++i) {
    require_range(fn, "lr", L.lr[i], 0, true, INFINITY, false, "positive and finite");
    require_range(fn, "weight_decay", L.wd[i], 0, false, INFINITY, false, "non-negative and finite");
    L.decay.push_back(decay_of(fn, dstr[i]));
  }
  for (size_t i = 0; i < n; ++i) {
    const std::string& ix = L.label[i];
    const py::array& p = L.params[i];
    const std::string pn = "params" + ix, gn = "grads" + ix;
    L.dt.push_back(float_dtype(fn, pn.c_str(), p));
    same_dtype(fn, gn.c_str(), L.grads[i], pn.c_str(), p);
    std::vector<int64_t> shape(p.shape(), p.shape() + p.ndim());
    require_shape(fn, gn.c_str(), L.grads[i], shape);
    require_contiguous(fn, pn.c_str(), p);
    require_writable(fn, pn.c_str(), p);
    require_contiguous(fn, gn.c_str(), L.grads[i]);
    for (size_t s = 0; s < L.states.size(); ++s) {
      const std::string sn = std::string(L.state_names[s]) + ix;
      const py::array& a = L.states[s][i];
      same_dtype(fn, sn.c_str(), a, pn.c_str(), p);
      require_shape(fn, sn.c_str(), a, shape);
      require_contiguous(fn, sn.c_str(), a);
      require_writable(fn, sn.c_str(), a);
    }
  }
  require_distinct(fn, L);
  return L;
}

// The tensors of dtype T.
template <class T>
std::vector<nnk::OptimTensor<T>> tensors(const Lists& L) {
  const DType want = std::is_same<T, float>::value ? DType::f32 : DType::f64;
  std::vector<nnk::OptimTensor<T>> ts;
  for (size_t i = 0; i < L.params.size(); ++i)
    if (L.dt[i] == want)
      ts.push_back({data_of<T>(L.params[i]), data_of<T>(L.grads[i]),
                  L.states.size() > 0 ? data_of<T>(L.states[0][i]) : nullptr,
                  L.states.size() > 1 ? data_of<T>(L.states[1][i]) : nullptr, int64_t(L.params[i].size()), L.lr[i],
                  L.wd[i], L.decay[i]});
  return ts;
}

// Runs kern(tensors) once per dtype present, with the GIL released (every check has passed).
template <class K>
void launch(const Lists& L, K kern) {
  const auto f32 = tensors<float>(L);
  const auto f64 = tensors<double>(L);
  KernelSection release;
  if (!f32.empty()) kern(f32);
  if (!f64.empty()) kern(f64);
}

void sgd_update(py::object params, py::object grads, py::object lr, py::object wd, py::object decay,
                py::object names) {
  auto L = gather("sgd_update", params, grads, {}, lr, wd, decay, names);
  launch(L, [](const auto& ts) { nnk::sgd_update(ts); });
}

// momentum_update and nesterov_update: the same arguments, checks and docs' tail, another
// kernel (rule(tensors, momentum)).
template <class Rule>
void def_velocity_update(py::module_& m, const char* fn, Rule rule, const std::string& doc) {
  m.def(fn, [fn, rule](py::object params, py::object grads, py::object velocity, py::object lr, double momentum,
                       py::object wd, py::object decay, py::object names) {
    auto L = gather(fn, params, grads, {{"velocity", velocity}}, lr, wd, decay, names);
    require_range(fn, "momentum", momentum, 0, false, INFINITY, false, "non-negative and finite");
    launch(L, [&](const auto& ts) { rule(ts, momentum); });
  }, py::arg("params"), py::arg("grads"), py::arg("velocity"), py::arg("lr"), py::arg("momentum") = 0.9,
        py::arg("weight_decay") = 0.0, py::arg("decay") = "l2", py::arg("names") = py::none(), doc.c_str());
}

void adagrad_update(py::object params, py::object grads, py::object h, py::object lr, double eps, py::object wd,
                    py::object decay, py::object names) {
  const char* fn = "adagrad_update";
  auto L = gather(fn, params, grads, {{"h", h}}, lr, wd, decay, names);
  require_range(fn, "eps", eps, 0, false, INFINITY, false, "non-negative and finite");
  launch(L, [&](const auto& ts) { nnk::adagrad_update(ts, eps); });
}

void rmsprop_update(py::object params, py::object grads, py::object h, py::object lr, double decay_rate, double eps,
                    py::object wd, py::object decay, py::object names) {
  const char* fn = "rmsprop_update";
  auto L = gather(fn, params, grads, {{"h", h}}, lr, wd, decay, names);
  require_range(fn, "decay_rate", decay_rate, 0, false, 1, true, "in [0, 1)");
  require_range(fn, "eps", eps, 0, false, INFINITY, false, "non-negative and finite");
  launch(L, [&](const auto& ts) { nnk::rmsprop_update(ts, decay_rate, eps); });
}

void adam_update(py::object params, py::object grads, py::object m, py::object v, py::object lr, double beta1,
                 double beta2, double eps, int64_t step, const std::string& variant, py::object wd, py::object decay,
                 py::object names) {
  const char* fn = "adam_update";
  auto L = gather(fn, params, grads, {{"m", m}, {"v", v}}, lr, wd, decay, names);
  require_range(fn, "beta1", beta1, 0, false, 1, true, "in [0, 1)");
  require_range(fn, "beta2", beta2, 0, false, 1, true, "in [0, 1)");
  require_range(fn, "eps", eps, 0, false, INFINITY, false, "non-negative and finite");
  if (step < 1) throw py::value_error(std::string(fn) + ": step must be >= 1 (the count including this update)");
  if (variant != "standard" && variant != "book")
    throw py::value_error(std::string(fn) + ": variant must be 'standard' or 'book', got '" + variant + "'");
  const bool book = variant == "book";
  launch(L, [&](const auto& ts) { nnk::adam_update(ts, beta1, beta2, eps, step, book); });
}

}  // namespace

void bind_optim(py::module_& m) {
  const auto common = "params/grads (and state) are lists of same-shape C-contiguous arrays, one per tensor, "
                      "float32 or float64 (each grad and state has its param's dtype); params and state are "
                      "updated in place in one parallel pass. lr and weight_decay are floats or one float per "
                      "tensor; decay is 'l2' (g + wd*W), 'l1' (g + wd*sign(W)), 'decoupled' (W *= 1 - lr*wd) or "
                      "'none', or one string per tensor. names (optional, one string per tensor) labels the "
                      "tensors in error messages.";
  m.def("sgd_update", &sgd_update, py::arg("params"), py::arg("grads"), py::arg("lr"), py::arg("weight_decay") = 0.0,
        py::arg("decay") = "l2", py::arg("names") = py::none(), (std::string("W -= lr*g. ") + common).c_str());
  def_velocity_update(m, "momentum_update", [](const auto& ts, double mu) { nnk::momentum_update(ts, mu); },
                      std::string("v = momentum*v - lr*g; W += v. ") + common);
  def_velocity_update(m, "nesterov_update", [](const auto& ts, double mu) { nnk::nesterov_update(ts, mu); },
                      std::string("DLFS Nesterov: v = mu*v - lr*g; W += mu*mu*v - (1+mu)*lr*g. ") + common);
  m.def("adagrad_update", &adagrad_update, py::arg("params"), py::arg("grads"), py::arg("h"), py::arg("lr"),
        py::arg("eps") = 1e-7, py::arg("weight_decay") = 0.0, py::arg("decay") = "l2",
        py::arg("names") = py::none(),
        (std::string("h += g*g; W -= lr*g/(sqrt(h)+eps). ") + common).c_str());
  m.def("rmsprop_update", &rmsprop_update, py::arg("params"), py::arg("grads"), py::arg("h"), py::arg("lr"),
        py::arg("decay_rate") = 0.99, py::arg("eps") = 1e-7, py::arg("weight_decay") = 0.0, py::arg("decay") = "l2",
        py::arg("names") = py::none(),
        (std::string("h = rho*h + (1-rho)*g*g; W -= lr*g/(sqrt(h)+eps). ") + common).c_str());
  m.def("adam_update", &adam_update, py::arg("params"), py::arg("grads"), py::arg("m"), py::arg("v"), py::arg("lr"),
        py::arg("beta1") = 0.9, py::arg("beta2") = 0.999, py::arg("eps") = 1e-8, py::arg("step") = 1,
        py::arg("variant") = "standard", py::arg("weight_decay") = 0.0, py::arg("decay") = "l2",
        py::arg("names") = py::none(),
        (std::string("Adam, step t >= 1 counting this update; variant 'standard' (Kingma & Ba, torch) or 'book' "
                     "(the book's listing, lr_t = lr*sqrt(1-b2^t)/(1-b1^t), eps outside sqrt(v)). ") + common)
            .c_str());
}
