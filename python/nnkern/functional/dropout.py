"""Dropout (Srivastava et al. 2014) with a reproducible, thread-count-independent mask."""
import numbers

import numpy as np
from numpy.typing import NDArray

from .. import _core
from ..typing import FloatArray, MaskArray
from ._args import contiguous


def _seed(seed: object) -> int:
    if not isinstance(seed, numbers.Integral) or isinstance(seed, bool):
        raise TypeError(f"dropout: seed must be an int, got {seed!r}")
    if not 0 <= int(seed) < 2**64:
        raise ValueError(f"dropout: seed must be in [0, 2**64), got {seed}")
    return int(seed)


def dropout(x: FloatArray, p: float = 0.5, training: bool = True, seed: int = 0, inverted: bool = True,
            ) -> tuple[FloatArray, MaskArray | None]:
    """Dropout: returns ``(y, mask)``; ``mask`` is uint8 (1 = kept), x's shape, None at inference.

    Training keeps element i (C order) iff u_i >= p, u_i = top 53 bits of the i-th SplitMix64
    output of ``seed`` / 2^53: the same seed gives the same mask whatever the thread count
    (``nnkern.reference.dropout_mask`` computes it too). Pass a new seed each step.

    inverted=True (torch, ``F.dropout``): y = x * mask / (1 - p) in training, y = x at inference.
    inverted=False (the book's Dropout layer): y = x * mask in training, x * (1 - p) at inference.
    p must be in [0, 1).
    """
    y, mask = _core.dropout_forward(contiguous(x), float(p), _seed(seed), bool(training), bool(inverted))
    return y, mask


def dropout_backward(grad_out: FloatArray, mask: MaskArray | NDArray[np.bool_], p: float = 0.5, inverted: bool = True,
                     ) -> FloatArray:
    """grad_x = grad_out * mask / (1 - p) (inverted) or grad_out * mask; mask from :func:`dropout`
    (uint8, or bool which is viewed as uint8)."""
    if mask is None:  # dropout returns None as the mask at inference, which has no backward
        raise TypeError("dropout_backward: mask must be the uint8 (or bool) array returned by dropout in "
                        "training, got None")
    mask = contiguous(mask)
    if mask.dtype == np.bool_:
        mask = mask.view(np.uint8)
    return _core.dropout_backward(contiguous(grad_out), mask, float(p), bool(inverted))
