"""batch_norm / batch_norm_forward / batch_norm_backward: native vs the NumPy reference for (N, D)
and NCHW input in training and inference on a table of shapes (tests/harness.py: running
statistics updated in place, or read-only and left alone; gradients, finite differences, threads),
momentum conventions, the reference vs the book's formula, bad input."""
import numpy as np
import pytest
from harness import DTYPES, assert_close, case, check_op
from nnkern import functional as F
from nnkern import reference as R

# Planes of more than 256 elements exercise the blocked reductions; the last three are threaded.
SHAPES = [
    case("2d-n2", (2, 3)),
    case("2d-odd", (7, 13)),
    case("2d-seed-mlp", (100, 50)),
    case("2d-d33", (5, 33)),
    case("4d-n1-odd", (1, 3, 5, 7)),
    case("4d-c17", (2, 17, 4, 3)),
    case("4d-1x1", (4, 8, 1, 1)),
    case("4d-odd-hw", (3, 5, 13, 11)),
    case("4d-plane-300", (2, 6, 15, 20)),
    case("4d-plane-784", (3, 4, 28, 28)),
    case("2d-threaded", (400, 100)),
    case("4d-threaded", (8, 5, 30, 30)),
    case("4d-threaded-odd", (40, 3, 17, 19)),
]


@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("inputs,kwargs", SHAPES)
def test_training(inputs, kwargs, dtype, affine):
    c = (inputs[0][1],) if affine else None
    check_op("batch_norm", [inputs[0], c, c], dict(kwargs, training=True, momentum=0.3, eps=1e-5), dtype=dtype)


@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("inputs,kwargs", SHAPES)
def test_inference(inputs, kwargs, dtype, affine):
    c = (inputs[0][1],) if affine else None
    check_op("batch_norm", [inputs[0], c, c], dict(kwargs, training=False), dtype=dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_book_momentum_convention(dtype):
    """momentum=1 - 0.9 with the biased variance (the book's BatchNormalization) on both backends."""
    check_op("batch_norm", [(6, 4, 3, 5), (4,), (4,)], dict(training=True, momentum=0.1, unbiased_running_var=False),
             dtype=dtype)


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


def test_reference_matches_the_book_formula(rng):
    """The book's BatchNormalization.__forward for (N, D): xc = x - mu, xn = xc / sqrt(var + eps)."""
    x, g, b = rng.standard_normal((8, 5)), rng.standard_normal(5), rng.standard_normal(5)
    mu = x.mean(axis=0)
    xc = x - mu
    std = np.sqrt(np.mean(xc ** 2, axis=0) + 1e-7)
    y, _, _ = R.batch_norm_forward(x, None, None, g, b, True, eps=1e-7)
    assert_close(y, g * (xc / std) + b, rtol=1e-12, atol=1e-12, what="y")


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
    with pytest.raises(TypeError,
                       match=r"running_mean must be a numpy.ndarray or None \(it is updated in place\), got list"):
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
