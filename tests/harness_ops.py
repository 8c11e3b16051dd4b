"""The ops that tests/harness.py's check_op knows: adapters over a backend module
(``nnkern.functional`` or ``nnkern.reference``), so one adapter drives both.

forward(B, xs, kw) and backward(B, grads, xs, outs, kw) return dicts of named outputs, which
check_op compares between the backends. conventions(B, xs, kw, outs, grads, gx), run on both
backends, asserts what holds within one backend: which outputs are None, and that variants
(masked gradients, the value-only path, the torch-style wrapper) equal the full result.
A new op is one entry of OPS.
"""
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import tolerances as T
from tolerances import assert_close, assert_equal


@dataclass(frozen=True)
class Op:
    forward: Callable
    backward: Callable | None = None
    make: Callable | None = None  # (rng, inputs, dtype, kw) -> arrays; default: N(0, scale^2) per shape
    scale: float = 1.0
    grad_of: tuple = ("y",)  # forward outputs that receive an upstream gradient
    wrt: tuple = ()  # (backward output, input index) pairs for finite differences
    exact: frozenset = frozenset()  # outputs equal bit for bit to the reference (rounded to the dtype)
    tol: Callable | None = None  # Ctx -> dict(rtol, atol), or None for TOL[dtype]
    fd_tol: dict | None = None  # finite differences: None for T.FD_TOL
    primal: Callable | None = None  # only the outputs in grad_of, for finite differences (default: forward)
    conventions: Callable | None = None
    threads: tuple = (1, 2)  # thread counts whose results must be bit-identical


def _max_pool2d(B, xs, kw):
    y, idx = B.max_pool2d(xs[0], return_indices=True, **kw)
    return {"y": y, "indices": idx}


def _max_pool2d_conventions(B, xs, kw, outs, grads, gx):
    assert_equal(B.max_pool2d(xs[0], **kw), outs["y"], "max_pool2d without indices (the value-only path)")


def _avg_pool2d_backward(B, g, xs, outs, kw):
    return {"grad_x": B.avg_pool2d_backward(g["y"], xs[0].shape, **kw)}


def _im2col_backward(B, g, xs, outs, kw):
    return {"grad_x": B.col2im(g["cols"], xs[0].shape, **kw)}  # col2im is the adjoint of im2col


def weighted_inputs(rng, inputs, dtype, kw):
    """x, weight scaled by 1/sqrt(fan_in) (so outputs are O(1)), bias."""
    x, w, b = inputs
    x = rng.standard_normal(x).astype(dtype)
    fan_in = int(np.prod(w[1:])) if len(w) == 4 else w[0]
    w = (rng.standard_normal(w) / np.sqrt(fan_in)).astype(dtype)
    return [x, w, None if b is None else rng.standard_normal(b).astype(dtype)]


def _conv2d(B, xs, kw):
    x, w, b = xs
    out = {"y": B.conv2d(x, w, b, **kw)}
    if b is not None:
        out["y (no bias)"] = B.conv2d(x, w, None, **kw)
    return out


def _conv2d_backward(B, g, xs, outs, kw):
    gx, gw, gb = B.conv2d_backward(g["y"], xs[0], xs[1], **kw)
    return {"grad_x": gx, "grad_weight": gw, "grad_bias": gb}


def _conv2d_conventions(B, xs, kw, outs, grads, gx):
    if not gx:
        return
    masked = B.conv2d_backward(grads["y"], xs[0], xs[1], **kw, output_mask=(False, True, False))
    assert masked[0] is None and masked[2] is None, "conv2d_backward: unselected gradients must be None"
    assert_equal(masked[1], gx["grad_weight"], "grad_weight with output_mask=(False, True, False)")


def _affine(B, xs, kw):
    x, w, b = xs
    out = {"y": B.affine(x, w, b)}
    if b is not None:
        out["y (no bias)"] = B.affine(x, w)
    return out


def _affine_backward(B, g, xs, outs, kw):
    gx, gw, gb = B.affine_backward(g["y"], xs[0], xs[1])
    return {"grad_x": gx, "grad_weight": gw, "grad_bias": gb}


def _affine_conventions(B, xs, kw, outs, grads, gx):
    if not gx:
        return
    none, gw, gb = B.affine_backward(grads["y"], xs[0], xs[1], need_grad_x=False)
    assert none is None, "affine_backward(need_grad_x=False) must return None for grad_x"
    assert_equal(gw, gx["grad_weight"], "grad_weight with need_grad_x=False")
    assert_equal(gb, gx["grad_bias"], "grad_bias with need_grad_x=False")


