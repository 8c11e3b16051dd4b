"""The tolerance rule of the kernel tests (one place) and the comparisons that apply it.

float32 native vs the float64 reference: rtol 1e-5, atol 1e-6 (elementwise ops and short
reductions); float64: rtol 1e-12, atol 1e-13. Exceptions (the functions <op>_tol below, each with its reason):
  conv2d, affine       sums of n products: atol grows like sqrt(n) * eps * max|ref| (reduction_tol)
  batch_norm           statistics over M = N*H*W elements; grad_x is a cancelling sum
  local_response_norm  grad_x subtracts two terms of similar size: atol relative to max|ref|
  dropout              one rounding apart: tighter than the default
  max_pool2d, im2col, dropout's mask: values selected or copied, not computed: bit for bit
Finite differences (float64, central, step 1e-6, of sum(output * upstream gradient) as a sum
of elementwise differences): rtol 1e-6, atol 1e-8, or 1e-7 for the ops with sums over windows
(conv2d, pooling, batch_norm) and 1e-9 for dropout (linear). softmax_cross_entropy's loss is one
rounded scalar: each row's term logsumexp - <t, logits> (about 5 here) carries a few eps64 of
rounding, which the difference divides by 2e-6, about 1e-9: atol 1e-8.
"""
from dataclasses import dataclass

import numpy as np

TOL = {np.float32: dict(rtol=1e-5, atol=1e-6), np.float64: dict(rtol=1e-12, atol=1e-13)}
FD_TOL = dict(rtol=1e-6, atol=1e-8)
FD_TOL_WINDOWS = dict(rtol=1e-6, atol=1e-7)
FD_TOL_TIGHT = dict(rtol=1e-6, atol=1e-9)


def assert_close(actual, expected, rtol, atol, what=""):
    """allclose with a message that names the worst element; NaN anywhere fails."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    assert not np.isnan(actual).any(), f"{what}: NaN in output (unwritten element?)"
    err = np.abs(actual.astype(np.float64) - expected.astype(np.float64))
    bound = atol + rtol * np.abs(expected.astype(np.float64))
    if not (err <= bound).all():
        i = tuple(int(v) for v in np.unravel_index(np.argmax(err - bound), err.shape))
        raise AssertionError(f"{what}: max violation at {i}: got {actual[i]!r}, want {expected[i]!r} "
                             f"(|err| {err[i]:.3g} > {bound[i]:.3g}; rtol {rtol}, atol {atol})")


def assert_equal(actual, expected, what=""):
    """Equality (dtype and shape included; NaN equals NaN, as in np.testing.assert_array_equal) with a
    message naming the first difference."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.dtype == expected.dtype, f"{what}: dtype {actual.dtype} != {expected.dtype}"
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    if actual.tobytes() == expected.tobytes():  # the fast path: identical bits
        return
    same = (actual == expected) | (np.isnan(actual) & np.isnan(expected) if actual.dtype.kind == "f" else False)
    if not np.all(same):
        i = tuple(int(v[0]) for v in np.nonzero(~same))
        raise AssertionError(f"{what}: {int((~same).sum())} elements differ, first at {i}: "
                             f"got {actual[i]!r}, want {expected[i]!r}")


def reduction_tol(dtype, n, ref):
    """Sums of n products vs a float64 reference. A float32 sum's rounding error grows like
    sqrt(n) * eps * (size of the partial sums), and cancellation makes single outputs small while
    the partial sums were large, so atol is sqrt(n) * eps32 * max|ref| (3 sigma) instead of the
    1e-6 that suits elementwise ops; rtol stays 1e-5. float64: 1e-10 and 1e-14 * sqrt(n) * max|ref|."""
    scale = float(np.max(np.abs(ref))) if np.size(ref) else 1.0
    if dtype == np.float64:
        return dict(rtol=1e-10, atol=1e-14 * np.sqrt(n) * scale + 1e-14)
    return dict(rtol=1e-5, atol=max(1e-6, 3 * 6e-8 * np.sqrt(n) * scale))


