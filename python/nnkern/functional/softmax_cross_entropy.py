"""Softmax cross-entropy loss (the book's SoftmaxWithLoss, Saito 2016 sec. 5.6.3), numerically stable."""
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .. import _core
from ..typing import FloatArray, Labels
from ._args import contiguous


def _target(target: Labels, logits: FloatArray) -> NDArray[Any]:
    t = np.asarray(target)
    if t.dtype.kind in "iub":
        if t.ndim == 2:  # integer / bool one-hot rows
            return contiguous(t.astype(np.asarray(logits).dtype, copy=False))
        return contiguous(t.astype(np.int64, copy=False))
    return contiguous(t)


def softmax_cross_entropy(logits: FloatArray, target: Labels) -> tuple[float, FloatArray]:
    """Mean softmax cross-entropy over the batch: returns ``(loss, probs)``.

    logits: (N, K); target: integer class labels (N,) in [0, K), or one-hot rows (N, K)
    (torch's ``F.cross_entropy`` with class indices or probabilities, reduction="mean").
    loss = mean_i (logsumexp(logits_i) - sum_k t_ik logits_ik) is computed by log-sum-exp
    with the row maximum subtracted, so it is finite for any finite logits (no log(0)).
    probs = softmax(logits) per row, for :func:`softmax_cross_entropy_backward`."""
    loss, probs = _core.softmax_cross_entropy_forward(contiguous(logits), _target(target, logits))
    return float(loss), probs


def softmax_cross_entropy_backward(probs: FloatArray, target: Labels, grad_loss: float = 1.0) -> FloatArray:
    """grad_logits = (probs - onehot(target)) / N * grad_loss (fused softmax + loss backward)."""
    return _core.softmax_cross_entropy_backward(contiguous(probs), _target(target, probs), float(grad_loss))
