"""The NumPy oracle: plain, readable reference implementations of every native kernel.

Each function works in float32 and float64 and is the ground truth that the native
kernels in ``nnkern._core`` are tested against. Names match the kernels
(``conv2d_forward`` here is ``_core.conv2d_forward`` there).
"""
from .conv import col2im, conv2d_backward, conv2d_forward, conv_output_size, im2col
from .data import augment, augment_params, gather_batch, gather_normalize, normalize, splitmix64

__all__ = ["im2col", "col2im", "conv2d_forward", "conv2d_backward", "conv_output_size",
           "gather_batch", "normalize", "gather_normalize", "augment", "augment_params", "splitmix64"]
