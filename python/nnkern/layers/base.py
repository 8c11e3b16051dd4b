"""The layer protocol shared by every nnkern layer.

A layer is the book's object (Deep Learning from Scratch, ch. 5-7): ``forward(x, train=True)``
returns the output and keeps what ``backward`` needs; ``backward(dout)`` returns the gradient
with respect to the input and stores the parameter gradients in ``layer.grads``.

* ``layer.params``: name -> ndarray. These are *references* to the model's arrays (the same
  objects as ``model.params[...]``), so ``optimizer.update(model.params, grads)``, which updates
  in place, is seen by the layer at once. Assigning a new array to a layer parameter attribute
  (``layer.W = a``, the book's ``load_params`` idiom) rebinds that layer's reference; for a layer
  inside an nnkern model assign through ``model.params['W1'] = a`` instead, which copies the
  values into the shared array (see ``nnkern.models.Params``).
* ``layer.grads``: name -> ndarray, filled by ``backward``.
* ``layer.buffers``: non-trainable state (batch-norm running statistics), saved in checkpoints.
* ``layer.backend``: ``"native"`` (C++ kernels) or ``"reference"`` (NumPy oracle); settable.
  ``layer.F`` is the backend's module itself (nnkern.functional or nnkern.reference): a layer
  computes only through ``self.F.<op>(...)``, with functional's signatures, so a layer in
  reference mode cannot reach the native kernels.
* ``layer.need_input_grad``: a model sets it to False on every layer that has no layer with
  parameters before it, so the gradient of the data (never used) is not computed; such a
  layer's backward may return None.
"""
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from ..backend import BackendSwitch
from ..typing import FloatArray, Shape


class Layer(BackendSwitch):
    """Base class: parameter/gradient bookkeeping and the backend switch."""

    def __init__(self, backend: str = "native") -> None:
        self.params: dict[str, FloatArray] = {}
        self.grads: dict[str, FloatArray] = {}
        self.buffers: dict[str, FloatArray] = {}
        self.need_input_grad = True
        self.backend = backend

    def forward(self, x: FloatArray, train: bool = True) -> FloatArray:
        raise NotImplementedError

    def backward(self, dout: FloatArray) -> FloatArray | None:
        """The gradient of the input; None only where a model set ``need_input_grad = False``."""
        raise NotImplementedError

    def __call__(self, x: FloatArray, train: bool = True) -> FloatArray:
        return self.forward(x, train)

    def param_count(self) -> int:
        return int(sum(p.size for p in self.params.values()))

    def output_shape(self, input_shape: Shape) -> Shape:
        """Shape (without the batch axis) of the output for an input of ``input_shape``."""
        return tuple(input_shape)

    def __getattr__(self, name: str) -> FloatArray:
        # layer.W, layer.dW, layer.running_mean: the book's attribute names for params/grads/buffers
        d = self.__dict__
        params: dict[str, FloatArray] = d.get("params", {})
        grads: dict[str, FloatArray] = d.get("grads", {})
        buffers: dict[str, FloatArray] = d.get("buffers", {})
        if name in params:
            return params[name]
        if name.startswith("d") and name[1:] in grads:
            return grads[name[1:]]
        if name in buffers:
            return buffers[name]
        raise AttributeError(f"{type(self).__name__!s} has no attribute {name!r}")

    def __setattr__(self, name: str, value: Any) -> None:
        d = self.__dict__
        if name in d.get("params", ()):
            d["params"][name] = _as_param(value, d["params"][name], name)
        elif name in d.get("buffers", ()):
            d["buffers"][name] = _as_param(value, d["buffers"][name], name)
        else:
            object.__setattr__(self, name, value)

    def __repr__(self) -> str:
        shapes = ", ".join(f"{k}={tuple(v.shape)}" for k, v in self.params.items())
        return f"{type(self).__name__}({shapes}{', ' if shapes else ''}backend={self.backend!r})"


def _as_param(value: ArrayLike, old: FloatArray, name: str) -> FloatArray:
    """A new array for a parameter slot: same shape as before, floating dtype, C-contiguous."""
    value = np.asarray(value)
    if value.shape != old.shape:
        raise ValueError(f"{name}: shape {value.shape} does not match the layer's {old.shape}")
    if value.dtype != old.dtype or not value.flags.c_contiguous:
        value = np.ascontiguousarray(value, dtype=old.dtype)
    return value


def check_float(x: ArrayLike, what: str = "input") -> FloatArray:
    """x as a float32/float64 ndarray; TypeError otherwise (ints are not silently converted)."""
    if not isinstance(x, np.ndarray):
        x = np.asarray(x)
    if x.dtype not in (np.float32, np.float64):
        raise TypeError(f"{what} must be float32 or float64, got {x.dtype}")
    return x
