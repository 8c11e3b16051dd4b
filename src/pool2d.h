// 2-D max and average pooling (NCHW), forward and backward, by direct loops (no im2col):
// max_pool2d.cpp and avg_pool2d.cpp. This header holds their shape, their contract, and the
// few helpers both share.
#pragma once
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
// row into a padded row buffer, then a horizontal pass reduces KW taps of that buffer per
// output column. Tap j of output column ow reads buffer entry ow * SW + j (SW > 0: a
// compile-time stride; SW = 0: the runtime stride sw).
template <int SW>
NNK_INLINE int64_t tap(int64_t ow, int64_t sw, int64_t j) { return ow * (SW > 0 ? SW : sw) + j; }

// Non-overlapping columns without padding that tile the row exactly (2x2 stride 2 on an even
// width, ...): output q of the plane reads buffer entries q*SW + j of the vertically reduced
// plane (OH rows of W), so the horizontal pass runs once per plane over OH*OW outputs
// instead of once per short output row.
inline bool flat_columns(const Pool2dShape& s) { return s.pw == 0 && s.kw == s.sw && s.w == s.ow * s.sw; }

inline void assert_contract(const Pool2dShape& s) {
  assert(s.kh >= 1 && s.kw >= 1 && s.sh >= 1 && s.sw >= 1);
  assert(s.ph >= 0 && 2 * s.ph <= s.kh && s.pw >= 0 && 2 * s.pw <= s.kw);
  assert(s.kh <= s.h + 2 * s.ph && s.kw <= s.w + 2 * s.pw);
  assert(s.h * s.w < std::numeric_limits<int32_t>::max());
  (void)s;
}

}  // namespace pool2d_detail
}  // namespace nnk
