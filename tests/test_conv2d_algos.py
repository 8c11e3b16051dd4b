"""Every convolution algorithm of this build, forced per pass, against the NumPy reference on
the conv case table of test_conv2d.py; float64 gradient checks; 1 vs 2 threads bit-identical;
the `algo` argument's errors (selection: test_conv2d_select.py)."""
import zlib
from collections.abc import Callable
from dataclasses import dataclass

import nnkern
import numpy as np
import pytest
from cases import CONV2D_DEFAULTS, conv2d_case
from conftest import assert_close, numerical_grad
from nnkern import functional as F
from nnkern import reference as R
from test_conv2d import CASES as TABLE
from test_conv2d_winograd import winograd_bound
from tolerances import reduction_tol as tol

CASES = {p.id: p.values for p in TABLE}  # name -> (inputs, kwargs): test_conv2d.py's table


@dataclass
class Algo:
    tol: Callable  # tol(dtype, reduction, ref) -> dict(rtol=, atol=), as test_conv2d.tol
    why: str       # the error analysis behind the float32 tolerance
    bound: Callable | None = None  # bound(pass_, x, w, b, gy, kw) -> per-element atol; replaces tol


# One line per algorithm (its author adds it with the kernels).
ALGOS = {
    "im2col": Algo(tol, "GEMM sums of products: the dot-product bound of test_conv2d.tol"),
    "implicit": Algo(tol, "nnkern's GEMM: FMA dot products in K blocks, the same dot-product bound"),
    "winograd": Algo(tol, "transforms amplify rounding: the per-element bound of test_conv2d_winograd", winograd_bound),
    "direct": Algo(tol, "one FMA chain per output over the C/groups*KH*KW taps: the dot-product bound"),
}

PASSES = ("forward", "backward_input", "backward_weight")
BUILT = nnkern.conv_algorithms()


def shapes(case):
    """(inputs, kwargs) of a case -> x shape, weight shape, all four conv arguments."""
    (xs, ws, _), kw = case
    return xs, ws, {**CONV2D_DEFAULTS, **kw}


def make_case(rng, case, dtype):
    return conv2d_case(rng, *case, dtype)


def applies(algo, name, pass_, dtype):
    xs, ws, kw = shapes(CASES[name])
    return algo in nnkern.conv_algo.conv2d_algo_candidates(xs, ws, pass_=pass_, dtype=dtype, **kw)


def table_params():
    """(algo, case, dtype, pass) for every algorithm of the build where it applies: nothing skips."""
    return [pytest.param(a, n, d, p, id=f"{a}-{n}-{d.__name__}-{p}") for a in ALGOS if a in BUILT
            for n in CASES for d in (np.float32, np.float64) for p in PASSES if applies(a, n, p, d)]


_cache = {}


def case_data(name, dtype):
    """Inputs and float64 reference results of a case (computed once per module run)."""
    key = (name, dtype)
    if key not in _cache:
        rng = np.random.default_rng(zlib.crc32(name.encode()))
        x, w, b, kw = make_case(rng, CASES[name], dtype)
        y_ref = R.conv2d(*(a.astype(np.float64) for a in (x, w, b)), **kw)
        gy = rng.standard_normal(y_ref.shape).astype(dtype)
        gx_ref, gw_ref, _ = R.conv2d_backward(*(a.astype(np.float64) for a in (gy, x, w)), **kw)
        _cache[key] = (x, w, b, gy, kw, y_ref, gx_ref, gw_ref)
    return _cache[key]


def run_pass(pass_, algo, x, w, b, gy, kw):
    if pass_ == "forward":
        return F.conv2d(x, w, b, **kw, algo=algo)
    if pass_ == "backward_input":
        gx, gw, gb = F.conv2d_backward(gy, x, w, **kw, output_mask=(True, False, False), algo=algo)
        assert gw is None and gb is None
        return gx
    gx, gw, gb = F.conv2d_backward(gy, x, w, **kw, output_mask=(False, True, False), algo=algo)
    assert gx is None and gb is None
    return gw


def test_every_built_algorithm_has_a_line_in_this_table():
    assert BUILT[0] == "im2col"
    assert set(BUILT) <= set(ALGOS), f"add {set(BUILT) - set(ALGOS)} to ALGOS with its tolerance"


