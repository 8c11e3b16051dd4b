"""softmax_cross_entropy / softmax_cross_entropy_backward: native vs the NumPy reference,
integer labels and one-hot targets, extreme logits, finite differences, inputs left
untouched, bad input, and a loss that is bit-identical for 1 and 2 threads."""
import numpy as np
import pytest
from conftest import assert_close, numerical_grad
from nnkern import functional as F
from nnkern import reference as R

CASES = {  # (N, K)
    "n1": (1, 10),
    "k1": (4, 1),
    "odd": (7, 3),
    "mnist-batch": (100, 10),
    "k-simd-15": (5, 15),
    "k-simd-16": (5, 16),
    "k-simd-17": (5, 17),
    "k-simd-31": (3, 31),
    "k-simd-32": (3, 32),
    "k-simd-33": (3, 33),
    "imagenet-k": (9, 1000),
    "threaded": (700, 110),
}
TOL = {np.float32: dict(rtol=1e-5, atol=1e-6), np.float64: dict(rtol=1e-12, atol=1e-13)}


def make(rng, name, dtype, scale=3.0):
    n, k = CASES[name]
    logits = (rng.standard_normal((n, k)) * scale).astype(dtype)
    labels = rng.integers(0, k, n)
    return logits, labels


def onehot(labels, k, dtype):
    t = np.zeros((len(labels), k), dtype)
    t[np.arange(len(labels)), labels] = 1
    return t


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("target_kind", ["labels", "onehot"])
@pytest.mark.parametrize("name", CASES)
def test_matches_reference(rng, name, target_kind, dtype):
    logits, labels = make(rng, name, dtype)
    target = labels if target_kind == "labels" else onehot(labels, logits.shape[1], dtype)
    loss, probs = F.softmax_cross_entropy(logits, target)
    loss_ref, probs_ref = R.softmax_cross_entropy(logits.astype(np.float64), target)
    assert isinstance(loss, float) and probs.dtype == dtype
    assert_close(loss, loss_ref, **TOL[dtype], what="loss")
    assert_close(probs, probs_ref, **TOL[dtype], what="probs")
    for grad_loss in (1.0, 0.25):
        g = F.softmax_cross_entropy_backward(probs, target, grad_loss)
        g_ref = R.softmax_cross_entropy_backward(probs.astype(np.float64), target, grad_loss)
        assert g.dtype == dtype
        assert_close(g, g_ref, **TOL[dtype], what=f"grad (grad_loss={grad_loss})")


def test_labels_and_onehot_agree_and_label_dtypes_are_accepted(rng):
    logits, labels = make(rng, "mnist-batch", np.float32)
    loss, probs = F.softmax_cross_entropy(logits, labels)
    g = F.softmax_cross_entropy_backward(probs, labels)
    for target in (onehot(labels, 10, np.float32), onehot(labels, 10, np.int64), onehot(labels, 10, bool),
                   labels.astype(np.int32), labels.astype(np.uint8), list(labels)):
        loss2, probs2 = F.softmax_cross_entropy(logits, target)
        assert loss2 == pytest.approx(loss, rel=1e-6)
        np.testing.assert_array_equal(probs2, probs)
        assert_close(F.softmax_cross_entropy_backward(probs, target), g, rtol=1e-6, atol=1e-9, what="grad")


def test_soft_targets_match_reference(rng):
    logits = rng.standard_normal((6, 5))
    t = R.softmax(rng.standard_normal((6, 5)))  # rows sum to 1
    loss, probs = F.softmax_cross_entropy(logits, t)
    assert_close(loss, R.softmax_cross_entropy(logits, t)[0], **TOL[np.float64], what="loss")
    assert_close(F.softmax_cross_entropy_backward(probs, t), R.softmax_cross_entropy_backward(probs, t),
                 **TOL[np.float64], what="grad")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_extreme_logits_are_finite(dtype):
    logits = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4], [1e4, 1e4, -1e4], [-1e4, 1e4, 0.0]], dtype)
    labels = np.array([1, 0, 2, 1])
    for target in (labels, onehot(labels, 3, dtype)):
        loss, probs = F.softmax_cross_entropy(logits, target)
        loss_ref, probs_ref = R.softmax_cross_entropy(logits.astype(np.float64), target)
        assert np.isfinite(loss) and np.isfinite(probs).all()
        assert_close(loss, loss_ref, **TOL[dtype], what="loss")  # (2e4 + log 3 + 2e4 + 0) / 4
        assert_close(probs, probs_ref, **TOL[dtype], what="probs")
        g = F.softmax_cross_entropy_backward(probs, target)
        assert np.isfinite(g).all()


def test_reference_backward_matches_finite_differences(rng):
    logits = rng.standard_normal((4, 5)) * 2
    labels = rng.integers(0, 5, 4)
    for target in (labels, onehot(labels, 5, np.float64)):
        loss = lambda target=target: 0.7 * R.softmax_cross_entropy(logits, target)[0]  # noqa: E731
        probs = R.softmax_cross_entropy(logits, target)[1]
        g = R.softmax_cross_entropy_backward(probs, target, grad_loss=0.7)
        assert_close(g, numerical_grad(loss, logits), rtol=1e-6, atol=1e-9, what="d loss/d logits")


def test_native_float64_matches_finite_differences(rng):
    logits = rng.standard_normal((3, 7)) * 2
    labels = rng.integers(0, 7, 3)
    loss = lambda: F.softmax_cross_entropy(logits, labels)[0]  # noqa: E731
    g = F.softmax_cross_entropy_backward(F.softmax_cross_entropy(logits, labels)[1], labels)
    assert_close(g, numerical_grad(loss, logits), rtol=1e-6, atol=1e-9, what="native d loss/d logits")


def test_backward_does_not_modify_inputs(rng):
    logits, labels = make(rng, "odd", np.float32)
    t = onehot(labels, logits.shape[1], np.float32)
    _, probs = F.softmax_cross_entropy(logits, labels)
    before = [a.copy() for a in (probs, labels, t)]
    F.softmax_cross_entropy_backward(probs, labels)
    F.softmax_cross_entropy_backward(probs, t)
    R.softmax_cross_entropy_backward(probs, labels)
    for a, b in zip((probs, labels, t), before):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("shape", [(8192, 10), (256, 1000)])
def test_one_two_three_threads_bit_identical(rng, threads, shape):
    logits = rng.standard_normal(shape).astype(np.float32) * 3
    labels = rng.integers(0, shape[1], shape[0])
    t = onehot(labels, shape[1], np.float32)
    out = []
    for n in (1, 2, 3):
        threads(n)
        l1, p1 = F.softmax_cross_entropy(logits, labels)
        l2, _ = F.softmax_cross_entropy(logits, t)
        out.append((l1, l2, p1, F.softmax_cross_entropy_backward(p1, labels), F.softmax_cross_entropy_backward(p1, t)))
    for other in out[1:]:
        assert other[0] == out[0][0] and other[1] == out[0][1]
        for a, b in zip(out[0][2:], other[2:]):
            np.testing.assert_array_equal(a, b)


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
