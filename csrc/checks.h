// Argument checks and output allocation shared by the bindings. Every check runs before
// any memory is written, and raises a Python exception (TypeError / ValueError /
// OverflowError) whose message names the function and the argument.
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>
#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <stdexcept>
#include <string>
#include <type_traits>
#include "output_cache.h"
#include <utility>
#include <vector>
#include "fork_warning.h"

namespace nnk_py {
namespace py = pybind11;

enum class DType { f32, f64 };

inline std::string dtype_name(const py::array& a) { return py::str(a.dtype()).cast<std::string>(); }

inline std::string shape_str(const py::array& a) {
  std::string s = "(";
  for (py::ssize_t i = 0; i < a.ndim(); ++i) s += (i ? ", " : "") + std::to_string(a.shape(i));
  return s + (a.ndim() == 1 ? ",)" : ")");
}

// Dtypes compare by value (PyArray_EquivTypes), never by identity: an array that went through
// pickle (mpi4py, multiprocessing) carries a fresh dtype object equal to the builtin one. A
// dtype of the other byte order is not equivalent (its bytes would be misread) and is refused
// with a message of its own: nnkern never byte-swaps silently.
inline bool dtype_equiv(const py::dtype& a, const py::dtype& b) {
  return py::detail::npy_api::get().PyArray_EquivTypes_(a.ptr(), b.ptr());
}

template <class T>
bool has_dtype(const py::array& a) {
  return dtype_equiv(a.dtype(), py::dtype::of<T>());
}

inline bool non_native_order(const py::dtype& d) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  return d.byteorder() == '<';
#else
  return d.byteorder() == '>';
#endif
}

inline void require_native_order(const char* fn, const char* name, const py::array& a) {
  if (non_native_order(a.dtype()))
    throw py::type_error(std::string(fn) + ": " + name + " has dtype " + dtype_name(a) +
                         " of non-native byte order; nnkern reads native-order arrays only: convert it first "
                         "(a.astype(a.dtype.newbyteorder('=')))");
}

// A dtype accepted by value (see dtype_equiv) or named `what`, e.g. "int64".
template <class T>
void require_dtype(const char* fn, const char* name, const py::array& a, const char* what) {
  require_native_order(fn, name, a);
  if (!has_dtype<T>(a))
    throw py::type_error(std::string(fn) + ": " + name + " must be " + what + ", got " + dtype_name(a));
}

// float32 or float64, else TypeError naming what is accepted.
inline DType float_dtype(const char* fn, const char* name, const py::array& a) {
  require_native_order(fn, name, a);
  if (has_dtype<float>(a)) return DType::f32;
  if (has_dtype<double>(a)) return DType::f64;
  throw py::type_error(std::string(fn) + ": " + name + " must be float32 or float64, got " + dtype_name(a));
}

inline void same_dtype(const char* fn, const char* name, const py::array& a, const char* ref_name,
                       const py::array& ref) {
  require_native_order(fn, name, a);
  if (!dtype_equiv(a.dtype(), ref.dtype()))
    throw py::type_error(std::string(fn) + ": " + name + " has dtype " + dtype_name(a) + " but " + ref_name +
                         " has dtype " + dtype_name(ref) + "; mixed dtypes are not supported, cast one of them");
}

inline void require_ndim(const char* fn, const char* name, const py::array& a, py::ssize_t nd,
                         const char* layout) {
  if (a.ndim() != nd)
    throw py::value_error(std::string(fn) + ": " + name + " must be " + std::to_string(nd) + "-D " + layout +
                          ", got shape " + shape_str(a));
}

// C-contiguous and aligned to the element size (the kernels' loads assume both; a view at an
// odd byte offset of a buffer is not). The functional wrappers copy inputs that are neither;
// arrays updated in place are never copied (the update would vanish), so they must be both.
inline void require_contiguous(const char* fn, const char* name, const py::array& a) {
  if (!(a.flags() & py::array::c_style))
    throw py::value_error(std::string(fn) + ": " + name +
                          " must be C-contiguous (use numpy.ascontiguousarray, or the nnkern.functional wrapper)");
  if (!(a.flags() & py::detail::npy_api::NPY_ARRAY_ALIGNED_))
    throw py::value_error(std::string(fn) + ": " + name + " is not aligned to its " + std::to_string(a.itemsize()) +
                          "-byte elements (a view at an odd byte offset?): pass a copy (numpy.array(a)) or use the "
                          "nnkern.functional wrapper; an array updated in place is never copied by nnkern");
}

