// Build and runtime information, thread control and the output-poisoning test hook.
#include <omp.h>
#include <memory>
#include <set>
#include "blas.h"
#include "checks.h"
#include "output_cache.h"
#include "fork_warning.h"
#include "nnk_common.h"

namespace py = pybind11;

namespace {
// Blocks alive now: the buffer export serves only these, so that an instance made from Python
// without a block (`_OutputBlock.__new__(_OutputBlock)`: pybind11 leaves its C++ part
// unconstructed) raises instead of exporting garbage. Touched under the GIL only.
std::set<const void*>& live_blocks() {
  static auto* s = new std::set<const void*>();
  return *s;
}

struct OutputBlock {
  void* p;
  size_t bytes;
  OutputBlock(void* p_, size_t b) : p(p_), bytes(b) { live_blocks().insert(this); }
  OutputBlock(const OutputBlock&) = delete;
  OutputBlock& operator=(const OutputBlock&) = delete;
  ~OutputBlock() {
    live_blocks().erase(this);
    nnk_py::output_cache_give(p);
  }
};
}  // namespace

py::object nnk_py::output_block(void* p, size_t bytes) {
  std::unique_ptr<OutputBlock> b;
  try {
    b = std::make_unique<OutputBlock>(p, bytes);
  } catch (...) {
    output_cache_give(p);
    throw;
  }
  return py::cast(std::move(b));  // takes ownership (frees b, and so gives p back, if it throws)
}

bool& nnk_py::poison_outputs() {
  static bool on = false;
  return on;
}

void bind_info(py::module_& m) {
  m.def("set_num_threads", [](int n) {
    if (n < 1) throw py::value_error("set_num_threads: n must be >= 1, got " + std::to_string(n));
    nnk::set_num_threads(n);
    nnk_py::warn_if_fork_child();
  }, py::arg("n"), "Set the thread count of nnkern's parallel regions and of OpenBLAS (1 for good in a "
     "process forked after nnkern loaded: use the 'spawn' or 'forkserver' start method for threads).");
  m.def("get_num_threads", &nnk::configured_num_threads,
        "Thread count of nnkern's parallel regions as set (1 in a forked child). With NNKERN_ADAPTIVE_THREADS=1, "
        "regions run half of it while other processes keep the cores busy (see _threads_state).");
  m.def("_threads_state", [] {
    return py::make_tuple(nnk::configured_num_threads(), nnk::threads_now(), nnk::threads_reduced(),
                          nnk::adaptive_threads());
  }, "(configured threads, threads a region would use now, reduced because the machine is busy, adaptation on).");
  m.def("_set_adaptive_threads", &nnk::set_adaptive_threads, py::arg("on"),
        "Turn the busy-machine adaptation on or off (it starts unreduced).");
  m.def("_threads_reduce_decision", &nnk::threads_reduce_decision, py::arg("switches_per_s"),
        "Testing hook: the adaptation's rule, whether a window in which the thread calling the kernels was "
        "preempted switches_per_s times a second means a busy machine.");
  m.def("_in_fork_child", &nnk::in_fork_child, "Whether this process was forked after nnkern loaded.");
  m.def("blas_get_num_threads", &nnk::blas_get_num_threads);
  m.def("_last_parallel_threads", &nnk::last_parallel_threads,
        "Testing hook: threads of the most recent work split of a kernel (1: it ran on the calling thread).");
  py::class_<OutputBlock>(m, "_OutputBlock", py::buffer_protocol(),
                          "The memory of a kernel output served by the output cache (see nnkern.set_output_cache).")
      .def_buffer([](OutputBlock& b) {
        if (!live_blocks().count(&b)) throw py::type_error("_OutputBlock: not the memory of a kernel output");
        return py::buffer_info(b.p, 1, py::format_descriptor<uint8_t>::format(), 1, {py::ssize_t(b.bytes)}, {1},
                               /*readonly=*/false);
      });
  m.def("_set_output_cache", [](int64_t cap) {
    if (cap < 0) throw py::value_error("set_output_cache: max_bytes must be >= 0, got " + std::to_string(cap));
    nnk_py::output_cache_set_cap(size_t(cap));
  }, py::arg("max_bytes"), "Cap of the output cache in bytes (0 turns it off and frees what it holds).");
  m.def("_output_cache_state", []() {
    py::dict d;
    d["max_bytes"] = nnk_py::output_cache_cap();
    d["bytes"] = nnk_py::output_cache_bytes();
    d["blocks"] = nnk_py::output_cache_blocks();
    d["min_bytes"] = nnk_py::kOutputCacheMinBytes;
    return d;
  }, "The output cache: its cap, the bytes and blocks it holds now, the smallest output it serves.");
  m.def("_set_poison_outputs", [](bool on) { nnk_py::poison_outputs() = on; }, py::arg("on"),
        "Testing hook: fill freshly allocated outputs with a value no kernel writes (see _poison_value) before "
        "each kernel runs.");
  m.def("_poison_value", [](const py::object& dtype) -> py::object {
    using nnk_py::poison_value;
    const py::dtype dt = py::dtype::from_args(dtype);
    if (nnk_py::dtype_equiv(dt, py::dtype::of<float>())) return py::float_(poison_value<float>());
    if (nnk_py::dtype_equiv(dt, py::dtype::of<double>())) return py::float_(poison_value<double>());
    if (nnk_py::dtype_equiv(dt, py::dtype::of<int64_t>())) return py::int_(poison_value<int64_t>());
    if (nnk_py::dtype_equiv(dt, py::dtype::of<uint8_t>())) return py::int_(poison_value<uint8_t>());
    throw py::type_error("_poison_value: no kernel output has dtype " + py::str(dt).cast<std::string>());
  }, py::arg("dtype"),
        "The poison of _set_poison_outputs for an output dtype: NaN (float32, float64), INT64_MIN (int64: "
        "max-pooling indices), 255 (uint8: dropout masks).");
  m.def("_poison_outputs", []() { return nnk_py::poison_outputs(); },
        "Whether the NaN-poisoning test hook is on (for outputs allocated in Python).");
  m.def("build_info", []() {
    py::dict d;
    d["version"] = NNK_VERSION;
    d["compiler"] = NNK_COMPILER;
    d["cxx_flags"] = NNK_CXX_FLAGS;
    d["simd_path"] = nnk::simd_path();
#if defined(NNK_NO_AVX512)
    d["avx512_paths"] = false;  // a measurement build (CMake NNK_NO_AVX512): the AVX2 code only
#else
    d["avx512_paths"] = true;
#endif
    d["openmp"] = _OPENMP;
    d["omp_max_threads"] = omp_get_max_threads();
    d["num_threads"] = nnk::num_threads();
    d["blas"] = "scipy-openblas32";
    d["blas_corename"] = nnk::blas_corename();
    d["blas_config"] = nnk::blas_config();
    d["blas_num_threads"] = nnk::blas_get_num_threads();
    return d;
  }, "Compiler, flags, SIMD path, OpenMP and BLAS details of this build.");
}
