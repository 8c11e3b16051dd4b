"""The book's ``common/optimizer.py`` (the seed's listings 2.1-2.4) on nnkern's fused
update kernels (one parallel pass over all parameters per ``update``).

Same classes, arguments and state attributes as the book (``v``, ``h``, ``m``, ``iter``):
SGD, Momentum, Nesterov, AdaGrad, RMSprop, Adam (the book's variant: lr_t with the bias
corrections folded in, eps = 1e-7 outside sqrt(v)). ``params`` is updated in place, so
layers that hold the same arrays see the change, as in the book.
"""
import numpy as np

from .. import _core


def _lists(params, grads, keys):
    ps, gs = [], []
    for k in keys:
        p = params[k]
        if not (isinstance(p, np.ndarray) and p.flags.c_contiguous and p.flags.writeable
                and p.dtype in (np.float32, np.float64)):
            raise TypeError(f"parameter {k!r} must be a writable C-contiguous float32/float64 array "
                            f"(it is updated in place)")
        ps.append(p)
        gs.append(np.ascontiguousarray(grads[k], dtype=p.dtype))
    return ps, gs


def _state(store, params, keys):
    return [store[k] for k in keys]


def _groups(params):
    """Keys grouped by dtype: the kernels want one dtype per call."""
    by = {}
    for k, v in params.items():
        by.setdefault(np.asarray(v).dtype, []).append(k)
    return list(by.values())


class SGD:
    """W <- W - lr * grad."""

    def __init__(self, lr=0.01):
        self.lr = lr

    def update(self, params, grads):
        for keys in _groups(params):
            ps, gs = _lists(params, grads, keys)
            _core.sgd_update(ps, gs, self.lr)


class _Stateful:
    def _ensure(self, attr, params):
        store = getattr(self, attr)
        if store is None:
            store = {}
            setattr(self, attr, store)
        for key, val in params.items():
            if key not in store:
                store[key] = np.zeros_like(val)
        return store


class Momentum(_Stateful):
    """v <- momentum * v - lr * grad; W <- W + v."""

    def __init__(self, lr=0.01, momentum=0.9):
        self.lr = lr
        self.momentum = momentum
        self.v = None

    _kernel = staticmethod(_core.momentum_update)

    def update(self, params, grads):
        v = self._ensure("v", params)
        for keys in _groups(params):
            ps, gs = _lists(params, grads, keys)
            self._kernel(ps, gs, _state(v, params, keys), self.lr, self.momentum)


class Nesterov(Momentum):
    """Nesterov's accelerated gradient (http://arxiv.org/abs/1212.0901), the book's form."""

    _kernel = staticmethod(_core.nesterov_update)


class AdaGrad(_Stateful):
    """h <- h + grad^2; W <- W - lr * grad / (sqrt(h) + 1e-7)."""

    def __init__(self, lr=0.01):
        self.lr = lr
        self.h = None

    def update(self, params, grads):
        h = self._ensure("h", params)
        for keys in _groups(params):
            ps, gs = _lists(params, grads, keys)
            _core.adagrad_update(ps, gs, _state(h, params, keys), self.lr, 1e-7)


class RMSprop(_Stateful):
    """h <- decay_rate * h + (1 - decay_rate) * grad^2; W <- W - lr * grad / (sqrt(h) + 1e-7)."""

    def __init__(self, lr=0.01, decay_rate=0.99):
        self.lr = lr
        self.decay_rate = decay_rate
        self.h = None

    def update(self, params, grads):
        h = self._ensure("h", params)
        for keys in _groups(params):
            ps, gs = _lists(params, grads, keys)
            _core.rmsprop_update(ps, gs, _state(h, params, keys), self.lr, self.decay_rate, 1e-7)


class Adam(_Stateful):
    """Adam (http://arxiv.org/abs/1412.6980v8), the book's form:
    lr_t = lr * sqrt(1 - beta2^t) / (1 - beta1^t); m += (1-beta1)(g - m); v += (1-beta2)(g^2 - v);
    W -= lr_t * m / (sqrt(v) + 1e-7)."""

    def __init__(self, lr=0.001, beta1=0.9, beta2=0.999):
        self.lr = lr
        self.beta1 = beta1
        self.beta2 = beta2
        self.iter = 0
        self.m = None
        self.v = None

    def update(self, params, grads):
        m = self._ensure("m", params)
        v = self._ensure("v", params)
        self.iter += 1
        for keys in _groups(params):
            ps, gs = _lists(params, grads, keys)
            _core.adam_update(ps, gs, _state(m, params, keys), _state(v, params, keys), self.lr, self.beta1,
                              self.beta2, 1e-7, self.iter, "book")
