"""Fully connected layer, activations, dropout, flatten and the loss layers."""
from typing import ClassVar

import numpy as np
from numpy.typing import ArrayLike

from ..typing import FloatArray, Labels, MaskArray, Shape
from .base import Layer, check_float


class Affine(Layer):
    """y = x.reshape(N, -1) @ W + b (the book's Affine; W is (in, out)). Alias: Dense.

    Input may be (N, ...) of any rank; it is flattened per sample (C-order) and the gradient
    is returned in the input's shape.
    """

    x: FloatArray  # the forward input, for backward

    def __init__(self, W: ArrayLike, b: ArrayLike | None = None, backend: str = "native") -> None:
        super().__init__(backend)
        W = check_float(W, "W")
        if W.ndim != 2:
            raise ValueError(f"W must be 2-D (in, out), got shape {W.shape}")
        self.params["W"] = W
        if b is not None:
            b = check_float(b, "b")
            if b.shape != (W.shape[1],):
                raise ValueError(f"b must have shape ({W.shape[1]},), got {b.shape}")
            self.params["b"] = b

    def forward(self, x: FloatArray, train: bool = True) -> FloatArray:
        W = self.params["W"]
        x = check_float(x)
        if x.ndim < 2 or int(np.prod(x.shape[1:])) != W.shape[0]:
            raise ValueError(f"Affine expects (N, {W.shape[0]}) (or (N, ...) with {W.shape[0]} "
                             f"features per sample), got {x.shape}")
        self.x = x
        y: FloatArray = self.F.affine(x, W, self.params.get("b"))
        return y

    def backward(self, dout: FloatArray) -> FloatArray | None:
        gx: FloatArray | None
        gx, gw, gb = self.F.affine_backward(dout, self.x, self.params["W"], need_grad_x=self.need_input_grad)
        self.grads["W"] = gw
        if "b" in self.params:
            self.grads["b"] = gb
        return gx

    def output_shape(self, input_shape: Shape) -> Shape:
        return (self.params["W"].shape[1],)


Dense = Affine


class ReLU(Layer):
    """max(x, 0); the gradient at 0 is 0 (ReLU'(x) = 0 for x <= 0, as in the book)."""

    x: FloatArray

    def forward(self, x: FloatArray, train: bool = True) -> FloatArray:
        self.x = x
        y: FloatArray = self.F.relu(x)
        return y

    def backward(self, dout: FloatArray) -> FloatArray:
        y: FloatArray = self.F.relu_backward(dout, self.x)
        return y


Relu = ReLU


class _ByOutput(Layer):
    """An activation whose gradient needs only its output y: ``ops`` names the backend's
    forward and backward functions."""
    ops: ClassVar[tuple[str, str]] = ("", "")
    out: FloatArray

    def forward(self, x: FloatArray, train: bool = True) -> FloatArray:
        self.out = getattr(self.F, self.ops[0])(x)
        return self.out

    def backward(self, dout: FloatArray) -> FloatArray:
        grad: FloatArray = getattr(self.F, self.ops[1])(dout, self.out)
        return grad


class Sigmoid(_ByOutput):
    """1 / (1 + exp(-x)); backward uses the output: dy * y * (1 - y)."""
    ops = ("sigmoid", "sigmoid_backward")


class Tanh(_ByOutput):
    """tanh(x); backward uses the output: dy * (1 - y^2)."""
    ops = ("tanh", "tanh_backward")


class Softmax(_ByOutput):
    """Softmax over the last axis (for Keras-style ``activation='softmax'`` outputs)."""
    ops = ("softmax", "softmax_backward")


class Identity(Layer):
    """y = x (Keras ``activation=None`` / ``'linear'``)."""

    def forward(self, x: FloatArray, train: bool = True) -> FloatArray:
        return x

    def backward(self, dout: FloatArray) -> FloatArray:
        return dout


