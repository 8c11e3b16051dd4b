"""Keras-style layers for :class:`nnkern.keras.Sequential`.

Shapes are given and reported channels-last as in Keras (``input_shape=(H, W, C)``,
``(None, H, W, C)`` in ``summary()``), while the network runs NCHW inside: the batch is
transposed once when it enters the model, never per layer. Consequences, all internal:

* ``Conv2D`` kernels are stored (filters, C, KH, KW) (Keras: (KH, KW, C, filters));
* ``Flatten`` flattens in (C, H, W) order, so the rows of the following ``Dense`` kernel
  are in that order (Keras: (H, W, C)). Shapes and parameter counts are identical; weights
  are exchangeable between nnkern models, not with Keras files without a permutation.
"""
import math

import numpy as np

from .. import init
from .. import layers as L

_COUNTERS = {}


def _unique_name(base):
    """Keras' naming: 'conv2d', 'conv2d_1', 'conv2d_2', ... per process."""
    n = _COUNTERS.get(base, 0)
    _COUNTERS[base] = n + 1
    return base if n == 0 else f"{base}_{n}"


_ACTIVATIONS = {None: None, "linear": None, "relu": L.ReLU, "sigmoid": L.Sigmoid, "tanh": L.Tanh,
                "softmax": L.Softmax}


def _activation_layer(name):
    if name is not None and not isinstance(name, str):
        raise TypeError(f"activation must be a string or None, got {name!r}")
    key = name.lower() if isinstance(name, str) else None
    if key not in _ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; use one of relu, sigmoid, tanh, softmax, linear")
    cls = _ACTIVATIONS[key]
    return cls() if cls is not None else None


def _pair(v, what):
    if isinstance(v, int):
        return (v, v)
    v = tuple(v)
    if len(v) != 2 or not all(isinstance(a, (int, np.integer)) for a in v):
        raise TypeError(f"{what} must be an int or a pair of ints, got {v!r}")
    return (int(v[0]), int(v[1]))


def _padding(p):
    if not isinstance(p, str) or p.lower() not in ("valid", "same"):
        raise ValueError(f"padding must be 'valid' or 'same', got {p!r}")
    return p.lower()


def to_keras_shape(shape):
    """Internal (C, H, W) -> Keras (None, H, W, C); (D,) -> (None, D)."""
    if len(shape) == 3:
        c, h, w = shape
        return (None, h, w, c)
    return (None,) + tuple(shape)


