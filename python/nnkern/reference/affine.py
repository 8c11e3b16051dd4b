"""Affine (fully connected) layer in NumPy, as the book's common/layers.py Affine:
x (N, ...) is flattened to (N, in), y = x @ W + b with W of shape (in, out).
"""
import numpy as np


def _flat(x):
    return x.reshape(x.shape[0], int(np.prod(x.shape[1:])))


def affine(x, weight, bias=None):
    """y (N, out) = x.reshape(N, -1) @ weight (in, out) + bias (out,)."""
    y = _flat(x) @ weight
    return y if bias is None else y + bias


def affine_backward(grad_out, x, weight, need_grad_x=True):
    """(grad_x shaped like x or None, grad_weight (in, out), grad_bias (out,)); need_grad_x=False skips grad_x."""
    grad_x = (grad_out @ weight.T).reshape(x.shape) if need_grad_x else None
    grad_weight = _flat(x).T @ grad_out
    return grad_x, grad_weight, grad_out.sum(axis=0)
