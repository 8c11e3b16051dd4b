"""Arrays that went through pickle (as mpi4py and multiprocessing send them) carry a fresh
dtype object equal to, but not the same object as, numpy's builtin one: every op accepts them
(dtypes compare by value) and gives the bit-identical result. The other byte order ('>f4') is
refused with a TypeError that says so (tests/error_inputs.py has one case per op and argument)."""
import pickle

import nnkern.functional as F
import numpy as np
import pytest
from nnkern import _core, optimizers
from nnkern.data import pipeline
from sample_inputs import SAMPLE_INPUTS


def unpickled(v):
    return pickle.loads(pickle.dumps(v)) if isinstance(v, np.ndarray) else v


def as_tuple(r):
    return r if isinstance(r, tuple) else (r,)


def same(a, b):
    return (a is None and b is None) or np.array_equal(np.asarray(a), np.asarray(b), equal_nan=True)


def test_unpickled_dtype_is_a_fresh_object():
    a = unpickled(np.ones(3, np.float32))
    assert a.dtype == np.float32 and a.dtype is not np.dtype(np.float32)


@pytest.mark.parametrize("op", sorted(SAMPLE_INPUTS))
def test_every_op_accepts_unpickled_arrays(op):
    args = SAMPLE_INPUTS[op]
    want = as_tuple(getattr(F, op)(*[a.copy() if isinstance(a, np.ndarray) else a for a in args]))
    got = as_tuple(getattr(F, op)(*[unpickled(a) for a in args]))
    assert len(want) == len(got) and all(same(w, g) for w, g in zip(want, got)), op


@pytest.mark.parametrize("rule", ["SGD", "Momentum", "Nesterov", "AdaGrad", "RMSprop", "Adam"])
def test_optimizers_accept_unpickled_params_and_grads(rule):
    rng = np.random.default_rng(0)
    params = {"W": rng.standard_normal((3, 4)).astype(np.float32), "b": rng.standard_normal(4)}
    grads = {k: np.ones_like(v) for k, v in params.items()}
    want, got = {k: v.copy() for k, v in params.items()}, {k: unpickled(v) for k, v in params.items()}
    for p in (want, got):
        opt = getattr(optimizers, rule)()
        for _ in range(2):
            opt.update(p, {k: unpickled(v) for k, v in grads.items()})
    assert all(np.array_equal(want[k], got[k]) for k in params)


def test_core_and_data_loops_accept_unpickled_arrays():
    x = unpickled(np.arange(24, dtype=np.float32).reshape(4, 6))
    assert np.array_equal(_core.relu_forward(x), np.maximum(x, 0))
    idx = unpickled(np.array([2, 0], np.int64))
    assert np.array_equal(pipeline.gather_batch(x, idx), x[[2, 0]])
    im = unpickled(np.arange(16, dtype=np.uint8).reshape(1, 16))
    assert np.allclose(pipeline.normalize(im), im / 255.0)


def test_conv2d_algo_queries_accept_unpickled_dtypes():
    dt = unpickled(np.ones(1, np.float64)).dtype
    assert _core.conv2d_algo_for([1, 3, 8, 8], [4, 3, 3, 3], (1, 1), (1, 1), (1, 1), 1, "forward", dt)


@pytest.mark.parametrize("dtype", [">f4", ">f8"])
def test_big_endian_floats_are_refused_clearly(dtype):
    x = np.arange(6, dtype=dtype).reshape(2, 3)
    with pytest.raises(TypeError, match="non-native byte order"):
        F.relu(x)
    with pytest.raises(TypeError, match="non-native byte order"):
        pipeline.gather_batch(x, np.array([1, 0]))
    with pytest.raises(TypeError, match="non-native byte order"):
        optimizers.SGD().update({"W": x}, {"W": np.ones(x.shape, dtype)})


def test_other_byte_order_integers_are_refused_or_converted_by_value():
    """Labels are converted to int64 by value (the wrapper's documented cast); pooling indices,
    which the kernel reads as offsets, are refused."""
    logits = np.random.default_rng(1).standard_normal((3, 4)).astype(np.float32)
    labels = np.array([3, 0, 2])
    assert F.softmax_cross_entropy(logits, labels.astype(">i8"))[0] == F.softmax_cross_entropy(logits, labels)[0]
    idx = np.zeros((1, 1, 1, 1), ">i8")
    with pytest.raises(TypeError, match="indices .*non-native byte order"):
        F.max_pool2d_backward(np.ones((1, 1, 1, 1), np.float32), idx, (1, 1, 2, 2))
