"""Optimizers with the book's protocol, on nnkern's fused multi-tensor kernels.

    opt = nnkern.optimizers.Adam(lr=1e-3)
    grads = network.gradient(x, t)
    opt.update(network.params, grads)   # network.params' arrays change in place

``update(params, grads)`` takes two dicts with the same keys (``'W1'``, ``'b1'``, ...) and
updates every array of ``params`` in place with one native call that runs one OpenMP-parallel
pass over all tensors together (float32 and float64 tensors may be mixed). The layers hold the
same arrays, so ``layer.W is params['W1']`` keeps holding and the layers see the new values at
once; the arrays are never replaced or copied. State (velocity, moments) is created lazily on
the first call, with each parameter's shape and dtype.

Rules (``nnkern.reference.optim`` has each one in NumPy; the native result equals it bit for bit):
  SGD        W <- W - lr g
  Momentum   v <- momentum v - lr g;  W <- W + v                               (the book)
  Nesterov   v <- momentum v - lr g;  W <- W + momentum^2 v - (1 + momentum) lr g   (the book)
  AdaGrad    h <- h + g^2;  W <- W - lr g / (sqrt(h) + eps)                      (the book, eps 1e-7)
  RMSprop    h <- rho h + (1 - rho) g^2;  W <- W - lr g / (sqrt(h) + eps)        (the book, eps 1e-7)
  Adam       variant="standard": Kingma & Ba (2015) as torch.optim.Adam (eps 1e-8 added to
             sqrt(v / (1 - beta2^t))); variant="book": the book's listing, lr_t = lr sqrt(1 - beta2^t)
             / (1 - beta1^t) and eps 1e-7 added to sqrt(v)
  AdamW      Adam with decoupled weight decay W <- W (1 - lr wd) (Loshchilov & Hutter 2019)

Weight decay: ``weight_decay`` = lambda with ``decay="l2"`` adds lambda W to the gradient (the
book's ``MultiLayerNet``: the gradient of lambda/2 ||W||^2), ``decay="l1"`` adds lambda sign(W),
``decay="decoupled"`` shrinks W by (1 - lr lambda) first (``"none"`` ignores it). Per-parameter
options override ``lr`` and ``weight_decay`` for chosen keys, e.g. no decay on biases:

    Adam(weight_decay=1e-4, param_options={k: {"weight_decay": 0.0} for k in params if k[0] == "b"})

Validation happens once, in the native binding, before any array is written, so nothing is
ever half-updated: the binding is given the dict keys and its messages name them
(``adam_update: params['W2'] must be C-contiguous``). TypeError for a parameter that is not a
float32/float64 ``numpy.ndarray`` or a gradient of another dtype; ValueError for differing
keys or shapes, non-contiguous, read-only or shared parameter arrays, and hyper-parameters
out of range (lr <= 0, betas outside [0, 1), ...). Hyper-parameters are checked when the
optimizer is made (the same native check, run on empty tensors) and on every update.
Non-contiguous *gradients* are read through one contiguous copy.

NaN and Inf are not filtered: a NaN or Inf gradient element propagates into that element's
parameter and state (as in NumPy and PyTorch); the other elements are unaffected.

``state_dict()`` returns a flat dict of numbers and arrays only (``"step"``, the numeric
hyper-parameters and ``"<state>.<key>"`` arrays, e.g. ``"m.W1"``), so ``numpy.savez`` stores
it without pickle; ``load_state_dict()`` accepts that dict or the ``numpy.load`` result and
continues the run bit-identically.
"""
from collections.abc import Mapping

import numpy as np

from . import _core

__all__ = ["Optimizer", "SGD", "Momentum", "Nesterov", "AdaGrad", "RMSprop", "Adam", "AdamW"]

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


