"""Keras-style layers for :class:`nnkern.keras.Sequential`.

Shapes are given and reported channels-last as in Keras (``input_shape=(H, W, C)``,
``(None, H, W, C)`` in ``summary()``), while the network runs NCHW inside: the batch is
transposed once when it enters the model, never per layer. Consequences, all internal:

* ``Conv2D`` kernels are stored (filters, C, KH, KW) (Keras: (KH, KW, C, filters));
* ``Flatten`` flattens in (C, H, W) order, so the rows of the following ``Dense`` kernel
  are in that order (Keras: (H, W, C)). Shapes and parameter counts are identical; weights
  are exchangeable between nnkern models, not with Keras files without a permutation.
"""
import numpy as np

from .. import init
from .. import layers as L
from .base import KerasLayer, activation_layer, to_keras_shape
from .spatial import AveragePooling2D, Conv2D, MaxPooling2D


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
        self._head(activation, use_bias)

    def build(self, shape, dtype, rng):
        if len(shape) != 1:
            raise ValueError(f"{self.name}: Dense needs a flat input (None, features); got "
                             f"{to_keras_shape(shape)}: add Flatten() before it")
        n = shape[0]
        W = init.glorot_uniform((n, self.units), n, self.units, rng, dtype)
        affine = L.Affine(W, np.zeros(self.units, dtype) if self.use_bias else None)
        self._weights = {k: (affine, key) for k, key in (("kernel", "W"), ("bias", "b")) if key in affine.params}
        self._with_activation(affine, self.activation_name)
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
        bn = L.BatchNorm(np.ones(c, dtype), np.zeros(c, dtype), momentum=1.0 - self.momentum, eps=self.epsilon,
                         unbiased_running_var=False)
        self.inner = [bn]
        self._weights = {"gamma": (bn, "gamma"), "beta": (bn, "beta")}
        self._state = {"moving_mean": (bn, "running_mean"), "moving_variance": (bn, "running_var")}
        return shape


class Activation(KerasLayer):
    """Activation('relu' | 'sigmoid' | 'tanh' | 'softmax' | 'linear')."""
    _base = "activation"

    def __init__(self, activation, input_shape=None, name=None):
        super().__init__(name, input_shape)
        self.activation_name = activation
        activation_layer(activation)  # validate early

    def build(self, shape, dtype, rng):
        self.activation = activation_layer(self.activation_name)
        self.inner = [self.activation] if self.activation is not None else []
        return shape


__all__ = ["Conv2D", "MaxPooling2D", "AveragePooling2D", "Flatten", "Dense", "Dropout", "BatchNormalization",
           "Activation", "KerasLayer"]
