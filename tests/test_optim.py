"""sgd/momentum/nesterov/adagrad/rmsprop/adam_update through nnkern.optimizers: native vs the
NumPy reference (bit for bit in the same dtype, close to float64 from float32), state_dict round
trips, in-place aliasing, thread invariance, NaN/Inf and the native entry's list arguments.
The study notes' listings: tests/test_optim_book.py; bad input: tests/test_optim_errors.py."""
import io

import numpy as np
import pytest
from conftest import assert_close
from nnkern import _core
from nnkern import optimizers as O
from nnkern import reference as R
from optim_harness import CHUNKY, NOTES_CNN, RULES, SMALL, RefOpt, assert_bit_equal, make_grads, make_params, run_pair


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
def test_study_notes_cnn_shapes(rng, rule):
    native, ref = run_pair(rng, rule, RULES[rule][1], NOTES_CNN, np.float32, 2, reuse_grads=True)
    assert sum(p.size for p in native[0].values()) == 3_453_121
    assert_bit_equal(native, ref, f"{rule} study notes CNN")


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
