"""Torch-style functions on nnkern's native kernels (NCHW, float32 or float64).

Argument conventions follow ``torch.nn.functional``. Inputs that are not C-contiguous
are copied once (``numpy.ascontiguousarray``); outputs have the dtype of the input.
"""
from .conv import conv2d, conv2d_backward, im2col, col2im

__all__ = ["conv2d", "conv2d_backward", "im2col", "col2im"]
