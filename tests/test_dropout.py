"""dropout / dropout_backward: native vs the NumPy reference (identical masks: the RNG is a
pure function of (seed, index)), inverted and the book's non-inverted variant, training and
inference, finite differences, inputs left untouched, bad input, and masks that do not
depend on the thread count."""
import numpy as np
import pytest
from conftest import assert_close, numerical_grad
from nnkern import functional as F
from nnkern import reference as R

SHAPES = {
    "n1": (1,),
    "odd": (7, 13),
    "simd-8": (8,),
    "simd-9": (9,),
    "simd-15": (15,),
    "simd-16": (16,),
    "simd-17": (17,),
    "simd-31": (31,),
    "simd-32": (32,),
    "simd-33": (33,),
    "4d": (2, 3, 5, 7),
    "threaded": (5, 60001),
    "empty": (0, 3),
}
TOL = {np.float32: dict(rtol=1e-6, atol=0), np.float64: dict(rtol=1e-15, atol=0)}  # one rounding apart


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("inverted", [True, False])
@pytest.mark.parametrize("p", [0.0, 0.1, 0.5, 0.9])
@pytest.mark.parametrize("shape", SHAPES)
def test_training_matches_reference(rng, shape, p, inverted, dtype):
    x = rng.standard_normal(SHAPES[shape]).astype(dtype)
    gy = rng.standard_normal(x.shape).astype(dtype)
    seed = int(rng.integers(0, 2**63))
    y, mask = F.dropout(x, p, training=True, seed=seed, inverted=inverted)
    y_ref, mask_ref = R.dropout(x, p, training=True, seed=seed, inverted=inverted)
    assert mask.dtype == np.uint8 and mask.shape == x.shape and y.dtype == dtype
    np.testing.assert_array_equal(mask, mask_ref)
    assert_close(y, y_ref, **TOL[dtype], what="y")
    gx = F.dropout_backward(gy, mask, p, inverted=inverted)
    assert_close(gx, R.dropout_backward(gy, mask, p, inverted=inverted), **TOL[dtype], what="grad_x")
    if p == 0.0:
        assert mask.all()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("inverted", [True, False])
def test_inference(rng, inverted, dtype):
    x = rng.standard_normal((4, 17)).astype(dtype)
    y, mask = F.dropout(x, 0.3, training=False, inverted=inverted)
    assert mask is None and y is not x
    y_ref, _ = R.dropout(x, 0.3, training=False, inverted=inverted)
    assert_close(y, y_ref, **TOL[dtype], what="inference")
    if inverted:
        np.testing.assert_array_equal(y, x)


def test_expectation_is_preserved():
    """Inverted: E[y] = x in training; non-inverted: training mean matches x * (1 - p) at inference."""
    x = np.ones(200_000)
    p = 0.3
    y, mask = F.dropout(x, p, seed=123)
    keep = mask.mean()
    assert abs(keep - (1 - p)) < 5 * np.sqrt(p * (1 - p) / x.size)  # 5 sigma
    assert abs(y.mean() - 1.0) < 5 * np.sqrt(p / (1 - p) / x.size)
    y_book, _ = F.dropout(x, p, seed=123, inverted=False)
    y_inf, _ = F.dropout(x, p, training=False, inverted=False)
    assert abs(y_book.mean() - y_inf.mean()) < 5 * np.sqrt(p * (1 - p) / x.size)


def test_seeds_give_different_masks_and_same_seed_same_mask():
    x = np.ones((64, 64), np.float32)
    m1 = F.dropout(x, 0.5, seed=1)[1]
    assert (m1 != F.dropout(x, 0.5, seed=2)[1]).mean() > 0.4
    np.testing.assert_array_equal(m1, F.dropout(x, 0.5, seed=1)[1])
    # the mask depends on the flat index only: same elements for a reshaped input
    np.testing.assert_array_equal(m1.ravel(), F.dropout(x.ravel(), 0.5, seed=1)[1])
    np.testing.assert_array_equal(F.dropout(np.ones(2**16), 0.5, seed=2**64 - 1)[1],
                                  R.dropout_mask((2**16,), 0.5, 2**64 - 1))


def test_mask_independent_of_thread_count(threads):
    x = np.random.default_rng(0).standard_normal((3, 100001)).astype(np.float32)  # split across threads
    out = []
    for n in (1, 2, 3):
        threads(n)
        y, m = F.dropout(x, 0.4, seed=99)
        out.append((y, m, F.dropout_backward(x, m, 0.4)))
    for other in out[1:]:
        for a, b in zip(out[0], other):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("inverted", [True, False])
def test_reference_backward_matches_finite_differences(rng, inverted):
    x = rng.standard_normal((3, 5))
    r = rng.standard_normal(x.shape)
    loss = lambda: float(np.sum(R.dropout(x, 0.4, seed=7, inverted=inverted)[0] * r))  # noqa: E731
    mask = R.dropout_mask(x.shape, 0.4, 7)
    assert 0 < mask.sum() < mask.size
    g = R.dropout_backward(r, mask, 0.4, inverted=inverted)
    assert_close(g, numerical_grad(loss, x), rtol=1e-6, atol=1e-9, what="d loss/d x")


def test_backward_does_not_modify_inputs_and_accepts_bool_mask(rng):
    gy = rng.standard_normal((5, 6)).astype(np.float32)
    _, mask = F.dropout(gy, 0.5, seed=3)
    gy0, mask0 = gy.copy(), mask.copy()
    gx = F.dropout_backward(gy, mask, 0.5)
    np.testing.assert_array_equal(gy, gy0)
    np.testing.assert_array_equal(mask, mask0)
    np.testing.assert_array_equal(F.dropout_backward(gy, mask.astype(bool), 0.5), gx)


@pytest.mark.parametrize("p", [1.0, -0.1, 1.5, float("nan")])
def test_bad_p_raises(p):
    x = np.zeros(4, np.float32)
    with pytest.raises(ValueError, match=r"p must be in \[0, 1\)"):
        F.dropout(x, p)
    with pytest.raises(ValueError, match=r"p must be in \[0, 1\)"):
        F.dropout_backward(x, np.ones(4, np.uint8), p)


def test_bad_input_raises():
    x = np.zeros((2, 3), np.float32)
    with pytest.raises(TypeError, match=r"x must be float32 or float64, got int64"):
        F.dropout(x.astype(np.int64))
    with pytest.raises(TypeError, match=r"grad_out must be float32 or float64, got int32"):
        F.dropout_backward(x.astype(np.int32), np.ones((2, 3), np.uint8))
    with pytest.raises(TypeError, match=r"mask must be uint8"):
        F.dropout_backward(x, np.ones((2, 3), np.float32))
    with pytest.raises(ValueError, match=r"mask must have shape \(2, 3\), got \(3, 2\)"):
        F.dropout_backward(x, np.ones((3, 2), np.uint8))
    with pytest.raises(ValueError, match=r"seed must be in \[0, 2\*\*64\)"):
        F.dropout(x, seed=-1)
    with pytest.raises(TypeError, match=r"seed must be an int"):
        F.dropout(x, seed=1.5)
