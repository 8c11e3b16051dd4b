// Convolution algorithm selection: the heuristic rules, the benchmark-mode cache, the mode.
#include "conv2d_algo.h"
#include <array>
#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include "nnk_common.h"

namespace nnk {

// ---- the heuristic ----
// Rules in order: the first whose algorithm applies to (shape, pass, dtype) and whose
// condition holds wins. Each rule cites the measurement that justifies it (nnkern bench and
// benchmarks/conv2d_algos.py, ratios in one run).
struct ConvRule {
  ConvAlgo algo;
  bool (*when)(const Conv2dShape& s, ConvPass pass, ConvDtype dt);
};

static bool always(const Conv2dShape&, ConvPass, ConvDtype) { return true; }

static const ConvRule kRules[] = {
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
