// Test and inspection entry points of nnkern's own GEMM (src/gemm.h): _core._gemm runs one
// product on a chosen ISA path; gemm_isa / _gemm_set_isa report and switch the path that
// the GEMM-based convolution kernels use.
#include <optional>
#include <string>
#include "checks.h"
#include "gemm.h"
#include "gemm_tiled.h"

namespace py = pybind11;
using namespace nnk_py;

namespace {

nnk::Isa isa_arg(const char* fn, const std::string& name) {
  nnk::Isa isa;
  if (!nnk::gemm_isa_parse(name.c_str(), isa))
    throw py::value_error(std::string(fn) + ": isa must be 'avx512', 'avx2' or 'generic', got '" + name + "'");
  if (!nnk::gemm_isa_supported(isa))
    throw py::value_error(std::string(fn) + ": this CPU cannot run the " + name + " path");
  return isa;
}

// A 2-D operand with unit column stride; returns its row stride in elements.
int64_t leading_dim(const char* fn, const char* name, const py::array& a) {
  require_ndim(fn, name, a, 2, "matrix");
  if (!(a.flags() & py::detail::npy_api::NPY_ARRAY_ALIGNED_))
    throw py::value_error(std::string(fn) + ": " + name + " is not aligned to its " + std::to_string(a.itemsize()) +
                          "-byte elements");
  const int64_t item = a.itemsize(), rows = a.shape(0), cols = a.shape(1);
  if (rows == 0 || cols == 0) return cols > 1 ? cols : 1;  // empty: numpy's strides are 0
  if (cols > 1 && a.strides(1) != item)
    throw py::value_error(std::string(fn) + ": " + name + " must have unit column stride");
  if (rows <= 1) return cols > 1 ? cols : 1;
  if (a.strides(0) % item != 0 || a.strides(0) / item < cols)
    throw py::value_error(std::string(fn) + ": " + name + " rows must not overlap (row stride >= columns)");
  return a.strides(0) / item;
}

bool overlaps(const py::array& x, int64_t ldx, const py::array& y, int64_t ldy) {
  auto span = [](const py::array& a, int64_t ld) {
    const char* p = static_cast<const char*>(a.data());
    const int64_t n = a.shape(0) == 0 || a.shape(1) == 0 ? 0 : ((a.shape(0) - 1) * ld + a.shape(1)) * a.itemsize();
    return std::make_pair(p, p + n);
  };
  auto [x0, x1] = span(x, ldx);
  auto [y0, y1] = span(y, ldy);
  return x0 < y1 && y0 < x1;
}

template <class T>
void run(bool ta, bool tb, int64_t m, int64_t n, int64_t k, double alpha, const py::array& a, int64_t lda,
         const py::array& b, int64_t ldb, double beta, py::array& c, int64_t ldc, bool packed, bool packed_b) {
  const T* ap = data_of<T>(a);
  const T* bp = data_of<T>(b);
  T* cp = data_of<T>(c);
  std::vector<T> work(size_t(nnk::gemm_work_size<T>()));
  std::vector<T> pa(packed ? size_t(nnk::gemm_packed_a_size<T>(m, k)) : 0);
  std::vector<T> pb(packed_b ? size_t(nnk::gemm_packed_b_size<T>(k, n)) : 0);
  KernelSection release;
  if (packed_b) {
    const auto p = nnk::gemm_pack_b<T>(tb, k, n, bp, ldb, pb.data());
    nnk::gemm_strided_a<T>(m, ap, lda, p, cp, ldc, beta != 0.0);
  } else if (packed) {
    const auto p = nnk::gemm_pack_a<T>(ta, m, k, ap, lda, pa.data());
    nnk::gemm_packed_a<T>(p, tb, n, bp, ldb, T(alpha), T(beta), cp, ldc, work.data());
  } else {
    nnk::gemm_nnk<T>(ta, tb, m, n, k, T(alpha), ap, lda, bp, ldb, T(beta), cp, ldc, work.data());
  }
}

void gemm(const py::array& a, const py::array& b, py::array& c, bool ta, bool tb, double alpha, double beta,
          const std::optional<std::string>& isa, bool packed, bool packed_b) {
  const char* fn = "_gemm";
  if (packed && packed_b) throw py::value_error("_gemm: packed and packed_b are exclusive");
  if (packed_b && (ta || alpha != 1.0 || (beta != 0.0 && beta != 1.0)))
    throw py::value_error("_gemm: packed_b computes c = a @ op(b) (beta 0) or c += a @ op(b) (beta 1), "
                          "with trans_a=False and alpha=1");
  const DType dt = float_dtype(fn, "a", a);
  same_dtype(fn, "b", b, "a", a);
  same_dtype(fn, "c", c, "a", a);
  const int64_t lda = leading_dim(fn, "a", a), ldb = leading_dim(fn, "b", b), ldc = leading_dim(fn, "c", c);
  require_writable(fn, "c", c);
  const int64_t m = ta ? a.shape(1) : a.shape(0), k = ta ? a.shape(0) : a.shape(1);
  const int64_t kb = tb ? b.shape(1) : b.shape(0), n = tb ? b.shape(0) : b.shape(1);
  if (kb != k) throw py::value_error(std::string(fn) + ": op(a) is (m, k) and op(b) must be (k, n)");
  require_shape(fn, "c", c, {m, n});
  checked_numel(fn, {m, ldc});
  checked_numel(fn, {ta ? k : m, lda});
  checked_numel(fn, {tb ? n : k, ldb});
  if (overlaps(c, ldc, a, lda) || overlaps(c, ldc, b, ldb))
    throw py::value_error(std::string(fn) + ": c must not overlap a or b");
  const nnk::Isa prev = nnk::gemm_isa();
  if (isa) nnk::gemm_set_isa(isa_arg(fn, *isa));
  try {
    if (dt == DType::f32)
      run<float>(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, packed, packed_b);
    else
      run<double>(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, packed, packed_b);
  } catch (...) {
    nnk::gemm_set_isa(prev);
    throw;
  }
  nnk::gemm_set_isa(prev);
}

}  // namespace

