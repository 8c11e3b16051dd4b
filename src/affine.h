// Affine (fully connected) layer in the book's layout: y (N, out) = x (N, in) . W (in, out) + b.
#pragma once
#include <cstdint>

namespace nnk {

// b may be null.
template <class T>
void affine_forward(const T* x, const T* w, const T* b, T* y, int64_t n, int64_t in, int64_t out);
// gx (N, in) = gy . W^T; gw (in, out) = x^T . gy; gb (out) = column sums of gy.
// gx and gb may be null (not computed). Deterministic whatever the thread count (see affine.cpp).
template <class T>
void affine_backward(const T* gy, const T* x, const T* w, T* gx, T* gw, T* gb, int64_t n, int64_t in, int64_t out);

}  // namespace nnk
