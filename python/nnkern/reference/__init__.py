"""The NumPy oracle: plain, readable reference implementations of every native kernel.

Each function works in float32 and float64 and is the ground truth that the native
kernels are tested against. The module is a backend: it exports every name of
:mod:`nnkern.functional` with the same signature and return convention (``conv2d``,
``max_pool2d``, ``batch_norm_forward``, ...), so code written against one runs on the
other (``F = nnkern.reference`` instead of ``nnkern.functional``). Helpers that have no
native counterpart in ``functional`` live here too: output-size formulas, the optimizer
rules (``*_update``, the counterparts of ``nnkern._core``'s), the data pipeline's loops
and the dropout mask generator.
"""
from .activation import relu, relu_backward, sigmoid, sigmoid_backward, softmax, softmax_backward, tanh, tanh_backward
from .affine import affine, affine_backward
from .batch_norm import batch_norm, batch_norm_backward, batch_norm_forward
from .conv2d import col2im, conv2d, conv2d_backward, conv_output_size, im2col
from .data import augment, augment_params, gather_batch, gather_normalize, normalize, splitmix64
from .dropout import dropout, dropout_backward, dropout_mask
from .local_response_norm import local_response_norm, local_response_norm_backward
from .optim import adagrad_update, adam_update, momentum_update, nesterov_update, rmsprop_update, sgd_update
from .pool2d import avg_pool2d, avg_pool2d_backward, max_pool2d, max_pool2d_backward, pool_output_size
from .softmax_cross_entropy import softmax_cross_entropy, softmax_cross_entropy_backward

# by file; every name of nnkern.functional is here (tests/test_reference_api.py checks it)
__all__ = ["relu", "relu_backward", "sigmoid", "sigmoid_backward", "tanh", "tanh_backward", "softmax",
           "softmax_backward",
           "affine", "affine_backward",
           "batch_norm", "batch_norm_forward", "batch_norm_backward",
           "conv2d", "conv2d_backward", "im2col", "col2im", "conv_output_size",
           "augment", "augment_params", "gather_batch", "gather_normalize", "normalize", "splitmix64",
           "dropout", "dropout_backward", "dropout_mask",
           "local_response_norm", "local_response_norm_backward",
           "sgd_update", "momentum_update", "nesterov_update", "adagrad_update", "rmsprop_update", "adam_update",
           "max_pool2d", "max_pool2d_backward", "avg_pool2d", "avg_pool2d_backward", "pool_output_size",
           "softmax_cross_entropy", "softmax_cross_entropy_backward"]