// The arrays of one call that must not share memory: a written one (updated in place) may
// overlap no other array, read-only ones may overlap each other. Sorted by address, so it is
// O(n log n) for the optimizers' thousands of tensors. `rule` ends the message.
struct Operand {
  py::array a;
  bool written;
  std::string name;
};

inline void require_no_overlap(const char* fn, const std::vector<Operand>& ops, const char* rule) {
  struct Span {
    uintptr_t b, e;
    bool written;
    const std::string* name;
  };
  std::vector<Span> spans;
  for (const Operand& o : ops)
    if (o.a.nbytes() > 0) {
      const auto b = reinterpret_cast<uintptr_t>(o.a.data());
      spans.push_back({b, b + uintptr_t(o.a.nbytes()), o.written, &o.name});
    }
  std::sort(spans.begin(), spans.end(), [](const Span& x, const Span& y) { return x.b < y.b; });
  const Span *any = nullptr, *written = nullptr;  // earlier spans reaching furthest
  for (const Span& s : spans) {
    const Span* hit = (s.written && any && s.b < any->e) ? any : (written && s.b < written->e) ? written : nullptr;
    if (hit) throw py::value_error(std::string(fn) + ": " + *hit->name + " and " + *s.name + " share memory; " + rule);
    if (!any || s.e > any->e) any = &s;
    if (s.written && (!written || s.e > written->e)) written = &s;
  }
}

inline void require_writable(const char* fn, const char* name, const py::array& a) {
  if (!a.writeable())
    throw py::value_error(std::string(fn) + ": " + name + " is read-only; it is updated in place");
}

inline void require_shape(const char* fn, const char* name, const py::array& a, const std::vector<int64_t>& want) {
  bool ok = a.ndim() == py::ssize_t(want.size());
  for (size_t i = 0; ok && i < want.size(); ++i) ok = a.shape(i) == want[i];
  if (!ok) {
    std::string w = "(";
    for (size_t i = 0; i < want.size(); ++i) w += (i ? ", " : "") + std::to_string(want[i]);
    throw py::value_error(std::string(fn) + ": " + name + " must have shape " + w + (want.size() == 1 ? ",)" : ")") +
                          ", got " + shape_str(a));
  }
}

// Product of non-negative sizes; OverflowError when it (in bytes of 8) exceeds int64.
inline int64_t checked_numel(const char* fn, std::initializer_list<int64_t> dims) {
  int64_t p = 1;
  for (int64_t d : dims) {
    if (d < 0) throw py::value_error(std::string(fn) + ": negative size");
    if (__builtin_mul_overflow(p, d, &p) || p > std::numeric_limits<int64_t>::max() / 8)
      throw std::overflow_error(std::string(fn) + ": sizes are too large (element count overflows int64)");
  }
  return p;
}

// Every hyper-parameter that enters size arithmetic (kernel sizes, strides, paddings,
// dilations, groups, window sizes) is checked first to lie in [lo, kMaxParam]: then
// h + 2 * pad, dilation * (kernel - 1) + 1 and output sizes stay far inside int64 for any
// array (whose element count checked_numel bounds by 2^60), and products of sizes go through
// checked_numel. Too large is an OverflowError, too small a ValueError.
constexpr int64_t kMaxParam = int64_t(1) << 31;

inline void require_param(const char* fn, const char* name, int64_t v, int64_t lo) {
  if (v < lo)
    throw py::value_error(std::string(fn) + ": " + name + (lo > 0 ? " must be positive" : " must be non-negative") +
                          ", got " + std::to_string(v));
  if (v > kMaxParam)
    throw std::overflow_error(std::string(fn) + ": " + name + " " + std::to_string(v) +
                              " is larger than 2^31 (hyper-parameters are bounded so size arithmetic cannot overflow)");
}

