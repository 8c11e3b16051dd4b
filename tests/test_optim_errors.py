"""Bad input to the optimizers and to the native *_update entries: a clear exception, raised
before anything is written."""
import numpy as np
import pytest
from nnkern import _core
from nnkern import optimizers as O
from nnkern import reference as R


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
