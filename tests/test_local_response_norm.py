"""local_response_norm / local_response_norm_backward: native vs the NumPy reference over shapes
and parameters (AlexNet's defaults, even sizes, both alpha conventions, special and general betas)
(tests/harness.py: gradients, finite differences, threads), the reference vs the paper's formula,
bad input."""
import numpy as np
import pytest
from harness import DTYPES, assert_close, case, check_op
from nnkern import functional as F
from nnkern import reference as R

SHAPES = [
    case("c1", (1, 1, 3, 3)),
    case("c-below-size", (2, 3, 5, 7)),
    case("c17-odd", (2, 17, 9, 7)),
    case("plane-400", (2, 7, 20, 20)),
    case("hw-1x1", (3, 5, 1, 1)),
    case("alexnet-like", (1, 96, 6, 6)),
]
PARAMS = {
    "alexnet": dict(size=5, alpha=1e-4, beta=0.75, k=2.0),
    "paper-alpha": dict(size=5, alpha=1e-4, beta=0.75, k=2.0, alpha_over_size=False),
    "strong": dict(size=5, alpha=0.5, beta=0.75, k=1.0),
    "even-size": dict(size=4, alpha=0.3, beta=0.75, k=1.5),
    "size1": dict(size=1, alpha=0.3, beta=0.5, k=1.0),
    "beta1": dict(size=3, alpha=0.2, beta=1.0, k=1.0),
    "beta-general": dict(size=7, alpha=0.4, beta=0.6, k=1.2),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("params", PARAMS)
@pytest.mark.parametrize("inputs,kwargs", SHAPES)
def test_local_response_norm(inputs, kwargs, params, dtype):
    check_op("local_response_norm", inputs, dict(kwargs, **PARAMS[params]), dtype=dtype)


@pytest.mark.parametrize("params", ["alexnet", "strong"])
def test_threaded(params):
    check_op("local_response_norm", [(3, 10, 23, 25)], PARAMS[params], dtype=np.float32)


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


def test_inputs_not_modified_and_non_contiguous(rng):
    x = rng.standard_normal((2, 8, 5, 12))[:, :, :, ::2]
    gy = rng.standard_normal(x.shape)
    x0, gy0 = x.copy(), gy.copy()
    assert_close(F.local_response_norm_backward(gy, x), R.local_response_norm_backward(gy, x), rtol=1e-12, atol=1e-14,
                 what="gx")
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