inline void require_param(const char* fn, const char* name, std::pair<int64_t, int64_t> v, int64_t lo) {
  require_param(fn, name, v.first, lo);
  require_param(fn, name, v.second, lo);
}

inline std::vector<int64_t> shape_of(const py::array& a) {
  return std::vector<int64_t>(a.shape(), a.shape() + a.ndim());
}

// Element count of a, OverflowError if it overflows.
inline int64_t numel_of(const char* fn, const py::array& a) {
  int64_t p = 1;
  for (py::ssize_t i = 0; i < a.ndim(); ++i) p = checked_numel(fn, {p, int64_t(a.shape(i))});
  return p;
}

// The one dtype switch of the bindings: returns f(T()) with T = float for f32 and double for
// f64. Both instantiations of f must return the same type (py::array, py::object, ...).
template <class F>
auto dispatch_float(DType dt, F&& f) {
  if (dt == DType::f64) return f(double());
  return f(float());
}

// Every kernel runs inside a KernelSection, which releases the GIL, but first, with the GIL
// still held, gives the one-time warning of a forked child (fork_warning.h): under
// warnings-as-errors that raises before any work starts.
struct ForkWarning {
  ForkWarning() { warn_if_fork_child(); }
};
struct KernelSection : ForkWarning {
  py::gil_scoped_release release;
};

// Testing hook: when on, fresh outputs are filled before a kernel runs with a value that no
// kernel writes, so a test can see any element that the kernel failed to write: NaN in
// floating-point outputs, the most negative value in signed integer outputs (INT64_MIN for
// max-pooling indices, which are >= 0), the largest value in unsigned ones (255 for dropout
// masks, which are 0 or 1). _core._poison_value(dtype) returns it.
bool& poison_outputs();

template <class T>
constexpr T poison_value() {
  if constexpr (std::numeric_limits<T>::has_quiet_NaN) return std::numeric_limits<T>::quiet_NaN();
  else if constexpr (std::numeric_limits<T>::is_signed) return std::numeric_limits<T>::min();
  else return std::numeric_limits<T>::max();
}

// The owner of a cached block: a writable buffer object (so that numpy lets the array's WRITEABLE
// flag be set again after it was cleared) that returns the block to the cache when it is freed.
// Registered as _core._OutputBlock (bind_info.cpp). Gives p back itself if it cannot be made.
py::object output_block(void* p, size_t bytes);

// A fresh C-contiguous output (shapes already checked against overflow): from the output cache
// when it is large (output_cache.h), else numpy's allocator; poisoned in tests.
template <class T>
py::array_t<T> new_array(const std::vector<int64_t>& shape) {
  std::vector<py::ssize_t> sh(shape.begin(), shape.end());
  size_t bytes = sizeof(T);
  for (int64_t d : shape) bytes *= size_t(d);
  py::array_t<T> out;
  if (bytes >= kOutputCacheMinBytes && output_cache_cap() > 0) {
    void* p = output_cache_take(bytes);
    if (!p) throw std::bad_alloc();
    py::object owner = output_block(p, bytes);                // gives p back to the cache when freed
    out = py::array_t<T>(sh, static_cast<T*>(p), owner);  // the array references p
  } else {
    out = py::array_t<T>(sh);
  }
  if (poison_outputs()) {
    T* p = out.mutable_data();
    std::fill(p, p + out.size(), poison_value<T>());
  }
  return out;
}

template <class T>
T* data_of(const py::array& a) {
  return static_cast<T*>(const_cast<void*>(a.data()));
}

// The element type of a T* (in the generic kernel lambdas of float_output).
template <class P>
using elem_t = std::remove_pointer_t<P>;

// The common shape of a binding with one output: a fresh output of `shape` and dtype dt (poisoned
// in tests), filled by kernel(T* out) with the GIL released, returned.
template <class K>
py::array float_output(DType dt, const std::vector<int64_t>& shape, K&& kernel) {
  return dispatch_float(dt, [&](auto t) -> py::array {
    auto out = new_array<decltype(t)>(shape);
    auto* p = out.mutable_data();
    {
      KernelSection release;
      kernel(p);
    }
    return std::move(out);
  });
}

}  // namespace nnk_py
