"""avg_pool2d / avg_pool2d_backward: native vs the NumPy reference on a table of cases, both divisor
conventions (tests/harness.py), the reference vs a plain loop, bad input."""
import numpy as np
import pytest
from cases import POOL2D_CASES as CASES
from harness import DTYPES, assert_close, check_op
from nnkern import functional as F
from nnkern import reference as R


@pytest.mark.parametrize("count_include_pad", [True, False])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("inputs,kwargs", CASES)
def test_avg_pool2d(inputs, kwargs, dtype, count_include_pad):
    check_op("avg_pool2d", inputs, dict(kwargs, count_include_pad=count_include_pad), dtype=dtype)


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
