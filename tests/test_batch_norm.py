"""batchnorm_forward / batchnorm_backward: native vs the NumPy reference for (N, D) and NCHW
input in training and inference (running statistics updated in place), momentum conventions,
the reference backward vs finite differences, bad input, 1 vs 2 threads bit-identical."""
import numpy as np
import pytest

import nnkern
from nnkern import functional as F, reference as R

from conftest import assert_close, numerical_grad

# Named shape families. Planes of more than 256 elements exercise the blocked reductions.
SHAPES = {
    "2d-n2": (2, 3),
    "2d-odd": (7, 13),
    "2d-seed-mlp": (100, 50),
    "2d-d33": (5, 33),
    "4d-n1-odd": (1, 3, 5, 7),
    "4d-c17": (2, 17, 4, 3),
    "4d-1x1": (4, 8, 1, 1),
    "4d-odd-hw": (3, 5, 13, 11),
    "4d-plane-300": (2, 6, 15, 20),
    "4d-plane-784": (3, 4, 28, 28),
}


def tol(dtype, m):
    """float32 vs a float64 reference: the statistics are reductions over M = N*H*W elements
    (double accumulators, but the inputs and the folded scale/shift are rounded to float32),
    so allow a few float32 ulps of the largest term; float64 tight."""
    if dtype == np.float64:
        return dict(rtol=1e-10, atol=1e-11)
    return dict(rtol=1e-5, atol=2e-6)


def gx_tol(dtype, gy, w, mean, invstd, t):
    """grad_x in training is A*gy + B*(x - mean) + C per channel, a cancelling sum (for N = 2 it
    is nearly 0): bound its error by the size of the terms, |gamma*invstd| * max|gy|, times
    (1 + |mean|*invstd) because the saved mean is rounded to float32 (delta <= 6e-8 |mean|) and
    the reference's chain rule keeps sum(x - mean), which the closed form takes as 0. The worst
    observed over 9000 random N=2/3 cases is 1.3e-7 of that scale; allow 1e-6."""
    if dtype == np.float64:
        return t
    axes = (0,) if gy.ndim == 2 else (0, 2, 3)
    g = np.ones_like(invstd) if w is None else np.abs(w).astype(np.float64)
    scale = g * invstd * (1 + np.abs(mean) * invstd)
    scale = scale.reshape((1, -1) + (1,) * (gy.ndim - 2)) * np.abs(gy).max(axis=axes, keepdims=True)
    return dict(rtol=t["rtol"], atol=t["atol"] + 1e-6 * scale)


def make(rng, shape, dtype, affine=True):
    c = shape[1]
    x = (rng.standard_normal(shape) * 2.0 + 0.7).astype(dtype)  # non-zero mean: centring matters
    w = rng.standard_normal(c).astype(dtype) if affine else None
    b = rng.standard_normal(c).astype(dtype) if affine else None
    rm = rng.standard_normal(c).astype(dtype)
    rv = rng.uniform(0.5, 2.0, c).astype(dtype)
    return x, w, b, rm, rv


def f64(a):
    return None if a is None else a.astype(np.float64)


@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", SHAPES)
def test_training_matches_reference(rng, name, dtype, affine):
    x, w, b, rm, rv = make(rng, SHAPES[name], dtype, affine)
    m = x.size // x.shape[1]
    rm_ref, rv_ref = f64(rm), f64(rv)
    y, mean, invstd = F.batch_norm_forward(x, rm, rv, w, b, True, momentum=0.3, eps=1e-5)
    y_ref, mean_ref, invstd_ref = R.batch_norm_forward(f64(x), rm_ref, rv_ref, f64(w), f64(b), True, 0.3, 1e-5)
    t = tol(dtype, m)
    assert y.dtype == mean.dtype == invstd.dtype == dtype
    assert_close(y, y_ref, **t, what=f"{name} y")
    assert_close(mean, mean_ref, **t, what="save_mean")
    assert_close(invstd, invstd_ref, **t, what="save_invstd")
    assert_close(rm, rm_ref, **t, what="running_mean (updated in place)")
    assert_close(rv, rv_ref, **t, what="running_var (updated in place)")
    gy = rng.standard_normal(x.shape).astype(dtype)
    x0, gy0 = x.copy(), gy.copy()
    gx, gw, gb = F.batch_norm_backward(gy, x, w, mean, invstd, training=True)
    np.testing.assert_array_equal(x, x0)  # backward never modifies its inputs
    np.testing.assert_array_equal(gy, gy0)
    gx_ref, gw_ref, gb_ref = R.batch_norm_backward(f64(gy), f64(x), f64(w), f64(mean), f64(invstd), True)
    scale = dict(rtol=t["rtol"], atol=t["atol"] * max(1.0, np.sqrt(m)))  # gw, gb: sums of M terms
    assert_close(gx, gx_ref, **gx_tol(dtype, gy, w, mean, invstd, t), what=f"{name} grad_x")
    assert_close(gw, gw_ref, **scale, what="grad_weight")
    assert_close(gb, gb_ref, **scale, what="grad_bias")


