// Deterministic tiled GEMM: see gemm_tiled.h.
#include "gemm_tiled.h"
#include <algorithm>
#include "blas.h"
#include "nnk_common.h"

namespace nnk {

constexpr int64_t kMaxTiles = 16;                   // load balance vs. BLAS efficiency of big tiles
constexpr int64_t kMinTileMadds = int64_t(1) << 20;  // ~1M multiply-adds per single-threaded call
constexpr int64_t kAlign = 4;                        // tile edges on multiples of 4 rows/columns
constexpr int64_t kMinSide = 64;                     // no tile side cut below 64, past the first cut,
constexpr int64_t kThinTileMadds = int64_t(1) << 24;  // unless the tiles keep 16M multiply-adds each

// Tile sizes (tm, tn): halve the longer side (rounded up to kAlign) while the tile is big and
// there are few tiles. A function of (m, n, k) only.
//
// Each tile is one BLAS call that packs its op(A) rows and op(B) columns, k * (tm + tn) copies
// for k * tm * tn multiply-adds; a copy costs about as much as a full vector of them, so thin
// tiles lose more to packing than the parallelism wins. Hence kMinSide: SimpleConvNet's
// (100 x 4320) . (4320 x 100) forward ran as 16 tiles of 32 x 32 in 0.82-1.23 ms on 2 threads
// (Xeon, AVX-512) and runs as 2 tiles of 52 x 100 in 0.49-0.80 ms. The first cut is always
// made, so a product of 2M multiply-adds or more still has two tiles for two threads; the
// edge stays balanced (52 + 48, not 64 + 36) because kAlign is small. Thin tiles of 16M
// multiply-adds or more are cut as before (their packing is as small a share as ever, and
// larger machines need the tiles): the grid still depends on (m, n, k) alone.
void gemm_tiled_grid(int64_t m, int64_t n, int64_t k, int64_t& tm, int64_t& tn) {
  tm = m;
  tn = n;
  auto tiles = [&] { return ((m + tm - 1) / tm) * ((n + tn - 1) / tn); };
  while (tiles() * 2 <= kMaxTiles && tm * tn * std::max<int64_t>(k, 1) >= 2 * kMinTileMadds) {
    int64_t& side = tm >= tn ? tm : tn;
    const int64_t half = ((side + 1) / 2 + kAlign - 1) / kAlign * kAlign;
    if (half >= side) break;
    const int64_t madds = tm * tn * std::max<int64_t>(k, 1);
    if (half < kMinSide && tiles() > 1 && madds < 2 * kThinTileMadds) break;  // thin tiles: see above
    side = half;
  }
}

template <class T>
void gemm_tiled(bool ta, bool tb, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda, const T* b,
                int64_t ldb, T beta, T* c, int64_t ldc) {
  if (m <= 0 || n <= 0) return;
  int64_t tm, tn;
  gemm_tiled_grid(m, n, k, tm, tn);
  const int64_t gm = (m + tm - 1) / tm, gn = (n + tn - 1) / tn;
  BlasSerialScope pin;
  // Tile (i, j): rows [i*tm, ...) of op(A) and C, columns [j*tn, ...) of op(B) and C. Each tile
  // is about kMinTileMadds of work or more (or the only one), so the grain is one tile.
  parallel_ranges(gm * gn, 1, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t i0 = (t / gn) * tm, j0 = (t % gn) * tn;
      const int64_t mi = std::min(tm, m - i0), nj = std::min(tn, n - j0);
      const T* ai = ta ? a + i0 : a + i0 * lda;  // op(A) rows i0..: A^T's rows are A's columns
      const T* bj = tb ? b + j0 * ldb : b + j0;  // op(B) columns j0..: B^T's columns are B's rows
      gemm<T>(ta, tb, mi, nj, k, alpha, ai, lda, bj, ldb, beta, c + i0 * ldc + j0, ldc);
    }
  });
}

template void gemm_tiled<float>(bool, bool, int64_t, int64_t, int64_t, float, const float*, int64_t, const float*,
                                int64_t, float, float*, int64_t);
template void gemm_tiled<double>(bool, bool, int64_t, int64_t, int64_t, double, const double*, int64_t,
                                 const double*, int64_t, double, double*, int64_t);

}  // namespace nnk
