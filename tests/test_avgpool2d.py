"""avgpool2d_forward / avgpool2d_backward: native vs the NumPy reference (both divisor
conventions), the reference vs a plain loop and finite differences, bad input, determinism."""
import numpy as np
import pytest
from conftest import TOL, assert_close, numerical_grad
from nnkern import functional as F
from nnkern import reference as R

# Named shape families: (N, C, H, W), kernel_size, stride, padding.
CASES = {
    "n1-2x2": ((1, 3, 8, 8), 2, 2, 0),
    "odd-hw-2x2": ((2, 5, 7, 9), 2, 2, 0),
    "overlap-3x3-s2": ((2, 7, 13, 13), 3, 2, 0),
    "overlap-pad1": ((2, 3, 11, 10), 3, 2, 1),
    "k3-s1-pad1": ((2, 17, 9, 7), 3, 1, 1),
    "rect-kernel": ((2, 4, 10, 9), (3, 2), (2, 1), (1, 0)),
    "k5-s3-pad2": ((1, 3, 17, 14), 5, 3, 2),
    "k4-s3-pad2": ((2, 3, 9, 9), 4, 3, 2),
    "kernel-equals-input": ((2, 3, 5, 5), 5, 1, 0),
    "stride-gt-kernel": ((2, 3, 15, 15), 3, 4, 0),
    "k1": ((2, 3, 5, 6), 1, 1, 0),
    "flat-3x3-s3": ((2, 3, 9, 12), 3, 3, 0),
    "flat-rows-pad": ((2, 3, 8, 8), (3, 2), 2, (1, 0)),
    "c17-wide": ((3, 17, 6, 33), 2, 2, 0),
    "stride3-border": ((1, 9, 10, 11), 2, 3, 1),
    "benchmark-72": ((1, 4, 72, 72), 2, 2, 0),
}


@pytest.mark.parametrize("count_include_pad", [True, False])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", CASES)
def test_forward_and_backward_match_reference(rng, name, dtype, count_include_pad):
    shape, k, s, p = CASES[name]
    kw = dict(count_include_pad=count_include_pad)
    x = rng.standard_normal(shape).astype(dtype)
    y = F.avg_pool2d(x, k, s, p, **kw)
    y_ref = R.avg_pool2d(x.astype(np.float64), k, s, p, **kw)
    assert y.dtype == dtype
    assert_close(y, y_ref, **TOL[dtype], what=f"{name} y")  # means of <= KH*KW terms
    gy = rng.standard_normal(y.shape).astype(dtype)
    gx = F.avg_pool2d_backward(gy, x.shape, k, s, p, **kw)
    gx_ref = R.avg_pool2d_backward(gy.astype(np.float64), x.shape, k, s, p, **kw)
    assert gx.dtype == dtype
    assert_close(gx, gx_ref, **TOL[dtype], what=f"{name} grad_x")


