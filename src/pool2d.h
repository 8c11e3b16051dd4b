// 2-D max and average pooling (NCHW), forward and backward, by direct loops (no im2col):
// max_pool2d.cpp and avg_pool2d.cpp. This header holds their shape, their contract, and the
// few helpers both share.
#pragma once
#include <algorithm>
#include <cassert>
#include <cstdint>
#include <limits>
#include "nnk_common.h"

namespace nnk {

struct Pool2dShape {
  int64_t n, c, h, w;  // input x: (N, C, H, W)
  int64_t kh, kw, sh, sw, ph, pw;
  int64_t oh, ow;      // output: (N, C, OH, OW)
};

// floor((in + 2p - k) / s) + 1 (torch's ceil_mode=False); the caller has checked k <= in + 2p.
inline int64_t pool_out_size(int64_t in, int64_t k, int64_t s, int64_t p) { return (in + 2 * p - k) / s + 1; }

// Contract of the forward kernels and of avg_pool2d_backward (checked by the caller):
// 0 <= p <= k/2 (torch's rule, so every window holds at least one input element),
// k <= in + 2p, H*W < 2^31 - 1.

// y (N, C, OH, OW) = max over each window; padding acts as -inf. idx (may be null) receives
// the flat index ih*W + iw of the maximum inside its input plane: the first maximum in
// row-major window order (as np.argmax), and the first NaN if the window holds one (NaN
// propagates).
template <class T> void max_pool2d_forward(const T* x, T* y, int64_t* idx, const Pool2dShape& s);
// gx (N, C, H, W) = scatter-add of gy (N, C, OH, OW) through idx (only n, c, h, w, oh, ow of s
// are read). Returns the number of indices outside [0, H*W) (skipped); the caller reports
// them as an error.
template <class T> int64_t max_pool2d_backward(const T* gy, const int64_t* idx, T* gx, const Pool2dShape& s);
// y = mean over each window; the divisor is KH*KW with count_include_pad, else the number of
// input elements inside the window.
template <class T> void avg_pool2d_forward(const T* x, T* y, const Pool2dShape& s, bool count_include_pad);
template <class T> void avg_pool2d_backward(const T* gy, T* gx, const Pool2dShape& s, bool count_include_pad);

namespace pool2d_detail {

// Both kernels work row by row: a vertical pass reduces the (clamped) window rows of one output
// row into a row buffer of W entries, then a horizontal pass reduces KW taps of that buffer per
// output column. Tap j of output column ow reads buffer entry ow * SW + j (SW > 0: a
// compile-time stride; SW = 0: the runtime stride sw), counted from the buffer offset of the
// first interior column (below).
template <int SW>
NNK_INLINE int64_t tap(int64_t ow, int64_t sw, int64_t j) { return ow * (SW > 0 ? SW : sw) + j; }

// Non-overlapping columns without padding that tile the row exactly (2x2 stride 2 on an even
// width, ...): output q of the plane reads buffer entries q*SW + j of the vertically reduced
// plane (OH rows of W), so the horizontal pass runs once per plane over OH*OW outputs
// instead of once per short output row.
inline bool flat_columns(const Pool2dShape& s) { return s.pw == 0 && s.kw == s.sw && s.w == s.ow * s.sw; }

// Padding is never materialised. The output columns [a, b) whose windows lie inside the row
// (no padded tap) run the vectorised horizontal passes on the W-wide buffer; each edge column
// (its window reaches into the padding) reduces its clamped taps [lo, hi) one by one. So no
// buffer is wider than the input row whatever the padding, and a window far wider than the
// input costs only the input elements it covers.
struct Interior {
  int64_t a, b;
};
inline Interior interior_columns(const Pool2dShape& s) {
  const int64_t a = std::min(s.ow, (s.pw + s.sw - 1) / s.sw);
  const int64_t last = s.w + s.pw - s.kw;  // the window of column ow fits iff ow * sw <= last
  const int64_t b = last < 0 ? a : std::min(s.ow, last / s.sw + 1);
  return {a, std::max(a, b)};
}
// Where the first interior column's taps start in the row buffer, and the shape of the
// interior columns alone (the vectorised passes run on buffer + offset with it).
inline int64_t interior_offset(const Pool2dShape& s, Interior in) { return in.a * s.sw - s.pw; }
inline Pool2dShape interior_shape(const Pool2dShape& s, Interior in) {
  Pool2dShape t = s;
  t.ow = in.b - in.a;
  return t;
}
// The clamped input columns [lo, hi) of output column ow (never empty: p <= k/2).
inline void window_columns(const Pool2dShape& s, int64_t ow, int64_t& lo, int64_t& hi) {
  const int64_t iw0 = ow * s.sw - s.pw;
  lo = std::max<int64_t>(iw0, 0);
  hi = std::min(iw0 + s.kw, s.w);
}

inline void assert_contract(const Pool2dShape& s) {
  assert(s.kh >= 1 && s.kw >= 1 && s.sh >= 1 && s.sw >= 1);
  assert(s.ph >= 0 && 2 * s.ph <= s.kh && s.pw >= 0 && 2 * s.pw <= s.kw);
  assert(s.kh <= s.h + 2 * s.ph && s.kw <= s.w + 2 * s.pw);
  assert(s.h * s.w < std::numeric_limits<int32_t>::max());
  (void)s;
}

}  // namespace pool2d_detail
}  // namespace nnk
