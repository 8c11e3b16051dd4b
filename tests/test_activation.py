"""relu / sigmoid / tanh / softmax, forward and backward: native vs the NumPy reference,
the reference backward vs finite differences, extreme inputs, inputs left untouched,
bad input, and 1 vs 2 threads."""
import numpy as np
import pytest
from conftest import assert_close, numerical_grad
from nnkern import functional as F
from nnkern import reference as R

# Named shape families: sizes around the SIMD widths (8 / 16 / 32 lanes), odd sizes,
# N=1, higher rank, and one above the threading grain (2 * 16384 elements).
SHAPES = {
    "n1": (1,),
    "odd-7": (7,),
    "simd-8": (8,),
    "simd-9": (9,),
    "simd-15": (15,),
    "simd-16": (16,),
    "simd-17": (17,),
    "simd-31": (31,),
    "simd-32": (32,),
    "simd-33": (33,),
    "2d-odd": (5, 17),
    "4d-odd": (2, 3, 5, 7),
    "threaded": (3, 100001),  # above 2x the largest per-thread grain (2^17)
    "empty": (0, 4),
}

ELEMENTWISE = {  # name: (native forward, native backward, reference forward, reference backward, backward uses y)
    "relu": (F.relu, F.relu_backward, R.relu, R.relu_backward, False),
    "sigmoid": (F.sigmoid, F.sigmoid_backward, R.sigmoid, R.sigmoid_backward, True),
    "tanh": (F.tanh, F.tanh_backward, R.tanh, R.tanh_backward, True),
}

TOL = {np.float32: dict(rtol=1e-5, atol=1e-6), np.float64: dict(rtol=1e-12, atol=1e-13)}


def data(rng, shape, dtype, scale=3.0):
    return (rng.standard_normal(shape) * scale).astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("op", ELEMENTWISE)
def test_elementwise_matches_reference(rng, op, shape, dtype):
    fwd, bwd, rfwd, rbwd, uses_y = ELEMENTWISE[op]
    x = data(rng, SHAPES[shape], dtype)
    gy = data(rng, x.shape, dtype, 1.0)
    y = fwd(x)
    assert y.dtype == dtype and y.shape == x.shape
    y_ref = rfwd(x.astype(np.float64))
    assert_close(y, y_ref, **TOL[dtype], what=f"{op} forward")
    a = y if uses_y else x  # what the backward reads: the forward output, or the input for relu
    gx = bwd(gy, a)
    assert gx.dtype == dtype
    assert_close(gx, rbwd(gy.astype(np.float64), a.astype(np.float64)), **TOL[dtype], what=f"{op} backward")


AXES = {  # name: (shape, axis)
    "rows-k1": ((4, 1), -1),
    "rows-n1": ((1, 10), -1),
    "rows-odd": ((7, 13), 1),
    "rows-simd-15": ((3, 15), -1),
    "rows-simd-16": ((3, 16), -1),
    "rows-simd-17": ((3, 17), -1),
    "rows-simd-33": ((2, 33), -1),
    "rows-1000": ((5, 1000), -1),
    "1d": ((19,), 0),
    "axis0": ((9, 5), 0),
    "axis1-of-3d": ((3, 7, 5), 1),
    "axis0-of-3d": ((6, 2, 17), 0),
    "nchw-channels": ((2, 10, 3, 3), 1),
    "threaded-rows": ((700, 100), -1),
    "threaded-strided": ((60, 30, 40), 1),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", AXES)
def test_softmax_matches_reference(rng, name, dtype):
    shape, axis = AXES[name]
    x = data(rng, shape, dtype)
    gy = data(rng, shape, dtype, 1.0)
    y = F.softmax(x, axis=axis)
    assert y.dtype == dtype
    assert_close(y, R.softmax(x.astype(np.float64), axis), **TOL[dtype], what="softmax")
    assert_close(y.sum(axis=axis), np.ones(y.sum(axis=axis).shape), rtol=0, atol=10 * np.finfo(dtype).eps * shape[axis],
                 what="softmax sums to 1")
    gx = F.softmax_backward(gy, y, axis=axis)
    assert_close(gx, R.softmax_backward(gy.astype(np.float64), y.astype(np.float64), axis), **TOL[dtype],
                 what="softmax backward")


def test_softmax_default_axis_is_last(rng):
    x = data(rng, (3, 4, 5), np.float64)
    np.testing.assert_array_equal(F.softmax(x), F.softmax(x, axis=2))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_extreme_inputs_saturate_without_nan(dtype):
    x = np.array([[1e4, -1e4, 0.0, 88.5, -88.5, 710.0, -710.0, 1e-30, -1e-30, 20.0, -20.0]], dtype)
    x64 = x.astype(np.float64)
    for native, ref in ((F.sigmoid, R.sigmoid), (F.tanh, R.tanh), (F.relu, R.relu)):
        assert_close(native(x), ref(x64), **TOL[dtype], what=native.__name__)
    logits = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4], [1e4, 1e4, -1e4]], dtype)
    y = F.softmax(logits)
    assert_close(y, R.softmax(logits.astype(np.float64)), **TOL[dtype], what="softmax")
    np.testing.assert_array_equal(F.sigmoid(np.array([1e4, -1e4], dtype)) >= 0, True)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
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