@dataclass(frozen=True)
class Ctx:
    """What a tolerance function may look at: the dtype, the output's name and reference value,
    the inputs, kwargs, native forward outputs and upstream gradients of the case."""
    dtype: type
    name: str
    ref: object
    xs: list
    kw: dict
    outs: dict
    grads: dict


def conv2d_tol(c):
    """reduction_tol with n = C/groups*KH*KW for y, OC/groups*KH*KW*... (the weight's size) for
    grad_x and N*OH*OW for grad_weight and grad_bias."""
    w, y = c.xs[1], c.outs["y"]
    n = {"grad_x": w.size, "grad_weight": y.size // y.shape[1], "grad_bias": y.size // y.shape[1]}
    from conv2d_auto_tol import widen_for_auto_algo  # Winograd's bound where auto picks it
    return widen_for_auto_algo(c, reduction_tol(c.dtype, n.get(c.name, w[0].size), c.ref))


def affine_tol(c):
    """reduction_tol with n = in for y, out for grad_x and N for grad_weight and grad_bias."""
    w, x = c.xs[1], c.xs[0]
    n = {"grad_x": w.shape[1], "grad_weight": x.shape[0], "grad_bias": x.shape[0]}
    return reduction_tol(c.dtype, n.get(c.name, w.shape[0]), c.ref)


def batch_norm_tol(c):
    """float32: the statistics are reductions over M = N*H*W elements (double accumulators, but the
    inputs and the folded scale/shift are rounded to float32): rtol 1e-5, atol 2e-6; grad_weight and
    grad_bias are sums of M terms: atol * sqrt(M). In training grad_x is A*gy + B*(x - mean) + C per
    channel, a cancelling sum (for N = 2 nearly 0): its error is bounded by the size of the terms,
    |gamma*invstd| * max|gy|, times (1 + |mean|*invstd) because the saved mean is rounded to float32
    (delta <= 6e-8 |mean|) and the reference's chain rule keeps sum(x - mean), which the closed form
    takes as 0. The worst observed over 9000 random N=2/3 cases is 1.3e-7 of that scale; allow 1e-6.
    float64: rtol 1e-10, atol 1e-11."""
    x, w = c.xs[0], c.xs[1]
    m = x.size // x.shape[1]
    t = dict(rtol=1e-10, atol=1e-11) if c.dtype == np.float64 else dict(rtol=1e-5, atol=2e-6)
    if c.name in ("grad_weight", "grad_bias"):
        return dict(rtol=t["rtol"], atol=t["atol"] * max(1.0, np.sqrt(m)))
    if c.name != "grad_x" or c.dtype == np.float64 or not c.kw.get("training", False):
        return t
    gy, mean, invstd = c.grads["y"], c.outs["save_mean"], c.outs["save_invstd"]
    axes = (0,) if gy.ndim == 2 else (0, 2, 3)
    gamma = np.ones_like(invstd) if w is None else np.abs(w).astype(np.float64)
    scale = gamma * invstd * (1 + np.abs(mean) * invstd)
    scale = scale.reshape((1, -1) + (1,) * (gy.ndim - 2)) * np.abs(gy).max(axis=axes, keepdims=True)
    return dict(rtol=t["rtol"], atol=t["atol"] + 1e-6 * scale)


def local_response_norm_tol(c):
    """float32: elementwise up to a few ulps, but grad_x subtracts two terms of similar size, so atol
    is relative to the largest |ref| (1e-6 of it). float64: rtol 1e-10, atol 1e-12 of max|ref|."""
    scale = float(np.max(np.abs(c.ref))) if np.size(c.ref) else 1.0
    if c.dtype == np.float64:
        return dict(rtol=1e-10, atol=1e-12 * scale)
    return dict(rtol=1e-5, atol=max(1e-6, 1e-6 * scale))


def dropout_tol(c):
    """One multiplication (and one division) per element on both sides: one rounding apart."""
    return dict(rtol=1e-6, atol=0) if c.dtype == np.float32 else dict(rtol=1e-15, atol=0)

