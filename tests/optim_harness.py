"""Shared cases of the optimizer tests: the rules' hyper-parameters, shape families, random
parameters and gradients, the key-by-key reference optimizer and the bit-equality check."""
from functools import partial

import numpy as np
from nnkern import optimizers as O
from nnkern import reference as R

# rule: (optimizer factory, normal hyper-parameters, large-lr hyper-parameters)
RULES = {
    "sgd": (O.SGD, dict(lr=0.01), dict(lr=1.0)),
    "momentum": (O.Momentum, dict(lr=0.01, momentum=0.9), dict(lr=0.5, momentum=0.95)),
    "nesterov": (O.Nesterov, dict(lr=0.01, momentum=0.9), dict(lr=0.5, momentum=0.95)),
    "adagrad": (O.AdaGrad, dict(lr=0.01), dict(lr=1.0)),
    "rmsprop": (O.RMSprop, dict(lr=0.001, decay_rate=0.99), dict(lr=0.1, decay_rate=0.9)),
    "adam": (O.Adam, dict(lr=0.001), dict(lr=0.5, beta1=0.5, beta2=0.9)),
    "adam-book": (partial(O.Adam, variant="book"), dict(lr=0.001), dict(lr=0.5, beta1=0.5, beta2=0.9)),
    "adamw": (O.AdamW, dict(lr=0.001, weight_decay=0.01), dict(lr=0.5, weight_decay=0.1)),
}

# Named shape families: 1 element, sizes around the SIMD widths (4/8 doubles, 8/16 floats per
# vector) and their tails, odd multi-dimensional shapes, one tensor spanning several chunks.
SMALL = {"one": (1,), "scalar-like": (1, 1), "w3": (3,), "w7": (7,), "w8": (8,), "w9": (9,), "w15": (15,),
         "w16": (16,), "w17": (17,), "w31": (31,), "w33": (33,), "w63": (63,), "w65": (65,), "odd-2d": (13, 7),
         "odd-4d": (5, 3, 3, 3), "b1": (1,), "odd-1001": (1001,)}
CHUNKY = {"one": (1,), "multi-chunk": (3 * 16384 + 5,), "w17": (17,), "odd-4d": (33, 7, 3, 3)}
# The study notes' CNN (3,453,121 parameters in 12 tensors).
NOTES_CNN = {"W1": (32, 3, 3, 3), "b1": (32,), "W2": (64, 32, 3, 3), "b2": (64,), "W3": (128, 64, 3, 3),
             "b3": (128,), "W4": (128, 128, 3, 3), "b4": (128,), "W5": (6272, 512), "b5": (512,),
             "W6": (512, 1), "b6": (1,)}


def make_params(rng, shapes, dtype):
    return {k: (rng.standard_normal(s) * 0.5).astype(dtype) for k, s in shapes.items()}


MAGNITUDES = 10.0 ** np.arange(-6, 2)  # 1e-6 ... 10: tiny gradients exercise eps and sqrt(v)


def make_grads(rng, params):
    """Normal gradients scaled by magnitudes from 1e-6 to 10 (a random rotation of a fixed cycle)."""
    out = {}
    for k, p in params.items():
        mag = np.roll(np.resize(MAGNITUDES.astype(p.dtype), p.size), rng.integers(8)).reshape(p.shape)
        out[k] = rng.standard_normal(p.shape, dtype=p.dtype) * mag
    return out


class RefOpt:
    """The same hyper-parameters applied key by key with nnkern.reference (NumPy)."""

    def __init__(self, opt):
        self.opt, self.state, self.step = opt, None, 0

    def update(self, params, grads):
        o = self.opt
        if self.state is None:
            self.state = {s: {k: np.zeros_like(p) for k, p in params.items()} for s in o._states}
        self.step += 1
        for k in params:
            lr = o.param_options.get(k, {}).get("lr", o.lr)
            wd = dict(weight_decay=o.param_options.get(k, {}).get("weight_decay", o.weight_decay), decay=o.decay)
            p, g, st = params[k], grads[k], [self.state[s][k] for s in o._states]
            if o._kernel == "sgd_update":
                R.sgd_update(p, g, lr, **wd)
            elif o._kernel == "momentum_update":
                R.momentum_update(p, g, *st, lr, o.momentum, **wd)
            elif o._kernel == "nesterov_update":
                R.nesterov_update(p, g, *st, lr, o.momentum, **wd)
            elif o._kernel == "adagrad_update":
                R.adagrad_update(p, g, *st, lr, o.eps, **wd)
            elif o._kernel == "rmsprop_update":
                R.rmsprop_update(p, g, *st, lr, o.decay_rate, o.eps, **wd)
            else:
                R.adam_update(p, g, *st, lr, o.beta1, o.beta2, o.eps, self.step, o.variant, **wd)


def run_pair(rng, rule, hyper, shapes, dtype, steps, ref_dtype=None, reuse_grads=False, **extra):
    """Native optimizer and reference on equal starting data; returns both (params, state) results."""
    factory = RULES[rule][0]
    opt = factory(**hyper, **extra)
    ref = RefOpt(factory(**hyper, **extra))
    params = make_params(rng, shapes, dtype)
    ref_params = {k: p.astype(ref_dtype or dtype) for k, p in params.items()}
    grads = None
    for _ in range(steps):
        grads = grads if reuse_grads and grads else make_grads(rng, params)
        opt.update(params, grads)
        ref.update(ref_params, {k: g.astype(ref_dtype or dtype) for k, g in grads.items()})
    return (params, opt.state or {}), (ref_params, ref.state or {})


def assert_bit_equal(native, ref, what):
    (p, st), (rp, rst) = native, ref
    for k in p:
        np.testing.assert_array_equal(p[k], rp[k], err_msg=f"{what}: params[{k!r}]", strict=True)
        for s in st:
            np.testing.assert_array_equal(st[s][k], rst[s][k], err_msg=f"{what}: state {s}[{k!r}]", strict=True)