@pytest.mark.parametrize("algo,name,dtype,pass_", table_params())
def test_algo_matches_reference(algo, name, dtype, pass_):
    x, w, b, gy, kw, y_ref, gx_ref, gw_ref = case_data(name, dtype)
    got = run_pass(pass_, algo, x, w, b, gy, kw)
    assert got.dtype == dtype
    ref, reduction = {"forward": (y_ref, w[0].size), "backward_input": (gx_ref, w.size),
                      "backward_weight": (gw_ref, gy.size // gy.shape[1])}[pass_]
    t = ALGOS[algo].tol(dtype, reduction, ref) if dtype == np.float32 else tol(dtype, reduction, ref)
    if ALGOS[algo].bound:
        t = dict(rtol=0.0, atol=ALGOS[algo].bound(pass_, x, w, b, gy, kw))
    assert_close(got, ref, **t, what=f"{algo} {name} {pass_}")


GRAD_CASES = {  # small float64 shapes for finite differences: ([x, weight, bias], conv arguments)
    "odd-pad": ([(1, 3, 5, 6), (4, 3, 3, 3), (4,)], dict(padding=1)),
    "c2-k5-oc7": ([(2, 2, 7, 9), (7, 2, 5, 5), (7,)], dict(padding=(2, 1))),
    "stride2-k5": ([(2, 2, 9, 8), (3, 2, 5, 5), (3,)], dict(stride=2, padding=2)),
    "groups2-k3": ([(1, 4, 6, 5), (4, 2, 3, 3), (4,)], dict(padding=1, groups=2)),
    "k1": ([(2, 3, 4, 3), (5, 3, 1, 1), (5,)], {}),
}


def grad_params():
    """(algo, case, its backward algorithms) wherever the algorithm's forward applies; a pass it
    lacks (direct has only the forward) runs on "auto", so the check still ties its forward to
    the gradients."""
    out = []
    for a in ALGOS:
        for n, case in GRAD_CASES.items():
            xs, ws, kw = shapes(case)
            ok = [a in nnkern.conv_algo.conv2d_algo_candidates(xs, ws, pass_=p, dtype="float64", **kw) for p in PASSES]
            if ok[0] and a in BUILT:
                out.append(pytest.param(a, n, tuple(a if k else "auto" for k in ok[1:]), id=f"{a}-{n}"))
    return out


@pytest.mark.parametrize("algo,name,backward_algos", grad_params())
def test_algo_gradients_match_finite_differences(rng, algo, name, backward_algos):
    x, w, b, kw = make_case(rng, GRAD_CASES[name], np.float64)
    r = rng.standard_normal(F.conv2d(x, w, b, **kw, algo=algo).shape)
    loss = lambda: float(np.sum(F.conv2d(x, w, b, **kw, algo=algo) * r))  # noqa: E731
    gx, gw, gb = F.conv2d_backward(r, x, w, **kw, algo=backward_algos)
    for got, arr, what in ((gx, x, "x"), (gw, w, "weight"), (gb, b, "bias")):
        assert_close(got, numerical_grad(loss, arr), rtol=1e-6, atol=1e-7, what=f"{algo} d loss/d {what}")


THREAD_CASES = {  # big enough that every pass runs several work items on both threads
    "3x3-pad": ([(6, 16, 30, 29), (24, 16, 3, 3), (24,)], dict(padding=1)),
    "5x5-groups2": ([(4, 12, 19, 21), (16, 6, 5, 5), (16,)], dict(padding=2, groups=2)),
    "11x11-s4": ([(3, 3, 67, 65), (8, 3, 11, 11), (8,)], dict(stride=4, padding=2)),
    "1x1": ([(4, 24, 33, 35), (20, 24, 1, 1), (20,)], {}),
    "c3-5x5-pad": ([(6, 3, 30, 29), (20, 3, 5, 5), (20,)], dict(padding=2)),  # few channels: direct
}


def thread_params():
    out = []
    for a in ALGOS:
        for n, case in THREAD_CASES.items():
            xs, ws, kw = shapes(case)
            out += [pytest.param(a, n, p, id=f"{a}-{n}-{p}") for p in PASSES
                    if a in BUILT and a in nnkern.conv_algo.conv2d_algo_candidates(xs, ws, pass_=p, **kw)]
    return out


@pytest.mark.parametrize("algo,name,pass_", thread_params())
def test_algo_one_and_two_threads_bit_identical(rng, threads, algo, name, pass_):
    x, w, b, kw = make_case(rng, THREAD_CASES[name], np.float32)
    gy = rng.standard_normal(F.conv2d(x, w, b, **kw).shape).astype(np.float32)
    threads(1)
    one = run_pass(pass_, algo, x, w, b, gy, kw)
    threads(2)
    two = run_pass(pass_, algo, x, w, b, gy, kw)
    np.testing.assert_array_equal(one, two)


# ---- the `algo` argument ----

def test_unknown_algo_name_is_a_value_error():
    x = np.ones((1, 2, 5, 5), np.float32)
    w = np.ones((3, 2, 3, 3), np.float32)
    with pytest.raises(ValueError, match=r"unknown algo 'fft'; expected one of auto, im2col"):
        F.conv2d(x, w, algo="fft")
    gy = np.ones((1, 3, 3, 3), np.float32)
    with pytest.raises(ValueError, match="unknown algo 'fft'"):
        F.conv2d_backward(gy, x, w, algo=("im2col", "fft"))
    with pytest.raises(ValueError, match="unknown algo"):  # checked even for a pass not computed
        F.conv2d_backward(gy, x, w, algo="fft", output_mask=(False, True, False))


def test_missing_algorithm_is_a_clear_value_error():
    missing = [a for a in ("winograd", "implicit", "direct") if a not in BUILT]
    x = np.ones((1, 2, 5, 5), np.float32)
    w = np.ones((3, 2, 3, 3), np.float32)
    for a in missing:
        with pytest.raises(ValueError, match=f"algo='{a}' is not available in this build"):
            F.conv2d(x, w, algo=a)
    assert len(missing) + len(BUILT) >= 4


# (algo, x shape, weight shape, conv kwargs, pass, dtype) where the algorithm does not apply:
# one line per algorithm that has such shapes.
INAPPLICABLE = [
    ("implicit", (1, 2, 9, 9), (3, 2, 3, 3), dict(stride=2), "backward_input", np.float32),
    ("winograd", (1, 2, 9, 9), (3, 2, 7, 7), dict(padding=1), "forward", np.float32),
    ("winograd", (1, 2, 9, 9), (3, 2, 3, 5), dict(padding=1), "forward", np.float32),
    ("winograd", (1, 2, 9, 9), (3, 2, 3, 3), dict(stride=2), "backward_weight", np.float64),
    ("winograd", (1, 2, 9, 9), (3, 2, 3, 3), dict(dilation=2), "backward_input", np.float32),
    ("direct", (1, 2, 9, 9), (3, 2, 3, 3), {}, "backward_input", np.float32),
    ("direct", (1, 2, 9, 9), (3, 2, 3, 3), {}, "backward_weight", np.float64),
    ("direct", (1, 5, 9, 9), (3, 5, 3, 3), {}, "forward", np.float32),
    ("direct", (1, 2, 9, 9), (3, 2, 3, 3), dict(stride=2), "forward", np.float32),
    ("direct", (1, 2, 9, 9), (3, 2, 3, 3), dict(dilation=2), "forward", np.float64),
    ("direct", (1, 2, 9, 9), (3, 2, 3, 3), dict(padding=3), "forward", np.float32),
]


def check_forcing_an_inapplicable_algorithm_is_a_value_error(algo, xs, ws, kw, pass_, dtype):
    assert algo not in nnkern.conv_algo.conv2d_algo_candidates(xs, ws, pass_=pass_, dtype=dtype, **kw)
    x, w = np.ones(xs, dtype), np.ones(ws, dtype)
    y = F.conv2d(x, w, **kw)  # auto falls back
    assert not np.isnan(y).any()
    with pytest.raises(ValueError, match=f"algo='{algo}' does not apply to .* it needs .*; got kernel"):
        run_pass(pass_, algo, x, w, None, np.ones_like(y), kw)


if [p for p in INAPPLICABLE if p[0] in BUILT]:  # im2col applies everywhere: nothing to test without others
    test_forcing_an_inapplicable_algorithm_is_a_value_error = pytest.mark.parametrize(
        "algo,xs,ws,kw,pass_,dtype", [p for p in INAPPLICABLE if p[0] in BUILT])(
            check_forcing_an_inapplicable_algorithm_is_a_value_error)


def test_layer_and_keras_pass_algo():
    rng = np.random.default_rng(0)
    W = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    layer = nnkern.layers.Conv2D(W, np.zeros(4, np.float32), pad=1, algo="im2col")
    x = rng.standard_normal((2, 3, 6, 6)).astype(np.float32)
    # the layer's algo reaches the kernel: the same bits as im2col forced (auto may pick direct here)
    np.testing.assert_array_equal(layer.forward(x), F.conv2d(x, W, np.zeros(4, np.float32), padding=1, algo="im2col"))
    assert layer.backward(np.ones((2, 4, 6, 6), np.float32)).shape == x.shape
    bad = nnkern.layers.Conv2D(W, algo="fft")
    with pytest.raises(ValueError, match="unknown algo 'fft'"):
        bad.forward(x)
    k = nnkern.keras.layers.Conv2D(4, 3, input_shape=(6, 6, 3), algo="im2col")
    assert k.algo == "im2col"
