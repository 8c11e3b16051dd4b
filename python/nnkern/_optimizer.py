"""The optimizer driver: lazy state, one native multi-tensor call per update, state_dict
(see :mod:`nnkern.optimizers`)."""
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np

from . import _core
from .typing import FloatArray

Params = Mapping[str, FloatArray]
"""The book's params (or grads) dict: ``{'W1': array, 'b1': array, ...}``."""

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


class Optimizer:
    """Base class: the driver of the native update (lazy state, one call, state_dict).

    Subclasses set ``_kernel`` (the ``nnkern._core`` function), ``_states`` (state array
    names, the book's attribute names) and ``_hyper`` (their numeric hyper-parameters besides
    ``lr`` and ``weight_decay``, saved by ``state_dict`` and passed to the kernel by ``_kernel_args``).
    """

    _kernel: ClassVar[str] = ""
    _states: ClassVar[tuple[str, ...]] = ()
    _hyper: ClassVar[tuple[str, ...]] = ()
    # True: gradients are cast to their parameter's dtype (the book's NumPy promotion)
    _cast_grads: ClassVar[bool] = False

    def __init__(self, lr: float, weight_decay: float = 0.0, decay: str = "l2",
                 param_options: Mapping[str, Mapping[str, float]] | None = None) -> None:
        self.lr = lr
        self.weight_decay = weight_decay
        self.decay = decay
        self.param_options = {k: dict(v) for k, v in (param_options or {}).items()}
        # {state name: {param key: array}}, created by the first update
        self.state: dict[str, dict[str, FloatArray]] | None = None
        self.step = 0  # updates done
        self._check_hyper()

    # -- the book's attribute names: opt.v, opt.h, opt.m (None before the first update)
    def __getattr__(self, name: str) -> dict[str, FloatArray] | None:
        if name in type(self)._states:
            state = self.__dict__.get("state")
            return None if state is None else state[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def _kernel_args(self, step: int) -> dict[str, Any]:
        """Rule-specific keyword arguments of the native call (besides lr and weight decay): the
        ``_hyper`` values by default; ``step`` counts the update being made."""
        return {h: getattr(self, h) for h in self._hyper}

    def _call(self, params: Sequence[FloatArray], grads: Sequence[FloatArray], states: Sequence[Sequence[FloatArray]],
              options: Sequence[Mapping[str, float]], names: Sequence[str] | None, step: int) -> None:
        """One native call: ``options`` is one param_options dict per tensor."""
        getattr(_core, self._kernel)(
            params, grads, *states, lr=[o.get("lr", self.lr) for o in options],
            weight_decay=[o.get("weight_decay", self.weight_decay) for o in options], decay=self.decay,
            names=names, **self._kernel_args(step))

    def _check_hyper(self) -> None:
        """Every hyper-parameter, checked now by the native binding itself (on empty tensors,
        so nothing is written); param_options entries are checked one by one."""
        for pkey, popts in self.param_options.items():
            extra = set(popts) - {"lr", "weight_decay"}
            if extra:
                raise ValueError(f"{type(self).__name__}: param_options[{pkey!r}] may set only 'lr' and "
                                 f"'weight_decay', got {sorted(extra)}")
        checks: list[tuple[str | None, Mapping[str, float]]] = [(None, {}), *self.param_options.items()]
        for key, opts in checks:
            empty = [np.empty(0, np.float32) for _ in range(2 + len(self._states))]
            try:
                self._call([empty[0]], [empty[1]], [[e] for e in empty[2:]], [opts], None, self.step + 1)
            except (TypeError, ValueError) as e:
                where = "" if key is None else f" param_options[{key!r}]:"
                raise type(e)(f"{type(self).__name__}:{where} {e}") from None

    def _check_keys(self, params: Params, grads: Params) -> list[str]:
        """The parameter keys, after the checks on the dicts themselves (the arrays are the binding's)."""
        name = type(self).__name__
        if not (isinstance(params, Mapping) and isinstance(grads, Mapping)):
            raise TypeError(f"{name}.update: params and grads must be dicts of arrays")
        pk, gk = list(params), set(grads)
        if set(pk) != gk:
            raise ValueError(f"{name}.update: params and grads have different keys: missing from grads "
                             f"{sorted(set(pk) - gk)}, not in params {sorted(gk - set(pk))}")
        if self.state is not None and self._states:
            sk = set(self.state[self._states[0]])
            if set(pk) != sk:
                raise ValueError(f"{name}.update: params keys differ from the optimizer state's (created by the "
                                 f"first update or load_state_dict): new {sorted(set(pk) - sk)}, gone "
                                 f"{sorted(sk - set(pk))}")
        unknown = set(self.param_options) - set(pk)
        if unknown:
            raise ValueError(f"{name}.update: param_options names keys not in params: {sorted(unknown)}")
        return pk

    def _grad(self, g: FloatArray, p: FloatArray) -> FloatArray:
        cast = self._cast_grads and isinstance(p, np.ndarray)
        return np.ascontiguousarray(g, dtype=p.dtype if cast else None)

    def update(self, params: Params, grads: Params) -> None:
        """Update every array of ``params`` in place from ``grads`` (dicts with equal keys)."""
        keys = self._check_keys(params, grads)
        fresh = self.state is None
        state = self.state
        if state is None:
            state = self.state = {s: {k: np.zeros_like(params[k], order="C") for k in keys} for s in self._states}
        self.step += 1
        try:
            self._call([params[k] for k in keys], [self._grad(grads[k], params[k]) for k in keys],
                       [[state[s][k] for k in keys] for s in self._states],
                       [self.param_options.get(k, {}) for k in keys], keys, self.step)
        except Exception:  # the binding raises before writing anything
            self.step -= 1
            if fresh:
                self.state = None
            raise

    # -- checkpoints: numbers and arrays only
    def state_dict(self) -> dict[str, Any]:
        """Flat dict: ``step``, the numeric hyper-parameters and copies of the state arrays."""
        sd: dict[str, Any] = {"step": int(self.step), "lr": float(self.lr), "weight_decay": float(self.weight_decay)}
        for h in self._hyper:
            sd[h] = float(getattr(self, h))
        for s, arrays in (self.state or {}).items():
            for k, a in arrays.items():
                sd[f"{s}.{k}"] = a.copy()
        return sd

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore from ``state_dict()`` (or ``numpy.load`` of its ``numpy.savez`` file)."""
        name = type(self).__name__
        numbers = {"step", "lr", "weight_decay", *self._hyper}
        values: dict[str, Any] = {}
        state: dict[str, dict[str, FloatArray]] = {s: {} for s in self._states}
        for key in state_dict:
            val = state_dict[key]
            head, dot, rest = key.partition(".")
            if key in numbers:
                arr = np.asarray(val)
                if not (arr.ndim == 0 and arr.dtype.kind in "iuf"):
                    raise TypeError(f"{name}.load_state_dict: {key!r} must be a number, got {val!r}")
                values[key] = arr.item()
            elif dot and head in state:
                arr = np.asarray(val)
                if arr.dtype not in _FLOATS:
                    raise TypeError(f"{name}.load_state_dict: {key!r} must be float32 or float64, got {arr.dtype}")
                state[head][rest] = np.array(arr, order="C", copy=True)
            else:
                raise ValueError(f"{name}.load_state_dict: unexpected entry {key!r}")
        missing = numbers - set(values)
        if missing:
            raise ValueError(f"{name}.load_state_dict: missing {sorted(missing)}")
        step = values.pop("step")
        if not (float(step).is_integer() and step >= 0):
            raise ValueError(f"{name}.load_state_dict: step must be a non-negative integer, got {step!r}")
        _check_state_arrays(name, self._states, state)
        old = {k: getattr(self, k) for k in values}
        for k, v in values.items():
            setattr(self, k, v)
        try:
            self._check_hyper()
        except (TypeError, ValueError):
            for k, v in old.items():
                setattr(self, k, v)
            raise
        self.step = int(step)
        has_state = self._states and state[self._states[0]]
        self.state = state if has_state else None


def _check_state_arrays(name: str, states: tuple[str, ...], state: dict[str, dict[str, FloatArray]]) -> None:
    """The state arrays of a loaded state_dict cover the same keys, with one shape and dtype per key."""
    if not states:
        return
    keysets = [set(state[s]) for s in states]
    if not all(ks == keysets[0] for ks in keysets):
        raise ValueError(f"{name}.load_state_dict: the state arrays {list(states)} cover different keys")
    for k in keysets[0]:
        if len({(state[s][k].shape, state[s][k].dtype) for s in states}) != 1:
            raise ValueError(f"{name}.load_state_dict: state arrays of {k!r} differ in shape or dtype")
