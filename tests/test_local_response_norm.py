"""lrn_forward / lrn_backward: native vs the NumPy reference over shapes and parameters
(AlexNet's defaults, even sizes, both alpha conventions, special and general betas), the
reference vs the paper's formula and finite differences, bad input, determinism."""
import numpy as np
import pytest

from nnkern import functional as F, reference as R

from conftest import assert_close, numerical_grad

SHAPES = {
    "c1": (1, 1, 3, 3),
    "c-below-size": (2, 3, 5, 7),
    "c17-odd": (2, 17, 9, 7),
    "plane-400": (2, 7, 20, 20),
    "hw-1x1": (3, 5, 1, 1),
    "alexnet-like": (1, 96, 6, 6),
}
PARAMS = {
    "alexnet": dict(size=5, alpha=1e-4, beta=0.75, k=2.0),
    "paper-alpha": dict(size=5, alpha=1e-4, beta=0.75, k=2.0, alpha_over_size=False),
    "strong": dict(size=5, alpha=0.5, beta=0.75, k=1.0),
    "even-size": dict(size=4, alpha=0.3, beta=0.75, k=1.5),
    "size1": dict(size=1, alpha=0.3, beta=0.5, k=1.0),
    "beta1": dict(size=3, alpha=0.2, beta=1.0, k=1.0),
    "beta-general": dict(size=7, alpha=0.4, beta=0.6, k=1.2),
}


def tol(dtype, ref):
    """float32: elementwise up to a few ulps, but grad_x subtracts two terms of similar size,
    so atol is relative to the largest |ref| (1e-6 of it). float64 tight."""
    scale = float(np.max(np.abs(ref))) if np.size(ref) else 1.0
    if dtype == np.float64:
        return dict(rtol=1e-10, atol=1e-12 * scale)
    return dict(rtol=1e-5, atol=max(1e-6, 1e-6 * scale))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("params", PARAMS)
@pytest.mark.parametrize("name", SHAPES)
def test_forward_and_backward_match_reference(rng, name, params, dtype):
    kw = PARAMS[params]
    x = (rng.standard_normal(SHAPES[name]) * 3).astype(dtype)
    y = F.local_response_norm(x, **kw)
    y_ref = R.local_response_norm(x.astype(np.float64), **kw)
    assert y.dtype == dtype
    assert_close(y, y_ref, **tol(dtype, y_ref), what=f"{name}/{params} y")
    gy = rng.standard_normal(x.shape).astype(dtype)
    gx = F.local_response_norm_backward(gy, x, **kw)
    gx_ref = R.local_response_norm_backward(gy.astype(np.float64), x.astype(np.float64), **kw)
    assert_close(gx, gx_ref, **tol(dtype, gx_ref), what=f"{name}/{params} grad_x")


def paper_lrn(a, n, k, alpha, beta):
    """Krizhevsky et al. 2012, eq. in section 3.3, as loops:
    b^i = a^i / (k + alpha * sum_{j=max(0, i-n/2)}^{min(N-1, i+n/2)} (a^j)^2)^beta."""
    out = np.empty_like(a)
    nch = a.shape[1]
    for i in range(nch):
        s = sum(a[:, j] ** 2 for j in range(max(0, i - n // 2), min(nch - 1, i + n // 2) + 1))
        out[:, i] = a[:, i] / (k + alpha * s) ** beta
    return out


def test_reference_matches_paper_formula_and_torch_convention(rng):
    a = rng.standard_normal((2, 9, 3, 4)) * 5
    expect = paper_lrn(a, 5, 2.0, 1e-4, 0.75)
    assert_close(R.local_response_norm(a, 5, 1e-4, 0.75, 2.0, alpha_over_size=False), expect, rtol=1e-13, atol=1e-14,
                 what="paper")
    assert_close(R.local_response_norm(a, 5, 5e-4, 0.75, 2.0), expect, rtol=1e-13, atol=1e-14, what="alpha/size")
    assert_close(F.local_response_norm(a, alpha_over_size=False), expect, rtol=1e-12, atol=1e-13, what="native")


@pytest.mark.parametrize("params", ["strong", "even-size", "beta-general"])
def test_reference_backward_matches_finite_differences(rng, params):
    kw = PARAMS[params]
    x = rng.standard_normal((2, 6, 3, 2))
    r = rng.standard_normal(x.shape)
    loss = lambda: float(np.sum(R.local_response_norm(x, **kw) * r))  # noqa: E731
    assert_close(R.local_response_norm_backward(r, x, **kw), numerical_grad(loss, x), rtol=1e-6, atol=1e-8, what="d loss/d x")


def test_one_and_two_threads_bit_identical(rng, threads):
    x = rng.standard_normal((3, 10, 23, 25)).astype(np.float32)
    gy = rng.standard_normal(x.shape).astype(np.float32)
    results = []
    for n in (1, 2):
        threads(n)
        results.append((F.local_response_norm(x), F.local_response_norm_backward(gy, x)))
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)


def test_inputs_not_modified_and_non_contiguous(rng):
    x = rng.standard_normal((2, 8, 5, 12))[:, :, :, ::2]
    gy = rng.standard_normal(x.shape)
    x0, gy0 = x.copy(), gy.copy()
    assert_close(F.local_response_norm_backward(gy, x), R.local_response_norm_backward(gy, x), rtol=1e-12, atol=1e-14, what="gx")
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(gy, gy0)


def test_bad_input_raises():
    x = np.zeros((2, 4, 3, 3), np.float32)
    with pytest.raises(ValueError, match=r"x must be 4-D"):
        F.local_response_norm(x[0])
    with pytest.raises(TypeError, match=r"x must be float32 or float64, got int64"):
        F.local_response_norm(x.astype(np.int64))
    with pytest.raises(ValueError, match=r"size must be >= 1, got 0"):
        F.local_response_norm(x, size=0)
    with pytest.raises(ValueError, match=r"k must be finite and > 0"):
        F.local_response_norm(x, k=0.0)
    with pytest.raises(ValueError, match=r"alpha must be finite and >= 0"):
        F.local_response_norm(x, alpha=-1.0)
    with pytest.raises(ValueError, match=r"grad_out must have shape \(2, 4, 3, 3\)"):
        F.local_response_norm_backward(x[:1], x)
    with pytest.raises(TypeError, match=r"mixed dtypes"):
        F.local_response_norm_backward(x.astype(np.float64), x)
