"""affine / affine_backward (the book's layout, weight (in, out)): native vs the NumPy
reference, finite differences, inputs left untouched, bad input, and results that are
bit-identical for 1, 2 and 3 threads (OpenBLAS's own threading is not: see src/gemm_tiled.h)."""
import numpy as np
import pytest
from conftest import assert_close, numerical_grad
from nnkern import functional as F
from nnkern import reference as R

# Named shape families: x shape (N, ...), out.
CASES = {
    "n1": ((1, 5), 3),
    "odd": ((7, 13), 11),
    "simd-15-16-17": ((15, 16), 17),
    "simd-31-32-33": ((33, 31), 32),
    "out1": ((4, 9), 1),
    "4d-input": ((3, 2, 5, 7), 4),
    "3d-input": ((6, 4, 9), 5),
    "mnist-mlp": ((20, 784), 50),
    "wide-k": ((5, 2000), 9),
    "tall-n": ((1000, 20), 30),
}


def make(rng, name, dtype):
    xshape, out = CASES[name]
    x = rng.standard_normal(xshape).astype(dtype)
    fan_in = int(np.prod(xshape[1:]))
    w = (rng.standard_normal((fan_in, out)) / np.sqrt(fan_in)).astype(dtype)
    b = rng.standard_normal(out).astype(dtype)
    return x, w, b


def tol(dtype, reduction, ref):
    """Sums of `reduction` products vs a float64 reference: atol grows like sqrt(n) * eps * max|ref|
    (as in test_conv2d.py), rtol 1e-5 (float32)."""
    scale = float(np.max(np.abs(ref))) if np.size(ref) else 1.0
    if dtype == np.float64:
        return dict(rtol=1e-10, atol=1e-14 * np.sqrt(reduction) * scale + 1e-14)
    return dict(rtol=1e-5, atol=max(1e-6, 3 * 6e-8 * np.sqrt(reduction) * scale))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", CASES)
def test_forward_matches_reference(rng, name, dtype):
    x, w, b = make(rng, name, dtype)
    y = F.affine(x, w, b)
    x64, w64, b64 = (a.astype(np.float64) for a in (x, w, b))
    y_ref = R.affine(x64, w64, b64)
    assert y.dtype == dtype and y.shape == (x.shape[0], w.shape[1])
    assert_close(y, y_ref, **tol(dtype, w.shape[0], y_ref), what="y")
    y_nob = F.affine(x, w)
    assert_close(y_nob, R.affine(x64, w64), **tol(dtype, w.shape[0], y_ref), what="y (no bias)")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", CASES)
def test_backward_matches_reference(rng, name, dtype):
    x, w, _ = make(rng, name, dtype)
    gy = rng.standard_normal((x.shape[0], w.shape[1])).astype(dtype)
    gx, gw, gb = F.affine_backward(gy, x, w)
    gx_ref, gw_ref, gb_ref = R.affine_backward(*(a.astype(np.float64) for a in (gy, x, w)))
    assert gx.shape == x.shape and gw.shape == w.shape and gb.shape == (w.shape[1],)
    assert_close(gx, gx_ref, **tol(dtype, w.shape[1], gx_ref), what="grad_x")
    assert_close(gw, gw_ref, **tol(dtype, x.shape[0], gw_ref), what="grad_weight")
    assert_close(gb, gb_ref, **tol(dtype, x.shape[0], gb_ref), what="grad_bias")
    none_gx, gw2, gb2 = F.affine_backward(gy, x, w, need_grad_x=False)
    assert none_gx is None
    np.testing.assert_array_equal(gw2, gw)
    np.testing.assert_array_equal(gb2, gb)


def test_reference_matches_the_book_formula(rng):
    x = rng.standard_normal((4, 2, 3))
    w = rng.standard_normal((6, 5))
    b = rng.standard_normal(5)
    y = np.array([[sum(x[n].ravel()[i] * w[i, o] for i in range(6)) + b[o] for o in range(5)] for n in range(4)])
    assert_close(R.affine(x, w, b), y, rtol=1e-12, atol=1e-12, what="reference")


def test_reference_backward_matches_finite_differences(rng):
    x = rng.standard_normal((3, 2, 3))
    w = rng.standard_normal((6, 4))
    b = rng.standard_normal(4)
    r = rng.standard_normal((3, 4))
    loss = lambda: float(np.sum(R.affine(x, w, b) * r))  # noqa: E731
    gx, gw, gb = R.affine_backward(r, x, w)
    for got, arr, what in ((gx, x, "x"), (gw, w, "weight"), (gb, b, "bias")):
        assert_close(got, numerical_grad(loss, arr), rtol=1e-6, atol=1e-8, what=f"d loss/d {what}")


