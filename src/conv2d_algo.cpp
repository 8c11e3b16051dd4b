// Convolution algorithm selection: the heuristic rules, the benchmark-mode cache, the mode.
#include "conv2d_algo.h"
#include <array>
#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include "conv2d_winograd.h"
#include "gemm.h"
#include "nnk_common.h"

namespace nnk {

// ---- the heuristic ----
// Rules in order: the first whose algorithm applies to (shape, pass, dtype) and whose
// condition holds wins; Im2col (every shape) is last. Conditions read the shape, the dtype and
// the CPU's GEMM kernels only, so a run is reproducible. Evidence: `nnkern bench --algos`
// (every applicable algorithm forced, per pass, interleaved rounds, medians), float32 and
// float64, 2 and 1 threads, Intel Xeon AVX-512 (SkylakeX), 2 cores shared with other jobs
// (load 3-11): only orderings that held in every run are used. "a/b ms" below = the rule's
// algorithm / im2col, float32, 2 threads; float64 (2 threads) and float32 at 1 thread gave the
// same orderings (e.g. deepconv-3x3 fwd 10.2/37.6 ms float64, 2.75/6.96 ms 1 thread;
// alexnet-conv2-g2 fwd 467/695 float64, 101/130 1 thread) with one exception, alexnet-conv2-g2
// grad_x at 1 thread (implicit 160 / im2col 143 ms; 187/215 with 2 threads, 469/733 float64).
struct ConvRule {
  ConvAlgo algo;
  bool (*when)(const Conv2dShape& s, ConvPass pass, ConvDtype dt);
};

// Channels per group on the input and output side of the pass's own GEMM: grad_x is the
// convolution of grad_out (og channels per group) with the flipped weights (cg outputs).
static int64_t pass_in_channels(const Conv2dShape& s, ConvPass p) {
  return (p == ConvPass::BackwardInput ? s.oc : s.c) / s.groups;
}
static int64_t pass_out_channels(const Conv2dShape& s, ConvPass p) {
  return (p == ConvPass::BackwardInput ? s.c : s.oc) / s.groups;
}

// Winograd F(4x4,3x3) (the applies test already asked for 3x3 or 5x5, stride 1, dilation 1; F(5x5,3x3)
// replaced it on 13x13 and 14x14 planes after these measurements) wins on
// every 3x3 stride-1 shape with >= 8 channels per group on both sides and >= 64 output
// tiles: deepconv-3x3 fwd/gx/gw 9.3/41.7, 5.0/17.4, 5.0/23.1 ms; seed-keras-conv2 116/236,
// 72/182, 65/180; alexnet-conv3 74/106, 45/72, 83/113; c16-oc16-56 2.4-3.0x, c256-oc256-28
// 2.0-2.2x, c512-oc512-14 1.1-2.1x, 3x3 g4 3x; n1-c64-oc64-56 (196 tiles) 1.55/4.15.
// It loses where the transforms outweigh the products: depthwise 98.9/20.7, c4-oc8 1.37/0.58,
// c3-oc16 1.34/0.84, and with few tiles: n1-c256-oc384-13 (16 tiles) 8.7/3.0.
// F(2x2,5x5) (5x5 kernels, 2x2 tiles) under the same conditions: alexnet-conv2-g2 fwd/gx/gw
// 38.5/83.9, 48.9/85.5, 52.3/92.7 ms (implicit 63.3, 81.1, 72.9); c32-oc64-5x5 4.5/12.5,
// 5.4/12.6, 6.3/13.5 (implicit 8.9, 9.8, 8.9); 1-channel mnist-simpleconv stays im2col (3.5/0.78).
// A strided shape runs as the stride-1 problem of its phase planes (C S^2 input channels), and the
// same conditions are asked of that: alexnet-conv1 (11x11 stride 4, 48 phase channels) fwd/gx/gw
// 22.8-25.6 / 19.9-23.0 / 19.0-21.6 ms against implicit 33.2-39.0 / im2col 51.7-52.4 / implicit
// 34.2-37.9 (three runs, 2 threads; torch's forward 50-59 ms in the same runs).
// The tiles are counted on the grid these rules were measured with (4x4 for 3x3 kernels, 2x2
// for 5x5), whichever tile then runs (F(5x5,3x3) on 13x13 planes: 9 per image, not 16).
static bool winograd_pays(const Conv2dShape& shape, ConvPass p, ConvDtype) {
  const Conv2dShape s = shape.sh > 1 ? conv2d_winograd_phase_shape(shape) : shape;
  const int64_t m = s.kh == 5 ? 2 : 4;
  const int64_t tiles = s.n * ((s.oh + m - 1) / m) * ((s.ow + m - 1) / m);
  return pass_in_channels(s, p) >= 8 && pass_out_channels(s, p) >= 8 && tiles >= 64;
}

// Implicit GEMM (nnkern's SIMD GEMM, no column matrix) beats im2col + OpenBLAS where the GEMM's
// K (channels per group x kernel area) is >= 64, the output side has >= 8 channels per
// group and the batch has >= 1024 output pixels: alexnet-conv1 fwd/gw 148/191, 124/188 ms;
// alexnet-conv2-g2 fwd/gx/gw 171/240, 187/215, 179/244; c32-oc64-5x5 20/32, 24/31, 23/36;
// 11x11 s4, 7x7 s2 and 3x3 s2 (fwd, gw) 1.3-1.8x. Not for 1x1 kernels (im2col skips its copy
// there: c256-oc128-1x1 gw 28.5/19.9), short K (mnist-simpleconv, K = 25: 7.5/2.9, gx 28/2.6;
// c4-oc8 0.81/0.58; one exception, depthwise 3x3 s2 (K = 9) 6.4/9.1, left to im2col), small batches of few pixels (n1-c256-oc384-13, 169 pixels: 4.0/3.0) nor
// the portable SSE2 kernels (not measured faster than OpenBLAS).
static bool implicit_pays(const Conv2dShape& s, ConvPass p, ConvDtype) {
  const int64_t k = pass_in_channels(s, p) * s.kh * s.kw;
  return gemm_isa() != Isa::Generic && s.kh * s.kw > 1 && k >= 64 && pass_out_channels(s, p) >= 8 &&
         s.n * s.oh * s.ow >= 1024;
}

// Direct summation (forward, <= 4 input channels per group; conv2d_direct.h) beats im2col +
// OpenBLAS's short-K GEMM and implicit GEMM on AVX2 everywhere measured; on AVX-512 from 5x5
// kernels up and for <= 4 output channels per group (depthwise), while 3x3 kernels with more
// outputs tie or lose there and 1x1 kernels lose. Forward ms, direct / im2col / implicit, 2
// threads, float32, Xeon, minimum of 15-20 calls; AVX2 = the NNK_NO_AVX512 build (README "The AVX2
// code path"):
//   mnist-simpleconv (1 -> 30, 5x5, 28x28, N 100): AVX2 0.57/1.19/1.56, AVX-512 0.54/0.86/1.12
//   3 -> 64 5x5 32x32 N 16:                        0.92/1.05/1.17, 0.62/0.94/0.77
//   depthwise 64 3x3 56x56 N 8:                    0.68/3.00/11.4, 0.56/2.29/7.08
//   depthwise x2 (32 -> 64, groups 32) 28x28 N 8:  0.17/0.38/1.66, 0.14/0.27/1.06
//   batch 1, 3 -> 64 3x3 224x224:                  1.45/1.52/1.42, 1.06/1.42/1.01
//   DeepConvNet's 1 -> 16 3x3 (AVX-512):           0.235/0.224;  2 -> 32 3x3 14x14: 0.206/0.157
//   3 -> 16 1x1 64x64 N 8:                          0.132/0.137,  0.112/0.088
// Not on the portable SSE2 path (not measured).
static bool direct_pays(const Conv2dShape& s, ConvPass, ConvDtype) {
  const Isa isa = gemm_isa();
  return isa == Isa::Avx2 || (isa == Isa::Avx512 && (s.kh * s.kw >= 25 || s.oc / s.groups <= 4));
}

static bool always(const Conv2dShape&, ConvPass, ConvDtype) { return true; }

static const ConvRule kRules[] = {
    {ConvAlgo::Direct, direct_pays},
    {ConvAlgo::Winograd, winograd_pays},
    {ConvAlgo::Implicit, implicit_pays},
    // The general path: every shape, pass and dtype.
    {ConvAlgo::Im2col, always},
};

ConvAlgo conv2d_heuristic(const Conv2dShape& s, ConvPass pass, ConvDtype dt) {
  for (const ConvRule& r : kRules)
    if (conv_algo_applies(r.algo, s, pass, dt) && r.when(s, pass, dt)) return r.algo;
  return ConvAlgo::Im2col;
}

std::vector<ConvAlgo> conv2d_candidates(const Conv2dShape& s, ConvPass pass, ConvDtype dt) {
  int count = 0;
  const ConvAlgoEntry* table = conv_algo_table(count);
  std::vector<ConvAlgo> out;
  for (int i = 0; i < count; ++i)
    if (conv_algo_applies(table[i].algo, s, pass, dt)) out.push_back(table[i].algo);
  return out;
}

// ---- the mode ----
static std::atomic<int> g_mode{static_cast<int>(ConvSelectMode::Heuristic)};
static std::atomic<int> g_forced{static_cast<int>(ConvAlgo::Auto)};

void conv_set_select_mode(ConvSelectMode mode, ConvAlgo forced) {
  g_forced.store(static_cast<int>(mode == ConvSelectMode::Forced ? forced : ConvAlgo::Auto));
  g_mode.store(static_cast<int>(mode));
}
ConvSelectMode conv_select_mode() { return static_cast<ConvSelectMode>(g_mode.load()); }
ConvAlgo conv_forced_algo() { return static_cast<ConvAlgo>(g_forced.load()); }

// ---- the benchmark cache ----
using TuneKey = std::array<int64_t, 19>;

static TuneKey tune_key(const Conv2dShape& s, ConvPass pass, ConvDtype dt, int threads) {
  return {s.n,  s.c,  s.h,  s.w,      s.oc, s.kh, s.kw, s.sh,
          s.sw, s.ph, s.pw, s.dh,     s.dw, s.groups, s.oh, s.ow,
          static_cast<int64_t>(pass), static_cast<int64_t>(dt), threads};
}

namespace {
struct TuneCache {
  std::mutex mutex;  // held while measuring too: concurrent timings would distort each other
  std::map<TuneKey, ConvTuneRecord> records;
  int64_t misses = 0;
};
TuneCache& tune_cache() {
  static TuneCache* cache = new TuneCache;  // never destroyed: safe at interpreter exit
  return *cache;
}
}  // namespace

// Best of a few runs of one candidate: one run when it takes over 50 ms (page faults of a
// first run are small beside it), else a warm-up and up to 3 runs within ~20 ms.
static double time_candidate(ConvAlgo a, const std::function<void(ConvAlgo)>& run) {
  using clock = std::chrono::steady_clock;
  auto once = [&] {
    const auto t0 = clock::now();
    run(a);
    return std::chrono::duration<double>(clock::now() - t0).count();
  };
  double best = once();
  if (best > 0.05) return best;
  double total = 0.0;
  for (int i = 0; i < 3 && total < 0.02; ++i) {
    const double t = once();
    total += t;
    best = std::min(best, t);
  }
  return best;
}

static ConvAlgo autotune(const Conv2dShape& s, ConvPass pass, ConvDtype dt,
                         const std::function<void(ConvAlgo)>& run) {
  TuneCache& cache = tune_cache();
  const int threads = num_threads();
  const TuneKey key = tune_key(s, pass, dt, threads);
  std::lock_guard<std::mutex> lock(cache.mutex);
  auto it = cache.records.find(key);
  if (it != cache.records.end()) return it->second.chosen;
  ConvTuneRecord rec{s, pass, dt, threads, conv2d_heuristic(s, pass, dt), {}};
  const std::vector<ConvAlgo> cands = conv2d_candidates(s, pass, dt);
  if (cands.size() > 1) {
    double best = 0.0;
    for (ConvAlgo a : cands) {
      const double t = time_candidate(a, run);
      rec.seconds.emplace_back(a, t);
      if (rec.seconds.size() == 1 || t < best) best = t, rec.chosen = a;
    }
  }
  ++cache.misses;
  cache.records.emplace(key, rec);
  return rec.chosen;
}

// The global forced algorithm where it applies, else the heuristic.
static ConvAlgo forced_or_heuristic(const Conv2dShape& s, ConvPass pass, ConvDtype dt) {
  const ConvAlgo forced = conv_forced_algo();
  if (forced != ConvAlgo::Auto && conv_algo_applies(forced, s, pass, dt)) return forced;
  return conv2d_heuristic(s, pass, dt);
}

ConvAlgo conv2d_select(const Conv2dShape& s, ConvPass pass, ConvDtype dt,
                       const std::function<void(ConvAlgo)>& run) {
  if (conv_select_mode() == ConvSelectMode::Benchmark) return autotune(s, pass, dt, run);
  return forced_or_heuristic(s, pass, dt);
}

ConvAlgo conv2d_select_peek(const Conv2dShape& s, ConvPass pass, ConvDtype dt) {
  if (conv_select_mode() == ConvSelectMode::Benchmark) {
    TuneCache& cache = tune_cache();
    std::lock_guard<std::mutex> lock(cache.mutex);
    auto it = cache.records.find(tune_key(s, pass, dt, num_threads()));
    if (it != cache.records.end()) return it->second.chosen;
  }
  return forced_or_heuristic(s, pass, dt);
}

std::vector<ConvTuneRecord> conv_autotune_records() {
  TuneCache& cache = tune_cache();
  std::lock_guard<std::mutex> lock(cache.mutex);
  std::vector<ConvTuneRecord> out;
  for (const auto& kv : cache.records) out.push_back(kv.second);
  return out;
}

int64_t conv_autotune_count() {
  TuneCache& cache = tune_cache();
  std::lock_guard<std::mutex> lock(cache.mutex);
  return cache.misses;
}

void conv_autotune_clear() {
  TuneCache& cache = tune_cache();
  std::lock_guard<std::mutex> lock(cache.mutex);
  cache.records.clear();
  cache.misses = 0;
}

}  // namespace nnk
