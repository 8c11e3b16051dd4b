"""2-D convolution by im2col + GEMM (forward and backward)."""
from collections.abc import Sequence

import numpy as np

from .. import _core
from ..typing import FloatArray, IntOrPair
from ._args import contiguous, pair


def conv2d(x: FloatArray, weight: FloatArray, bias: FloatArray | None = None, stride: IntOrPair = 1,
           padding: IntOrPair = 0, dilation: IntOrPair = 1, groups: int = 1, algo: str = "auto") -> FloatArray:
    """2-D convolution, as ``torch.nn.functional.conv2d``.

    x: (N, C, H, W); weight: (OC, C/groups, KH, KW); bias: (OC,) or None.
    Returns y: (N, OC, OH, OW) with OH = (H + 2*pad - dil*(KH-1) - 1) // stride + 1.
    The formula u_ijm = sum_k sum_p sum_q x[i+p, j+q, k] h[p, q, k, m] + b_m
    (cross-correlation, as in every DL framework). float32 or float64, not mixed.

    ``algo``: ``"auto"`` (the selection of :func:`nnkern.set_conv_algo`) or one of
    ``nnkern.conv_algorithms()`` (``"im2col"``, ...); a forced algorithm that does not apply
    to the shape or dtype raises ValueError.
    """
    return _core.conv2d_forward(
        contiguous(x), contiguous(weight), contiguous(bias), pair(stride, "stride"),
        pair(padding, "padding"), pair(dilation, "dilation"), int(groups), algo)


def conv2d_backward(grad_out: FloatArray, x: FloatArray, weight: FloatArray, stride: IntOrPair = 1,
                    padding: IntOrPair = 0, dilation: IntOrPair = 1, groups: int = 1,
                    output_mask: tuple[bool, bool, bool] = (True, True, True), algo: str | tuple[str, str] = "auto",
                    ) -> tuple[FloatArray | None, FloatArray | None, FloatArray | None]:
    """Gradients of :func:`conv2d`: ``(grad_x, grad_weight, grad_bias)``.

    grad_out: (N, OC, OH, OW). ``output_mask`` selects which gradients to compute
    (the others are returned as None), as in torch's ``convolution_backward``.
    ``algo``: as in :func:`conv2d`, one name for both passes or a pair
    ``(algo for grad_x, algo for grad_weight)``.
    """
    gx, gw, gb = output_mask
    grad_x, grad_weight, grad_bias = _core.conv2d_backward(
        contiguous(grad_out), contiguous(x), contiguous(weight), pair(stride, "stride"),
        pair(padding, "padding"), pair(dilation, "dilation"), int(groups), bool(gx), bool(gw), bool(gb),
        algo if isinstance(algo, str) else (*algo,))
    return grad_x, grad_weight, grad_bias


def im2col(x: FloatArray, kernel_size: IntOrPair, stride: IntOrPair = 1, padding: IntOrPair = 0,
           dilation: IntOrPair = 1) -> FloatArray:
    """Columns (N*OH*OW, C*KH*KW) of x (N, C, H, W): one row per output pixel.

    The kernel builds the transposed, C-contiguous (C*KH*KW, N*OH*OW) matrix (its GEMM
    layout); this returns the transposed view of it, equal to ``reference.im2col``.
    """
    cols_t: FloatArray = _core.im2col(contiguous(x), pair(kernel_size, "kernel_size"), pair(stride, "stride"),
                                      pair(padding, "padding"), pair(dilation, "dilation"))
    return cols_t.transpose()


def col2im(cols: FloatArray, input_shape: Sequence[int], kernel_size: IntOrPair, stride: IntOrPair = 1,
           padding: IntOrPair = 0, dilation: IntOrPair = 1) -> FloatArray:
    """Adjoint of :func:`im2col`: scatter-add cols (N*OH*OW, C*KH*KW) back into (N, C, H, W).

    The kernel reads the transposed layout; a C-contiguous ``cols`` is copied once.
    """
    return _core.col2im(contiguous(np.asarray(cols).T), [int(s) for s in input_shape], pair(kernel_size, "kernel_size"),
                        pair(stride, "stride"), pair(padding, "padding"), pair(dilation, "dilation"))