class KerasLayer:
    """Base: a named block of nnkern layers (e.g. conv + activation) with Keras metadata."""
    _base = "layer"

    def __init__(self, name=None, input_shape=None):
        self.name = name or _unique_name(self._base)
        if input_shape is not None:
            input_shape = tuple(int(v) for v in input_shape)
        self.input_shape_hwc = input_shape
        self.inner = []          # the nnkern layers, in order
        self.activation = None   # the final activation layer, if any (fused with the loss)
        self.weights = {}        # Keras weight name -> array (trainable)
        self.state = {}          # non-trainable weights (BN moving stats)
        self.built = False

    def build(self, shape, dtype, rng):
        """Create the nnkern layers for input ``shape`` (internal layout); return the output shape."""
        raise NotImplementedError

    def count_params(self):
        return (int(sum(w.size for w in self.weights.values())), int(sum(w.size for w in self.state.values())))

    def __repr__(self):
        return f"{type(self).__name__}(name={self.name!r})"


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
        self.kernel_size = _pair(kernel_size, "kernel_size")
        self.strides = _pair(strides, "strides")
        self.padding = _padding(padding)
        self.activation_name = activation
        self.use_bias = bool(use_bias)
        _activation_layer(activation)  # validate early

    def build(self, shape, dtype, rng):
        if len(shape) != 3:
            raise ValueError(f"{self.name}: Conv2D needs a (H, W, C) input, got {to_keras_shape(shape)}")
        c, h, w = shape
        (kh, kw), (sh, sw) = self.kernel_size, self.strides
        if self.padding == "valid":
            pads, self.extra = (0, 0), (0, 0)
        else:
            tot = [max((math.ceil(n / s) - 1) * s + k - n, 0) for n, k, s in ((h, kh, sh), (w, kw, sw))]
            pads = (tot[0] // 2, tot[1] // 2)
            self.extra = (tot[0] % 2, tot[1] % 2)
        W = init.glorot_uniform((self.filters, c, kh, kw), c * kh * kw, self.filters * kh * kw, rng, dtype)
        b = np.zeros(self.filters, dtype) if self.use_bias else None
        self.conv = L.Conv2D(W, b, self.strides, pads, algo=self.algo)
        self.inner = [self.conv]
        self.weights = {"kernel": W}
        if b is not None:
            self.weights["bias"] = b
        self.activation = _activation_layer(self.activation_name)
        if self.activation is not None:
            self.inner.append(self.activation)
        if any(self.extra):
            self.inner[0] = _PadBottomRight(self.conv, self.extra)
        out = self.conv.output_shape((c, h + self.extra[0], w + self.extra[1]))
        if min(out[1:]) < 1:
            raise ValueError(f"{self.name}: input {to_keras_shape(shape)} is too small for kernel {self.kernel_size}")
        return out


class _PadBottomRight(L.Layer):
    """Zero rows/columns appended at the bottom/right before a layer (TF's odd 'same' padding)."""

    def __init__(self, layer, extra):
        super().__init__(layer.backend)
        self.layer, self.extra = layer, extra
        self.params, self.grads = layer.params, layer.grads

    @property
    def backend(self):
        return self.layer.backend

    @backend.setter
    def backend(self, name):
        if "layer" in self.__dict__:
            self.layer.backend = name

    def forward(self, x, train=True):
        eh, ew = self.extra
        return self.layer.forward(np.pad(x, [(0, 0), (0, 0), (0, eh), (0, ew)]), train)

    def backward(self, dout):
        g = self.layer.backward(dout)
        if g is None:
            return None
        eh, ew = self.extra
        return np.ascontiguousarray(g[:, :, :g.shape[2] - eh, :g.shape[3] - ew])

    @property
    def need_input_grad(self):
        return self.layer.need_input_grad

    @need_input_grad.setter
    def need_input_grad(self, v):
        if "layer" in self.__dict__:
            self.layer.need_input_grad = v


class _Pooling(KerasLayer):
    def __init__(self, pool_size=(2, 2), strides=None, padding="valid", input_shape=None, name=None):
        super().__init__(name, input_shape)
        self.pool_size = _pair(pool_size, "pool_size")
        self.strides = _pair(strides, "strides") if strides is not None else self.pool_size
        self.padding = _padding(padding)

    def _pads(self, shape):
        if len(shape) != 3:
            raise ValueError(f"{self.name}: pooling needs a (H, W, C) input, got {to_keras_shape(shape)}")
        if self.padding == "valid":
            return (0, 0)
        _, h, w = shape
        pads = []
        for n, k, s in ((h, self.pool_size[0], self.strides[0]), (w, self.pool_size[1], self.strides[1])):
            tot = max((math.ceil(n / s) - 1) * s + k - n, 0)
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


class Flatten(KerasLayer):
    """Flatten to (None, H*W*C); the order inside is (C, H, W) (see the module docstring)."""
    _base = "flatten"

    def build(self, shape, dtype, rng):
        self.inner = [L.Flatten()]
        return (int(np.prod(shape)),)


class Dense(KerasLayer):
    """Dense(units, activation=None, use_bias=True, input_shape=None): kernel (in, units),
    glorot_uniform; bias zeros. Needs a flat input (put Flatten() before it)."""
    _base = "dense"

    def __init__(self, units, activation=None, use_bias=True, input_shape=None, name=None):
        super().__init__(name, input_shape)
        self.units = int(units)
        self.activation_name = activation
        self.use_bias = bool(use_bias)
        _activation_layer(activation)

    def build(self, shape, dtype, rng):
        if len(shape) != 1:
            raise ValueError(f"{self.name}: Dense needs a flat input (None, features); got "
                             f"{to_keras_shape(shape)}: add Flatten() before it")
        n = shape[0]
        W = init.glorot_uniform((n, self.units), n, self.units, rng, dtype)
        b = np.zeros(self.units, dtype) if self.use_bias else None
        self.inner = [L.Affine(W, b)]
        self.weights = {"kernel": W}
        if b is not None:
            self.weights["bias"] = b
        self.activation = _activation_layer(self.activation_name)
        if self.activation is not None:
            self.inner.append(self.activation)
        return (self.units,)


class Dropout(KerasLayer):
    """Dropout(rate): inverted dropout in fit(), identity in evaluate()/predict()."""
    _base = "dropout"

    def __init__(self, rate, seed=None, input_shape=None, name=None):
        super().__init__(name, input_shape)
        self.rate, self.seed = float(rate), seed

    def build(self, shape, dtype, rng):
        self.inner = [L.Dropout(self.rate, seed=self.seed if self.seed is not None else int(rng.integers(2**31)))]
        return shape


class BatchNormalization(KerasLayer):
    """BatchNormalization(momentum=0.99, epsilon=1e-3) over the channel axis (Keras' axis=-1):
    per channel on images, per feature on flat input. gamma/beta trainable, moving_mean /
    moving_variance non-trainable (updated as moving = momentum*moving + (1-momentum)*batch,
    with the biased batch variance)."""
    _base = "batch_normalization"

    def __init__(self, momentum=0.99, epsilon=1e-3, input_shape=None, name=None):
        super().__init__(name, input_shape)
        self.momentum, self.epsilon = float(momentum), float(epsilon)

    def build(self, shape, dtype, rng):
        c = shape[0]
        layer = L.BatchNorm(np.ones(c, dtype), np.zeros(c, dtype), momentum=1.0 - self.momentum, eps=self.epsilon,
                            unbiased_running_var=False)
        self.inner = [layer]
        self.weights = {"gamma": layer.params["gamma"], "beta": layer.params["beta"]}
        self.state = {"moving_mean": layer.buffers["running_mean"], "moving_variance": layer.buffers["running_var"]}
        return shape


class Activation(KerasLayer):
    """Activation('relu' | 'sigmoid' | 'tanh' | 'softmax' | 'linear')."""
    _base = "activation"

    def __init__(self, activation, input_shape=None, name=None):
        super().__init__(name, input_shape)
        self.activation_name = activation
        _activation_layer(activation)

    def build(self, shape, dtype, rng):
        self.activation = _activation_layer(self.activation_name)
        self.inner = [self.activation] if self.activation is not None else []
        return shape


__all__ = ["Conv2D", "MaxPooling2D", "AveragePooling2D", "Flatten", "Dense", "Dropout", "BatchNormalization",
           "Activation", "KerasLayer"]