@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", SHAPES)
def test_inference_matches_reference_and_leaves_running_stats(rng, name, dtype, affine):
    x, w, b, rm, rv = make(rng, SHAPES[name], dtype, affine)
    rm0, rv0 = rm.copy(), rv.copy()
    rm.flags.writeable = rv.flags.writeable = False  # inference only reads them
    y, mean, invstd = F.batch_norm_forward(x, rm, rv, w, b, False)
    y_ref, mean_ref, invstd_ref = R.batch_norm_forward(f64(x), f64(rm), f64(rv), f64(w), f64(b), False)
    t = tol(dtype, 1)
    assert_close(y, y_ref, **t, what=f"{name} y")
    np.testing.assert_array_equal(mean, rm0)
    assert_close(invstd, invstd_ref, **t, what="save_invstd")
    np.testing.assert_array_equal(rm, rm0)
    np.testing.assert_array_equal(rv, rv0)
    np.testing.assert_array_equal(F.batch_norm(x, rm, rv, w, b), y)
    gy = rng.standard_normal(x.shape).astype(dtype)
    gx, gw, gb = F.batch_norm_backward(gy, x, w, mean, invstd, training=False)
    gx_ref, gw_ref, gb_ref = R.batch_norm_backward(f64(gy), f64(x), f64(w), f64(mean), f64(invstd), False)
    m = x.size // x.shape[1]
    scale = dict(rtol=t["rtol"], atol=t["atol"] * max(1.0, np.sqrt(m)))
    assert_close(gx, gx_ref, **t, what=f"{name} grad_x")
    assert_close(gw, gw_ref, **scale, what="grad_weight")
    assert_close(gb, gb_ref, **scale, what="grad_bias")


def test_momentum_conventions(rng):
    x = rng.standard_normal((6, 4, 3, 5))
    axes = (0, 2, 3)
    m = 6 * 3 * 5
    rm, rv = np.zeros(4), np.ones(4)
    F.batch_norm(x, rm, rv, training=True, momentum=0.1)  # torch: unbiased variance
    assert_close(rm, 0.1 * x.mean(axis=axes), rtol=1e-12, atol=1e-14, what="torch running_mean")
    assert_close(rv, 0.9 + 0.1 * x.var(axis=axes) * m / (m - 1), rtol=1e-12, atol=1e-14, what="torch running_var")
    rm, rv = np.full(4, 0.5), np.full(4, 2.0)  # the book: running = 0.9*running + 0.1*batch, biased
    F.batch_norm_forward(x, rm, rv, None, None, True, momentum=1 - 0.9, unbiased_running_var=False)
    assert_close(rm, 0.9 * 0.5 + 0.1 * x.mean(axis=axes), rtol=1e-12, atol=1e-14, what="book running_mean")
    assert_close(rv, 0.9 * 2.0 + 0.1 * x.var(axis=axes), rtol=1e-12, atol=1e-14, what="book running_var")


def test_training_without_running_stats(rng):
    x = rng.standard_normal((5, 3, 4, 4))
    y, mean, invstd = F.batch_norm_forward(x, None, None, None, None, True)
    assert_close(mean, x.mean(axis=(0, 2, 3)), rtol=1e-12, atol=1e-14, what="mean")
    assert_close(y.mean(axis=(0, 2, 3)), np.zeros(3), rtol=0, atol=1e-12, what="normalised mean")


def test_reference_matches_seed_formula(rng):
    """The book's BatchNormalization.__forward for (N, D): xc = x - mu, xn = xc / sqrt(var + eps)."""
    x, g, b = rng.standard_normal((8, 5)), rng.standard_normal(5), rng.standard_normal(5)
    mu = x.mean(axis=0)
    xc = x - mu
    std = np.sqrt(np.mean(xc ** 2, axis=0) + 1e-7)
    y, _, _ = R.batch_norm_forward(x, None, None, g, b, True, eps=1e-7)
    assert_close(y, g * (xc / std) + b, rtol=1e-12, atol=1e-12, what="y")


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("shape", [(5, 4), (3, 2, 3, 4)])
def test_reference_backward_matches_finite_differences(rng, shape, training):
    x = rng.standard_normal(shape) * 1.5 + 0.3
    c = shape[1]
    w, b = rng.standard_normal(c), rng.standard_normal(c)
    rm, rv = rng.standard_normal(c), rng.uniform(0.5, 2.0, c)
    r = rng.standard_normal(shape)
    fwd = lambda: R.batch_norm_forward(x, rm.copy(), rv.copy(), w, b, training)  # noqa: E731
    loss = lambda: float(np.sum(fwd()[0] * r))  # noqa: E731
    _, mean, invstd = fwd()
    gx, gw, gb = R.batch_norm_backward(r, x, w, mean, invstd, training)
    for got, arr, what in ((gx, x, "x"), (gw, w, "weight"), (gb, b, "bias")):
        assert_close(got, numerical_grad(loss, arr), rtol=1e-6, atol=1e-7, what=f"d loss/d {what}")


