// Average pooling by direct, separable loops (see pool2d.h): for each output row a vertical
// pass sums the (clamped) window rows into a W-wide row buffer, then a horizontal pass
// sums KW strided taps of that buffer per output column and multiplies by the reciprocal
// divisor; the backward spreads each output gradient the same way in reverse. Sums run in a
// fixed order (window rows, then taps). Work items are the N*C planes: a thread owns whole
// planes, so there are no races.
#include <algorithm>
#include "nnk_common.h"
#include "pool2d.h"

namespace nnk {
namespace {

using namespace pool2d_detail;

// Reciprocal divisors of one output row: rcp[ow] = 1 / (rows * cols(ow)).
template <class T>
NNK_INLINE void avg_rcp(T* rcp, const Pool2dShape& s, int64_t rows, bool include_pad) {
  for (int64_t ow = 0; ow < s.ow; ++ow) {
    const int64_t iw0 = ow * s.sw - s.pw;
    const int64_t cols = include_pad ? s.kw : std::min(iw0 + s.kw, s.w) - std::max<int64_t>(iw0, 0);
    rcp[ow] = T(1.0 / double((include_pad ? s.kh : rows) * cols));
  }
}

// ---- forward horizontal passes: sums sv of a row buffer -> yr, s.ow outputs -----------------
// The general pass: s.kw taps of stride SW (0: the runtime stride).
template <class T, int SW>
NNK_INLINE void avg_pool2d_hpass_general(const T* NNK_RESTRICT sv, T* NNK_RESTRICT yr, const T* NNK_RESTRICT rcp,
                                         const Pool2dShape& s) {
  const int64_t sw = s.sw;
  for (int64_t ow = 0; ow < s.ow; ++ow) yr[ow] = sv[tap<SW>(ow, sw, 0)];
  for (int64_t j = 1; j < s.kw; ++j)
    for (int64_t ow = 0; ow < s.ow; ++ow) yr[ow] += sv[tap<SW>(ow, sw, j)];
  for (int64_t ow = 0; ow < s.ow; ++ow) yr[ow] *= rcp[ow];
}

// Fast path for KWxSW windows (2x2 and 3x3 stride 2): compile-time taps and stride, one pass,
// the taps in registers (same summation order as the general pass).
template <class T, int KW, int SW>
NNK_INLINE void avg_pool2d_hpass_k_s(const T* NNK_RESTRICT sv, T* NNK_RESTRICT yr, const T* NNK_RESTRICT rcp,
                                     int64_t ow_n) {
  for (int64_t ow = 0; ow < ow_n; ++ow) {
    T m = sv[ow * SW];
    for (int j = 1; j < KW; ++j) m += sv[ow * SW + j];
    yr[ow] = m * rcp[ow];
  }
}

// The one forward dispatch: the horizontal pass for this window shape.
template <class T>
NNK_INLINE void avg_pool2d_hpass(const T* sv, T* yr, const T* rcp, const Pool2dShape& s) {
  if (s.kw == 2 && s.sw == 2) return avg_pool2d_hpass_k_s<T, 2, 2>(sv, yr, rcp, s.ow);
  if (s.kw == 3 && s.sw == 2) return avg_pool2d_hpass_k_s<T, 3, 2>(sv, yr, rcp, s.ow);
  if (s.sw == 1) return avg_pool2d_hpass_general<T, 1>(sv, yr, rcp, s);
  if (s.sw == 2) return avg_pool2d_hpass_general<T, 2>(sv, yr, rcp, s);
  avg_pool2d_hpass_general<T, 0>(sv, yr, rcp, s);
}

// One output row from the W-wide row buffer: interior columns vectorised, each edge column the
// sum of its clamped taps in column order (the taps it skips were zero padding); the result is
// bit for bit that of a zero-padded buffer.
template <class T>
NNK_INLINE void avg_pool2d_hrow(const T* sv, T* yr, const T* rcp, const Pool2dShape& s, Interior in) {
  if (in.b > in.a) avg_pool2d_hpass(sv + interior_offset(s, in), yr + in.a, rcp + in.a, interior_shape(s, in));
  auto edge = [&](int64_t ow) {
    int64_t lo, hi;
    window_columns(s, ow, lo, hi);
    T m = T(0);  // + the padding's zeros: as a padded buffer sums (-0 sums become +0)
    for (int64_t t = lo; t < hi; ++t) m += sv[t];
    yr[ow] = m * rcp[ow];
  };
  for (int64_t ow = 0; ow < in.a; ++ow) edge(ow);
  for (int64_t ow = in.b; ow < s.ow; ++ow) edge(ow);
}

// ---- forward over planes [p0, p1) ------------------------------------------------------------
template <class T>
NNK_INLINE void avg_pool2d_planes(const T* x, T* y, const Pool2dShape& s, bool include_pad, int64_t p0, int64_t p1) {
  const int64_t H = s.h, W = s.w, OW = s.ow;
  const bool flat = flat_columns(s);
  const Interior in = interior_columns(s);
  Pool2dShape fs = s;  // the flat horizontal pass: one "row" of OH*OW outputs
  fs.ow = s.oh * s.ow;
  // row buffer (flat: the vertically summed plane) + reciprocal divisors for every output of
  // a plane (flat) or for a full-height row and a clipped row
  const int64_t nbuf = flat ? s.oh * W : W, nrcp = flat ? fs.ow : 2 * OW;
  auto buf = scratch<T>(nbuf + nrcp);
  T* NNK_RESTRICT sv = buf.get();
  T* NNK_RESTRICT rcp = sv + nbuf;
  T* NNK_RESTRICT rcp_edge = rcp + OW;
  std::fill(sv, sv + nbuf, T(0));
  if (flat) {
    for (int64_t oh = 0; oh < s.oh; ++oh) {
      const int64_t ih0 = oh * s.sh - s.ph;
      avg_rcp(rcp + oh * OW, s, std::min(ih0 + s.kh, H) - std::max<int64_t>(ih0, 0), include_pad);
    }
  } else {
    avg_rcp(rcp, s, s.kh, include_pad);
  }
  for (int64_t p = p0; p < p1; ++p) {
    const T* xp = x + p * H * W;
    for (int64_t oh = 0; oh < s.oh; ++oh) {
      T* NNK_RESTRICT svi = flat ? sv + oh * W : sv;
      const int64_t ih0 = oh * s.sh - s.ph, r0 = std::max<int64_t>(ih0, 0), r1 = std::min(ih0 + s.kh, H);
      const T* NNK_RESTRICT row = xp + r0 * W;
      for (int64_t iw = 0; iw < W; ++iw) svi[iw] = row[iw];
      for (int64_t r = r0 + 1; r < r1; ++r) {
        row = xp + r * W;
        for (int64_t iw = 0; iw < W; ++iw) svi[iw] += row[iw];
      }
      if (flat) continue;
      const T* rc = rcp;
      if (!include_pad && r1 - r0 != s.kh) {
        avg_rcp(rcp_edge, s, r1 - r0, false);
        rc = rcp_edge;
      }
      avg_pool2d_hrow(sv, y + (p * s.oh + oh) * OW, rc, s, in);
    }
    if (flat) avg_pool2d_hpass(sv, y + p * fs.ow, rcp, fs);
  }
}

// ---- backward: spread the scaled gradients gr of one output row over a row buffer sv --------
// The general spread: add each gradient to its s.kw taps (stride SW, 0: runtime).
template <class T, int SW>
NNK_INLINE void avg_pool2d_hspread_general(T* NNK_RESTRICT sv, const T* NNK_RESTRICT gr, const Pool2dShape& s) {
  const int64_t sw = s.sw;
  for (int64_t j = 0; j < s.kw; ++j)
    for (int64_t ow = 0; ow < s.ow; ++ow) sv[tap<SW>(ow, sw, j)] += gr[ow];
}

// Fast path for exactly tiling columns (flat_columns): every buffer column gets one tap, so
// the spread is a plain (vectorisable) store, no clearing and no read-modify-write.
template <class T, int SW>
NNK_INLINE void avg_pool2d_hspread_tiled(T* NNK_RESTRICT sv, const T* NNK_RESTRICT gr, const Pool2dShape& s) {
  const int64_t sw = s.sw;
  for (int64_t j = 0; j < s.kw; ++j)
    for (int64_t ow = 0; ow < s.ow; ++ow) sv[tap<SW>(ow, sw, j)] = gr[ow];
}

// The one backward dispatch: the spread of one output row into the W-wide buffer sv. Edge
// columns add to their clamped taps; every buffer entry receives its gradients in the order of
// decreasing output column (right edges, interior by increasing tap, left edges), the order
// of the spread over a padded buffer, so the sums do not depend on where the interior ends.
template <class T>
NNK_INLINE void avg_pool2d_hspread(T* sv, const T* gr, const Pool2dShape& s, bool flat, Interior in) {
  if (flat) {
    if (s.sw == 2) return avg_pool2d_hspread_tiled<T, 2>(sv, gr, s);
    return avg_pool2d_hspread_tiled<T, 0>(sv, gr, s);
  }
  std::fill(sv, sv + s.w, T(0));
  auto edge = [&](int64_t ow) {
    int64_t lo, hi;
    window_columns(s, ow, lo, hi);
    for (int64_t t = lo; t < hi; ++t) sv[t] += gr[ow];
  };
  for (int64_t ow = s.ow - 1; ow >= in.b; --ow) edge(ow);
  if (in.b > in.a) {
    T* si = sv + interior_offset(s, in);
    const Pool2dShape is = interior_shape(s, in);
    if (s.sw == 1) avg_pool2d_hspread_general<T, 1>(si, gr + in.a, is);
    else if (s.sw == 2) avg_pool2d_hspread_general<T, 2>(si, gr + in.a, is);
    else avg_pool2d_hspread_general<T, 0>(si, gr + in.a, is);
  }
  for (int64_t ow = in.a - 1; ow >= 0; --ow) edge(ow);
}

// ---- backward over planes [p0, p1) -----------------------------------------------------------
template <class T>
NNK_INLINE void avg_pool2d_backward_planes(const T* gy, T* gx, const Pool2dShape& s, bool include_pad, int64_t p0,
                                           int64_t p1) {
  const int64_t H = s.h, W = s.w, OW = s.ow;
  auto buf = scratch<T>(W + 3 * OW);
  T* NNK_RESTRICT sv = buf.get();
  T* NNK_RESTRICT rcp = sv + W;
  T* NNK_RESTRICT rcp_edge = rcp + OW;
  T* NNK_RESTRICT gr = rcp_edge + OW;
  T* NNK_RESTRICT svi = sv;
  avg_rcp(rcp, s, s.kh, include_pad);
  const bool flat = flat_columns(s);
  const Interior in = interior_columns(s);
  // rows tile exactly too: every input row lies in exactly one window, written once
  const bool tiled = flat && s.ph == 0 && s.kh == s.sh && H == s.oh * s.sh;
  for (int64_t p = p0; p < p1; ++p) {
    T* NNK_RESTRICT gp = gx + p * H * W;
    if (!tiled) std::fill(gp, gp + H * W, T(0));
    for (int64_t oh = 0; oh < s.oh; ++oh) {
      const int64_t ih0 = oh * s.sh - s.ph, r0 = std::max<int64_t>(ih0, 0), r1 = std::min(ih0 + s.kh, H);
      const T* rc = rcp;
      if (!include_pad && r1 - r0 != s.kh) {
        avg_rcp(rcp_edge, s, r1 - r0, false);
        rc = rcp_edge;
      }
      const T* gyr = gy + (p * s.oh + oh) * OW;
      for (int64_t ow = 0; ow < OW; ++ow) gr[ow] = gyr[ow] * rc[ow];
      avg_pool2d_hspread(sv, gr, s, flat, in);
      if (tiled) {
        for (int64_t r = r0; r < r1; ++r) std::copy(svi, svi + W, gp + r * W);
        continue;
      }
      for (int64_t r = r0; r < r1; ++r) {
        T* NNK_RESTRICT row = gp + r * W;
        for (int64_t iw = 0; iw < W; ++iw) row[iw] += svi[iw];
      }
    }
  }
}

NNK_ISA_CLONES(avg_pool2d_forward, (const T* x, T* y, const Pool2dShape& s, bool ip, int64_t p0, int64_t p1),
               avg_pool2d_planes<T>(x, y, s, ip, p0, p1))
NNK_ISA_CLONES(avg_pool2d_backward, (const T* gy, T* gx, const Pool2dShape& s, bool ip, int64_t p0, int64_t p1),
               avg_pool2d_backward_planes<T>(gy, gx, s, ip, p0, p1))

}  // namespace

template <class T>
void avg_pool2d_forward(const T* x, T* y, const Pool2dShape& s, bool count_include_pad) {
  assert_contract(s);
  parallel_ranges(s.n * s.c, items_per_grain(grain::kRows, s.h * s.w),
                  [&](int64_t b, int64_t e) { avg_pool2d_forward_isa<T>(x, y, s, count_include_pad, b, e); });
}

template <class T>
void avg_pool2d_backward(const T* gy, T* gx, const Pool2dShape& s, bool count_include_pad) {
  assert_contract(s);
  parallel_ranges(s.n * s.c, items_per_grain(grain::kRows, s.h * s.w),
                  [&](int64_t b, int64_t e) { avg_pool2d_backward_isa<T>(gy, gx, s, count_include_pad, b, e); });
}

template void avg_pool2d_forward<float>(const float*, float*, const Pool2dShape&, bool);
template void avg_pool2d_forward<double>(const double*, double*, const Pool2dShape&, bool);
template void avg_pool2d_backward<float>(const float*, float*, const Pool2dShape&, bool);
template void avg_pool2d_backward<double>(const double*, double*, const Pool2dShape&, bool);

}  // namespace nnk
