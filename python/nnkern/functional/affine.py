"""Affine / fully connected layer in the book's layout (weight is (in, out)), GEMM by OpenBLAS."""
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .. import _core
from ..typing import FloatArray
from ._args import contiguous


def _flat(x: NDArray[Any]) -> NDArray[Any]:
    x = np.asarray(x)
    if x.ndim < 2:
        return x  # the kernel reports the expected (N, in)
    return x.reshape(x.shape[0], int(np.prod(x.shape[1:], dtype=np.int64)))


def affine(x: FloatArray, weight: FloatArray, bias: FloatArray | None = None) -> FloatArray:
    """y (N, out) = x.reshape(N, -1) @ weight (in, out) + bias (out,).

    The Affine layer of Deep Learning from Scratch (Saito 2016, sec. 5.6), i.e.
    ``torch.nn.functional.linear`` with the weight transposed. The GEMMs are bit-identical
    for any thread count (fixed tiles, each one single-threaded OpenBLAS call).
    x: (N, ...) of any rank >= 2, flattened to (N, in); float32 or float64."""
    return _core.affine_forward(contiguous(_flat(x)), contiguous(weight), contiguous(bias))


def affine_backward(grad_out: FloatArray, x: FloatArray, weight: FloatArray, need_grad_x: bool = True,
                    ) -> tuple[FloatArray | None, FloatArray, FloatArray]:
    """Gradients of :func:`affine`: ``(grad_x shaped like x or None, grad_weight (in, out), grad_bias (out,))``.

    grad_x = grad_out @ weight.T, grad_weight = x.T @ grad_out, grad_bias = grad_out.sum(0).
    need_grad_x=False skips grad_x (first layer)."""
    x = np.asarray(x)
    gx, gw, gb = _core.affine_backward(contiguous(grad_out), contiguous(_flat(x)), contiguous(weight),
                                       bool(need_grad_x))
    return (None if gx is None else gx.reshape(x.shape)), gw, gb