def test_native_float64_backward_matches_finite_differences(rng):
    x = rng.standard_normal((4, 7))
    w = rng.standard_normal((7, 3))
    b = rng.standard_normal(3)
    r = rng.standard_normal((4, 3))
    loss = lambda: float(np.sum(F.affine(x, w, b) * r))  # noqa: E731
    gx, gw, gb = F.affine_backward(r, x, w)
    for got, arr, what in ((gx, x, "x"), (gw, w, "weight"), (gb, b, "bias")):
        assert_close(got, numerical_grad(loss, arr), rtol=1e-6, atol=1e-8, what=f"d loss/d {what}")


def test_backward_does_not_modify_inputs(rng):
    x, w, _ = make(rng, "4d-input", np.float32)
    gy = rng.standard_normal((x.shape[0], w.shape[1])).astype(np.float32)
    before = [a.copy() for a in (gy, x, w)]
    F.affine_backward(gy, x, w)
    R.affine_backward(gy, x, w)
    for a, b in zip((gy, x, w), before):
        np.testing.assert_array_equal(a, b)


def test_empty_batch():
    x = np.zeros((0, 5), np.float32)
    w = np.ones((5, 3), np.float32)
    y = F.affine(x, w, np.ones(3, np.float32))
    assert y.shape == (0, 3)
    gx, gw, gb = F.affine_backward(np.zeros((0, 3), np.float32), x, w)
    assert gx.shape == (0, 5) and not gw.any() and not gb.any()


def test_non_contiguous_input_is_copied_correctly(rng):
    x = rng.standard_normal((6, 20))[:, ::2]
    w = rng.standard_normal((4, 10)).T
    assert not x.flags.c_contiguous and not w.flags.c_contiguous
    assert_close(F.affine(x, w), R.affine(x, w), rtol=1e-12, atol=1e-12, what="views")


# Shapes where OpenBLAS's threaded GEMM differs from its single-threaded one (float32
# 100x784x50: K between GEMM_Q and 2*GEMM_Q; float64: almost any shape), plus a long
# batch reduction for grad_weight and grad_bias.
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n,fan_in,out", [(100, 784, 50), (37, 1500, 300), (2048, 64, 300), (200, 64, 300)])
def test_one_two_three_threads_bit_identical(rng, threads, dtype, n, fan_in, out):
    x = rng.standard_normal((n, fan_in)).astype(dtype)
    w = (rng.standard_normal((fan_in, out)) * 0.05).astype(dtype)
    b = rng.standard_normal(out).astype(dtype)
    gy = rng.standard_normal((n, out)).astype(dtype)
    results = []
    for t in (1, 2, 3):
        threads(t)
        results.append((F.affine(x, w, b), *F.affine_backward(gy, x, w)))
    for other in results[1:]:
        for got, want in zip(other, results[0]):
            np.testing.assert_array_equal(got, want)


def test_bad_input_raises():
    x, w = np.zeros((2, 3), np.float32), np.zeros((3, 4), np.float32)
    with pytest.raises(ValueError, match=r"x must be 2-D \(N, in\)"):
        F.affine(np.zeros(3, np.float32), w)
    with pytest.raises(ValueError, match=r"weight must be 2-D \(in, out\)"):
        F.affine(x, np.zeros(3, np.float32))
    with pytest.raises(ValueError, match=r"x has 5 features per sample but weight \(3, 4\) expects 3"):
        F.affine(np.zeros((2, 5), np.float32), w)
    with pytest.raises(ValueError, match=r"x has 6 features"):  # (2, 2, 3) flattens to 6 features
        F.affine(np.zeros((2, 2, 3), np.float32), w)
    with pytest.raises(ValueError, match=r"bias must have shape \(4,\), got \(3,\)"):
        F.affine(x, w, np.zeros(3, np.float32))
    with pytest.raises(TypeError, match=r"x must be float32 or float64, got int64"):
        F.affine(x.astype(np.int64), w)
    with pytest.raises(TypeError, match=r"mixed dtypes"):
        F.affine(x, w.astype(np.float64))
    with pytest.raises(TypeError, match=r"bias has dtype float64"):
        F.affine(x, w, np.zeros(4))
    with pytest.raises(ValueError, match=r"grad_out must have shape \(2, 4\), got \(2, 3\)"):
        F.affine_backward(np.zeros((2, 3), np.float32), x, w)
    with pytest.raises(TypeError, match=r"grad_out has dtype float64"):
        F.affine_backward(np.zeros((2, 4)), x, w)
