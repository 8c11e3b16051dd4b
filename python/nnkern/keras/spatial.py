"""Keras-style Conv2D, MaxPooling2D and AveragePooling2D (channels-last shapes, NCHW inside)."""
import math

import numpy as np

from .. import init
from .. import layers as L
from .base import KerasLayer, padding_mode, pair, to_keras_shape


def _same_padding(size, k, s):
    """TensorFlow's total 'same' padding of one axis: out = ceil(size / s)."""
    return max((math.ceil(size / s) - 1) * s + k - size, 0)


class PadBottomRight(L.Layer):
    """Zero rows/columns appended at the bottom/right of (N, C, H, W) (TensorFlow's odd 'same'
    padding); backward drops them again."""

    def __init__(self, extra):
        super().__init__()
        self.extra = extra

    def forward(self, x, train=True):
        eh, ew = self.extra
        return np.pad(x, [(0, 0), (0, 0), (0, eh), (0, ew)])

    def backward(self, dout):
        eh, ew = self.extra
        return np.ascontiguousarray(dout[:, :, :dout.shape[2] - eh, :dout.shape[3] - ew])

    def output_shape(self, input_shape):
        c, h, w = input_shape
        return (c, h + self.extra[0], w + self.extra[1])


class Conv2D(KerasLayer):
    """Conv2D(filters, kernel_size, strides=1, padding='valid'|'same', activation=None,
    use_bias=True, input_shape=(H, W, C), algo="auto"). Kernel init glorot_uniform, bias zeros
    (Keras'). ``algo``: nnkern's convolution algorithm (see ``nnkern.set_conv_algo``).

    'same' pads (k-1)//2 on each side when the total padding is even; an odd total (even
    kernel, or strides > 1) is padded like TensorFlow, the extra row/column at the bottom/right.
    """
    _base = "conv2d"

    def __init__(self, filters, kernel_size, strides=1, padding="valid", activation=None, use_bias=True,
                 input_shape=None, name=None, algo="auto"):
        super().__init__(name, input_shape)
        self.filters = int(filters)
        self.algo = str(algo)
        self.kernel_size = pair(kernel_size, "kernel_size")
        self.strides = pair(strides, "strides")
        self.padding = padding_mode(padding)
        self._head(activation, use_bias)

    def build(self, shape, dtype, rng):
        if len(shape) != 3:
            raise ValueError(f"{self.name}: Conv2D needs a (H, W, C) input, got {to_keras_shape(shape)}")
        c, h, w = shape
        (kh, kw), (sh, sw) = self.kernel_size, self.strides
        tot = [0, 0] if self.padding == "valid" else [_same_padding(h, kh, sh), _same_padding(w, kw, sw)]
        W = init.glorot_uniform((self.filters, c, kh, kw), c * kh * kw, self.filters * kh * kw, rng, dtype)
        b = np.zeros(self.filters, dtype) if self.use_bias else None
        self.conv = L.Conv2D(W, b, self.strides, (tot[0] // 2, tot[1] // 2), algo=self.algo)
        self._weights = {"kernel": (self.conv, "W")}
        if b is not None:
            self._weights["bias"] = (self.conv, "b")
        self._with_activation(self.conv, self.activation_name)
        self.extra = (tot[0] % 2, tot[1] % 2)
        if any(self.extra):
            self.inner.insert(0, PadBottomRight(self.extra))
        out = self.conv.output_shape((c, h + self.extra[0], w + self.extra[1]))
        if min(out[1:]) < 1:
            raise ValueError(f"{self.name}: input {to_keras_shape(shape)} is too small for kernel {self.kernel_size}")
        return out


class _Pooling(KerasLayer):
    def __init__(self, pool_size=(2, 2), strides=None, padding="valid", input_shape=None, name=None):
        super().__init__(name, input_shape)
        self.pool_size = pair(pool_size, "pool_size")
        self.strides = pair(strides, "strides") if strides is not None else self.pool_size
        self.padding = padding_mode(padding)

    def _pads(self, shape):
        if len(shape) != 3:
            raise ValueError(f"{self.name}: pooling needs a (H, W, C) input, got {to_keras_shape(shape)}")
        if self.padding == "valid":
            return (0, 0)
        pads = []
        for n, k, s in zip(shape[1:], self.pool_size, self.strides):
            tot = _same_padding(n, k, s)
            if tot % 2 or tot // 2 > k // 2:
                raise NotImplementedError(f"{self.name}: padding='same' needs an even total padding of at most "
                                          f"the half window here; got {tot} for size {n}, pool {k}, stride {s}")
            pads.append(tot // 2)
        return tuple(pads)

    def build(self, shape, dtype, rng):
        layer = self._make(self._pads(shape))
        self.inner = [layer]
        out = layer.output_shape(shape)
        if min(out[1:]) < 1:
            raise ValueError(f"{self.name}: input {to_keras_shape(shape)} is too small for pool {self.pool_size}")
        return out


class MaxPooling2D(_Pooling):
    """MaxPooling2D(pool_size=(2, 2), strides=None, padding='valid')."""
    _base = "max_pooling2d"

    def _make(self, pads):
        return L.MaxPool2D(self.pool_size, self.strides, pads)


class AveragePooling2D(_Pooling):
    """AveragePooling2D(pool_size=(2, 2), strides=None, padding='valid'); with 'same' the
    padded cells are not counted (Keras' behaviour)."""
    _base = "average_pooling2d"

    def _make(self, pads):
        return L.AvgPool2D(self.pool_size, self.strides, pads, count_include_pad=False)
