"""maxpool2d_forward / maxpool2d_backward: native vs the NumPy reference (values and indices
exactly, ties and NaN included), the reference backward vs finite differences, bad input,
determinism."""
import numpy as np
import pytest
from conftest import TOL, assert_close, numerical_grad
from nnkern import functional as F
from nnkern import reference as R

# Named shape families: (N, C, H, W), kernel_size, stride, padding.
CASES = {
    "n1-2x2": ((1, 3, 8, 8), 2, 2, 0),
    "odd-hw-2x2": ((2, 5, 7, 9), 2, 2, 0),
    "alexnet-3x3-s2": ((2, 7, 13, 13), 3, 2, 0),
    "overlap-pad1": ((2, 3, 11, 10), 3, 2, 1),
    "k3-s1-pad1": ((2, 17, 9, 7), 3, 1, 1),
    "rect-kernel": ((2, 4, 10, 9), (3, 2), (2, 1), (1, 0)),
    "k5-s3-pad2": ((1, 3, 17, 14), 5, 3, 2),
    "k4-s3-pad2": ((2, 3, 9, 9), 4, 3, 2),
    "kernel-equals-input": ((2, 3, 5, 5), 5, 1, 0),
    "kernel-equals-padded": ((1, 2, 3, 4), (5, 6), 1, (1, 1)),
    "stride-gt-kernel": ((2, 3, 15, 15), 3, 4, 0),
    "k1": ((2, 3, 5, 6), 1, 1, 0),
    "flat-3x3-s3": ((2, 3, 9, 12), 3, 3, 0),
    "flat-rows-pad": ((2, 3, 8, 8), (3, 2), 2, (1, 0)),
    "c17-wide": ((3, 17, 6, 33), 2, 2, 0),
    "stride3-border": ((1, 9, 10, 11), 2, 3, 1),
    "seed-mnist": ((4, 30, 24, 24), 2, 2, 0),
    "alexnet-55": ((1, 4, 55, 55), 3, 2, 0),
}


def run(name, x):
    _, k, s, p = CASES[name]
    y, idx = F.max_pool2d(x, k, s, p, return_indices=True)
    y_ref, idx_ref = R.max_pool2d(x.astype(np.float64), k, s, p, return_indices=True)
    return y, idx, y_ref, idx_ref


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", CASES)
def test_forward_matches_reference(rng, name, dtype):
    x = rng.standard_normal(CASES[name][0]).astype(dtype)
    y, idx, y_ref, idx_ref = run(name, x)
    assert y.dtype == dtype and idx.dtype == np.int64
    np.testing.assert_array_equal(y, y_ref.astype(dtype))  # a maximum is exact
    np.testing.assert_array_equal(idx, idx_ref)
    _, k, s, p = CASES[name]
    np.testing.assert_array_equal(F.max_pool2d(x, k, s, p), y)  # the value-only path


@pytest.mark.parametrize("name", ["overlap-pad1", "k3-s1-pad1", "rect-kernel", "k5-s3-pad2", "c17-wide", "n1-2x2",
                                  "flat-rows-pad"])
def test_ties_go_to_the_first_maximum(rng, name):
    x = rng.integers(0, 3, CASES[name][0]).astype(np.float32)  # many equal values per window
    y, idx, y_ref, idx_ref = run(name, x)
    np.testing.assert_array_equal(y, y_ref)
    np.testing.assert_array_equal(idx, idx_ref)


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


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", CASES)
def test_backward_matches_reference(rng, name, dtype):
    x = rng.standard_normal(CASES[name][0]).astype(dtype)
    y, idx, _, _ = run(name, x)
    gy = rng.standard_normal(y.shape).astype(dtype)
    gx = F.max_pool2d_backward(gy, idx, x.shape)
    gx_ref = R.max_pool2d_backward(gy.astype(np.float64), idx, x.shape)
    assert gx.dtype == dtype
    assert_close(gx, gx_ref, **TOL[dtype], what=f"{name} grad_x")  # sums of <= KH*KW terms
    gy_before = gy.copy()
    F.max_pool2d_backward(gy, idx, x.shape)
    np.testing.assert_array_equal(gy, gy_before)  # inputs are never modified


@pytest.mark.parametrize("name", ["odd-hw-2x2", "overlap-pad1", "rect-kernel", "k4-s3-pad2"])
def test_reference_backward_matches_finite_differences(rng, name):
    shape, k, s, p = CASES[name]
    x = rng.permutation(np.prod(shape)).reshape(shape) * 0.01  # distinct values: no ties within eps
    r = rng.standard_normal(R.max_pool2d(x, k, s, p).shape)
    loss = lambda: float(np.sum(R.max_pool2d(x, k, s, p) * r))  # noqa: E731
    _, idx = R.max_pool2d(x, k, s, p, return_indices=True)
    assert_close(R.max_pool2d_backward(r, idx, x.shape), numerical_grad(loss, x), rtol=1e-6, atol=1e-7,
                 what="d loss/d x")


@pytest.mark.parametrize("name", ["seed-mnist", "alexnet-55", "overlap-pad1"])
def test_one_and_two_threads_bit_identical(rng, threads, name):
    shape, k, s, p = CASES[name]
    x = rng.standard_normal(shape).astype(np.float32)
    x = np.concatenate([x] * -(-2**16 // x.size))  # two grains (2^15 elements each): really parallel
    results = []
    for n in (1, 2):
        threads(n)
        y, idx = F.max_pool2d(x, k, s, p, return_indices=True)
        results.append((y, idx, F.max_pool2d_backward(y, idx, x.shape)))
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)


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
