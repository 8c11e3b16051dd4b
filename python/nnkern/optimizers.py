"""Optimizers with the book's protocol, on nnkern's fused multi-tensor kernels.

    opt = nnkern.optimizers.Adam(lr=1e-3)
    grads = network.gradient(x, t)
    opt.update(network.params, grads)   # network.params' arrays change in place

``update(params, grads)`` takes two dicts with the same keys (``'W1'``, ``'b1'``, ...) and
updates every array of ``params`` in place with one native call (per dtype) that runs
one OpenMP-parallel pass over all tensors together. The layers hold the same arrays, so
``layer.W is params['W1']`` keeps holding and the layers see the new values at once; the
arrays are never replaced or copied. State (velocity, moments) is created lazily on the
first call, with each parameter's shape and dtype.

Rules (``nnkern.reference.optim`` has each one in NumPy; the native result equals it bit for bit):
  SGD        W <- W - lr g
  Momentum   v <- momentum v - lr g;  W <- W + v                               (the seed)
  Nesterov   v <- momentum v - lr g;  W <- W + momentum^2 v - (1 + momentum) lr g   (DLFS)
  AdaGrad    h <- h + g^2;  W <- W - lr g / (sqrt(h) + eps)                      (the seed, eps 1e-7)
  RMSprop    h <- rho h + (1 - rho) g^2;  W <- W - lr g / (sqrt(h) + eps)        (the seed, eps 1e-7)
  Adam       variant="standard": Kingma & Ba (2015) as torch.optim.Adam (eps 1e-8 added to
             sqrt(v / (1 - beta2^t))); variant="book": the seed's listing, lr_t = lr sqrt(1 - beta2^t)
             / (1 - beta1^t) and eps 1e-7 added to sqrt(v)
  AdamW      Adam with decoupled weight decay W <- W (1 - lr wd) (Loshchilov & Hutter 2019)

Weight decay: ``weight_decay`` = lambda with ``decay="l2"`` adds lambda W to the gradient (the
seed's ``MultiLayerNet``: the gradient of lambda/2 ||W||^2), ``decay="l1"`` adds lambda sign(W),
``decay="decoupled"`` shrinks W by (1 - lr lambda) first. Per-parameter options override
``lr`` and ``weight_decay`` for chosen keys, e.g. no decay on biases:

    Adam(weight_decay=1e-4, param_options={k: {"weight_decay": 0.0} for k in params if k[0] == "b"})

Bad input raises before any array is written, so nothing is ever half-updated: TypeError for
a parameter that is not a float32/float64 ``numpy.ndarray`` or a gradient of another dtype;
ValueError for differing keys or shapes, non-contiguous or read-only parameters, and
hyper-parameters out of range (lr <= 0, betas outside [0, 1), ...). Non-contiguous
*gradients* are read through one contiguous copy.

NaN and Inf are not filtered: a NaN or Inf gradient element propagates into that element's
parameter and state (as in NumPy and PyTorch); the other elements are unaffected.

``state_dict()`` returns a flat dict of numbers and arrays only (``"step"``, the numeric
hyper-parameters and ``"<state>.<key>"`` arrays, e.g. ``"m.W1"``), so ``numpy.savez`` stores
it without pickle; ``load_state_dict()`` accepts that dict or the ``numpy.load`` result and
continues the run bit-identically.
"""
import math
from collections.abc import Mapping

import numpy as np

from . import _core

__all__ = ["Optimizer", "SGD", "Momentum", "Nesterov", "AdaGrad", "RMSprop", "Adam", "AdamW"]

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def _check(cond, exc, msg):
    if not cond:
        raise exc(msg)


def _real(name, x):
    _check(isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, bool), TypeError,
           f"{name} must be a real number, got {x!r}")
    return float(x)


