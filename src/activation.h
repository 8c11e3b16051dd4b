// Activations (relu, sigmoid, tanh) and softmax, forward and backward. Elementwise over n
// contiguous elements; softmax over the middle axis of an (outer, k, inner) view.
// Backward functions read their inputs and write only gx.
#pragma once
#include <cstdint>

namespace nnk {

template <class T> void relu_forward(const T* x, T* y, int64_t n);
// gx = gy where x > 0, else 0.
template <class T> void relu_backward(const T* gy, const T* x, T* gx, int64_t n);
template <class T> void sigmoid_forward(const T* x, T* y, int64_t n);
// gx = gy * y * (1 - y), y = sigmoid(x).
template <class T> void sigmoid_backward(const T* gy, const T* y, T* gx, int64_t n);
template <class T> void tanh_forward(const T* x, T* y, int64_t n);
// gx = gy * (1 - y^2), y = tanh(x).
template <class T> void tanh_backward(const T* gy, const T* y, T* gx, int64_t n);
// y = exp(x - max) / sum exp(x - max) along k, for each (outer, inner); k >= 1.
template <class T> void softmax_forward(const T* x, T* y, int64_t outer, int64_t k, int64_t inner);
// gx = y * (gy - sum_k gy * y).
template <class T> void softmax_backward(const T* gy, const T* y, T* gx, int64_t outer, int64_t k, int64_t inner);

}  // namespace nnk
