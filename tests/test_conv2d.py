"""conv2d_forward / conv2d_backward / im2col / col2im: native vs the NumPy reference,
the reference vs the seed's formula and finite differences, bad input, determinism."""
import nnkern
import numpy as np
import pytest
from conftest import assert_close, numerical_grad
from nnkern import functional as F
from nnkern import reference as R

# Named shape families: (N, C, H, W), (OC, KH, KW), stride, padding, dilation, groups.
CASES = {
    "n1-odd": ((1, 3, 7, 9), (5, 3, 3), 1, 0, 1, 1),
    "odd-hw-pad": ((2, 5, 11, 13), (7, 3, 3), 1, 1, 1, 1),
    "k1-pointwise": ((3, 6, 5, 7), (9, 1, 1), 1, 0, 1, 1),
    "k1-stride2": ((2, 6, 9, 9), (4, 1, 1), 2, 0, 1, 1),
    "k1-groups3": ((2, 6, 5, 5), (9, 1, 1), 1, 0, 1, 3),
    "k5-stride3-pad2": ((2, 3, 17, 14), (6, 5, 5), 3, 2, 1, 1),
    "k11-stride4": ((2, 3, 35, 37), (10, 11, 11), 4, 2, 1, 1),
    "stride-hw": ((2, 4, 12, 10), (5, (3, 2)), (2, 1), (1, 0), 1, 1),
    "dilation2": ((2, 3, 13, 12), (4, 3, 3), 1, 2, 2, 1),
    "dilation-hw": ((1, 2, 15, 11), (3, (3, 2)), (1, 2), (0, 1), (2, 3), 1),
    "groups2": ((3, 10, 9, 8), (14, 5, 5), 1, 2, 1, 2),
    "depthwise": ((2, 7, 10, 9), (7, 3, 3), 1, 1, 1, 7),
    "depthwise-mult2": ((2, 5, 8, 8), (10, 3, 3), 2, 1, 1, 5),
    "channels-17": ((4, 17, 6, 6), (19, 3, 3), 1, 1, 1, 1),
    "pad-exceeds-kernel": ((1, 2, 4, 4), (3, 3, 3), 1, 2, 1, 1),
    "kernel-equals-input": ((2, 3, 5, 5), (4, 5, 5), 1, 0, 1, 1),
    "stride4-pad0": ((2, 3, 15, 15), (5, 3, 3), 4, 0, 1, 1),
    # the benchmark workloads at small batch
    "mnist-simpleconv": ((2, 1, 28, 28), (30, 5, 5), 1, 0, 1, 1),
    "deepconv-3x3": ((2, 16, 28, 28), (16, 3, 3), 1, 1, 1, 1),
    "seed-keras-conv2": ((1, 32, 74, 74), (64, 3, 3), 1, 0, 1, 1),
    "alexnet-conv1": ((1, 3, 224, 224), (96, 11, 11), 4, 2, 1, 1),
    "alexnet-conv2-g2": ((2, 96, 27, 27), (256, 5, 5), 1, 2, 1, 2),
    "alexnet-conv3": ((2, 256, 13, 13), (384, 3, 3), 1, 1, 1, 1),
}