def _bn_make(rng, inputs, dtype, kw):
    """x with a non-zero mean (centring matters), weight, bias (or None), running mean and var."""
    shape, w, b = inputs
    c = shape[1]
    x = (rng.standard_normal(shape) * 2.0 + 0.7).astype(dtype)
    w = None if w is None else rng.standard_normal(w).astype(dtype)
    b = None if b is None else rng.standard_normal(b).astype(dtype)
    return [x, w, b, rng.standard_normal(c).astype(dtype), rng.uniform(0.5, 2.0, c).astype(dtype)]


def _batch_norm(B, xs, kw):
    """batch_norm_forward on copies of the running statistics: updated in place in training (and
    compared with the reference's), read-only in inference."""
    x, w, b, rm, rv = xs
    training = kw.get("training", False)
    stats = [rm.copy(), rv.copy()]
    if not training:
        for a in stats:
            a.flags.writeable = False
    rest = {k: v for k, v in kw.items() if k != "training"}
    y, mean, invstd = B.batch_norm_forward(x, *stats, w, b, training, **rest)
    return {"y": y, "save_mean": mean, "save_invstd": invstd, "running_mean": stats[0], "running_var": stats[1]}


def _batch_norm_conventions(B, xs, kw, outs, grads, gx):
    """Inference leaves the running statistics alone and saves the running mean; the torch-style
    batch_norm gives batch_norm_forward's y."""
    x, w, b, rm, rv = xs
    if not kw.get("training", False):
        assert_equal(outs["save_mean"], rm, "save_mean in inference (the running mean)")
        assert_equal(outs["running_mean"], rm, "running_mean in inference (left alone)")
        assert_equal(outs["running_var"], rv, "running_var in inference (left alone)")
    if kw.get("unbiased_running_var", True):
        fkw = {k: v for k, v in kw.items() if k in ("training", "momentum", "eps")}
        assert_equal(B.batch_norm(x, rm.copy(), rv.copy(), w, b, **fkw), outs["y"], "batch_norm (torch-style) y")


def _batch_norm_backward(B, g, xs, outs, kw):
    gx, gw, gb = B.batch_norm_backward(g["y"], xs[0], xs[1], outs["save_mean"], outs["save_invstd"],
                                       training=kw.get("training", False))
    return {"grad_x": gx, "grad_weight": gw, "grad_bias": gb}


def _activation(name, backward_reads, conventions=None):
    """relu's backward reads the forward input, sigmoid's, tanh's and softmax's the output."""
    def forward(B, xs, kw):
        return {"y": getattr(B, name)(xs[0], **kw)}

    def backward(B, g, xs, outs, kw):
        saved = xs[0] if backward_reads == "x" else outs["y"]
        return {"grad_x": getattr(B, name + "_backward")(g["y"], saved, **kw)}
    return Op(forward, backward, scale=3.0, wrt=(("grad_x", 0),), conventions=conventions, threads=(1, 2, 3))


def _softmax_conventions(B, xs, kw, outs, grads, gx):
    y = outs["y"]
    sums = y.sum(axis=kw.get("axis", -1))
    n = y.shape[kw.get("axis", -1)]
    assert_close(sums, np.ones(sums.shape), rtol=0, atol=10 * np.finfo(y.dtype).eps * n, what="softmax sums to 1")


def _dropout(B, xs, kw):
    y, mask = B.dropout(xs[0], **kw)
    return {"y": y, "mask": mask}


def _dropout_conventions(B, xs, kw, outs, grads, gx):
    y, mask = outs["y"], outs["mask"]
    if not kw.get("training", True):
        assert mask is None and y is not xs[0], "dropout at inference: mask None and y a new array"
    elif kw.get("p", 0.5) == 0.0:
        assert mask.all(), "dropout with p=0 keeps every element"


def _dropout_backward(B, g, xs, outs, kw):
    if outs["mask"] is None:
        return {}
    args = {k: v for k, v in kw.items() if k in ("p", "inverted")}
    return {"grad_x": B.dropout_backward(g["y"], outs["mask"], **args)}


