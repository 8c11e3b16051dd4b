"""dropout / dropout_backward: native vs the NumPy reference on a table of shapes (tests/harness.py;
identical masks: the RNG is a pure function of (seed, index)), inverted and the book's
non-inverted variant, training and inference, the expectation, seeds, masks that do not depend
on the thread count, bad input."""
import numpy as np
import pytest
from cases import ELEMENTWISE_SHAPES
from harness import DTYPES, check_op
from nnkern import functional as F
from nnkern import reference as R

SHAPES = ELEMENTWISE_SHAPES


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("inverted", [True, False])
@pytest.mark.parametrize("p", [0.0, 0.1, 0.5, 0.9])
@pytest.mark.parametrize("inputs,kwargs", SHAPES)
def test_training(rng, inputs, kwargs, p, inverted, dtype):
    seed = int(rng.integers(0, 2**63))
    check_op("dropout", inputs, dict(kwargs, p=p, training=True, seed=seed, inverted=inverted), dtype=dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("inverted", [True, False])
def test_inference(inverted, dtype):
    out = check_op("dropout", [(4, 17)], dict(p=0.3, training=False, inverted=inverted), dtype=dtype)
    assert out["mask"] is None


def test_inference_inverted_is_the_identity(rng):
    x = rng.standard_normal((4, 17)).astype(np.float32)
    np.testing.assert_array_equal(F.dropout(x, 0.3, training=False)[0], x)


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


def test_backward_accepts_bool_mask(rng):
    gy = rng.standard_normal((5, 6)).astype(np.float32)
    _, mask = F.dropout(gy, 0.5, seed=3)
    np.testing.assert_array_equal(F.dropout_backward(gy, mask.astype(bool), 0.5), F.dropout_backward(gy, mask, 0.5))


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
