// 2-D max and average pooling (NCHW), forward and backward, by direct loops (no im2col).
#pragma once
#include <cstdint>

namespace nnk {

struct Pool2dShape {
  int64_t n, c, h, w;  // input x: (N, C, H, W)
  int64_t kh, kw, sh, sw, ph, pw;
  int64_t oh, ow;      // output: (N, C, OH, OW)
};

// floor((in + 2p - k) / s) + 1 (torch's ceil_mode=False); the caller has checked k <= in + 2p.
inline int64_t pool_out_size(int64_t in, int64_t k, int64_t s, int64_t p) { return (in + 2 * p - k) / s + 1; }

// Contract of all four kernels (checked by the caller): 0 <= p <= k/2 (torch's rule, so every
// window holds at least one input element), k <= in + 2p, H*W < 2^31 - 1.

// y (N, C, OH, OW) = max over each window; padding acts as -inf. idx (may be null) receives
// the flat index ih*W + iw of the maximum inside its input plane: the first maximum in
// row-major window order (as np.argmax), and the first NaN if the window holds one (NaN
// propagates).
template <class T> void max_pool2d_forward(const T* x, T* y, int64_t* idx, const Pool2dShape& s);
// gx (N, C, H, W) = scatter-add of gy through idx. Returns the number of indices outside
// [0, H*W) (skipped); the caller reports them as an error.
template <class T> int64_t max_pool2d_backward(const T* gy, const int64_t* idx, T* gx, const Pool2dShape& s);
// y = mean over each window; the divisor is KH*KW with count_include_pad, else the number of
// input elements inside the window.
template <class T> void avg_pool2d_forward(const T* x, T* y, const Pool2dShape& s, bool count_include_pad);
template <class T> void avg_pool2d_backward(const T* gy, T* gx, const Pool2dShape& s, bool count_include_pad);

}  // namespace nnk
