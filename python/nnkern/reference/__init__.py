"""The NumPy oracle: plain, readable reference implementations of every native kernel.

Each function works in float32 and float64 and is the ground truth that the native
kernels in ``nnkern._core`` are tested against. Names match the kernels
(``conv2d_forward`` here is ``_core.conv2d_forward`` there).
"""
from .conv import col2im, conv2d_backward, conv2d_forward, conv_output_size, im2col
from .activation import (relu_backward, relu_forward, sigmoid_backward, sigmoid_forward, softmax_backward,
                         softmax_forward, tanh_backward, tanh_forward)
from .dropout import dropout_backward, dropout_forward, dropout_mask
from .affine import affine_backward, affine_forward
from .loss import softmax_cross_entropy_backward, softmax_cross_entropy_forward

__all__ = ["im2col", "col2im", "conv2d_forward", "conv2d_backward", "conv_output_size",
           "relu_forward", "relu_backward", "sigmoid_forward", "sigmoid_backward", "tanh_forward",
           "tanh_backward", "softmax_forward", "softmax_backward", "dropout_forward", "dropout_backward",
           "dropout_mask", "affine_forward", "affine_backward", "softmax_cross_entropy_forward",
           "softmax_cross_entropy_backward"]