class Optimizer:
    """Base class: the driver of the native update (lazy state, one call, state_dict).

    Subclasses set ``_kernel`` (the ``nnkern._core`` function), ``_states`` (state array
    names, the book's attribute names) and ``_hyper`` (their numeric hyper-parameters besides
    ``lr`` and ``weight_decay``, saved by ``state_dict``), and override ``_kernel_args``.
    """

    _kernel = None
    _states = ()
    _hyper = ()
    _cast_grads = False  # True: gradients are cast to their parameter's dtype (the book's NumPy promotion)

    def __init__(self, lr, weight_decay=0.0, decay="l2", param_options=None):
        self.lr = lr
        self.weight_decay = weight_decay
        self.decay = decay
        self.param_options = {k: dict(v) for k, v in (param_options or {}).items()}
        self.state = None  # {state name: {param key: array}}, created by the first update
        self.step = 0  # updates done
        self._check_hyper()

    # -- the book's attribute names: opt.v, opt.h, opt.m (None before the first update)
    def __getattr__(self, name):
        if name in type(self)._states:
            state = self.__dict__.get("state")
            return None if state is None else state[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def _kernel_args(self, step):
        """Rule-specific keyword arguments of the native call (besides lr and weight decay);
        ``step`` counts the update being made."""
        return {}

    def _call(self, params, grads, states, options, names, step):
        """One native call: ``options`` is one param_options dict per tensor."""
        getattr(_core, self._kernel)(
            params, grads, *states, lr=[o.get("lr", self.lr) for o in options],
            weight_decay=[o.get("weight_decay", self.weight_decay) for o in options], decay=self.decay,
            names=names, **self._kernel_args(step))

    def _check_hyper(self):
        """Every hyper-parameter, checked now by the native binding itself (on empty tensors,
        so nothing is written); param_options entries are checked one by one."""
        for key, opts in self.param_options.items():
            extra = set(opts) - {"lr", "weight_decay"}
            if extra:
                raise ValueError(f"{type(self).__name__}: param_options[{key!r}] may set only 'lr' and "
                                 f"'weight_decay', got {sorted(extra)}")
        for key, opts in [(None, {})] + list(self.param_options.items()):
            empty = [np.empty(0, np.float32) for _ in range(2 + len(self._states))]
            try:
                self._call([empty[0]], [empty[1]], [[e] for e in empty[2:]], [opts], None, self.step + 1)
            except (TypeError, ValueError) as e:
                where = "" if key is None else f" param_options[{key!r}]:"
                raise type(e)(f"{type(self).__name__}:{where} {e}") from None

    def _check_keys(self, params, grads):
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

    def _grad(self, g, p):
        if self._cast_grads and isinstance(p, np.ndarray):
            return np.ascontiguousarray(g, dtype=p.dtype)
        return np.ascontiguousarray(g)

    def update(self, params, grads):
        """Update every array of ``params`` in place from ``grads`` (dicts with equal keys)."""
        keys = self._check_keys(params, grads)
        fresh = self.state is None
        if fresh:
            self.state = {s: {k: np.zeros_like(params[k], order="C") for k in keys} for s in self._states}
        self.step += 1
        try:
            self._call([params[k] for k in keys], [self._grad(grads[k], params[k]) for k in keys],
                       [[self.state[s][k] for k in keys] for s in self._states],
                       [self.param_options.get(k, {}) for k in keys], keys, self.step)
        except Exception:  # the binding raises before writing anything
            self.step -= 1
            if fresh:
                self.state = None
            raise

    # -- checkpoints: numbers and arrays only
    def state_dict(self):
        """Flat dict: ``step``, the numeric hyper-parameters and copies of the state arrays."""
        sd = {"step": int(self.step), "lr": float(self.lr), "weight_decay": float(self.weight_decay)}
        for h in self._hyper:
            sd[h] = float(getattr(self, h))
        for s, arrays in (self.state or {}).items():
            for k, a in arrays.items():
                sd[f"{s}.{k}"] = a.copy()
        return sd

    def load_state_dict(self, state_dict):
        """Restore from ``state_dict()`` (or ``numpy.load`` of its ``numpy.savez`` file)."""
        name = type(self).__name__
        numbers = {"step", "lr", "weight_decay", *self._hyper}
        values, state = {}, {s: {} for s in self._states}
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


def _check_state_arrays(name, states, state):
    """The state arrays of a loaded state_dict cover the same keys, with one shape and dtype per key."""
    if not states:
        return
    keysets = [set(state[s]) for s in states]
    if not all(ks == keysets[0] for ks in keysets):
        raise ValueError(f"{name}.load_state_dict: the state arrays {list(states)} cover different keys")
    for k in keysets[0]:
        if len({(state[s][k].shape, state[s][k].dtype) for s in states}) != 1:
            raise ValueError(f"{name}.load_state_dict: state arrays of {k!r} differ in shape or dtype")


class SGD(Optimizer):
    """Stochastic gradient descent: W <- W - lr * grad (the book's ``SGD``)."""

    _kernel = "sgd_update"

    def __init__(self, lr=0.01, weight_decay=0.0, decay="l2", param_options=None):
        super().__init__(lr, weight_decay, decay, param_options)


class Momentum(Optimizer):
    """Momentum SGD, the book's listing: v <- momentum v - lr grad; W <- W + v (Polyak 1964)."""

    _kernel = "momentum_update"
    _states = ("v",)
    _hyper = ("momentum",)

    def __init__(self, lr=0.01, momentum=0.9, weight_decay=0.0, decay="l2", param_options=None):
        self.momentum = momentum
        super().__init__(lr, weight_decay, decay, param_options)

    def _kernel_args(self, step):
        return {"momentum": self.momentum}


class Nesterov(Momentum):
    """Nesterov's accelerated gradient in the book's form (Sutskever et al. 2013; Bengio et al. 2012):
    v <- momentum v - lr grad;  W <- W + momentum^2 v - (1 + momentum) lr grad."""

    _kernel = "nesterov_update"


class AdaGrad(Optimizer):
    """AdaGrad (Duchi et al. 2011), the book's listing: h <- h + grad^2; W <- W - lr grad / (sqrt(h) + eps)."""

    _kernel = "adagrad_update"
    _states = ("h",)
    _hyper = ("eps",)

    def __init__(self, lr=0.01, eps=1e-7, weight_decay=0.0, decay="l2", param_options=None):
        self.eps = eps
        super().__init__(lr, weight_decay, decay, param_options)

    def _kernel_args(self, step):
        return {"eps": self.eps}


class RMSprop(AdaGrad):
    """RMSProp (Tieleman & Hinton 2012), the book's listing:
    h <- decay_rate h + (1 - decay_rate) grad^2;  W <- W - lr grad / (sqrt(h) + eps)."""

    _kernel = "rmsprop_update"
    _hyper = ("decay_rate", "eps")

    def __init__(self, lr=0.01, decay_rate=0.99, eps=1e-7, weight_decay=0.0, decay="l2", param_options=None):
        self.decay_rate = decay_rate
        super().__init__(lr, eps, weight_decay, decay, param_options)

    def _kernel_args(self, step):
        return {"decay_rate": self.decay_rate, "eps": self.eps}


class Adam(Optimizer):
    """Adam (Kingma & Ba 2015). ``variant="standard"`` is Algorithm 1 as torch.optim.Adam
    (eps defaults to 1e-8, added to the square root of the bias-corrected v);
    ``variant="book"`` is the book's listing (eps defaults to 1e-7, added to sqrt of the
    uncorrected v, bias corrections folded into lr_t). ``weight_decay`` is L2 (or L1) into
    the gradient, as torch.optim.Adam; see :class:`AdamW` for decoupled decay.
    ``opt.iter`` (the book's name) and ``opt.step`` count the updates done."""

    _kernel = "adam_update"
    _states = ("m", "v")
    _hyper = ("beta1", "beta2", "eps")

    def __init__(self, lr=0.001, beta1=0.9, beta2=0.999, eps=None, variant="standard", weight_decay=0.0,
                 decay="l2", param_options=None):
        if variant not in ("standard", "book"):
            raise ValueError(f"Adam: variant must be 'standard' or 'book', got {variant!r}")
        self.variant = variant
        self.beta1, self.beta2 = beta1, beta2
        self.eps = (1e-7 if variant == "book" else 1e-8) if eps is None else eps
        super().__init__(lr, weight_decay, decay, param_options)

    @property
    def iter(self):
        return self.step

    def _kernel_args(self, step):
        return {"beta1": self.beta1, "beta2": self.beta2, "eps": self.eps, "step": step, "variant": self.variant}


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter 2019, torch.optim.AdamW):
    W <- W (1 - lr weight_decay), then the Adam step."""

    def __init__(self, lr=0.001, beta1=0.9, beta2=0.999, eps=None, variant="standard", weight_decay=0.01,
                 param_options=None):
        super().__init__(lr, beta1, beta2, eps, variant, weight_decay, "decoupled", param_options)
