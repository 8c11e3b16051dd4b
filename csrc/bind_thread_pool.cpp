// nnkern's fork-join pool (src/thread_pool.h): its state and testing hooks.
#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>
#include "checks.h"
#include "thread_pool.h"

namespace py = pybind11;

namespace {

void check_range(const char* what, int64_t v, int64_t lo, int64_t hi) {
  if (v < lo || v > hi)
    throw py::value_error("_pool_run: " + std::string(what) + " must be in [" + std::to_string(lo) + ", " +
                          std::to_string(hi) + "], got " + std::to_string(v));
}

// Runs `items` items on `threads` participants; each item sleeps item_us microseconds (holding its
// slot), the one numbered fail_item throws, and with nested each item runs an inner call of 4
// items. Returns (slot of each item, slot of each inner item: -1 where not run).
py::tuple pool_run(int64_t items, int threads, int64_t item_us, int64_t fail_item, bool nested) {
  check_range("items", items, 1, 1 << 20);
  check_range("threads", threads, 1, 64);
  check_range("item_us", item_us, 0, 1000000);
  if (items * item_us > 10000000)  // a hook, not a way to hang the process: at most 10 s of sleeping items
    throw py::value_error("_pool_run: items * item_us must be at most 10,000,000 (10 s), got " +
                          std::to_string(items * item_us));
  std::vector<int> slots(size_t(items), -1), inner(size_t(nested ? 4 * items : 0), -1);
  {
    py::gil_scoped_release release;
    nnk::parallel_items(items, threads, [&](int64_t i, int slot) {
      if (i == fail_item) throw std::runtime_error("_pool_run: item " + std::to_string(i) + " failed on purpose");
      slots[size_t(i)] = slot;
      if (item_us) std::this_thread::sleep_for(std::chrono::microseconds(item_us));
      if (nested) nnk::parallel_items(4, threads, [&](int64_t k, int s) { inner[size_t(4 * i + k)] = s; });
    });
  }
  return py::make_tuple(py::cast(slots), py::cast(inner));
}

}  // namespace

void bind_thread_pool(py::module_& m) {
  m.def("_pool_state", [] {
    py::dict d;
    d["workers"] = nnk::pool_workers();
    d["spin_us"] = nnk::pool_spin_us();
    return d;
  }, "nnkern's fork-join pool: workers started so far, and how long idle workers spin before they sleep.");
  m.def("_pool_run", &pool_run, py::arg("items"), py::arg("threads"), py::arg("item_us") = 0,
        py::arg("fail_item") = -1, py::arg("nested") = false,
        "Testing hook: run `items` items on the pool (see csrc/bind_thread_pool.cpp); returns the slot of each "
        "item and of each inner item.");
  m.def("_pool_set_join_delay_us", &nnk::pool_set_join_delay_us, py::arg("us"),
        "Testing hook: workers wait `us` microseconds after each wake-up before they look for work (0: off).");
}
