"""What every Keras-style layer shares: Keras' naming, argument parsing and shape notation,
and :class:`KerasLayer`, a named block of nnkern layers with Keras metadata."""
import numpy as np

from .. import layers as L

_COUNTERS = {}


def unique_name(base):
    """Keras' naming: 'conv2d', 'conv2d_1', 'conv2d_2', ... per process."""
    n = _COUNTERS.get(base, 0)
    _COUNTERS[base] = n + 1
    return base if n == 0 else f"{base}_{n}"


_ACTIVATIONS = {None: None, "linear": None, "relu": L.ReLU, "sigmoid": L.Sigmoid, "tanh": L.Tanh,
                "softmax": L.Softmax}


def activation_layer(name):
    """The nnkern layer of a Keras activation name (None for 'linear' / None)."""
    if name is not None and not isinstance(name, str):
        raise TypeError(f"activation must be a string or None, got {name!r}")
    key = name.lower() if isinstance(name, str) else None
    if key not in _ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; use one of relu, sigmoid, tanh, softmax, linear")
    cls = _ACTIVATIONS[key]
    return cls() if cls is not None else None


def pair(v, what):
    if isinstance(v, int):
        return (v, v)
    v = tuple(v)
    if len(v) != 2 or not all(isinstance(a, (int, np.integer)) for a in v):
        raise TypeError(f"{what} must be an int or a pair of ints, got {v!r}")
    return (int(v[0]), int(v[1]))


def padding_mode(p):
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
    """Base: a named block of nnkern layers (e.g. conv + activation) with Keras metadata.

    ``build`` creates ``inner`` (the nnkern layers, in order) and declares the Keras weights:
    ``_weights`` maps a trainable Keras name ('kernel', 'bias', 'gamma', 'beta') and ``_state``
    a non-trainable one ('moving_mean', ...) to (nnkern layer, key), the layer's own array.
    """
    _base = "layer"

    def __init__(self, name=None, input_shape=None):
        self.name = name or unique_name(self._base)
        if input_shape is not None:
            input_shape = tuple(int(v) for v in input_shape)
        self.input_shape_hwc = input_shape
        self.inner = []          # the nnkern layers, in order
        self.activation = None   # the final activation layer, if any (fused with the loss)
        self._weights = {}       # Keras name -> (layer, key in layer.params)
        self._state = {}         # Keras name -> (layer, key in layer.buffers)

    def build(self, shape, dtype, rng):
        """Create the nnkern layers for input ``shape`` (internal layout); return the output shape."""
        raise NotImplementedError

    @property
    def weights(self):
        """Keras name -> trainable array."""
        return {k: layer.params[key] for k, (layer, key) in self._weights.items()}

    @property
    def state(self):
        """Keras name -> non-trainable array (batch-norm moving statistics)."""
        return {k: layer.buffers[key] for k, (layer, key) in self._state.items()}

    def count_params(self):
        """(trainable, non-trainable) element counts."""
        return (int(sum(w.size for w in self.weights.values())), int(sum(w.size for w in self.state.values())))

    def _head(self, activation, use_bias):
        """Keep (and validate now) the ``activation`` and ``use_bias`` arguments of Conv2D / Dense."""
        activation_layer(activation)
        self.activation_name, self.use_bias = activation, bool(use_bias)

    def _with_activation(self, layer, name):
        """inner = [layer] plus the activation ``name`` (if any)."""
        self.activation = activation_layer(name)
        self.inner = [layer] + ([self.activation] if self.activation is not None else [])

    def __repr__(self):
        return f"{type(self).__name__}(name={self.name!r})"