def make_case(rng, case, dtype):
    xshape, (oc, *k), stride, pad, dil, groups = case
    kh, kw = k if len(k) == 2 else k[0]
    c = xshape[1]
    x = rng.standard_normal(xshape).astype(dtype)
    w = (rng.standard_normal((oc, c // groups, kh, kw)) / np.sqrt(c // groups * kh * kw)).astype(dtype)
    b = rng.standard_normal(oc).astype(dtype)
    return x, w, b, dict(stride=stride, padding=pad, dilation=dil, groups=groups)


def tol(dtype, reduction, ref):
    """Tolerance for sums of `reduction` products compared with a float64 reference.

    The rounding error of a float32 sum grows like sqrt(n) * eps * (size of the partial
    sums), and cancellation makes single outputs small while the partial sums were large,
    so atol scales with sqrt(n) * eps32 * max|ref| (3 sigma) instead of the 1e-6 that suits
    elementwise ops. rtol stays 1e-5."""
    scale = float(np.max(np.abs(ref))) if np.size(ref) else 1.0
    if dtype == np.float64:
        return dict(rtol=1e-10, atol=1e-14 * np.sqrt(reduction) * scale + 1e-14)
    return dict(rtol=1e-5, atol=max(1e-6, 3 * 6e-8 * np.sqrt(reduction) * scale))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", CASES)
def test_conv2d_forward_matches_reference(rng, name, dtype):
    x, w, b, kw = make_case(rng, CASES[name], dtype)
    y = F.conv2d(x, w, b, **kw)
    y_ref = R.conv2d(x.astype(np.float64), w.astype(np.float64), b.astype(np.float64), **kw)
    assert y.dtype == dtype
    assert_close(y, y_ref, **tol(dtype, w[0].size, y_ref), what=f"{name} y")
    y_nobias = F.conv2d(x, w, None, **kw)
    assert_close(y_nobias, y_ref - b[:, None, None], **tol(dtype, w[0].size, y_ref), what=f"{name} y (no bias)")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", CASES)
def test_conv2d_backward_matches_reference(rng, name, dtype):
    x, w, b, kw = make_case(rng, CASES[name], dtype)
    y = F.conv2d(x, w, b, **kw)
    gy = rng.standard_normal(y.shape).astype(dtype)
    gx, gw, gb = F.conv2d_backward(gy, x, w, **kw)
    f64 = [a.astype(np.float64) for a in (gy, x, w)]
    gx_ref, gw_ref, gb_ref = R.conv2d_backward(*f64, **kw)
    n_img = y.shape[0] * y.shape[2] * y.shape[3]
    assert_close(gx, gx_ref, **tol(dtype, w.size, gx_ref), what=f"{name} grad_x")
    assert_close(gw, gw_ref, **tol(dtype, n_img, gw_ref), what=f"{name} grad_weight")
    assert_close(gb, gb_ref, **tol(dtype, n_img, gb_ref), what=f"{name} grad_bias")
    masked = F.conv2d_backward(gy, x, w, **kw, output_mask=(False, True, False))
    assert masked[0] is None and masked[2] is None
    np.testing.assert_array_equal(masked[1], gw)


@pytest.mark.parametrize("name", ["n1-odd", "k5-stride3-pad2", "dilation-hw", "groups2", "stride-hw"])
def test_im2col_col2im_match_reference(rng, name):
    x, w, _, kw = make_case(rng, CASES[name], np.float64)
    ks = w.shape[2:]
    args = dict(stride=kw["stride"], padding=kw["padding"], dilation=kw["dilation"])
    cols = F.im2col(x, ks, **args)
    np.testing.assert_array_equal(cols, R.im2col(x, ks, **args))
    dc = rng.standard_normal(cols.shape)
    assert_close(F.col2im(dc, x.shape, ks, **args), R.col2im(dc, x.shape, ks, **args),
                 rtol=1e-12, atol=1e-12, what="col2im")


def direct_conv(x, w, b, stride, pad, dil, groups):
    """The seed's formula u_ijm = sum_k sum_p sum_q x[i+p, j+q, k] h[p, q, k, m] + b_m, as a
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
def test_reference_matches_seed_formula(rng, stride, pad, dil, groups):
    x = rng.standard_normal((2, 4, 7, 6))
    w = rng.standard_normal((6, 4 // groups, 3, 2))
    b = rng.standard_normal(6)
    y = R.conv2d(x, w, b, stride, pad, dil, groups)
    assert_close(y, direct_conv(x, w, b, stride, pad, dil, groups), rtol=1e-12, atol=1e-12, what="reference")


@pytest.mark.parametrize("stride,pad,dil,groups", [(1, 1, 1, 1), (2, 0, 1, 2), (1, 2, 2, 1)])
def test_reference_backward_matches_finite_differences(rng, stride, pad, dil, groups):
    x = rng.standard_normal((2, 4, 6, 5))
    w = rng.standard_normal((4, 4 // groups, 3, 3))
    b = rng.standard_normal(4)
    kw = dict(stride=stride, padding=pad, dilation=dil, groups=groups)
    r = rng.standard_normal(R.conv2d(x, w, b, **kw).shape)
    loss = lambda: float(np.sum(R.conv2d(x, w, b, **kw) * r))  # noqa: E731
    gx, gw, gb = R.conv2d_backward(r, x, w, **kw)
    for got, arr, what in ((gx, x, "x"), (gw, w, "weight"), (gb, b, "bias")):
        assert_close(got, numerical_grad(loss, arr), rtol=1e-6, atol=1e-7, what=f"d loss/d {what}")


def test_native_float64_backward_matches_finite_differences(rng):
    x = rng.standard_normal((2, 3, 7, 6))
    w = rng.standard_normal((4, 3, 3, 3))
    b = rng.standard_normal(4)
    kw = dict(stride=2, padding=1)
    r = rng.standard_normal(F.conv2d(x, w, b, **kw).shape)
    loss = lambda: float(np.sum(F.conv2d(x, w, b, **kw) * r))  # noqa: E731
    gx, gw, gb = F.conv2d_backward(r, x, w, **kw)
    for got, arr, what in ((gx, x, "x"), (gw, w, "weight"), (gb, b, "bias")):
        assert_close(got, numerical_grad(loss, arr), rtol=1e-6, atol=1e-7, what=f"d loss/d {what}")


@pytest.mark.parametrize("name", ["mnist-simpleconv", "groups2", "alexnet-conv1", "k1-pointwise", "n1-odd"])
def test_one_and_two_threads_bit_identical(rng, threads, name):
    x, w, b, kw = make_case(rng, CASES[name], np.float32)
    x = np.concatenate([x] * 3)  # several images, so the batch really is split
    gy = rng.standard_normal(F.conv2d(x, w, b, **kw).shape).astype(np.float32)
    results = []
    for n in (1, 2):
        threads(n)
        results.append((F.conv2d(x, w, b, **kw), *F.conv2d_backward(gy, x, w, **kw)))
    for a, b_ in zip(*results):
        np.testing.assert_array_equal(a, b_)


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


def test_module_info_reports_build():
    info = nnkern._core.build_info()
    assert info["blas"] == "scipy-openblas32" and info["simd_path"]
    assert nnkern.get_num_threads() >= 1


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
