"""The NumPy oracle: plain, readable reference implementations of every native kernel.

Each function works in float32 and float64 and is the ground truth that the native
kernels in ``nnkern._core`` are tested against. Names match the kernels
(``conv2d_forward`` here is ``_core.conv2d_forward`` there).
"""
from .batchnorm import (batch_norm, batch_norm_backward, batch_norm_forward, batchnorm_backward,
                        batchnorm_forward)
from .conv import col2im, conv2d_backward, conv2d_forward, conv_output_size, im2col
from .lrn import local_response_norm, local_response_norm_backward, lrn_backward, lrn_forward
from .pool2d import (avg_pool2d, avg_pool2d_backward, avgpool2d_backward, avgpool2d_forward, max_pool2d,
                   max_pool2d_backward, maxpool2d_backward, maxpool2d_forward, pool_output_size)

__all__ = ["im2col", "col2im", "conv2d_forward", "conv2d_backward", "conv_output_size",
           "maxpool2d_forward", "maxpool2d_backward", "avgpool2d_forward", "avgpool2d_backward",
           "pool_output_size", "max_pool2d", "max_pool2d_backward", "avg_pool2d", "avg_pool2d_backward",
           "batchnorm_forward", "batchnorm_backward", "batch_norm", "batch_norm_forward", "batch_norm_backward",
           "lrn_forward", "lrn_backward", "local_response_norm", "local_response_norm_backward"]