class Dropout(Layer):
    """Dropout (Srivastava et al. 2014), inverted by default: y = x * mask / (1 - p) in training,
    y = x at inference, so no rescaling is needed at test time. ``inverted=False`` gives the
    book's variant (y = x * mask in training, x * (1 - p) at inference).

    ``p`` is the probability of *dropping* a unit (the book's ``dropout_ratio``). Each training
    forward draws a fresh mask from the layer's generator (``seed`` makes a run reproducible);
    ``fixed_seed`` (int) makes every training forward reuse one mask, for gradient checks.
    """

    def __init__(self, p: float = 0.5, seed: int | None = None, inverted: bool = True, backend: str = "native",
                 ) -> None:
        super().__init__(backend)
        if not 0.0 <= float(p) < 1.0:
            raise ValueError(f"dropout probability must be in [0, 1), got {p}")
        self.p = float(p)
        self.inverted = bool(inverted)
        self.rng = np.random.default_rng(seed)
        self.fixed_seed: int | None = None
        self.mask: MaskArray | None = None

    def forward(self, x: FloatArray, train: bool = True) -> FloatArray:
        if not train:
            self.mask = None
            if self.inverted:
                return x
            y: FloatArray = self.F.dropout(x, p=self.p, training=False, seed=0, inverted=False)[0]
            return y
        seed = self.fixed_seed if self.fixed_seed is not None else int(self.rng.integers(2**63 - 1))
        y, self.mask = self.F.dropout(x, p=self.p, training=True, seed=seed, inverted=self.inverted)
        return y

    def backward(self, dout: FloatArray) -> FloatArray:
        if self.mask is None:  # after an inference forward: the layer was the identity (or a scale)
            return dout if self.inverted else dout * (1.0 - self.p)
        y: FloatArray = self.F.dropout_backward(dout, self.mask, p=self.p, inverted=self.inverted)
        return y


class Flatten(Layer):
    """(N, C, H, W) -> (N, C*H*W), a view in C order (channel-major, nnkern's NCHW layout)."""

    shape: Shape

    def forward(self, x: FloatArray, train: bool = True) -> FloatArray:
        self.shape = x.shape
        return x.reshape(x.shape[0], -1)

    def backward(self, dout: FloatArray) -> FloatArray:
        return dout.reshape(self.shape)

    def output_shape(self, input_shape: Shape) -> Shape:
        return (int(np.prod(input_shape)),)


class SoftmaxWithLoss(Layer):
    """Softmax + mean cross-entropy over the batch (the book's SoftmaxWithLoss).

    ``forward(x, t)`` returns the loss (a float); ``t`` is int labels (N,) or one-hot (N, K).
    ``backward(dout=1)`` returns (softmax(x) - onehot(t)) / N * dout.
    """

    t: Labels
    y: FloatArray  # softmax(x)
    loss: float

    # The book's loss layers take the targets too: forward(x, t), not a Layer's forward(x, train).
    def forward(self, x: FloatArray, t: Labels, train: bool = True) -> float:  # type: ignore[override]
        x = check_float(x, "scores")
        t = np.asarray(t)
        if x.ndim != 2:
            raise ValueError(f"SoftmaxWithLoss expects scores (N, K), got {x.shape}")
        if t.ndim == 1:
            if t.shape[0] != x.shape[0]:
                raise ValueError(f"labels have {t.shape[0]} entries for a batch of {x.shape[0]}")
            if t.dtype.kind not in "iu":
                raise TypeError(f"integer labels expected, got {t.dtype}")
            t = t.astype(np.int64, copy=False)
        elif t.shape != x.shape:
            raise ValueError(f"one-hot targets must have shape {x.shape}, got {t.shape}")
        elif t.dtype != x.dtype:
            t = t.astype(x.dtype)
        self.t = t
        self.loss, self.y = self.F.softmax_cross_entropy(x, t)
        return self.loss

    def backward(self, dout: float = 1.0) -> FloatArray:  # type: ignore[override]  # dloss is a scalar
        y: FloatArray = self.F.softmax_cross_entropy_backward(self.y, self.t, float(dout))
        return y


class SigmoidWithLoss(Layer):
    """Sigmoid + binary cross-entropy, mean over all elements (Keras' ``binary_crossentropy``
    on a sigmoid output).

    loss = mean(max(z, 0) - z*t + log(1 + exp(-|z|))), the overflow-free form of
    -[t log s(z) + (1 - t) log(1 - s(z))]; gradient (s(z) - t) / z.size.
    """

    t: FloatArray
    y: FloatArray  # sigmoid(x)
    loss: float

    def forward(self, x: FloatArray, t: ArrayLike, train: bool = True) -> float:  # type: ignore[override]  # as above
        x = check_float(x, "scores")
        t = np.asarray(t, dtype=x.dtype)
        if t.shape != x.shape:
            if t.size == x.size:
                t = t.reshape(x.shape)
            else:
                raise ValueError(f"targets must have shape {x.shape}, got {t.shape}")
        self.t = t
        self.y = self.F.sigmoid(x)
        z = x.astype(np.float64, copy=False)
        self.loss = float(np.mean(np.maximum(z, 0) - z * t + np.log1p(np.exp(-np.abs(z)))))
        return self.loss

    def backward(self, dout: float = 1.0) -> FloatArray:  # type: ignore[override]
        return ((self.y - self.t) * (float(dout) / self.y.size)).astype(self.y.dtype, copy=False)


LossLayer = SoftmaxWithLoss | SigmoidWithLoss
"""A model's ``last_layer``: ``forward(x, t) -> loss``, ``backward(dout=1.0) -> grad of x``."""
