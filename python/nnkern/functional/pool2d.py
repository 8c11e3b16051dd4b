"""2-D max and average pooling (NCHW), forward and backward, on direct-loop kernels."""
from collections.abc import Sequence
from typing import Literal, overload

from .. import _core
from ..typing import FloatArray, IndexArray, IntOrPair
from ._args import contiguous, pair


def _stride(stride: IntOrPair | None, kernel_size: IntOrPair) -> tuple[int, int]:
    return pair(kernel_size if stride is None else stride, "stride")


@overload
def max_pool2d(x: FloatArray, kernel_size: IntOrPair, stride: IntOrPair | None = None, padding: IntOrPair = 0,
               return_indices: Literal[False] = False) -> FloatArray: ...
@overload
def max_pool2d(x: FloatArray, kernel_size: IntOrPair, stride: IntOrPair | None = None, padding: IntOrPair = 0, *,
               return_indices: Literal[True]) -> tuple[FloatArray, IndexArray]: ...
@overload
def max_pool2d(x: FloatArray, kernel_size: IntOrPair, stride: IntOrPair | None, padding: IntOrPair,
               return_indices: bool) -> FloatArray | tuple[FloatArray, IndexArray]: ...
def max_pool2d(x: FloatArray, kernel_size: IntOrPair, stride: IntOrPair | None = None, padding: IntOrPair = 0,
               return_indices: bool = False) -> FloatArray | tuple[FloatArray, IndexArray]:
    """2-D max pooling, as ``torch.nn.functional.max_pool2d`` (ceil_mode=False, dilation=1).

    x: (N, C, H, W). Returns y (N, C, OH, OW), OH = (H + 2*padding - KH) // stride + 1, or
    ``(y, indices)`` with return_indices: int64 (N, C, OH, OW), the flat index ih*W + iw of
    each maximum inside its input plane (torch's convention). stride defaults to kernel_size.
    Padding acts as -inf and may be at most half the kernel (torch's rule); ties go to the
    first maximum in row-major window order (as ``np.argmax``); NaN propagates.
    AlexNet (Krizhevsky et al. 2012) uses overlapping 3x3 windows with stride 2.
    """
    out: FloatArray | tuple[FloatArray, IndexArray] = _core.max_pool2d_forward(
        contiguous(x), pair(kernel_size, "kernel_size"), _stride(stride, kernel_size), pair(padding, "padding"),
        bool(return_indices))
    return out


def max_pool2d_backward(grad_out: FloatArray, indices: IndexArray, input_shape: Sequence[int]) -> FloatArray:
    """Gradient of :func:`max_pool2d`: grad_x of shape ``input_shape`` (N, C, H, W).

    grad_out (N, C, OH, OW) is added to the input elements named by ``indices`` (from
    ``max_pool2d(..., return_indices=True)``); ValueError for an index outside [0, H*W).
    """
    return _core.max_pool2d_backward(contiguous(grad_out), contiguous(indices), [int(s) for s in input_shape])


def avg_pool2d(x: FloatArray, kernel_size: IntOrPair, stride: IntOrPair | None = None, padding: IntOrPair = 0,
               count_include_pad: bool = True) -> FloatArray:
    """2-D average pooling, as ``torch.nn.functional.avg_pool2d`` (ceil_mode=False).

    x: (N, C, H, W) -> y (N, C, OH, OW). Padding counts as zeros; the divisor is KH*KW, or with
    count_include_pad=False the number of input elements inside the window.
    """
    return _core.avg_pool2d_forward(contiguous(x), pair(kernel_size, "kernel_size"), _stride(stride, kernel_size),
                                    pair(padding, "padding"), bool(count_include_pad))


def avg_pool2d_backward(grad_out: FloatArray, input_shape: Sequence[int], kernel_size: IntOrPair,
                        stride: IntOrPair | None = None, padding: IntOrPair = 0, count_include_pad: bool = True,
                        ) -> FloatArray:
    """Gradient of :func:`avg_pool2d`: grad_x of shape ``input_shape`` for grad_out (N, C, OH, OW)."""
    return _core.avg_pool2d_backward(contiguous(grad_out), [int(s) for s in input_shape],
                                     pair(kernel_size, "kernel_size"), _stride(stride, kernel_size),
                                     pair(padding, "padding"), bool(count_include_pad))