# Finite differences of the reference backwards (float64), loss = sum(f(x) * r).
@pytest.mark.parametrize("op", ELEMENTWISE)
def test_reference_backward_matches_finite_differences(rng, op):
    _, _, rfwd, rbwd, uses_y = ELEMENTWISE[op]
    x = rng.standard_normal((3, 5)) * 2
    x[np.abs(x) < 1e-3] = 0.5  # relu's kink
    r = rng.standard_normal(x.shape)
    loss = lambda: float(np.sum(rfwd(x) * r))  # noqa: E731
    g = rbwd(r, rfwd(x) if uses_y else x)
    assert_close(g, numerical_grad(loss, x), rtol=1e-6, atol=1e-8, what=f"d loss/d x ({op})")


@pytest.mark.parametrize("shape,axis", [((4, 6), -1), ((5, 3), 0), ((2, 4, 3), 1)])
def test_reference_softmax_backward_matches_finite_differences(rng, shape, axis):
    x = rng.standard_normal(shape) * 2
    r = rng.standard_normal(shape)
    loss = lambda: float(np.sum(R.softmax(x, axis) * r))  # noqa: E731
    g = R.softmax_backward(r, R.softmax(x, axis), axis)
    assert_close(g, numerical_grad(loss, x), rtol=1e-6, atol=1e-8, what="d loss/d x (softmax)")


def test_native_float64_backward_matches_finite_differences(rng):
    x = rng.standard_normal((3, 7)) * 2
    r = rng.standard_normal(x.shape)
    for fwd, bwd, uses_y in ((F.sigmoid, F.sigmoid_backward, True), (F.tanh, F.tanh_backward, True),
                             (F.softmax, F.softmax_backward, True), (F.relu, F.relu_backward, False)):
        loss = lambda fwd=fwd: float(np.sum(fwd(x) * r))  # noqa: E731
        g = bwd(r, fwd(x) if uses_y else x)
        assert_close(g, numerical_grad(loss, x), rtol=1e-6, atol=1e-8, what=f"native {fwd.__name__}")


def test_backward_does_not_modify_inputs(rng):
    x = data(rng, (6, 9), np.float32)
    x[0, :3] = 0.0
    gy = data(rng, x.shape, np.float32)
    pairs = [(F.relu, F.relu_backward, R.relu_backward, False),
             (F.sigmoid, F.sigmoid_backward, R.sigmoid_backward, True),
             (F.tanh, F.tanh_backward, R.tanh_backward, True),
             (F.softmax, F.softmax_backward, R.softmax_backward, True)]
    for fwd, bwd, rbwd, uses_y in pairs:
        a = fwd(x) if uses_y else x.copy()
        a_before, gy_before = a.copy(), gy.copy()
        bwd(gy, a)
        rbwd(gy, a)  # the book's Relu.backward overwrote dout; neither implementation may
        np.testing.assert_array_equal(a, a_before)
        np.testing.assert_array_equal(gy, gy_before)


def test_non_contiguous_input_is_copied_correctly(rng):
    x = data(rng, (6, 20), np.float64)[:, ::3]
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


@pytest.mark.parametrize("shape,axis", [((3, 100000), -1), ((2000, 37), -1), ((40, 50, 41), 1), ((300000,), 0)])
def test_one_two_three_threads_bit_identical(rng, threads, shape, axis):
    x = data(rng, shape, np.float32)
    gy = data(rng, shape, np.float32)
    results = []
    for n in (1, 2, 3):
        threads(n)
        y = F.softmax(x, axis=axis)
        results.append((y, F.softmax_backward(gy, y, axis=axis), F.relu(x), F.relu_backward(gy, x),
                        F.sigmoid(x), F.tanh(x), F.sigmoid_backward(gy, y), F.tanh_backward(gy, y)))
    for other in results[1:]:
        for a, b in zip(results[0], other):
            np.testing.assert_array_equal(a, b)
