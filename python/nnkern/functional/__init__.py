"""Torch-style functions on nnkern's native kernels (NCHW, float32 or float64).

Argument conventions follow ``torch.nn.functional``. Inputs that are not C-contiguous
are copied once (``numpy.ascontiguousarray``); outputs have the dtype of the input.
"""
from .activation import relu, relu_backward, sigmoid, sigmoid_backward, softmax, softmax_backward, tanh, tanh_backward
from .affine import affine, affine_backward
from .batch_norm import batch_norm, batch_norm_backward, batch_norm_forward
from .conv2d import col2im, conv2d, conv2d_backward, im2col
from .dropout import dropout, dropout_backward
from .local_response_norm import local_response_norm, local_response_norm_backward
from .pool2d import avg_pool2d, avg_pool2d_backward, max_pool2d, max_pool2d_backward
from .softmax_cross_entropy import softmax_cross_entropy, softmax_cross_entropy_backward

__all__ = ["conv2d", "conv2d_backward", "im2col", "col2im", "max_pool2d", "max_pool2d_backward", "avg_pool2d",
           "avg_pool2d_backward", "batch_norm", "batch_norm_forward", "batch_norm_backward", "relu",
           "relu_backward", "sigmoid", "sigmoid_backward", "tanh", "tanh_backward", "softmax",
           "softmax_backward", "dropout", "dropout_backward", "affine", "affine_backward",
           "softmax_cross_entropy", "softmax_cross_entropy_backward", "local_response_norm",
           "local_response_norm_backward"]