def loop_avg_pool(x, k, s, p, count_include_pad):
    """The definition, one window at a time (square kernel, stride and padding)."""
    n, c, h, w = x.shape
    oh, ow = (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1
    y = np.zeros((n, c, oh, ow))
    for i in range(oh):
        for j in range(ow):
            r0, c0 = i * s - p, j * s - p
            win = x[:, :, max(r0, 0):r0 + k, max(c0, 0):c0 + k]
            y[:, :, i, j] = win.sum(axis=(2, 3)) / (k * k if count_include_pad else win.shape[2] * win.shape[3])
    return y


@pytest.mark.parametrize("count_include_pad", [True, False])
@pytest.mark.parametrize("k,s,p", [(2, 2, 0), (3, 2, 1), (3, 1, 1), (4, 3, 2)])
def test_reference_matches_loop_definition(rng, k, s, p, count_include_pad):
    x = rng.standard_normal((2, 3, 9, 8))
    assert_close(R.avg_pool2d(x, k, s, p, count_include_pad), loop_avg_pool(x, k, s, p, count_include_pad),
                 rtol=1e-12, atol=1e-12, what="reference")


@pytest.mark.parametrize("count_include_pad", [True, False])
@pytest.mark.parametrize("name", ["odd-hw-2x2", "overlap-pad1", "rect-kernel", "k4-s3-pad2"])
def test_reference_backward_matches_finite_differences(rng, name, count_include_pad):
    shape, k, s, p = CASES[name]
    x = rng.standard_normal(shape)
    kw = dict(count_include_pad=count_include_pad)
    r = rng.standard_normal(R.avg_pool2d(x, k, s, p, **kw).shape)
    loss = lambda: float(np.sum(R.avg_pool2d(x, k, s, p, **kw) * r))  # noqa: E731
    assert_close(R.avg_pool2d_backward(r, x.shape, k, s, p, **kw), numerical_grad(loss, x), rtol=1e-6, atol=1e-7,
                 what="d loss/d x")


@pytest.mark.parametrize("name", ["benchmark-72", "overlap-pad1", "c17-wide"])
def test_one_and_two_threads_bit_identical(rng, threads, name):
    shape, k, s, p = CASES[name]
    x = rng.standard_normal(shape).astype(np.float32)
    x = np.concatenate([x] * -(-2**16 // x.size))  # two grains (2^15 elements each): really parallel
    results = []
    for n in (1, 2):
        threads(n)
        y = F.avg_pool2d(x, k, s, p, count_include_pad=False)
        results.append((y, F.avg_pool2d_backward(y, x.shape, k, s, p, count_include_pad=False)))
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)


def test_stride_defaults_to_kernel_size_and_non_contiguous_input(rng):
    x = rng.standard_normal((2, 3, 8, 18))[:, :, :, ::2]
    assert not x.flags.c_contiguous
    assert_close(F.avg_pool2d(x, 3), R.avg_pool2d(x, 3, 3), rtol=1e-12, atol=1e-12, what="y")


def test_zero_batch_returns_empty():
    x = np.zeros((0, 3, 8, 8), np.float32)
    y = F.avg_pool2d(x, 2)
    assert y.shape == (0, 3, 4, 4)
    assert F.avg_pool2d_backward(y, x.shape, 2).shape == x.shape


BAD = [
    # (x shape, kwargs, exception, message)
    ((1, 3, 0, 4), dict(kernel_size=2, padding=1), ValueError, r"input planes must not be empty, got H=0, W=4"),
    ((3, 8, 8), dict(kernel_size=2), ValueError, r"x must be 4-D"),
    ((1, 3, 4, 4), dict(kernel_size=5), ValueError, r"kernel_size \(5, 5\) is larger than the padded input \(4, 4\)"),
    ((1, 3, 8, 8), dict(kernel_size=3, padding=2), ValueError, r"padding \(2, 2\) must be at most half of kernel_size"),
    ((1, 3, 8, 8), dict(kernel_size=2, stride=(1, 0)), ValueError, r"stride must be positive"),
    ((1, 3, 8, 8), dict(kernel_size=(2, 2, 2)), TypeError, r"kernel_size must be an int or a pair"),
]


@pytest.mark.parametrize("xs,kw,exc,msg", BAD)
def test_bad_input_raises(xs, kw, exc, msg):
    with pytest.raises(exc, match=msg):
        F.avg_pool2d(np.zeros(xs, np.float32), **kw)
    if len(xs) == 4:
        with pytest.raises(exc, match=msg):
            F.avg_pool2d_backward(np.zeros((1, 3, 1, 1), np.float32), xs, **kw)


def test_bad_dtypes_and_backward_shapes_raise():
    x = np.zeros((1, 3, 8, 8), np.float32)
    with pytest.raises(TypeError, match=r"x must be float32 or float64, got float16"):
        F.avg_pool2d(x.astype(np.float16), 2)
    with pytest.raises(ValueError, match=r"grad_out must have shape \(1, 3, 4, 4\)"):
        F.avg_pool2d_backward(np.zeros((1, 3, 4, 3), np.float32), x.shape, 2)
    with pytest.raises(ValueError, match=r"input_shape must be \(N, C, H, W\)"):
        F.avg_pool2d_backward(np.zeros((1, 3, 4, 4), np.float32), (3, 8, 8), 2)
