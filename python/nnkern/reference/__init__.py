"""The NumPy oracle: plain, readable reference implementations of every native kernel.

Each function works in float32 and float64 and is the ground truth that the native
kernels in ``nnkern._core`` are tested against. Names match the kernels
(``conv2d_forward`` here is ``_core.conv2d_forward`` there).
"""
from .activation import (
    relu_backward,
    relu_forward,
    sigmoid_backward,
    sigmoid_forward,
    softmax_backward,
    softmax_forward,
    tanh_backward,
    tanh_forward,
)
from .affine import affine_backward, affine_forward
from .batchnorm import batch_norm, batch_norm_backward, batch_norm_forward, batchnorm_backward, batchnorm_forward
from .conv import col2im, conv2d_backward, conv2d_forward, conv_output_size, im2col
from .data import augment, augment_params, gather_batch, gather_normalize, normalize, splitmix64
from .dropout import dropout_backward, dropout_forward, dropout_mask
from .loss import softmax_cross_entropy_backward, softmax_cross_entropy_forward
from .lrn import local_response_norm, local_response_norm_backward, lrn_backward, lrn_forward
from .optim import adagrad_update, adam_update, momentum_update, nesterov_update, rmsprop_update, sgd_update
from .pool2d import (
    avg_pool2d,
    avg_pool2d_backward,
    avgpool2d_backward,
    avgpool2d_forward,
    max_pool2d,
    max_pool2d_backward,
    maxpool2d_backward,
    maxpool2d_forward,
    pool_output_size,
)

__all__ = ["im2col", "col2im", "conv2d_forward", "conv2d_backward", "conv_output_size", "sgd_update",
           "momentum_update", "nesterov_update", "adagrad_update", "rmsprop_update", "adam_update",
           "maxpool2d_forward", "maxpool2d_backward", "avgpool2d_forward", "avgpool2d_backward",
           "pool_output_size", "max_pool2d", "max_pool2d_backward", "avg_pool2d", "avg_pool2d_backward",
           "batchnorm_forward", "batchnorm_backward", "batch_norm", "batch_norm_forward",
           "batch_norm_backward", "relu_forward", "relu_backward", "sigmoid_forward", "sigmoid_backward",
           "tanh_forward", "tanh_backward", "softmax_forward", "softmax_backward", "dropout_forward",
           "dropout_backward", "dropout_mask", "affine_forward", "affine_backward",
           "softmax_cross_entropy_forward", "softmax_cross_entropy_backward", "lrn_forward",
           "lrn_backward", "local_response_norm", "local_response_norm_backward",
           "gather_batch", "normalize", "gather_normalize", "augment", "augment_params", "splitmix64"]
