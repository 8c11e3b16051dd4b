// Selection of a convolution algorithm per (shape, pass, dtype): the reproducible heuristic,
// the measured autotune ("benchmark" mode, like cudnn.benchmark) and a global forced algorithm.
#pragma once
#include <cstdint>
#include <functional>
#include <vector>
#include "conv2d.h"

namespace nnk {

// Heuristic: a fixed function of the shape, pass, dtype and CPU features (the default).
// Benchmark: the first call of each (shape, pass, dtype, thread count) times every applicable
//   algorithm on the caller's buffers and caches the fastest; later calls reuse it.
// Forced: one algorithm wherever it applies, the heuristic elsewhere (for comparisons).
enum class ConvSelectMode { Heuristic, Benchmark, Forced };

void conv_set_select_mode(ConvSelectMode mode, ConvAlgo forced = ConvAlgo::Auto);
ConvSelectMode conv_select_mode();
ConvAlgo conv_forced_algo();  // Auto unless the mode is Forced

// The heuristic's pick; always an algorithm that applies (Im2col at worst).
ConvAlgo conv2d_heuristic(const Conv2dShape& s, ConvPass pass, ConvDtype dt);

// What Auto resolves to under the current mode. `run(algo)` executes one candidate on the
// caller's buffers; it is called only in benchmark mode, on a cache miss.
ConvAlgo conv2d_select(const Conv2dShape& s, ConvPass pass, ConvDtype dt,
                       const std::function<void(ConvAlgo)>& run);
// What Auto would pick now without running anything: the cached choice in benchmark mode
// (or the heuristic's while the shape has not been measured yet).
ConvAlgo conv2d_select_peek(const Conv2dShape& s, ConvPass pass, ConvDtype dt);

// The benchmark cache, for introspection and tests.
struct ConvTuneRecord {
  Conv2dShape shape;
  ConvPass pass;
  ConvDtype dtype;
  int threads;
  ConvAlgo chosen;
  std::vector<std::pair<ConvAlgo, double>> seconds;  // best time of each candidate (empty: one candidate)
};
std::vector<ConvTuneRecord> conv_autotune_records();
int64_t conv_autotune_count();  // cache misses handled (each one measures its candidates once)
void conv_autotune_clear();

// Applicable algorithms for (s, pass, dt), in table order.
std::vector<ConvAlgo> conv2d_candidates(const Conv2dShape& s, ConvPass pass, ConvDtype dt);

}  // namespace nnk