class Optimizer:
    """Base class: validation, lazy state, one native call per dtype, state_dict.

    Subclasses set ``_kernel`` (the ``nnkern._core`` function), ``_states`` (state array
    names, the book's attribute names) and ``_hyper`` (their numeric hyper-parameters besides
    ``lr`` and ``weight_decay``, saved by ``state_dict``), and override ``_check_hyper`` and
    ``_kernel_args``.
    """

    _kernel = None
    _states = ()
    _hyper = ()

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

    def _check_hyper(self):
        name = type(self).__name__
        lr = _real("lr", self.lr)
        _check(math.isfinite(lr) and lr > 0, ValueError, f"{name}: lr must be positive and finite, got {self.lr!r}")
        wd = _real("weight_decay", self.weight_decay)
        _check(math.isfinite(wd) and wd >= 0, ValueError,
               f"{name}: weight_decay must be non-negative and finite, got {self.weight_decay!r}")
        _check(self.decay in ("l2", "l1", "decoupled"), ValueError,
               f"{name}: decay must be 'l2', 'l1' or 'decoupled', got {self.decay!r}")
        for key, opts in self.param_options.items():
            extra = set(opts) - {"lr", "weight_decay"}
            _check(not extra, ValueError, f"{name}: param_options[{key!r}] may set only 'lr' and 'weight_decay', "
                                          f"got {sorted(extra)}")
            lr_k = _real("lr", opts.get("lr", lr))
            wd_k = _real("weight_decay", opts.get("weight_decay", wd))
            _check(math.isfinite(lr_k) and lr_k > 0, ValueError,
                   f"{name}: param_options[{key!r}]['lr'] must be positive, got {lr_k!r}")
            _check(math.isfinite(wd_k) and wd_k >= 0, ValueError,
                   f"{name}: param_options[{key!r}]['weight_decay'] must be non-negative, got {wd_k!r}")

    def _kernel_args(self):
        """Rule-specific keyword arguments of the native call (besides lr and weight decay)."""
        return {}

    # -- validation of one update: every check for every tensor, before anything is written
    def _validate(self, params, grads):
        name = type(self).__name__
        _check(isinstance(params, Mapping) and isinstance(grads, Mapping), TypeError,
               f"{name}.update: params and grads must be dicts of arrays")
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
        _check(not unknown, ValueError, f"{name}.update: param_options names keys not in params: {sorted(unknown)}")
        cgrads = {}
        for k in pk:  # messages are formatted only on failure: this loop runs on every update
            p, g = params[k], grads[k]
            if not isinstance(p, np.ndarray):
                raise TypeError(f"{name}.update: params[{k!r}] must be a numpy.ndarray (it is updated in place), "
                                f"got {type(p).__name__}")
            if p.dtype not in _FLOATS:
                raise TypeError(f"{name}.update: params[{k!r}] must be float32 or float64, got {p.dtype}")
            if not p.flags.c_contiguous:
                raise ValueError(f"{name}.update: params[{k!r}] must be C-contiguous")
            if not p.flags.writeable:
                raise ValueError(f"{name}.update: params[{k!r}] is read-only; it is updated in place")
            g = np.asarray(g)
            if g.dtype != p.dtype:
                raise TypeError(f"{name}.update: grads[{k!r}] has dtype {g.dtype} but params[{k!r}] has dtype "
                                f"{p.dtype}; mixed dtypes are not supported")
            if g.shape != p.shape:
                raise ValueError(f"{name}.update: grads[{k!r}] has shape {g.shape} but params[{k!r}] has shape "
                                 f"{p.shape}")
            for s in self._states if self.state is not None else ():
                a = self.state[s][k]
                if a.shape != p.shape or a.dtype != p.dtype:
                    raise ValueError(f"{name}.update: params[{k!r}] is {p.dtype}{p.shape} but its state {s!r} is "
                                     f"{a.dtype}{a.shape}")
            cgrads[k] = g if g.flags.c_contiguous else np.ascontiguousarray(g)
        return pk, cgrads

    def update(self, params, grads):
        """Update every array of ``params`` in place from ``grads`` (dicts with equal keys)."""
        self._check_hyper()
        keys, grads = self._validate(params, grads)
        fresh = self.state is None
        if fresh:
            self.state = {s: {k: np.zeros_like(params[k], order="C") for k in keys} for s in self._states}
        self.step += 1
        try:
            self._run(params, grads, keys)
        except Exception:  # the native checks raise before writing (e.g. two keys sharing one array)
            self.step -= 1
            if fresh:
                self.state = None
            raise

    def _run(self, params, grads, keys):
        lr, wd = float(self.lr), float(self.weight_decay)
        kwargs = self._kernel_args()
        kernel = getattr(_core, self._kernel)
        for dtype in _FLOATS:  # one native call per dtype present (normally exactly one)
            ks = [k for k in keys if params[k].dtype == dtype]
            if not ks:
                continue
            opts = [self.param_options.get(k, {}) for k in ks]
            kernel([params[k] for k in ks], [grads[k] for k in ks], *[[self.state[s][k] for k in ks]
                                                                        for s in self._states],
                   lr=[float(o.get("lr", lr)) for o in opts],
                   weight_decay=[float(o.get("weight_decay", wd)) for o in opts], decay=self.decay, **kwargs)

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
                _check(arr.ndim == 0 and arr.dtype.kind in "iuf", TypeError,
                       f"{name}.load_state_dict: {key!r} must be a number, got {val!r}")
                values[key] = arr.item()
            elif dot and head in state:
                arr = np.asarray(val)
                _check(arr.dtype in _FLOATS, TypeError,
                       f"{name}.load_state_dict: {key!r} must be float32 or float64, got {arr.dtype}")
                state[head][rest] = np.array(arr, order="C", copy=True)
            else:
                raise ValueError(f"{name}.load_state_dict: unexpected entry {key!r}")
        missing = numbers - set(values)
        _check(not missing, ValueError, f"{name}.load_state_dict: missing {sorted(missing)}")
        step = values.pop("step")
        _check(float(step).is_integer() and step >= 0, ValueError,
               f"{name}.load_state_dict: step must be a non-negative integer, got {step!r}")
        if self._states:
            keysets = [set(state[s]) for s in self._states]
            _check(all(ks == keysets[0] for ks in keysets), ValueError,
                   f"{name}.load_state_dict: the state arrays {list(self._states)} cover different keys")
            for k in keysets[0]:
                shapes = {(state[s][k].shape, state[s][k].dtype) for s in self._states}
                _check(len(shapes) == 1, ValueError, f"{name}.load_state_dict: state arrays of {k!r} differ in "
                                                     f"shape or dtype")
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


