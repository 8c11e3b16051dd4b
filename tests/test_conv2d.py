"""conv2d / conv2d_backward: native vs the NumPy reference on a table of cases (tests/harness.py:
forward with and without bias, all gradients and output_mask, finite differences, threads), the
reference vs the direct formula, bad input."""
import nnkern
import numpy as np
import pytest
from harness import assert_close, case, op_test
from nnkern import functional as F
from nnkern import reference as R

CASES = [  # x (N, C, H, W), weight (OC, C/groups, KH, KW), bias; stride, padding, dilation, groups
    case("n1-odd", (1, 3, 7, 9), (5, 3, 3, 3), (5,)),
    case("n1-odd-no-bias", (1, 3, 7, 9), (5, 3, 3, 3), None),
    case("odd-hw-pad", (2, 5, 11, 13), (7, 5, 3, 3), (7,), padding=1),
    case("k1-pointwise", (3, 6, 5, 7), (9, 6, 1, 1), (9,)),
    case("k1-stride2", (2, 6, 9, 9), (4, 6, 1, 1), (4,), stride=2),
    case("k1-groups3", (2, 6, 5, 5), (9, 2, 1, 1), (9,), groups=3),
    case("k5-stride3-pad2", (2, 3, 17, 14), (6, 3, 5, 5), (6,), stride=3, padding=2),
    case("k11-stride4", (2, 3, 35, 37), (10, 3, 11, 11), (10,), stride=4, padding=2),
    case("stride-hw", (2, 4, 12, 10), (5, 4, 3, 2), (5,), stride=(2, 1), padding=(1, 0)),
    case("dilation2", (2, 3, 13, 12), (4, 3, 3, 3), (4,), padding=2, dilation=2),
    case("dilation-hw", (1, 2, 15, 11), (3, 2, 3, 2), (3,), stride=(1, 2), padding=(0, 1), dilation=(2, 3)),
    case("groups2", (3, 10, 9, 8), (14, 5, 5, 5), (14,), padding=2, groups=2),
    case("groups2-stride3-pad2", (2, 4, 7, 6), (6, 2, 3, 2), (6,), stride=3, padding=2, groups=2),
    case("depthwise", (2, 7, 10, 9), (7, 1, 3, 3), (7,), padding=1, groups=7),
    case("depthwise-mult2", (2, 5, 8, 8), (10, 1, 3, 3), (10,), stride=2, padding=1, groups=5),
    case("channels-17", (4, 17, 6, 6), (19, 17, 3, 3), (19,), padding=1),
    case("pad-exceeds-kernel", (1, 2, 4, 4), (3, 2, 3, 3), (3,), padding=2),
    case("kernel-equals-input", (2, 3, 5, 5), (4, 3, 5, 5), (4,)),
    case("stride4-pad0", (2, 3, 15, 15), (5, 3, 3, 3), (5,), stride=4),
    # the benchmark workloads at small batch
    case("deepconv-3x3", (2, 16, 28, 28), (16, 16, 3, 3), (16,), padding=1),
    case("keras-cnn-conv2", (1, 32, 74, 74), (64, 32, 3, 3), (64,)),
    case("alexnet-conv2-g2", (2, 96, 27, 27), (256, 48, 5, 5), (256,), padding=2, groups=2),
    case("alexnet-conv3", (2, 256, 13, 13), (384, 256, 3, 3), (384,), padding=1),
    # several images per thread, so that the batch really is split (and two benchmark workloads)
    case("n1-odd-threaded", (3, 3, 7, 9), (5, 3, 3, 3), (5,)),
    case("k1-pointwise-threaded", (9, 6, 5, 7), (9, 6, 1, 1), (9,)),
    case("groups2-threaded", (9, 10, 9, 8), (14, 5, 5, 5), (14,), padding=2, groups=2),
    case("mnist-simpleconv-n6", (6, 1, 28, 28), (30, 1, 5, 5), (30,)),
    case("alexnet-conv1-n3", (3, 3, 224, 224), (96, 3, 11, 11), (96,), stride=4, padding=2),
]


test_conv2d = op_test("conv2d", CASES)


def direct_conv(x, w, b, stride, pad, dil, groups):
    """The study notes' formula u_ijm = sum_k sum_p sum_q x[i+p, j+q, k] h[p, q, k, m] + b_m, as a
    plain loop nest (NCHW indices), extended with stride, zero padding, dilation and groups."""
    n, c, h, wd = x.shape
    oc, cg, kh, kw = w.shape
    og = oc // groups
    oh = (h + 2 * pad - dil * (kh - 1) - 1) // stride + 1
    ow = (wd + 2 * pad - dil * (kw - 1) - 1) // stride + 1
    y = np.zeros((n, oc, oh, ow))
    for a in range(n):
        for m in range(oc):
            g = m // og
            for i in range(oh):
                for j in range(ow):
                    u = b[m]
                    for k in range(cg):
                        for p in range(kh):
                            for q in range(kw):
                                r, s = i * stride - pad + p * dil, j * stride - pad + q * dil
                                if 0 <= r < h and 0 <= s < wd:
                                    u += x[a, g * cg + k, r, s] * w[m, k, p, q]
                    y[a, m, i, j] = u
    return y


@pytest.mark.parametrize("stride,pad,dil,groups", [(1, 0, 1, 1), (2, 1, 1, 1), (1, 1, 2, 1), (1, 0, 1, 2),
                                                   (3, 2, 1, 2)])
