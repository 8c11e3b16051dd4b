"""The model base shared by :mod:`nnkern.models` (MultiLayerNet, the ConvNets, AlexNet) and
:class:`nnkern.keras.Sequential`.

A model is a pipeline of nnkern layers (``forward(x, train)`` / ``backward(dout)``, see
:mod:`nnkern.layers.base`) and optionally a loss layer (``last_layer``). The base keeps:

* ``model.params``: a :class:`Params` dict, model name -> the very array a layer computes with,
  so ``optimizer.update(model.params, grads)`` (in place) trains the model;
* the backend switch (``model.backend = "reference"`` switches every layer at once);
* buffers (batch-norm running statistics) by model name, saved in checkpoints;
* the forward and backward loops and the gathering of the parameter gradients by model name;
* checkpoints (``save_params`` / ``load_params``, .npz without pickle).

During :meth:`Model._backward`, a layer's parameter gradients are final as soon as its own
``backward`` has returned (the loop runs from the last layer to the first); ``_param_names``
says which model names that layer owns.
"""
import os
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from ..backend import BackendSwitch
from ..layers.base import Layer
from ..layers.core import LossLayer
from ..typing import FloatArray

if TYPE_CHECKING:
    from .._optimizer import Optimizer

L = TypeVar("L", bound=Layer)
GradHook = Callable[[str, FloatArray], None]
"""``on_grad_ready(name, grad)``: called with each parameter's final gradient during backward."""

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


class Params(dict[str, FloatArray]):
    """name -> parameter array. Assigning to an existing name copies the values *into* the
    existing array (shape checked, dtype cast), so the layers holding it see the change and
    ``params[k] -= step`` (what optimizers do) stays in place."""

    def __setitem__(self, key: str, value: ArrayLike) -> None:
        if key in self:
            old = dict.__getitem__(self, key)
            if value is old:
                return
            value = np.asarray(value)
            if value.shape != old.shape:
                raise ValueError(f"parameter {key!r}: shape {value.shape} does not match the model's {old.shape}")
            if value.dtype.kind not in "fiu":
                raise TypeError(f"parameter {key!r}: numeric array expected, got {value.dtype}")
            np.copyto(old, value, casting="unsafe")
        else:
            dict.__setitem__(self, key, np.asarray(value))

    def update(self, *args: Any, **kwargs: Any) -> None:
        for k, v in dict(*args, **kwargs).items():
            self[k] = v


class Model(BackendSwitch):
    """Base of every nnkern model: registered layers, named parameters and buffers, one backend."""

    def __init__(self, dtype: DTypeLike = np.float32, backend: str = "native", seed: int | None = None) -> None:
        self.dtype: np.dtype[Any] = np.dtype(dtype)
        if self.dtype not in _FLOATS:
            raise TypeError(f"dtype must be float32 or float64, got {self.dtype}")
        self.rng = np.random.default_rng(seed)
        self.params = Params()
        self.last_layer: LossLayer | None = None  # the loss layer, if any
        self._pipeline: list[Layer] = []  # the layers in forward order
        self._param_owners: dict[str, tuple[Layer, str]] = {}  # model name -> (layer, key in layer.params)
        self._buffer_owners: dict[str, tuple[Layer, str]] = {}  # model name -> (layer, key in layer.buffers)
        self._param_names: dict[int, list[str]] = {}  # id(layer) -> the model names of its parameters
        self.backend = backend

    # -- registration --------------------------------------------------------------------
    def _register(self, layer: L, params: Mapping[str, str] | None = None,
                  buffers: Mapping[str, str] | None = None) -> L:
        """Append ``layer`` to the pipeline. ``params`` / ``buffers`` map the layer's keys to
        model names (``{"W": "W1"}``); the model's dicts hold the layer's arrays themselves."""
        layer.backend = self.backend
        self._pipeline.append(layer)
        for key, name in (params or {}).items():
            if name in self._param_owners:
                raise ValueError(f"parameter name {name!r} is used twice")
            dict.__setitem__(self.params, name, layer.params[key])
            self._param_owners[name] = (layer, key)
            self._param_names.setdefault(id(layer), []).append(name)
        for key, name in (buffers or {}).items():
            self._buffer_owners[name] = (layer, key)
        self._mark_input_grads()
        return layer

    def _mark_input_grads(self) -> None:
        # A layer needs the gradient of its input only if a layer before it has parameters.
        seen = False
        for layer in self._pipeline:
            layer.need_input_grad = seen
            seen = seen or bool(layer.params)

    # -- the backend switch: model.backend = "reference" switches every layer -------------
    def _on_backend_switch(self, name: str) -> None:
        for layer in self._pipeline:
            layer.backend = name
        if self.last_layer is not None:
            self.last_layer.backend = name

    # -- state -----------------------------------------------------------------------------
    def buffers(self) -> dict[str, FloatArray]:
        """name -> array of the non-trainable state (batch-norm running statistics), live references."""
        return {name: layer.buffers[key] for name, (layer, key) in self._buffer_owners.items()}

    def param_count(self) -> int:
        return int(sum(p.size for p in self.params.values()))

    # -- forward, backward, gradients ------------------------------------------------------
    def _forward(self, x: FloatArray, train: bool, stop: int | None = None) -> FloatArray:
        """x through the pipeline (up to, not including, layer ``stop``)."""
        for layer in self._pipeline[:stop]:
            x = layer.forward(x, train)
        return x

    def _backward(self, dout: FloatArray, stop: int | None = None, on_grad_ready: GradHook | None = None) -> None:
        """Backpropagate dout from layer ``stop`` (exclusive) down to the first layer that has
        parameters; afterwards every ``layer.grads`` holds this batch's gradients.
        ``on_grad_ready(name, grad)`` is called for each parameter as soon as its gradient is
        final (data-parallel training starts averaging it then, while backward goes on)."""
        layers = self._pipeline[:stop]
        first = next((i for i, layer in enumerate(layers) if layer.params), len(layers))
        for layer in reversed(layers[first:]):
            # None only from the first layer with parameters (need_input_grad False): the loop ends there
            dout = cast(FloatArray, layer.backward(dout))
            if on_grad_ready is not None:  # the gradients of this layer's parameters are final
                for name in self._param_names.get(id(layer), ()):
                    on_grad_ready(name, layer.grads[self._param_owners[name][1]])

    def _grads(self) -> dict[str, FloatArray]:
        """model name -> the gradient array of that parameter, from the last backward."""
        return {name: layer.grads[key] for name, (layer, key) in self._param_owners.items()}

    # -- checkpoints -----------------------------------------------------------------------
    def save_params(self, file_name: str | os.PathLike[str], optimizer: "Optimizer | None" = None) -> None:
        """Parameters, buffers and optionally the optimizer state to an .npz (no pickle)."""
        from ..checkpoint import save
        save(file_name, self, optimizer)

    def load_params(self, file_name: str | os.PathLike[str], optimizer: "Optimizer | None" = None,
                    ) -> dict[str, Any] | None:
        """Load an nnkern checkpoint, or the book's pickled params dict (``params.pkl``, read by the
        allow-list unpickler), copying into the model's arrays; names and shapes must match."""
        from ..checkpoint import _is_pickle, assign_params, load, load_pickle_params
        if not _is_pickle(file_name):
            meta: dict[str, Any] = load(file_name, self, optimizer)
            return meta
        assign_params(file_name, self, load_pickle_params(file_name))
        return None
