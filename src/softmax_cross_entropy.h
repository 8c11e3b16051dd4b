// Softmax cross-entropy over the rows of logits (N, K), mean over the batch, with either
// integer labels (N,) or target distributions (N, K) (one-hot rows).
#pragma once
#include <cstdint>

namespace nnk {

// probs = softmax(logits) per row; returns mean_i (logsumexp(logits_i) - sum_k t_ik logits_ik),
// t_i = one-hot(labels[i]) when labels is non-null, else target row i (rows summing to 1).
// Log-sum-exp with the row maximum subtracted: finite for any finite logits. n, k >= 1;
// labels in [0, k) (checked by the caller). The batch sum runs in row order (double).
template <class T>
double softmax_cross_entropy_forward(const T* logits, const int64_t* labels, const T* target, T* probs, int64_t n,
                                     int64_t k);
// grad = (probs - t) * scale, with scale = grad_loss / N from the caller.
template <class T>
void softmax_cross_entropy_backward(const T* probs, const int64_t* labels, const T* target, T* grad, int64_t n,
                                    int64_t k, T scale);

}  // namespace nnk
