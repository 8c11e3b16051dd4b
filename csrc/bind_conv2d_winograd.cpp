// Binding of the Winograd tile-size override (tests and comparisons; the kernels themselves
// are reached through conv2d_forward / conv2d_backward with algo="winograd").
#include <pybind11/pybind11.h>
#include "conv2d_winograd.h"

namespace py = pybind11;

void bind_conv2d_winograd(py::module_& m) {
  m.def(
      "_conv2d_winograd_tile",
      [](int tile) {
        if (tile != 0 && tile != 2 && tile != 4 && tile != 5)
          throw py::value_error(
              "_conv2d_winograd_tile: tile must be 2, 4 or 5 (F(2x2,3x3), F(4x4,3x3), F(5x5,3x3)) or 0 (per shape)");
        const int before = nnk::conv2d_winograd_forced_tile();
        nnk::conv2d_winograd_set_tile(tile);
        return before;
      },
      py::arg("tile"),
      "Force Winograd's output tile size m (2, 4 or 5) for every 3x3 shape, or 0 for the per-shape choice; returns the "
      "previous setting. Process-global: for tests and comparisons.");
  m.def(
      "_conv2d_winograd_phase_budget",
      [](int64_t elements) { return nnk::conv2d_winograd_set_phase_budget(elements); }, py::arg("elements"),
      "Elements of phase planes a strided Winograd convolution builds at a time (<= 0: the default, 2^22); "
      "returns the previous budget. Process-global: for tests (1 makes every image its own chunk).");
  m.def(
      "_conv2d_winograd_chunk_budget",
      [](int64_t elements) { return nnk::conv2d_winograd_set_chunk_budget(elements); }, py::arg("elements"),
      "Elements of transformed tiles per chunk of the Winograd schedule for wide layers, every pass (<= 0: the "
      "default, 2^23); returns the previous budget. Process-global: for tests (1 makes every block its own chunk).");
  m.def("_conv2d_winograd_last_schedule", &nnk::conv2d_winograd_last_schedule,
        "Testing hook: the schedule of the latest stride-1 Winograd pass: 1 per block of tiles (forward, grad_x) or "
        "partial sums (grad_weight), 2 per transform position (wide layers), 0 none yet.");
  m.def(
      "_conv2d_winograd_last_products", []() { return std::string(nnk::conv2d_winograd_last_products()); },
      "Testing hook: what ran the transform-domain products of the latest stride-1 Winograd forward or grad_x "
      "pass: 'nnkern-gemm', 'small-products' or 'openblas' ('none' before any).");
}