@pytest.mark.parametrize("shape", [(400, 100), (8, 5, 30, 30), (40, 3, 17, 19)])  # >= 2^15: really parallel
def test_one_and_two_threads_bit_identical(rng, threads, shape):
    x, w, b, rm, rv = make(rng, shape, np.float32)
    gy = rng.standard_normal(shape).astype(np.float32)
    results = []
    for n in (1, 2):
        threads(n)
        rm_n, rv_n = rm.copy(), rv.copy()
        y, mean, invstd = F.batch_norm_forward(x, rm_n, rv_n, w, b, True)
        results.append((y, mean, invstd, rm_n, rv_n, *F.batch_norm_backward(gy, x, w, mean, invstd),
                        F.batch_norm(x, rm, rv, w, b)))
    assert nnkern.get_num_threads() == 2
    for a, b_ in zip(*results):
        np.testing.assert_array_equal(a, b_)


def test_bad_input_raises():
    x = np.zeros((4, 3, 5, 5), np.float32)
    c = np.zeros(3, np.float32)
    o = np.ones(3, np.float32)
    with pytest.raises(ValueError, match=r"x must be 2-D \(N, D\) or 4-D \(N, C, H, W\), got shape \(4, 3, 5\)"):
        F.batch_norm(x[:, :, :, 0], c, o)
    with pytest.raises(TypeError, match=r"x must be float32 or float64, got int64"):
        F.batch_norm(x.astype(np.int64), c, o)
    with pytest.raises(ValueError, match=r"weight must have shape \(3,\), got \(4,\)"):
        F.batch_norm(x, c, o, np.ones(4, np.float32))
    with pytest.raises(ValueError, match=r"bias must have shape \(3,\), got \(3, 1\)"):
        F.batch_norm(x, c, o, o, np.zeros((3, 1), np.float32))
    with pytest.raises(ValueError, match=r"running_mean must have shape \(3,\), got \(5,\)"):
        F.batch_norm(x, np.zeros(5, np.float32), o, training=True)
    with pytest.raises(TypeError, match=r"running_var has dtype float64 but x has dtype float32"):
        F.batch_norm(x, c, np.ones(3), training=True)
    with pytest.raises(ValueError, match=r"running_mean is read-only"):
        ro = c.copy()
        ro.flags.writeable = False
        F.batch_norm(x, ro, o.copy(), training=True)
    with pytest.raises(ValueError, match=r"running_var must be C-contiguous"):
        F.batch_norm(x, c.copy(), np.ones(6, np.float32)[::2], training=True)
    with pytest.raises(TypeError, match=r"running_mean must be a numpy.ndarray or None \(it is updated in place\), got list"):
        F.batch_norm(x, [0.0, 0.0, 0.0], o.copy(), training=True)
    with pytest.raises(ValueError, match=r"needs running_mean and running_var"):
        F.batch_norm(x, None, None, training=False)
    with pytest.raises(ValueError, match=r"both be arrays or both be None"):
        F.batch_norm(x, c.copy(), None, training=True)
    with pytest.raises(ValueError, match=r"more than 1 value per channel"):
        F.batch_norm(np.zeros((1, 3), np.float32), None, None, training=True)
    with pytest.raises(ValueError, match=r"momentum must lie in \[0, 1\]"):
        F.batch_norm(x, c.copy(), o.copy(), training=True, momentum=1.5)
    with pytest.raises(ValueError, match=r"eps must be finite and >= 0"):
        F.batch_norm(x, c, o, eps=-1.0)
    _, mean, invstd = F.batch_norm_forward(x, None, None, None, None, True)
    with pytest.raises(ValueError, match=r"grad_out must have shape \(4, 3, 5, 5\)"):
        F.batch_norm_backward(x[:2], x, None, mean, invstd)
    with pytest.raises(ValueError, match=r"save_mean must have shape \(3,\)"):
        F.batch_norm_backward(x, x, None, mean[:2], invstd)
    with pytest.raises(ValueError, match=r"weight must have shape \(3,\)"):
        F.batch_norm_backward(x, x, np.ones(2, np.float32), mean, invstd)


def test_failed_checks_leave_running_stats_untouched():
    x = np.ones((4, 3), np.float32)
    rm, rv = np.full(3, 5.0, np.float32), np.full(3, 7.0, np.float32)
    with pytest.raises(ValueError):
        F.batch_norm(x, rm, rv, np.ones(4, np.float32), training=True)
    np.testing.assert_array_equal(rm, 5.0)
    np.testing.assert_array_equal(rv, 7.0)
