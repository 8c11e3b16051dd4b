# Mirrors the book's common/functions.py on purpose (names and formulas).
"""The book's ``common/functions.py``: activation and loss functions (native kernels for
float arrays; the same formulas)."""
import numpy as np

from .. import functional as F
from ._dtype import as_float

# What the book's ``from common.functions import *`` binds (not F, as_float, mean_squared_error).
__all__ = ["np", "identity_function", "step_function", "sigmoid", "sigmoid_grad", "relu", "relu_grad", "softmax",
           "sum_squared_error", "cross_entropy_error", "softmax_loss"]


def identity_function(x):
    return x


def step_function(x):
    return np.array(x > 0, dtype=int)


def sigmoid(x):
    return F.sigmoid(as_float(x))


def sigmoid_grad(x):
    s = sigmoid(x)
    return (1.0 - s) * s


def relu(x):
    return F.relu(as_float(x))


def relu_grad(x):
    """1 where x >= 0, else 0 (the book's convention at 0)."""
    grad = np.zeros_like(as_float(x))
    grad[np.asarray(x) >= 0] = 1
    return grad


def softmax(x):
    """Softmax over the last axis (1-D or 2-D input), max-subtracted."""
    x = as_float(x)
    return F.softmax(x, axis=-1)


def sum_squared_error(y, t):
    return 0.5 * np.sum((y - t) ** 2)


mean_squared_error = sum_squared_error  # the book's first-edition name for the same formula


def cross_entropy_error(y, t):
    """-sum(log(y[i, t_i] + 1e-7)) / N; one-hot t is converted to labels; 1-D y is one sample."""
    y, t = np.asarray(y), np.asarray(t)
    if y.ndim == 1:
        t = t.reshape(1, t.size)
        y = y.reshape(1, y.size)
    if t.size == y.size:
        t = t.argmax(axis=1)
    batch_size = y.shape[0]
    return -np.sum(np.log(y[np.arange(batch_size), t] + 1e-7)) / batch_size


def softmax_loss(X, t):
    return cross_entropy_error(softmax(X), t)
