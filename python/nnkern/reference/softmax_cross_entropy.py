"""Softmax cross-entropy in NumPy (the book's SoftmaxWithLoss), with log-sum-exp instead of
log(softmax + 1e-7), so that it is exact and finite for any finite logits.
"""
import numpy as np


def _is_labels(target):
    return np.asarray(target).dtype.kind in "iu" and np.ndim(target) == 1


def softmax_cross_entropy(logits, target):
    """(loss, probs): loss = mean_i (logsumexp(logits_i) - sum_k t_ik logits_ik), probs = softmax rows.

    target: integer labels (N,) or one-hot / distribution rows (N, K)."""
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    s = e.sum(axis=1, keepdims=True)
    probs = e / s
    log_probs = z - np.log(s)
    if _is_labels(target):
        per_row = -log_probs[np.arange(len(target)), target]
    else:
        per_row = -(np.asarray(target) * log_probs).sum(axis=1)
    return float(per_row.mean()), probs


def softmax_cross_entropy_backward(probs, target, grad_loss=1.0):
    """grad_logits = (probs - onehot(target)) / N * grad_loss."""
    if _is_labels(target):
        onehot = np.zeros_like(probs)
        onehot[np.arange(len(target)), target] = 1
    else:
        onehot = np.asarray(target, dtype=probs.dtype)
    return ((probs - onehot) / probs.shape[0] * grad_loss).astype(probs.dtype, copy=False)
