"""max_pool2d / max_pool2d_backward: native vs the NumPy reference on a table of cases (values and
indices bit for bit, gradients, finite differences, threads: tests/harness.py), ties and NaN,
bad input."""
import numpy as np
import pytest
from cases import POOL2D_CASES as CASES
from harness import check_op, op_test
from nnkern import functional as F
from nnkern import reference as R

TIES = ["overlap-pad1", "k3-s1-pad1", "rect-kernel", "k5-s3-pad2", "c17-wide", "n1-2x2", "flat-rows-pad"]


test_max_pool2d = op_test("max_pool2d", CASES)


@pytest.mark.parametrize("inputs,kwargs", [c for c in CASES if c.id in TIES])
def test_ties_go_to_the_first_maximum(rng, inputs, kwargs):
    x = rng.integers(0, 3, inputs[0]).astype(np.float32)  # many equal values per window
    check_op("max_pool2d", [x], kwargs, dtype=np.float32)


def test_padding_never_wins_a_tie_with_minus_infinity():
    x = np.full((1, 2, 5, 5), -np.inf, np.float32)
    y, idx = F.max_pool2d(x, 3, 2, 1, return_indices=True)
    assert np.all(y == -np.inf)
    h, w = np.divmod(idx, 5)
    assert (h >= 0).all() and (h < 5).all() and (w >= 0).all() and (w < 5).all()
    np.testing.assert_array_equal(idx, R.max_pool2d(x, 3, 2, 1, return_indices=True)[1])


def test_nan_propagates_with_the_first_nan_index(rng):
    x = rng.standard_normal((2, 3, 9, 9)).astype(np.float32)
    x[0, 0, 2, 3] = x[0, 0, 3, 2] = x[1, 2, 8, 8] = np.nan
    y, idx = F.max_pool2d(x, 3, 2, 1, return_indices=True)
    y_ref, idx_ref = R.max_pool2d(x, 3, 2, 1, return_indices=True)
    np.testing.assert_array_equal(np.isnan(y), np.isnan(y_ref))
    assert np.isnan(y).sum() >= 3
    np.testing.assert_array_equal(idx, idx_ref)
    np.testing.assert_array_equal(np.isnan(F.max_pool2d(x, 3, 2, 1)), np.isnan(y_ref))


def test_stride_defaults_to_kernel_size_and_non_contiguous_input(rng):
    x = rng.standard_normal((2, 3, 8, 18))[:, :, :, ::2]
    assert not x.flags.c_contiguous
    np.testing.assert_array_equal(F.max_pool2d(x, 3), R.max_pool2d(x, 3, 3))


def test_zero_batch_returns_empty():
    x = np.zeros((0, 3, 8, 8), np.float32)
    y, idx = F.max_pool2d(x, 2, return_indices=True)
    assert y.shape == (0, 3, 4, 4) and idx.shape == (0, 3, 4, 4)
    assert F.max_pool2d_backward(y, idx, x.shape).shape == x.shape


BAD = [
    # (x shape, kwargs, exception, message)
    ((1, 3, 0, 4), dict(kernel_size=2, padding=1), ValueError, r"input planes must not be empty, got H=0, W=4"),
    ((3, 8, 8), dict(kernel_size=2), ValueError, r"x must be 4-D"),
    ((1, 3, 4, 4), dict(kernel_size=5), ValueError, r"kernel_size \(5, 5\) is larger than the padded input \(4, 4\)"),
    ((1, 3, 4, 4), dict(kernel_size=(3, 7), padding=1), ValueError, r"larger than the padded input \(6, 6\)"),
    ((1, 3, 8, 8), dict(kernel_size=3, padding=2), ValueError, r"padding \(2, 2\) must be at most half of kernel_size"),
    ((1, 3, 8, 8), dict(kernel_size=(4, 2), padding=(2, 2)), ValueError, r"at most half of kernel_size \(4, 2\)"),
    ((1, 3, 8, 8), dict(kernel_size=0), ValueError, r"kernel_size must be positive"),
    ((1, 3, 8, 8), dict(kernel_size=2, stride=0), ValueError, r"stride must be positive"),
    ((1, 3, 8, 8), dict(kernel_size=2, padding=-1), ValueError, r"padding must be non-negative"),
    ((1, 3, 8, 8), dict(kernel_size=2.0), TypeError, r"kernel_size must be an int or a pair"),
]


@pytest.mark.parametrize("xs,kw,exc,msg", BAD)
def test_bad_input_raises(xs, kw, exc, msg):
    with pytest.raises(exc, match=msg):
        F.max_pool2d(np.zeros(xs, np.float32), **kw)


def test_bad_dtypes_and_backward_arguments_raise():
    x = np.zeros((1, 3, 8, 8), np.float32)
    with pytest.raises(TypeError, match=r"x must be float32 or float64, got int64"):
        F.max_pool2d(x.astype(np.int64), 2)
    y, idx = F.max_pool2d(x, 2, return_indices=True)
    with pytest.raises(TypeError, match=r"indices must be int64, got int32"):
        F.max_pool2d_backward(y, idx.astype(np.int32), x.shape)
    with pytest.raises(ValueError, match=r"indices must have shape \(1, 3, 4, 4\)"):
        F.max_pool2d_backward(y, idx[:, :, :3], x.shape)
    with pytest.raises(ValueError, match=r"input_shape must be \(N, C, H, W\)"):
        F.max_pool2d_backward(y, idx, (3, 8, 8))
    with pytest.raises(ValueError, match=r"does not match grad_out"):
        F.max_pool2d_backward(y, idx, (1, 4, 8, 8))
    with pytest.raises(TypeError, match=r"grad_out must be float32 or float64, got int64"):
        F.max_pool2d_backward(idx, idx, x.shape)
    bad = idx.copy()
    bad[0, 1, 2, 3] = 64
    with pytest.raises(ValueError, match=r"1 of the indices lie outside \[0, H\*W\) = \[0, 64\)"):
        F.max_pool2d_backward(y, bad, x.shape)
    bad[0, 0, 0, 0] = -1
    with pytest.raises(ValueError, match=r"2 of the indices lie outside"):
        F.max_pool2d_backward(y, bad, x.shape)
