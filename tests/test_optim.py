"""sgd/momentum/nesterov/adagrad/rmsprop/adam_update through nnkern.optimizers: native vs the
NumPy reference (bit for bit in the same dtype, close to float64 from float32), vs the study
notes' listings, state_dict round trips, in-place aliasing, thread invariance, NaN/Inf, bad input."""
import io
from functools import partial

import numpy as np
import pytest
from conftest import assert_close
from nnkern import _core
from nnkern import optimizers as O
from nnkern import reference as R
from nnkern.compat import optimizer as C

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
# The seed model (3,453,121 parameters in 12 tensors).
SEED_MODEL = {"W1": (32, 3, 3, 3), "b1": (32,), "W2": (64, 32, 3, 3), "b2": (64,), "W3": (128, 64, 3, 3),
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


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("steps", [1, 10, 100])
@pytest.mark.parametrize("lr_case", ["normal", "large-lr"])
@pytest.mark.parametrize("rule", RULES)
def test_matches_reference_bit_for_bit(rng, rule, lr_case, steps, dtype):
    # Same dtype, same operation order, no FMA contraction: the results are identical.
    hyper = RULES[rule][1 if lr_case == "normal" else 2]
    native, ref = run_pair(rng, rule, hyper, SMALL, dtype, steps)
    assert_bit_equal(native, ref, f"{rule} {lr_case} {steps} steps")


@pytest.mark.parametrize("decay", ["l2", "l1"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("rule", [r for r in RULES if r != "adamw"])
def test_weight_decay_and_per_parameter_options(rng, rule, dtype, decay):
    # No decay and a smaller lr on biases (per-parameter options), L2/L1 decay elsewhere.
    opts = {k: {"weight_decay": 0.0, "lr": 0.5 * RULES[rule][1]["lr"]} for k in SMALL if k.startswith("b")}
    native, ref = run_pair(rng, rule, RULES[rule][1], SMALL, dtype, 10, weight_decay=0.05, decay=decay,
                           param_options=opts)
    assert_bit_equal(native, ref, f"{rule} {decay}")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_adamw_per_parameter_options(rng, dtype):
    opts = {k: {"weight_decay": 0.0} for k in SMALL if k.startswith("b")}
    opts["odd-2d"] = {"lr": 0.01, "weight_decay": 0.5}
    native, ref = run_pair(rng, "adamw", RULES["adamw"][2], SMALL, dtype, 10, param_options=opts)
    assert_bit_equal(native, ref, "adamw per-parameter options")


def test_decoupled_decay_shrinks_by_one_minus_lr_wd():
    p = {"w": np.full(5, 2.0)}
    O.AdamW(lr=0.1, weight_decay=0.5).update(p, {"w": np.zeros(5)})
    np.testing.assert_array_equal(p["w"], np.full(5, 2.0 * (1 - 0.1 * 0.5)))  # zero gradient: decay only


@pytest.mark.parametrize("steps", [1, 10])
@pytest.mark.parametrize("rule", RULES)
def test_float32_close_to_float64_reference(rng, rule, steps):
    native, ref = run_pair(rng, rule, RULES[rule][1], SMALL, np.float32, steps, ref_dtype=np.float64)
    # One step is elementwise: rtol 1e-5 / atol 1e-6. Over 10 steps every step adds a float32
    # rounding of the state and the parameter (about 6e-8 relative each), so the bound grows
    # with the step count; the gradients do not depend on the parameters, nothing amplifies.
    tol = dict(rtol=1e-5 * steps, atol=1e-6 * steps)
    for k in native[0]:
        assert_close(native[0][k], ref[0][k], **tol, what=f"{rule} params[{k!r}]")


@pytest.mark.parametrize("rule", RULES)
def test_seed_model_shapes(rng, rule):
    native, ref = run_pair(rng, rule, RULES[rule][1], SEED_MODEL, np.float32, 2, reuse_grads=True)
    assert sum(p.size for p in native[0].values()) == 3_453_121
    assert_bit_equal(native, ref, f"{rule} seed model")


@pytest.mark.parametrize("rule", RULES)
def test_one_and_two_threads_bit_identical(threads, rule):
    results = []
    for n in (1, 2):
        threads(n)
        rng = np.random.default_rng(7)
        params = make_params(rng, CHUNKY, np.float32)
        opt = RULES[rule][0](**RULES[rule][2])
        for _ in range(3):
            opt.update(params, make_grads(rng, params))
        results.append((params, opt.state or {}))
    assert_bit_equal(results[0], results[1], f"{rule} 1 vs 2 threads")


# The study notes' listings, verbatim (reformatted only): the oracle for the book's rules.
class SeedMomentum:
    def __init__(self, lr=0.01, momentum=0.9):
        self.lr = lr
        self.momentum = momentum
        self.v = None

    def update(self, params, grads):
        if self.v is None:
            self.v = {}
            for key, val in params.items():
                self.v[key] = np.zeros_like(val)
        for key in params.keys():
            self.v[key] = self.momentum * self.v[key] - self.lr * grads[key]
            params[key] += self.v[key]


class SeedAdaGrad:
    def __init__(self, lr=0.01):
        self.lr = lr
        self.h = None

    def update(self, params, grads):
        if self.h is None:
            self.h = {}
            for key, val in params.items():
                self.h[key] = np.zeros_like(val)
        for key in params.keys():
            self.h[key] += grads[key] * grads[key]
            params[key] -= self.lr * grads[key] / (np.sqrt(self.h[key]) + 1e-7)


class SeedRMSprop:
    def __init__(self, lr=0.01, decay_rate=0.99):
        self.lr = lr
        self.decay_rate = decay_rate
        self.h = None

    def update(self, params, grads):
        if self.h is None:
            self.h = {}
            for key, val in params.items():
                self.h[key] = np.zeros_like(val)
        for key in params.keys():
            self.h[key] *= self.decay_rate
            self.h[key] += (1 - self.decay_rate) * grads[key] * grads[key]
            params[key] -= self.lr * grads[key] / (np.sqrt(self.h[key]) + 1e-7)


class SeedAdam:
    def __init__(self, lr=0.001, beta1=0.9, beta2=0.999):
        self.lr = lr
        self.beta1 = beta1
        self.beta2 = beta2
        self.iter = 0
        self.m = None
        self.v = None

    def update(self, params, grads):
        if self.m is None:
            self.m, self.v = {}, {}
            for key, val in params.items():
                self.m[key] = np.zeros_like(val)
                self.v[key] = np.zeros_like(val)
        self.iter += 1
        lr_t = self.lr * np.sqrt(1.0 - self.beta2**self.iter) / (1.0 - self.beta1**self.iter)
        for key in params.keys():
            self.m[key] += (1 - self.beta1) * (grads[key] - self.m[key])
            self.v[key] += (1 - self.beta2) * (grads[key]**2 - self.v[key])
            params[key] -= lr_t * self.m[key] / (np.sqrt(self.v[key]) + 1e-7)


SEED = {
    "momentum": (SeedMomentum, lambda: O.Momentum(lr=0.01, momentum=0.9), "v"),
    "adagrad": (SeedAdaGrad, lambda: O.AdaGrad(lr=0.01), "h"),
    "rmsprop": (SeedRMSprop, lambda: O.RMSprop(lr=0.01, decay_rate=0.99), "h"),
    "adam-book": (SeedAdam, lambda: O.Adam(lr=0.001, variant="book"), "v"),
    # nnkern.compat.optimizer: the book's classes on the same driver
    "compat-momentum": (SeedMomentum, C.Momentum, "v"),
    "compat-adagrad": (SeedAdaGrad, C.AdaGrad, "h"),
    "compat-rmsprop": (SeedRMSprop, C.RMSprop, "h"),
    "compat-adam": (SeedAdam, C.Adam, "m"),
}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("rule", SEED)
def test_book_rules_match_the_seed_listing_exactly(rng, rule, dtype):
    seed_cls, make, state = SEED[rule]
    seed, opt = seed_cls(), make()
    params = make_params(rng, {"W1": (37, 11), "b1": (11,), "W2": (11, 3), "b2": (3,)}, dtype)
    seed_params = {k: p.copy() for k, p in params.items()}
    for _ in range(200):
        grads = make_grads(rng, params)
        opt.update(params, grads)
        seed.update(seed_params, grads)
    for k in params:
        np.testing.assert_array_equal(params[k], seed_params[k], strict=True)
        np.testing.assert_array_equal(getattr(opt, state)[k], getattr(seed, state)[k], strict=True)
    if rule.endswith("adam") or rule == "adam-book":
        assert opt.iter == seed.iter == 200
        np.testing.assert_array_equal(opt.v["W1"], seed.v["W1"], strict=True)


def test_standard_and_book_adam_differ(rng):
    # Each variant is tested against its own reference: they are not interchangeable.
    params = make_params(rng, {"w": (200,)}, np.float64)
    book, std = {k: p.copy() for k, p in params.items()}, params
    ob, os_ = O.Adam(variant="book"), O.Adam(variant="standard")
    assert (ob.eps, os_.eps) == (1e-7, 1e-8)
    for _ in range(200):
        grads = make_grads(rng, params)
        ob.update(book, grads)
        os_.update(std, grads)
    assert np.max(np.abs(book["w"] - std["w"])) > 1e-6


@pytest.mark.parametrize("rule", RULES)
def test_state_dict_round_trip_continues_bit_identically(rng, rule):
    factory, hyper, _ = RULES[rule]
    params = make_params(rng, {**SMALL, "conv1.W": (4, 3, 2, 2)}, np.float32)  # keys may contain dots
    grads = [make_grads(rng, params) for _ in range(8)]
    opt = factory(**hyper)
    for g in grads[:4]:
        opt.update(params, g)
    buf = io.BytesIO()
    np.savez(buf, **opt.state_dict())  # numbers and arrays only
    buf.seek(0)
    resumed_params = {k: p.copy() for k, p in params.items()}
    resumed = factory(**hyper)
    with np.load(buf, allow_pickle=False) as f:
        resumed.load_state_dict(f)
    assert resumed.step == 4
    for g in grads[4:]:
        opt.update(params, g)
        resumed.update(resumed_params, g)
    assert_bit_equal((params, opt.state or {}), (resumed_params, resumed.state or {}), f"{rule} resumed")


def test_state_dict_contents_and_fresh_optimizer():
    opt = O.Adam(lr=0.01)
    sd = opt.state_dict()
    assert sd == {"step": 0, "lr": 0.01, "weight_decay": 0.0, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8}
    p = {"W1": np.ones((2, 3), np.float32)}
    opt.update(p, {"W1": np.ones((2, 3), np.float32)})
    sd = opt.state_dict()
    assert set(sd) == {"step", "lr", "weight_decay", "beta1", "beta2", "eps", "m.W1", "v.W1"}
    assert sd["m.W1"] is not opt.m["W1"] and sd["m.W1"].dtype == np.float32
    with pytest.raises(ValueError, match="unexpected entry 'x.W1'"):
        O.Adam().load_state_dict({**sd, "x.W1": np.ones(2)})
    with pytest.raises(ValueError, match="cover different keys"):
        O.Adam().load_state_dict({k: v for k, v in sd.items() if k != "v.W1"})
    with pytest.raises(ValueError, match="beta1 must be in"):
        O.Adam().load_state_dict({**sd, "beta1": 1.0})
    o2 = O.Adam()
    o2.load_state_dict(sd)
    with pytest.raises(ValueError, match="keys differ from the optimizer state"):
        o2.update({"W2": np.ones(3, np.float32)}, {"W2": np.ones(3, np.float32)})


class Affine:
    def __init__(self, W, b):
        self.W, self.b = W, b


def test_update_is_in_place_and_layers_keep_their_arrays(rng):
    layer = Affine(rng.standard_normal((4, 3)), np.zeros(3))
    params = {"W1": layer.W, "b1": layer.b}
    before = layer.W.copy()
    opt = O.Adam(lr=0.1)
    assert opt.m is None and opt.state is None  # lazy
    for _ in range(3):
        opt.update(params, {"W1": np.ones((4, 3)), "b1": np.ones(3)})
    assert layer.W is params["W1"] and layer.b is params["b1"]
    assert not np.array_equal(layer.W, before)
    m = opt.m["W1"]
    opt.update(params, {"W1": np.ones((4, 3)), "b1": np.ones(3)})
    assert opt.m["W1"] is m and m.shape == (4, 3) and m.dtype == np.float64


def test_mixed_dtype_model_and_noncontiguous_gradients(rng):
    params = {"W": rng.standard_normal((6, 5)).astype(np.float32), "b": rng.standard_normal(5)}
    ref = {k: p.copy() for k, p in params.items()}
    grads = {"W": np.asfortranarray(rng.standard_normal((6, 5)).astype(np.float32)), "b": rng.standard_normal(10)[::2]}
    opt, ropt = O.Momentum(lr=0.1), RefOpt(O.Momentum(lr=0.1))
    for _ in range(3):
        opt.update(params, grads)
        ropt.update(ref, grads)
    assert_bit_equal((params, opt.state), (ref, ropt.state), "mixed dtypes")


@pytest.mark.parametrize("rule", RULES)
def test_nan_and_inf_gradients_propagate(rule):
    # Documented: NaN/Inf are not filtered; they reach that element's parameter and state
    # exactly as in the reference (NumPy), and every other element is updated normally.
    factory, hyper, _ = RULES[rule]
    params = {"w": np.linspace(-1, 1, 40, dtype=np.float32)}
    ref = {"w": params["w"].copy()}
    g = np.full(40, 0.5, np.float32)
    g[3], g[20], g[31] = np.nan, np.inf, -np.inf
    opt, ropt = factory(**hyper), RefOpt(factory(**hyper))
    with np.errstate(invalid="ignore"):
        for _ in range(2):
            opt.update(params, {"w": g})
            ropt.update(ref, {"w": g})
    assert_bit_equal((params, opt.state or {}), (ref, ropt.state or {}), f"{rule} NaN/Inf")
    w = params["w"]
    assert np.isnan(w[3]) and not np.isfinite(w[20]) and not np.isfinite(w[31])
    assert np.isfinite(np.delete(w, [3, 20, 31])).all()


def test_empty_params_and_zero_size_tensors():
    O.Adam().update({}, {})
    p = {"e": np.zeros((0, 3), np.float32), "w": np.ones(2, np.float32)}
    O.RMSprop().update(p, {"e": np.zeros((0, 3), np.float32), "w": np.ones(2, np.float32)})
    assert p["w"][0] < 1


def test_native_entry_takes_lists_and_per_tensor_hyper_parameters(rng):
    ps = [rng.standard_normal(5), rng.standard_normal((2, 3))]
    ref = [p.copy() for p in ps]
    gs = [rng.standard_normal(5), rng.standard_normal((2, 3))]
    vs, rvs = [np.zeros(5), np.zeros((2, 3))], [np.zeros(5), np.zeros((2, 3))]
    _core.momentum_update(ps, gs, vs, lr=[0.1, 0.2], momentum=0.8, weight_decay=[0.0, 0.3], decay=["l2", "l1"])
    R.momentum_update(ref[0], gs[0], rvs[0], 0.1, 0.8)
    R.momentum_update(ref[1], gs[1], rvs[1], 0.2, 0.8, weight_decay=0.3, decay="l1")
    for a, b in zip(ps + vs, ref + rvs):
        np.testing.assert_array_equal(a, b, strict=True)


# ---- bad input: a clear exception, raised before anything is written ------------------------

def three_tensors(dtype=np.float32):
    return {"W1": np.ones((4, 3), dtype), "b1": np.ones(3, dtype), "W2": np.ones((3, 2), dtype)}


def snapshot(params, opt):
    return ({k: p.copy() for k, p in params.items()},
            {s: {k: a.copy() for k, a in d.items()} for s, d in (opt.state or {}).items()}, opt.step)


def assert_untouched(params, opt, snap):
    ps, st, step = snap
    for k in ps:
        np.testing.assert_array_equal(params[k], ps[k])
    for s in st:
        for k in st[s]:
            np.testing.assert_array_equal(opt.state[s][k], st[s][k])
    assert opt.step == step


def _set(d, k, v):
    d = dict(d)
    if v is None:
        del d[k]
    else:
        d[k] = v
    return d


def _view(a):
    big = np.ones((a.shape[0], 2 * a.shape[1]), a.dtype)
    return big[:, ::2]


def _readonly(a):
    a = a.copy()
    a.flags.writeable = False
    return a


BAD_UPDATES = {
    # name: (params edit, grads edit, exception, message); the last tensor is the bad one
    "missing-grad": (None, ("W2", None), ValueError, r"different keys: missing from grads \['W2'\]"),
    "extra-grad": (None, ("W9", np.ones(2, np.float32)), ValueError, r"not in params \['W9'\]"),
    "shape": (None, ("W2", np.ones((2, 3), np.float32)), ValueError,
              r"grads\['W2'\] must have shape \(3, 2\), got \(2, 3\)"),
    "grad-dtype": (None, ("W2", np.ones((3, 2))), TypeError, r"mixed dtypes are not supported"),
    "int-param": (("W2", np.ones((3, 2), np.int64)), ("W2", np.ones((3, 2), np.int64)), TypeError,
                  r"params\['W2'\] must be float32 or float64, got int64"),
    "float16-param": (("W2", np.ones((3, 2), np.float16)), ("W2", np.ones((3, 2), np.float16)), TypeError,
                      r"float32 or float64, got float16"),
    "list-param": (("W2", [[1.0, 1.0]] * 3), None, TypeError, r"must be a numpy.ndarray"),
    "non-contiguous": (("W2", _view(np.ones((3, 2), np.float32))), None, ValueError, r"must be C-contiguous"),
    "read-only": (("W2", _readonly(np.ones((3, 2), np.float32))), None, ValueError, r"is read-only"),
}


@pytest.mark.parametrize("first", [True, False], ids=["first-update", "later-update"])
@pytest.mark.parametrize("case", BAD_UPDATES)
def test_bad_update_raises_before_writing(case, first):
    pedit, gedit, exc, msg = BAD_UPDATES[case]
    params = three_tensors()
    grads = {k: np.full_like(p, 0.5) for k, p in params.items()}
    opt = O.Adam(lr=0.1)
    if not first:
        opt.update(params, grads)
    if pedit:
        params = _set(params, *pedit)
    if gedit:
        grads = _set(grads, *gedit)
    snap = snapshot({k: p for k, p in params.items() if isinstance(p, np.ndarray)}, opt)
    with pytest.raises(exc, match=msg):
        opt.update(params, grads)
    assert_untouched({k: p for k, p in params.items() if isinstance(p, np.ndarray)}, opt, snap)
    if first:
        assert opt.state is None


def test_one_array_under_two_keys_raises_before_writing():
    w = np.ones((4, 3), np.float32)
    params = {"W1": w, "b1": np.ones(3, np.float32), "W2": w}  # the kernel would update w twice
    grads = {k: np.full_like(p, 0.5) for k, p in params.items()}
    opt = O.Adam(lr=0.1)
    snap = snapshot(params, opt)
    with pytest.raises(ValueError, match=r"params\['W1'\] and params\['W2'\] share memory"):
        opt.update(params, grads)
    assert_untouched(params, opt, snap)
    assert opt.state is None


def test_changed_keys_after_first_update_raise():
    params = three_tensors()
    opt = O.Momentum()
    opt.update(params, {k: np.ones_like(p) for k, p in params.items()})
    del params["W2"]
    snap = snapshot(params, opt)
    with pytest.raises(ValueError, match=r"keys differ from the optimizer state's.*gone \['W2'\]"):
        opt.update(params, {k: np.ones_like(p) for k, p in params.items()})
    assert_untouched(params, opt, snap)
    params["W2"] = np.ones((3, 3), np.float32)  # same key, new shape
    with pytest.raises(ValueError, match=r"velocity\['W2'\] must have shape \(3, 3\), got \(3, 2\)"):
        opt.update(params, {k: np.ones_like(p) for k, p in params.items()})


@pytest.mark.parametrize("make,msg", [
    (lambda: O.SGD(lr=0.0), r"lr must be positive"),
    (lambda: O.Adam(lr=-1e-3), r"lr must be positive"),
    (lambda: O.Momentum(lr=float("nan")), r"lr must be positive"),
    (lambda: O.Adam(beta1=1.0), r"beta1 must be in \[0, 1\)"),
    (lambda: O.AdamW(beta2=-0.1), r"beta2 must be in \[0, 1\)"),
    (lambda: O.Adam(eps=-1.0), r"eps must be non-negative"),
    (lambda: O.RMSprop(decay_rate=1.0), r"decay_rate must be in \[0, 1\)"),
    (lambda: O.Momentum(momentum=-0.5), r"momentum must be non-negative"),
    (lambda: O.SGD(weight_decay=-1.0), r"weight_decay must be non-negative"),
    (lambda: O.SGD(decay="l3"), r"decay must be 'l2', 'l1', 'decoupled' or 'none'"),
    (lambda: O.Adam(variant="amsgrad"), r"variant must be 'standard' or 'book'"),
    (lambda: O.SGD(param_options={"b1": {"momentum": 0.1}}), r"may set only 'lr' and 'weight_decay'"),
    (lambda: O.SGD(param_options={"b1": {"lr": 0}}), r"param_options\['b1'\]: sgd_update: lr must be positive"),
])
def test_bad_hyper_parameters_raise(make, msg):
    with pytest.raises(ValueError, match=msg):
        make()


def test_hyper_parameters_changed_later_are_checked_before_writing():
    params = three_tensors()
    grads = {k: np.ones_like(p) for k, p in params.items()}
    opt = O.Adam()
    opt.lr = 0.0
    with pytest.raises(ValueError, match="lr must be positive"):
        opt.update(params, grads)
    assert_untouched(params, opt, snapshot(three_tensors(), opt))
    opt = O.SGD(param_options={"nope": {"lr": 0.1}})
    with pytest.raises(ValueError, match=r"param_options names keys not in params: \['nope'\]"):
        opt.update(params, grads)


def _adam_tensors():
    """params, grads, m, v: two tensors each (5 and 3 elements)."""
    return ([np.ones(5, np.float32), np.ones(3, np.float32)], [np.ones(5, np.float32), np.ones(3, np.float32)],
            [np.zeros(5, np.float32), np.zeros(3, np.float32)], [np.zeros(5, np.float32), np.zeros(3, np.float32)])


BAD_NATIVE = [  # (the arguments that differ, given (ps, gs, ms, vs)), exception, message
    (lambda ps, gs, ms, vs: dict(v=[vs[0], np.zeros(4, np.float32)]), ValueError, r"v\[1\] must have shape \(3,\)"),
    (lambda ps, gs, ms, vs: dict(v=[vs[0], _readonly(vs[1])]), ValueError, r"v\[1\] is read-only"),
    (lambda ps, gs, ms, vs: dict(v=[vs[0], vs[1].astype(np.float64)]), TypeError, r"v\[1\] has dtype float64"),
    (lambda ps, gs, ms, vs: dict(m=[ms[0]]), ValueError, r"m has 1 arrays but params has 2"),
    (lambda ps, gs, ms, vs: dict(grads=[gs[0], [1.0, 1.0, 1.0]]), TypeError,
     r"grads\[1\] must be a numpy.ndarray, got list"),
    (lambda ps, gs, ms, vs: dict(params=ps[0]), TypeError, r"params must be a list of numpy arrays"),
    (lambda ps, gs, ms, vs: dict(params=[ps[0], ps[1].astype(np.float64)], grads=[gs[0], gs[1].astype(np.float64)]),
     TypeError, r"m\[1\] has dtype float32 but params\[1\] has dtype float64"),
    (lambda ps, gs, ms, vs: dict(m=[ms[0], gs[1]]), ValueError,
     r"grads\[1\] and m\[1\] share memory|m\[1\] and grads\[1\]"),
    (lambda ps, gs, ms, vs: dict(lr=[0.1, -0.1]), ValueError, r"lr must be positive"),
    (lambda ps, gs, ms, vs: dict(lr=[0.1]), ValueError, r"lr has 1 values but there are 2 tensors"),
    (lambda ps, gs, ms, vs: dict(step=0), ValueError, r"step must be >= 1"),
    (lambda ps, gs, ms, vs: dict(beta2=1.5), ValueError, r"beta2 must be in \[0, 1\)"),
    (lambda ps, gs, ms, vs: dict(variant="x"), ValueError, r"variant must be"),
    (lambda ps, gs, ms, vs: dict(decay="l3", weight_decay=0.1), ValueError, r"decay must be"),
    (lambda ps, gs, ms, vs: dict(decay=3), TypeError, r"decay must be a string or a list of strings, got int"),
    (lambda ps, gs, ms, vs: dict(lr="fast"), TypeError, r"lr must be a float or a list of floats, got str"),
    (lambda ps, gs, ms, vs: dict(names=["W1"]), ValueError, r"names has 1 entries but params has 2"),
    (lambda ps, gs, ms, vs: dict(names="W1"), TypeError, r"names must be a list of strings"),
    (lambda ps, gs, ms, vs: dict(names=["W1", "b1"], v=[vs[0], _readonly(vs[1])]), ValueError,
     r"v\['b1'\] is read-only"),
]


@pytest.mark.parametrize("change,exc,msg", BAD_NATIVE, ids=[
    "v-shape", "v-read-only", "v-dtype", "m-count", "grads-list", "params-not-a-list", "params-mixed-dtypes",
    "m-aliases-grads", "lr-negative", "lr-count", "step-0", "beta2", "variant", "decay-name", "decay-type", "lr-type",
    "names-count", "names-type", "names-in-messages"])
def test_native_checks_every_tensor_before_writing(change, exc, msg):
    ps, gs, ms, vs = _adam_tensors()
    args = dict(params=ps, grads=gs, m=ms, v=vs, lr=0.1, step=1)
    args.update(change(ps, gs, ms, vs))
    with pytest.raises(exc, match=msg):
        _core.adam_update(**args)
    assert all((p == 1).all() for p in ps) and not any(m.any() for m in ms) and not any(v.any() for v in vs)


def test_native_update_after_the_checks_writes():
    ps, gs, ms, vs = _adam_tensors()
    _core.adam_update(ps, gs, ms, vs, lr=0.1)
    assert (ps[0] < 1).all() and (ps[1] < 1).all()


def test_native_entry_mixes_dtypes_in_one_call(rng):
    # float32 and float64 tensors in one call: each is updated exactly as the reference would.
    ps = [rng.standard_normal(5).astype(np.float32), rng.standard_normal((2, 3))]
    gs = [rng.standard_normal(5).astype(np.float32), rng.standard_normal((2, 3))]
    ms, vs = [np.zeros_like(p) for p in ps], [np.zeros_like(p) for p in ps]
    ref = [(p.copy(), g, m.copy(), v.copy()) for p, g, m, v in zip(ps, gs, ms, vs)]
    _core.adam_update(ps, gs, ms, vs, lr=0.1, step=1, names=["w", "b"])
    for (p, g, m, v), got in zip(ref, zip(ps, ms, vs)):
        R.adam_update(p, g, m, v, 0.1, step=1)
        for a, b in zip((p, m, v), got):
            np.testing.assert_array_equal(b, a, strict=True)
