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
import numpy as np

from .. import backend as _backend


class Layer(_backend.BackendSwitch):
    """Base class: parameter/gradient bookkeeping and the backend switch."""

    def __init__(self, backend="native"):
        self.params = {}
        self.grads = {}
        self.buffers = {}
        self.need_input_grad = True
        self.backend = backend

    def forward(self, x, train=True):
        raise NotImplementedError

    def backward(self, dout):
        raise NotImplementedError

    def __call__(self, x, train=True):
        return self.forward(x, train)

    def param_count(self):
        return int(sum(p.size for p in self.params.values()))

    def output_shape(self, input_shape):
        """Shape (without the batch axis) of the output for an input of ``input_shape``."""
        return tuple(input_shape)

    def __getattr__(self, name):
        # layer.W, layer.dW, layer.running_mean: the book's attribute names for params/grads/buffers
        d = self.__dict__
        if name in d.get("params", ()):
            return d["params"][name]
        if name.startswith("d") and name[1:] in d.get("grads", ()):
            return d["grads"][name[1:]]
        if name in d.get("buffers", ()):
            return d["buffers"][name]
        raise AttributeError(f"{type(self).__name__!s} has no attribute {name!r}")

    def __setattr__(self, name, value):
        d = self.__dict__
        if name in d.get("params", ()):
            d["params"][name] = _as_param(value, d["params"][name], name)
        elif name in d.get("buffers", ()):
            d["buffers"][name] = _as_param(value, d["buffers"][name], name)
        else:
            object.__setattr__(self, name, value)

    def __repr__(self):
        shapes = ", ".join(f"{k}={tuple(v.shape)}" for k, v in self.params.items())
        return f"{type(self).__name__}({shapes}{', ' if shapes else ''}backend={self.backend!r})"


def _as_param(value, old, name):
    """A new array for a parameter slot: same shape as before, floating dtype, C-contiguous."""
    value = np.asarray(value)
    if value.shape != old.shape:
        raise ValueError(f"{name}: shape {value.shape} does not match the layer's {old.shape}")
    if value.dtype != old.dtype or not value.flags.c_contiguous:
        value = np.ascontiguousarray(value, dtype=old.dtype)
    return value


def check_float(x, what="input"):
    """x as a float32/float64 ndarray; TypeError otherwise (ints are not silently converted)."""
    if not isinstance(x, np.ndarray):
        x = np.asarray(x)
    if x.dtype not in (np.float32, np.float64):
        raise TypeError(f"{what} must be float32 or float64, got {x.dtype}")
    return x
