"""relu / sigmoid / tanh / softmax, forward and backward: native vs the NumPy reference on tables
of shapes (tests/harness.py: gradients, finite differences, threads, inputs left untouched),
extreme inputs, accuracy near 0, NaN, bad input."""
import numpy as np
import pytest
from cases import ELEMENTWISE_SHAPES
from harness import DTYPES, TOL, assert_close, case, check_op, op_test
from nnkern import functional as F
from nnkern import reference as R

SHAPES = ELEMENTWISE_SHAPES + [
    case("2d-odd-5x17", (5, 17)),
    case("threaded-100001", (3, 100001)),  # above 2x the largest per-thread grain (2^17)
    case("threaded-1d", (300000,)),
]
ELEMENTWISE = ["relu", "sigmoid", "tanh"]

AXES = [  # shape; axis
    case("rows-k1", (4, 1), axis=-1),
    case("rows-n1", (1, 10), axis=-1),
    case("rows-odd", (7, 13), axis=1),
    case("rows-simd-15", (3, 15), axis=-1),
    case("rows-simd-16", (3, 16), axis=-1),
    case("rows-simd-17", (3, 17), axis=-1),
    case("rows-simd-33", (2, 33), axis=-1),
    case("rows-1000", (5, 1000), axis=-1),
    case("1d", (19,), axis=0),
    case("axis0", (9, 5), axis=0),
    case("axis1-of-3d", (3, 7, 5), axis=1),
    case("axis1-of-3d-small", (2, 4, 3), axis=1),
    case("axis0-of-3d", (6, 2, 17), axis=0),
    case("nchw-channels", (2, 10, 3, 3), axis=1),
    case("threaded-rows", (700, 100), axis=-1),
    case("threaded-strided", (60, 30, 40), axis=1),
    case("threaded-long-rows", (3, 100000), axis=-1),
    case("threaded-short-rows", (2000, 37), axis=-1),
    case("threaded-strided-odd", (40, 50, 41), axis=1),
    case("threaded-1d", (300000,), axis=0),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("inputs,kwargs", SHAPES)
@pytest.mark.parametrize("op", ELEMENTWISE)
def test_elementwise(op, inputs, kwargs, dtype):
    check_op(op, inputs, kwargs, dtype=dtype)


test_softmax = op_test("softmax", AXES)


def test_softmax_default_axis_is_last(rng):
    x = rng.standard_normal((3, 4, 5))
    np.testing.assert_array_equal(F.softmax(x), F.softmax(x, axis=2))


EXTREME = np.array([[1e4, -1e4, 0.0, 88.5, -88.5, 710.0, -710.0, 1e-30, -1e-30, 20.0, -20.0]])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("op", ELEMENTWISE)
def test_extreme_inputs_saturate_without_nan(op, dtype):
    check_op(op, [EXTREME.astype(dtype)], dtype=dtype, fd=False)  # relu's kink at 0 and 1e-30
    assert (F.sigmoid(np.array([1e4, -1e4], dtype)) >= 0).all()


@pytest.mark.parametrize("dtype", DTYPES)
def test_extreme_logits_softmax_without_nan(dtype):
    logits = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4], [1e4, 1e4, -1e4]], dtype)
    check_op("softmax", [logits], dtype=dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_tanh_and_sigmoid_are_relatively_accurate_near_zero(dtype):
    """tanh is computed from expm1 (no 1 - exp cancellation): a few ulp relative to the result."""
    x = np.concatenate([np.geomspace(1e-30, 1.0, 500), -np.geomspace(1e-30, 1.0, 500)]).astype(dtype)
    eps = np.finfo(dtype).eps
    assert_close(F.tanh(x), np.tanh(x.astype(np.float64)), rtol=8 * eps, atol=0, what="tanh")
    assert_close(F.sigmoid(x), R.sigmoid(x.astype(np.float64)), rtol=8 * eps, atol=0, what="sigmoid")


def test_nan_propagates():
    x = np.array([np.nan, 1.0, -1.0], np.float32)
    assert np.isnan(F.relu(x)[0]) and np.isnan(F.sigmoid(x)[0]) and np.isnan(F.tanh(x)[0])
    assert np.isnan(F.softmax(x)).all()


def test_non_contiguous_input_is_copied_correctly(rng):
    x = (rng.standard_normal((6, 20)) * 3)[:, ::3]
    assert not x.flags.c_contiguous
    assert_close(F.sigmoid(x), R.sigmoid(x), **TOL[np.float64], what="sigmoid view")
    assert_close(F.softmax(x.T, axis=0), R.softmax(x.T, 0), **TOL[np.float64], what="softmax view")


@pytest.mark.parametrize("fn", [F.relu, F.sigmoid, F.tanh, F.softmax])
def test_bad_dtype_raises_type_error(fn):
    with pytest.raises(TypeError, match=r"x must be float32 or float64, got int64"):
        fn(np.zeros((2, 3), np.int64))
    with pytest.raises(TypeError, match=r"x must be float32 or float64, got float16"):
        fn(np.zeros((2, 3), np.float16))


def test_bad_backward_arguments_raise():
    x = np.zeros((2, 3), np.float32)
    with pytest.raises(TypeError, match=r"mixed dtypes"):
        F.relu_backward(x.astype(np.float64), x)
    with pytest.raises(TypeError, match=r"y must be float32 or float64, got int32"):
        F.sigmoid_backward(x, x.astype(np.int32))
    with pytest.raises(ValueError, match=r"grad_out must have shape \(2, 3\), got \(3, 2\)"):
        F.tanh_backward(np.zeros((3, 2), np.float32), x)
    with pytest.raises(ValueError, match=r"grad_out must have shape \(2, 3\)"):
        F.softmax_backward(np.zeros(6, np.float32), x)
    with pytest.raises(TypeError, match=r"mixed dtypes"):
        F.softmax_backward(x, x.astype(np.float64))


def test_softmax_bad_axis_raises():
    x = np.zeros((2, 3), np.float32)
    with pytest.raises(ValueError, match=r"axis 2 is out of range for a 2-D array"):
        F.softmax(x, axis=2)
    with pytest.raises(ValueError, match=r"axis -3 is out of range"):
        F.softmax_backward(x, x, axis=-3)
    with pytest.raises(ValueError, match=r"at least 1 dimension"):
        F.softmax(np.float32(1.0))
