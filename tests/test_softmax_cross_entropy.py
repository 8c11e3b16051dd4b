"""softmax_cross_entropy / softmax_cross_entropy_backward: native vs the NumPy reference on a table
of shapes with integer labels, one-hot and soft targets (tests/harness.py: gradients, finite
differences, a loss bit-identical for 1, 2 and 3 threads), label dtypes, extreme logits, bad input."""
import numpy as np
import pytest
from harness import DTYPES, assert_close, case, check_op
from nnkern import functional as F

CASES = [  # logits (N, K)
    case("n1", (1, 10)),
    case("k1", (4, 1)),
    case("odd", (7, 3)),
    case("mnist-batch", (100, 10)),
    case("k-simd-15", (5, 15)),
    case("k-simd-16", (5, 16)),
    case("k-simd-17", (5, 17)),
    case("k-simd-31", (3, 31)),
    case("k-simd-32", (3, 32)),
    case("k-simd-33", (3, 33)),
    case("imagenet-k", (9, 1000)),
    case("threaded", (700, 110)),
    case("threaded-tall", (8192, 10)),
    case("threaded-wide", (256, 1000)),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("target", ["labels", "onehot", "soft"])
@pytest.mark.parametrize("inputs,kwargs", CASES)
def test_softmax_cross_entropy(inputs, kwargs, target, dtype):
    check_op("softmax_cross_entropy", [inputs[0], target], kwargs, dtype=dtype)


def make(rng, shape, dtype, scale=3.0):
    n, k = shape
    logits = (rng.standard_normal((n, k)) * scale).astype(dtype)
    return logits, rng.integers(0, k, n)


def onehot(labels, k, dtype):
    t = np.zeros((len(labels), k), dtype)
    t[np.arange(len(labels)), labels] = 1
    return t


TARGETS = {  # other spellings of the same integer labels
    "onehot-float32": lambda t: onehot(t, 10, np.float32),
    "onehot-int64": lambda t: onehot(t, 10, np.int64),
    "onehot-bool": lambda t: onehot(t, 10, bool),
    "labels-int32": lambda t: t.astype(np.int32),
    "labels-uint8": lambda t: t.astype(np.uint8),
    "labels-list": list,
}


@pytest.mark.parametrize("spelling", TARGETS)
def test_labels_and_onehot_agree_and_label_dtypes_are_accepted(rng, spelling):
    logits, labels = make(rng, (100, 10), np.float32)
    loss, probs = F.softmax_cross_entropy(logits, labels)
    g = F.softmax_cross_entropy_backward(probs, labels)
    target = TARGETS[spelling](labels)
    loss2, probs2 = F.softmax_cross_entropy(logits, target)
    assert loss2 == pytest.approx(loss, rel=1e-6)
    np.testing.assert_array_equal(probs2, probs)
    assert_close(F.softmax_cross_entropy_backward(probs, target), g, rtol=1e-6, atol=1e-9, what="grad")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", ["labels", "onehot"])
def test_extreme_logits_are_finite(kind, dtype):
    logits = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4], [1e4, 1e4, -1e4], [-1e4, 1e4, 0.0]], dtype)
    labels = np.array([1, 0, 2, 1])  # loss (2e4 + log 3 + 2e4 + 0) / 4
    target = labels if kind == "labels" else onehot(labels, 3, dtype)
    out = check_op("softmax_cross_entropy", [logits, target], dtype=dtype, fd=False)  # |loss| 1e4: no FD accuracy
    assert np.isfinite(out["loss"]) and np.isfinite(out["probs"]).all() and np.isfinite(out["grad_logits"]).all()


def test_bad_input_raises():
    logits = np.zeros((4, 10), np.float32)
    with pytest.raises(ValueError, match=r"labels must be in \[0, 10\), got 10 at index 2"):
        F.softmax_cross_entropy(logits, [0, 1, 10, 3])
    with pytest.raises(ValueError, match=r"labels must be in \[0, 10\), got -1 at index 0"):
        F.softmax_cross_entropy_backward(logits, np.array([-1, 1, 2, 3]))
    with pytest.raises(ValueError, match=r"target must be labels of shape \(4,\) or one-hot of shape \(4, 10\), "
                                         r"got int64 shape \(5,\)"):
        F.softmax_cross_entropy(logits, np.zeros(5, np.int64))
    with pytest.raises(ValueError, match=r"got int64 shape \(4, 1, 1\)"):
        F.softmax_cross_entropy(logits, np.zeros((4, 1, 1), np.int64))
    with pytest.raises(ValueError, match=r"one-hot of shape \(4, 10\), got shape \(4, 9\)"):
        F.softmax_cross_entropy(logits, np.zeros((4, 9), np.float32))
    with pytest.raises(ValueError, match=r"got shape \(4,\)"):  # float labels are not labels
        F.softmax_cross_entropy(logits, np.zeros(4, np.float32))
    with pytest.raises(ValueError, match=r"logits must be 2-D \(N, K\)"):
        F.softmax_cross_entropy(np.zeros(10, np.float32), [1])
    with pytest.raises(ValueError, match=r"at least one row and one class"):
        F.softmax_cross_entropy(np.zeros((0, 10), np.float32), np.zeros(0, np.int64))
    with pytest.raises(TypeError, match=r"logits must be float32 or float64, got int64"):
        F.softmax_cross_entropy(logits.astype(np.int64), [0, 1, 2, 3])
    with pytest.raises(TypeError, match=r"target must be int64 labels or a one-hot array of the dtype of logits "
                                        r"\(float32\), got float64"):
        F.softmax_cross_entropy(logits, np.zeros((4, 10)))
    with pytest.raises(TypeError, match=r"probs must be float32 or float64, got float16"):
        F.softmax_cross_entropy_backward(logits.astype(np.float16), [0, 1, 2, 3])
