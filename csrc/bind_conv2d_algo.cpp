// Bindings of the convolution algorithm selection: the global mode (set_conv_algo), the
// benchmark cache, the list of algorithms; and the `algo` argument checks of bind_conv2d.cpp.
#include <string>
#include "checks.h"
#include "conv2d.h"
#include "conv2d_algo.h"
#include "conv2d_algo_args.h"

namespace py = pybind11;

namespace nnk_py {

static std::string algo_list() {
  std::string out;
  for (int i = 0; i < nnk::kConvAlgoCount; ++i) out += (i ? ", " : "") + std::string(nnk::conv_algo_name(nnk::ConvAlgo(i)));
  return out;
}

static std::string available_list() {
  int count = 0;
  const nnk::ConvAlgoEntry* table = nnk::conv_algo_table(count);
  std::string out = "auto";
  for (int i = 0; i < count; ++i) out += std::string(", ") + nnk::conv_algo_name(table[i].algo);
  return out;
}

static const char* pass_label(nnk::ConvPass p) {
  switch (p) {
    case nnk::ConvPass::Forward: return "the forward pass";
    case nnk::ConvPass::BackwardInput: return "grad_x (backward_input)";
    case nnk::ConvPass::BackwardWeight: return "grad_weight (backward_weight)";
  }
  return "?";
}

static std::string shape_label(const nnk::Conv2dShape& s, nnk::ConvDtype dt) {
  auto pair = [](int64_t a, int64_t b) { return "(" + std::to_string(a) + ", " + std::to_string(b) + ")"; };
  return "kernel " + std::to_string(s.kh) + "x" + std::to_string(s.kw) + ", stride " + pair(s.sh, s.sw) +
         ", padding " + pair(s.ph, s.pw) + ", dilation " + pair(s.dh, s.dw) + ", groups " + std::to_string(s.groups) +
         ", C=" + std::to_string(s.c) + ", OC=" + std::to_string(s.oc) + ", " +
         (dt == nnk::ConvDtype::F32 ? "float32" : "float64");
}

nnk::ConvAlgo conv_algo_from_arg(const char* fn, const char* what, const std::string& name) {
  nnk::ConvAlgo a;
  if (!nnk::conv_algo_from_name(name.c_str(), a))
    throw py::value_error(std::string(fn) + ": unknown " + what + " '" + name + "'; expected one of " + algo_list());
  return a;
}

nnk::ConvAlgo conv_algo_arg(const char* fn, const std::string& name, const nnk::Conv2dShape& s, nnk::ConvPass pass,
                            nnk::ConvDtype dt) {
  const nnk::ConvAlgo a = conv_algo_from_arg(fn, "algo", name);
  if (a == nnk::ConvAlgo::Auto) return a;
  const nnk::ConvAlgoEntry* e = nnk::conv_algo_entry(a);
  if (!e)
    throw py::value_error(std::string(fn) + ": algo='" + name + "' is not available in this build of nnkern (available: " +
                          available_list() + ")");
  if (!nnk::conv_algo_applies(a, s, pass, dt))
    throw py::value_error(std::string(fn) + ": algo='" + name + "' does not apply to " + pass_label(pass) +
                          " of this convolution: it needs " + e->needs + "; got " + shape_label(s, dt));
  return a;
}

}  // namespace nnk_py

namespace {

void set_conv_algo(const std::string& mode) {
  if (mode == "heuristic" || mode == "auto") return nnk::conv_set_select_mode(nnk::ConvSelectMode::Heuristic);
  if (mode == "benchmark") return nnk::conv_set_select_mode(nnk::ConvSelectMode::Benchmark);
  nnk::ConvAlgo a;
  if (!nnk::conv_algo_from_name(mode.c_str(), a))
    throw py::value_error("set_conv_algo: unknown mode '" + mode +
                          "'; expected 'heuristic', 'benchmark' or an algorithm name (" + nnk_py::available_list() +
                          ")");
  if (!nnk::conv_algo_entry(a))
    throw py::value_error("set_conv_algo: algorithm '" + mode + "' is not available in this build of nnkern (available: " +
                          nnk_py::available_list() + ")");
  nnk::conv_set_select_mode(nnk::ConvSelectMode::Forced, a);
}

std::string get_conv_algo() {
  switch (nnk::conv_select_mode()) {
    case nnk::ConvSelectMode::Heuristic: return "heuristic";
    case nnk::ConvSelectMode::Benchmark: return "benchmark";
    case nnk::ConvSelectMode::Forced: return nnk::conv_algo_name(nnk::conv_forced_algo());
  }
  return "?";
}

py::list conv2d_algorithms() {
  int count = 0;
  const nnk::ConvAlgoEntry* table = nnk::conv_algo_table(count);
  py::list out;
  for (int i = 0; i < count; ++i) {
    py::dict d;
    d["name"] = nnk::conv_algo_name(table[i].algo);
    d["needs"] = table[i].needs;
    d["float32"] = table[i].f32.forward || table[i].f32.backward_input || table[i].f32.backward_weight;
    d["float64"] = table[i].f64.forward || table[i].f64.backward_input || table[i].f64.backward_weight;
    out.append(d);
  }
  return out;
}

py::list conv2d_autotune_cache() {
  py::list out;
  for (const nnk::ConvTuneRecord& r : nnk::conv_autotune_records()) {
    const nnk::Conv2dShape& s = r.shape;
    py::dict d, t;
    d["x_shape"] = py::make_tuple(s.n, s.c, s.h, s.w);
    d["weight_shape"] = py::make_tuple(s.oc, s.c / s.groups, s.kh, s.kw);
    d["stride"] = py::make_tuple(s.sh, s.sw);
    d["padding"] = py::make_tuple(s.ph, s.pw);
    d["dilation"] = py::make_tuple(s.dh, s.dw);
    d["groups"] = s.groups;
    d["pass"] = nnk::conv_pass_name(r.pass);
    d["dtype"] = r.dtype == nnk::ConvDtype::F32 ? "float32" : "float64";
    d["threads"] = r.threads;
    d["chosen"] = nnk::conv_algo_name(r.chosen);
    for (const auto& [a, sec] : r.seconds) t[nnk::conv_algo_name(a)] = sec;
    d["seconds"] = t;
    out.append(d);
  }
  return out;
}

}  // namespace

void bind_conv2d_algo(py::module_& m) {
  m.def("set_conv_algo", &set_conv_algo, py::arg("mode"),
        "Convolution algorithm selection for algo='auto': 'heuristic' (default; a fixed function of "
        "shape, dtype and CPU), 'benchmark' (time the applicable algorithms once per shape, pass, dtype "
        "and thread count, and cache the fastest), or an algorithm name (used wherever it applies).");
  m.def("get_conv_algo", &get_conv_algo, "The current selection mode: 'heuristic', 'benchmark' or an algorithm name.");
  m.def("conv2d_algorithms", &conv2d_algorithms,
        "The convolution algorithms of this build: name, what they need, dtypes.");
  m.def("conv2d_autotune_cache", &conv2d_autotune_cache,
        "The benchmark-mode cache: one dict per measured (shape, pass, dtype, threads).");
  m.def("conv2d_autotune_count", &nnk::conv_autotune_count,
        "How many (shape, pass, dtype, threads) keys benchmark mode has measured since the last clear.");
  m.def("conv2d_autotune_clear", &nnk::conv_autotune_clear, "Empty the benchmark-mode cache and its counter.");
}