def test_reference_matches_the_direct_formula(rng, stride, pad, dil, groups):
    x = rng.standard_normal((2, 4, 7, 6))
    w = rng.standard_normal((6, 4 // groups, 3, 2))
    b = rng.standard_normal(6)
    y = R.conv2d(x, w, b, stride, pad, dil, groups)
    assert_close(y, direct_conv(x, w, b, stride, pad, dil, groups), rtol=1e-12, atol=1e-12, what="reference")


def test_zero_batch_returns_empty():
    x = np.zeros((0, 3, 8, 8), np.float32)
    w = np.ones((4, 3, 3, 3), np.float32)
    y = F.conv2d(x, w, np.ones(4, np.float32))
    assert y.shape == (0, 4, 6, 6) and y.dtype == np.float32
    gx, gw, gb = F.conv2d_backward(y, x, w)
    assert gx.shape == x.shape and not gw.any() and not gb.any()


def test_non_contiguous_input_is_copied_correctly(rng):
    x = rng.standard_normal((2, 3, 9, 20))[:, :, :, ::2]
    w = rng.standard_normal((4, 3, 3, 3)).transpose(0, 1, 3, 2)
    assert not x.flags.c_contiguous and not w.flags.c_contiguous
    assert_close(F.conv2d(x, w), R.conv2d(x, w), rtol=1e-12, atol=1e-12, what="non-contiguous")


BAD = [
    # (x shape, w shape, kwargs, exception, message)
    ((3, 8, 8), (4, 3, 3, 3), {}, ValueError, r"x must be 4-D"),
    ((1, 3, 8, 8), (4, 3, 3), {}, ValueError, r"weight must be 4-D"),
    ((1, 4, 8, 8), (4, 3, 3, 3), {}, ValueError, r"x has C=4 channels"),
    ((1, 3, 8, 8), (4, 3, 3, 3), dict(groups=2), ValueError, r"groups=2 must divide"),
    ((1, 4, 8, 8), (5, 2, 3, 3), dict(groups=2), ValueError, r"groups=2 must divide both C=4 and OC=5"),
    ((1, 3, 8, 8), (4, 3, 3, 3), dict(stride=0), ValueError, r"stride must be positive"),
    ((1, 3, 8, 8), (4, 3, 3, 3), dict(stride=(1, -1)), ValueError, r"stride must be positive"),
    ((1, 3, 8, 8), (4, 3, 3, 3), dict(dilation=0), ValueError, r"dilation must be positive"),
    ((1, 3, 8, 8), (4, 3, 3, 3), dict(padding=-1), ValueError, r"padding must be non-negative"),
    ((1, 3, 8, 8), (4, 3, 3, 3), dict(groups=0), ValueError, r"groups must be positive"),
    ((1, 3, 4, 4), (4, 3, 7, 7), {}, ValueError, r"larger than the padded input"),
    ((1, 3, 4, 4), (4, 3, 3, 3), dict(dilation=3), ValueError, r"larger than the padded input"),
    ((1, 3, 8, 8), (4, 3, 3, 3), dict(stride=1.5), TypeError, r"stride must be an int or a pair"),
]


@pytest.mark.parametrize("xs,ws,kw,exc,msg", BAD)
def test_bad_input_raises(xs, ws, kw, exc, msg):
    x, w = np.zeros(xs, np.float32), np.zeros(ws, np.float32)
    with pytest.raises(exc, match=msg):
        F.conv2d(x, w, **kw)
    if len(xs) == 4 and len(ws) == 4 and exc is ValueError:
        with pytest.raises(exc, match=msg):
            F.conv2d_backward(np.zeros((1, 4, 1, 1), np.float32), x, w, **kw)


def test_bad_dtypes_raise_type_error():
    x, w = np.zeros((1, 3, 8, 8), np.float32), np.zeros((4, 3, 3, 3), np.float32)
    with pytest.raises(TypeError, match=r"x must be float32 or float64, got int64"):
        F.conv2d(x.astype(np.int64), w)
    with pytest.raises(TypeError, match=r"x must be float32 or float64, got float16"):
        F.conv2d(x.astype(np.float16), w.astype(np.float16))
    with pytest.raises(TypeError, match=r"mixed dtypes"):
        F.conv2d(x, w.astype(np.float64))
    with pytest.raises(TypeError, match=r"bias has dtype float64"):
        F.conv2d(x, w, np.zeros(4))
    with pytest.raises(ValueError, match=r"bias must have shape \(4,\)"):
        F.conv2d(x, w, np.zeros(5, np.float32))
    with pytest.raises(ValueError, match=r"grad_out must have shape \(1, 4, 6, 6\)"):
        F.conv2d_backward(np.zeros((1, 4, 5, 6), np.float32), x, w)


def test_overflowing_sizes_raise_without_allocating():
    # Zero-stride views: huge logical shapes backed by one element, so nothing real is allocated.
    def huge(shape):
        return np.lib.stride_tricks.as_strided(np.zeros(1, np.float32), shape, (0,) * len(shape))
    with pytest.raises(OverflowError, match="too large"):  # N*OC*OH*OW overflows int64
        nnkern._core.conv2d_forward(huge((2**21, 1, 2**21, 1)), huge((2**21, 1, 1, 1)), None, (1, 1), (0, 0),
                                    (1, 1), 1)
    with pytest.raises(ValueError, match="C-contiguous"):  # sane sizes, but a view the kernel cannot read
        nnkern._core.conv2d_forward(huge((1, 1, 4, 4)), huge((1, 1, 1, 1)), None, (1, 1), (0, 0), (1, 1), 1)
