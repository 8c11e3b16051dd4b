"""Activations and softmax in NumPy, after Deep Learning from Scratch (common/functions.py
and common/layers.py: Relu, Sigmoid, softmax), with backwards that never modify their
inputs (the book's ``Relu.backward`` writes into ``dout``; these do not).
"""
import numpy as np


def relu(x):
    """y = max(x, 0)."""
    return np.maximum(x, x.dtype.type(0))


def relu_backward(grad_out, x):
    """grad_x = grad_out where x > 0, else 0 (the book's ``dout[x <= 0] = 0``, on a copy)."""
    return np.where(x > 0, grad_out, grad_out.dtype.type(0))


def sigmoid(x):
    """y = 1 / (1 + exp(-x)), written with exp(-|x|) so that no exp overflows."""
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)


def sigmoid_backward(grad_out, y):
    """grad_x = grad_out * (1 - y) * y, from the forward output y (the book's Sigmoid)."""
    return grad_out * (1 - y) * y


def tanh(x):
    """y = tanh(x)."""
    return np.tanh(x)


def tanh_backward(grad_out, y):
    """grad_x = grad_out * (1 - y^2), from the forward output y."""
    return grad_out * (1 - y * y)


def softmax(x, axis=-1):
    """y = exp(x - max) / sum(exp(x - max)) along axis (the max shift avoids overflow)."""
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def softmax_backward(grad_out, y, axis=-1):
    """grad_x = y * (grad_out - sum(grad_out * y, axis)): the softmax Jacobian-vector product."""
    return y * (grad_out - (grad_out * y).sum(axis=axis, keepdims=True))
