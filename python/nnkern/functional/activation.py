"""Activations and softmax (elementwise, any shape; softmax along one axis).

Backward functions take the forward *input* for relu and the forward *output* for sigmoid,
tanh and softmax (as the book's layers store them), and never modify their arguments.
"""
from .. import _core
from ..typing import FloatArray
from ._args import contiguous


def relu(x: FloatArray) -> FloatArray:
    """Rectified linear unit y = max(x, 0) (Nair & Hinton 2010), as ``torch.nn.functional.relu``.

    x: any shape, float32 or float64. NaN propagates."""
    return _core.relu_forward(contiguous(x))


def relu_backward(grad_out: FloatArray, x: FloatArray) -> FloatArray:
    """grad_x = grad_out where x > 0, else 0; grad_out and x of the same shape."""
    return _core.relu_backward(contiguous(grad_out), contiguous(x))


def sigmoid(x: FloatArray) -> FloatArray:
    """Logistic sigmoid y = 1 / (1 + exp(-x)), as ``torch.sigmoid``; saturates to 0 / 1 without overflow.

    exp is a branch-free polynomial (about 1-2 ulp) so that the loop vectorises."""
    return _core.sigmoid_forward(contiguous(x))


def sigmoid_backward(grad_out: FloatArray, y: FloatArray) -> FloatArray:
    """grad_x = grad_out * y * (1 - y), where y = sigmoid(x) is the forward output."""
    return _core.sigmoid_backward(contiguous(grad_out), contiguous(y))


def tanh(x: FloatArray) -> FloatArray:
    """Hyperbolic tangent, as ``torch.tanh``: -m / (2 + m) with m = expm1(-2|x|), a few ulp
    relative to the result over the whole range (also near 0)."""
    return _core.tanh_forward(contiguous(x))


def tanh_backward(grad_out: FloatArray, y: FloatArray) -> FloatArray:
    """grad_x = grad_out * (1 - y^2), where y = tanh(x) is the forward output."""
    return _core.tanh_backward(contiguous(grad_out), contiguous(y))


def softmax(x: FloatArray, axis: int = -1) -> FloatArray:
    """Softmax (Bridle 1990) along ``axis`` (torch's ``dim``): y = exp(x - max) / sum(exp(x - max)).

    x: any shape with at least one dimension; y has x's shape and dtype."""
    return _core.softmax_forward(contiguous(x), int(axis))


def softmax_backward(grad_out: FloatArray, y: FloatArray, axis: int = -1) -> FloatArray:
    """grad_x = y * (grad_out - sum(grad_out * y, axis)), where y = softmax(x, axis)."""
    return _core.softmax_backward(contiguous(grad_out), contiguous(y), int(axis))