class SGD(Optimizer):
    """Stochastic gradient descent: W <- W - lr * grad (DLFS ``SGD``)."""

    _kernel = "sgd_update"

    def __init__(self, lr=0.01, weight_decay=0.0, decay="l2", param_options=None):
        super().__init__(lr, weight_decay, decay, param_options)


class Momentum(Optimizer):
    """Momentum SGD, the seed's listing: v <- momentum v - lr grad; W <- W + v (Polyak 1964)."""

    _kernel = "momentum_update"
    _states = ("v",)
    _hyper = ("momentum",)

    def __init__(self, lr=0.01, momentum=0.9, weight_decay=0.0, decay="l2", param_options=None):
        self.momentum = momentum
        super().__init__(lr, weight_decay, decay, param_options)

    def _check_hyper(self):
        super()._check_hyper()
        mu = _real("momentum", self.momentum)
        _check(math.isfinite(mu) and mu >= 0, ValueError,
               f"{type(self).__name__}: momentum must be non-negative and finite, got {self.momentum!r}")

    def _kernel_args(self):
        return {"momentum": float(self.momentum)}


class Nesterov(Momentum):
    """Nesterov's accelerated gradient in DLFS's form (Sutskever et al. 2013; Bengio et al. 2012):
    v <- momentum v - lr grad;  W <- W + momentum^2 v - (1 + momentum) lr grad."""

    _kernel = "nesterov_update"


class AdaGrad(Optimizer):
    """AdaGrad (Duchi et al. 2011), the seed's listing: h <- h + grad^2; W <- W - lr grad / (sqrt(h) + eps)."""

    _kernel = "adagrad_update"
    _states = ("h",)
    _hyper = ("eps",)

    def __init__(self, lr=0.01, eps=1e-7, weight_decay=0.0, decay="l2", param_options=None):
        self.eps = eps
        super().__init__(lr, weight_decay, decay, param_options)

    def _check_hyper(self):
        super()._check_hyper()
        eps = _real("eps", self.eps)
        _check(math.isfinite(eps) and eps >= 0, ValueError,
               f"{type(self).__name__}: eps must be non-negative and finite, got {self.eps!r}")

    def _kernel_args(self):
        return {"eps": float(self.eps)}


class RMSprop(AdaGrad):
    """RMSProp (Tieleman & Hinton 2012), the seed's listing:
    h <- decay_rate h + (1 - decay_rate) grad^2;  W <- W - lr grad / (sqrt(h) + eps)."""

    _kernel = "rmsprop_update"
    _hyper = ("decay_rate", "eps")

    def __init__(self, lr=0.01, decay_rate=0.99, eps=1e-7, weight_decay=0.0, decay="l2", param_options=None):
        self.decay_rate = decay_rate
        super().__init__(lr, eps, weight_decay, decay, param_options)

    def _check_hyper(self):
        super()._check_hyper()
        rho = _real("decay_rate", self.decay_rate)
        _check(0 <= rho < 1, ValueError, f"RMSprop: decay_rate must be in [0, 1), got {self.decay_rate!r}")

    def _kernel_args(self):
        return {"decay_rate": float(self.decay_rate), "eps": float(self.eps)}


class Adam(Optimizer):
    """Adam (Kingma & Ba 2015). ``variant="standard"`` is Algorithm 1 as torch.optim.Adam
    (eps defaults to 1e-8, added to the square root of the bias-corrected v);
    ``variant="book"`` is the seed's listing (eps defaults to 1e-7, added to sqrt of the
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

    def _check_hyper(self):
        super()._check_hyper()
        n = type(self).__name__
        for h in ("beta1", "beta2"):
            b = _real(h, getattr(self, h))
            _check(0 <= b < 1, ValueError, f"{n}: {h} must be in [0, 1), got {getattr(self, h)!r}")
        eps = _real("eps", self.eps)
        _check(math.isfinite(eps) and eps >= 0, ValueError, f"{n}: eps must be non-negative and finite, got {eps!r}")

    def _kernel_args(self):
        return {"beta1": float(self.beta1), "beta2": float(self.beta2), "eps": float(self.eps),
                "step": int(self.step), "variant": self.variant}


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter 2019, torch.optim.AdamW):
    W <- W (1 - lr weight_decay), then the Adam step."""

    def __init__(self, lr=0.001, beta1=0.9, beta2=0.999, eps=None, variant="standard", weight_decay=0.01,
                 param_options=None):
        super().__init__(lr, beta1, beta2, eps, variant, weight_decay, "decoupled", param_options)
