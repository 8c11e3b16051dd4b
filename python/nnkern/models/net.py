"""``Net``: the book's model API (predict, loss, accuracy, gradient, numerical_gradient, params)
on the :class:`~nnkern.models.base.Model` base, shared by MultiLayerNet, the ConvNets and AlexNet.

``model.gradient(x, t)`` returns a dict with the keys of ``model.params`` ('W1', 'b1', ...).
"""
from collections import OrderedDict
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from ..layers.base import Layer
from ..layers.core import LossLayer
from ..typing import FloatArray, Labels, Shape
from .base import GradHook, L, Model


class Net(Model):
    """An ordered dict of named layers (``net.layers['Affine1']``), a loss layer
    (``net.last_layer``) and named parameters, as in the book's networks."""

    #: input shape without the batch axis; None means "(N, input_size) or anything with that many features"
    input_dim: Shape | None = None
    input_size: int  #: the number of input features, where input_dim is None (MultiLayerNet)

    def __init__(self, dtype: DTypeLike = np.float32, backend: str = "native", seed: int | None = None) -> None:
        super().__init__(dtype, backend, seed)
        self.layers: OrderedDict[str, Layer] = OrderedDict()

    # -- construction helpers ------------------------------------------------------------
    def _add(self, name: str, layer: L, **param_names: str) -> L:
        """Append a layer; ``param_names`` maps the layer's param keys to model names (W='W1').
        Its buffers are saved as '<name>.<key>' ('BatchNorm1.running_mean')."""
        self.layers[name] = layer
        return self._register(layer, param_names, {k: f"{name}.{k}" for k in layer.buffers})

    def _finish(self, last_layer: LossLayer) -> None:
        last_layer.backend = self.backend
        self.last_layer = last_layer

    def _loss_layer(self) -> LossLayer:
        if self.last_layer is None:
            raise TypeError(f"{type(self).__name__} has no loss layer")
        return self.last_layer

    # -- the book's API ------------------------------------------------------------------
    def _prepare(self, x: ArrayLike) -> FloatArray:
        """x as a C-contiguous array of the model's dtype, shape-checked against input_dim."""
        x = np.asarray(x)
        if x.dtype.kind not in "fiu":
            raise TypeError(f"{type(self).__name__}: numeric input expected, got {x.dtype}")
        if self.input_dim is not None:
            if x.ndim != len(self.input_dim) + 1 or tuple(x.shape[1:]) != tuple(self.input_dim):
                raise ValueError(f"{type(self).__name__} expects input of shape (N, "
                                 f"{', '.join(map(str, self.input_dim))}), got {x.shape}")
        else:
            if x.ndim < 2 or int(np.prod(x.shape[1:])) != self.input_size:
                raise ValueError(f"{type(self).__name__} expects input of shape (N, {self.input_size}), got {x.shape}")
            x = x.reshape(x.shape[0], -1)
        return np.ascontiguousarray(x, dtype=self.dtype)

    def predict(self, x: ArrayLike, train: bool = False) -> FloatArray:
        """Scores (before softmax) for x; ``train`` switches dropout/batch norm to training mode."""
        return self._forward(self._prepare(x), train)

    def weight_decay(self) -> float:
        """The L2 term 0.5 * lambda * sum ||W||^2 over the weight matrices (not biases, not BN)."""
        lam = getattr(self, "weight_decay_lambda", 0)
        if not lam:
            return 0.0
        return float(sum(0.5 * lam * np.sum(np.square(p, dtype=np.float64))
                         for k, p in self.params.items() if k.startswith("W")))

    def loss(self, x: ArrayLike, t: Labels, train: bool = True) -> float:
        """Mean cross-entropy of softmax(predict(x)) against t, plus :meth:`weight_decay`."""
        y = self.predict(x, train)
        return self._loss_layer().forward(y, t) + self.weight_decay()

    def accuracy(self, x: FloatArray, t: Labels, batch_size: int = 100) -> float:
        """Fraction of argmax(predict(x)) == t (t labels or one-hot), evaluated in inference mode."""
        t = np.asarray(t)
        if t.ndim != 1:
            t = np.argmax(t, axis=1)
        if len(t) != len(x):
            raise ValueError(f"{len(x)} inputs but {len(t)} labels")
        correct = 0
        for i in range(0, len(x), batch_size):
            y = self.predict(x[i:i + batch_size], train=False)
            correct += int(np.sum(np.argmax(y, axis=1) == t[i:i + batch_size]))
        return correct / float(len(x))

    def gradient(self, x: ArrayLike, t: Labels, on_grad_ready: GradHook | None = None) -> dict[str, FloatArray]:
        """Gradients of :meth:`loss` (training mode) by backpropagation: dict like ``params``.
        ``on_grad_ready(name, grad)``, if given, sees each final gradient as soon as backward
        has computed it (last layer first), e.g. ``DistributedOptimizer.begin_step``'s hook."""
        self.loss(x, t, train=True)
        lam = getattr(self, "weight_decay_lambda", 0)
        grads: dict[str, FloatArray] = {}

        def ready(name: str, g: FloatArray) -> None:
            grads[name] = g + lam * self.params[name] if lam and name.startswith("W") else g
            if on_grad_ready is not None:
                on_grad_ready(name, grads[name])

        self._backward(self._loss_layer().backward(1.0), on_grad_ready=ready)
        return {name: grads[name] for name in self.params}

    def numerical_gradient(self, x: ArrayLike, t: Labels, eps: float = 1e-4) -> dict[str, FloatArray]:
        """Central differences of :meth:`loss` for every parameter (the book's check; use
        float64 models). Dropout layers should have ``fixed_seed`` set for this to be meaningful."""
        xs = self._prepare(x)
        grads: dict[str, Any] = {}
        for name, p in self.params.items():
            g = np.zeros_like(p)
            flat, gflat = p.reshape(-1), g.reshape(-1)
            for i in range(flat.size):
                old = flat[i]
                flat[i] = old + eps
                fp = self.loss(xs, t, train=True)
                flat[i] = old - eps
                fm = self.loss(xs, t, train=True)
                flat[i] = old
                gflat[i] = (fp - fm) / (2 * eps)
            grads[name] = g
        return grads

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({len(self.layers)} layers, {self.param_count():,} params, "
                f"dtype={self.dtype.name}, backend={self.backend!r})")