void bind_gemm(py::module_& m) {
  m.def("_gemm", &gemm, py::arg("a"), py::arg("b"), py::arg("c"), py::arg("trans_a") = false,
        py::arg("trans_b") = false, py::arg("alpha") = 1.0, py::arg("beta") = 0.0, py::arg("isa") = py::none(),
        py::arg("packed") = false, py::arg("packed_b") = false,
        "Testing hook: c = alpha * op(a) @ op(b) + beta * c in place with nnkern's own GEMM on the given ISA "
        "path ('avx512', 'avx2', 'generic'; default: the one in use); packed=True packs op(a) once first; "
        "packed_b=True packs op(b) once and reads a in place (trans_a=False, alpha=1, beta 0 or 1). "
        "Operands are 2-D with unit column stride (row strides are the leading dimensions).");
  m.def(
      "_gemm_tiled_grid",
      [](int64_t m, int64_t n, int64_t k) {
        constexpr int64_t kMax = int64_t(1) << 20;  // m n k < 2^63 (the grid multiplies them)
        if (m < 1 || n < 1 || k < 0 || m > kMax || n > kMax || k > kMax)
          throw py::value_error("_gemm_tiled_grid: m, n in [1, 2^20], k in [0, 2^20]");
        int64_t tm = 0, tn = 0;
        nnk::gemm_tiled_grid(m, n, k, tm, tn);
        return py::make_tuple(tm, tn);
      },
      py::arg("m"), py::arg("n"), py::arg("k"),
      "Testing hook: the tile sizes (tm, tn) of the deterministic tiled GEMM of the affine layer for an m x n x k "
      "product (a function of the shape alone).");
  m.def("_gemm_blocking", [](const std::string& name, py::object dtype) {
    const nnk::Isa isa = isa_arg("_gemm_blocking", name);
    const bool f64 = nnk_py::dtype_equiv(py::dtype::from_args(dtype), py::dtype::of<double>());
    const nnk::GemmBlocking b = f64 ? nnk::gemm_blocking<double>(isa) : nnk::gemm_blocking<float>(isa);
    py::dict d;
    d["mr"] = b.mr;
    d["nr"] = b.nr;
    d["kc"] = b.kc;
    d["mc"] = b.mc;
    d["nc"] = b.nc;
    return d;
  }, py::arg("isa"), py::arg("dtype"), "Register tile (mr, nr) and blocking (kc, mc, nc) of a GEMM ISA path.");
  m.def("gemm_isa", []() { return std::string(nnk::gemm_isa_name(nnk::gemm_isa())); },
        "ISA path of nnkern's own GEMM (and the implicit-GEMM convolution): avx512, avx2 or generic; "
        "NNKERN_ISA caps it.");
  m.def("gemm_isa_note", []() { return std::string(nnk::gemm_isa_note()); },
        "Empty, or why NNKERN_ISA was not honoured.");
  m.def("gemm_isa_supported", [](const std::string& name) {
    nnk::Isa isa;
    if (!nnk::gemm_isa_parse(name.c_str(), isa))
      throw py::value_error("gemm_isa_supported: isa must be 'avx512', 'avx2' or 'generic', got '" + name + "'");
    return nnk::gemm_isa_supported(isa);
  }, py::arg("isa"), "Whether this CPU can run the given GEMM ISA path.");
  m.def("_gemm_set_isa", [](const std::string& name) {
    const std::string prev = nnk::gemm_isa_name(nnk::gemm_isa());
    nnk::gemm_set_isa(isa_arg("_gemm_set_isa", name));
    return prev;
  }, py::arg("isa"),
        "Testing hook: switch the GEMM ISA path for every later call (not while kernels run in other "
        "threads); returns the previous one.");
}
