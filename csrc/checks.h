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
#include <vector>

namespace nnk_py {
namespace py = pybind11;

enum class DType { f32, f64 };

inline std::string dtype_name(const py::array& a) { return py::str(a.dtype()).cast<std::string>(); }

inline std::string shape_str(const py::array& a) {
  std::string s = "(";
  for (py::ssize_t i = 0; i < a.ndim(); ++i) s += (i ? ", " : "") + std::to_string(a.shape(i));
  return s + (a.ndim() == 1 ? ",)" : ")");
}

// float32 or float64, else TypeError naming what is accepted.
inline DType float_dtype(const char* fn, const char* name, const py::array& a) {
  if (a.dtype().is(py::dtype::of<float>())) return DType::f32;
  if (a.dtype().is(py::dtype::of<double>())) return DType::f64;
  throw py::type_error(std::string(fn) + ": " + name + " must be float32 or float64, got " + dtype_name(a));
}

inline void same_dtype(const char* fn, const char* name, const py::array& a, const char* ref_name,
                       const py::array& ref) {
  if (!a.dtype().is(ref.dtype()))
    throw py::type_error(std::string(fn) + ": " + name + " has dtype " + dtype_name(a) + " but " + ref_name +
                         " has dtype " + dtype_name(ref) + "; mixed dtypes are not supported, cast one of them");
}

inline void require_ndim(const char* fn, const char* name, const py::array& a, py::ssize_t nd,
                         const char* layout) {
  if (a.ndim() != nd)
    throw py::value_error(std::string(fn) + ": " + name + " must be " + std::to_string(nd) + "-D " + layout +
                          ", got shape " + shape_str(a));
}

inline void require_contiguous(const char* fn, const char* name, const py::array& a) {
  if (!(a.flags() & py::array::c_style))
    throw py::value_error(std::string(fn) + ": " + name +
                          " must be C-contiguous (use numpy.ascontiguousarray, or the nnkern.functional wrapper)");
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

template <class T>
py::array_t<T> new_array(const std::vector<int64_t>& shape) {
  std::vector<py::ssize_t> sh(shape.begin(), shape.end());
  py::array_t<T> out(sh);
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
      py::gil_scoped_release release;
      kernel(p);
    }
    return std::move(out);
  });
}

}  // namespace nnk_py