def _ce_make(rng, inputs, dtype, kw):
    """logits N(0, 9) of shape (N, K) and a target: "labels" (int64), "onehot" rows or "soft" rows
    (a probability distribution each); or two arrays, used as given (floating ones cast to dtype)."""
    if isinstance(inputs[0], np.ndarray):
        return [a.astype(dtype) if a.dtype.kind == "f" else a for a in inputs]
    (n, k), kind = inputs
    logits = (rng.standard_normal((n, k)) * 3.0).astype(dtype)
    labels = rng.integers(0, k, n)
    if kind == "labels":
        return [logits, labels]
    if kind == "onehot":
        t = np.zeros((n, k), dtype)
        t[np.arange(n), labels] = 1
        return [logits, t]
    e = np.exp(rng.standard_normal((n, k)))
    return [logits, (e / e.sum(axis=1, keepdims=True)).astype(dtype)]


def _ce(B, xs, kw):
    loss, probs = B.softmax_cross_entropy(*xs)
    return {"loss": loss, "probs": probs}


def _ce_conventions(B, xs, kw, outs, grads, gx):
    loss = outs["loss"]
    assert isinstance(loss, float), f"softmax_cross_entropy: the loss must be a Python float, got {type(loss)}"


def _ce_backward(B, g, xs, outs, kw):
    return {"grad_logits": B.softmax_cross_entropy_backward(outs["probs"], xs[1], g["loss"]),
            "grad_logits (grad_loss=1)": B.softmax_cross_entropy_backward(outs["probs"], xs[1])}


_X = (("grad_x", 0),)
_XWB = (("grad_x", 0), ("grad_weight", 1), ("grad_bias", 2))
OPS = {
    "conv2d": Op(_conv2d, _conv2d_backward, make=weighted_inputs, wrt=_XWB, tol=T.conv2d_tol, fd_tol=T.FD_TOL_WINDOWS,
                 primal=lambda B, xs, kw: {"y": B.conv2d(*xs, **kw)}, conventions=_conv2d_conventions),
    "im2col": Op(lambda B, xs, kw: {"cols": B.im2col(xs[0], **kw)}, _im2col_backward, grad_of=("cols",), wrt=_X,
                 exact=frozenset({"cols"})),
    "max_pool2d": Op(_max_pool2d, lambda B, g, xs, o, kw: {"grad_x": B.max_pool2d_backward(g["y"], o["indices"],
                                                                                         xs[0].shape)},
                     wrt=_X, exact=frozenset({"y", "indices"}), fd_tol=T.FD_TOL_WINDOWS,
                     conventions=_max_pool2d_conventions),
    "avg_pool2d": Op(lambda B, xs, kw: {"y": B.avg_pool2d(xs[0], **kw)}, _avg_pool2d_backward, wrt=_X,
                     fd_tol=T.FD_TOL_WINDOWS),
    "batch_norm": Op(_batch_norm, _batch_norm_backward, make=_bn_make, wrt=_XWB, tol=T.batch_norm_tol,
                     fd_tol=T.FD_TOL_WINDOWS, conventions=_batch_norm_conventions),
    "local_response_norm": Op(lambda B, xs, kw: {"y": B.local_response_norm(xs[0], **kw)},
                              lambda B, g, xs, o, kw: {"grad_x": B.local_response_norm_backward(g["y"], xs[0], **kw)},
                              scale=3.0, wrt=_X, tol=T.local_response_norm_tol),
    "relu": _activation("relu", "x"),
    "sigmoid": _activation("sigmoid", "y"),
    "tanh": _activation("tanh", "y"),
    "softmax": _activation("softmax", "y", conventions=_softmax_conventions),
    "dropout": Op(_dropout, _dropout_backward, wrt=_X, exact=frozenset({"mask"}), tol=T.dropout_tol,
                  fd_tol=T.FD_TOL_TIGHT, conventions=_dropout_conventions, threads=(1, 2, 3)),
    "affine": Op(_affine, _affine_backward, make=weighted_inputs, wrt=_XWB, tol=T.affine_tol,
                 primal=lambda B, xs, kw: {"y": B.affine(*xs)}, conventions=_affine_conventions, threads=(1, 2, 3)),
    "softmax_cross_entropy": Op(_ce, _ce_backward, make=_ce_make, grad_of=("loss",), wrt=(("grad_logits", 0),),
                                conventions=_ce_conventions, threads=(1, 2, 3)),
}
