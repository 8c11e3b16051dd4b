"""Layers with the book's protocol (``forward(x, train=True)``, ``backward(dout)``) on the
native kernels, each switchable to the NumPy reference with ``backend="reference"``.

See :mod:`nnkern.layers.base` for the protocol (params/grads by name, aliasing).
"""
from ..backend import BACKENDS
from .base import Layer
from .core import (
    Affine,
    Dense,
    Dropout,
    Flatten,
    Identity,
    ReLU,
    Relu,
    Sigmoid,
    SigmoidWithLoss,
    Softmax,
    SoftmaxWithLoss,
    Tanh,
)
from .norm import BatchNorm, BatchNorm1D, BatchNorm2D, BatchNormalization
from .spatial import LRN, AvgPool2D, Conv2D, Convolution, MaxPool2D

__all__ = ["Layer", "Affine", "Dense", "Conv2D", "Convolution", "MaxPool2D", "AvgPool2D", "BatchNorm",
           "BatchNorm1D", "BatchNorm2D", "BatchNormalization", "LRN", "ReLU", "Relu", "Sigmoid", "Tanh",
           "Softmax", "Identity", "Dropout", "Flatten", "SoftmaxWithLoss", "SigmoidWithLoss", "BACKENDS"]
