"""Fuzz: every public op of nnkern.functional (and every optimizer rule) on random *valid*
shapes and parameters, native against the NumPy reference (nnkern.reference, same names and
signatures), in float32 and float64.

Hypothesis draws the shapes and hyper-parameters (and shrinks a failure to a small case); the
array values come from a NumPy generator seeded by a drawn integer. The reference runs in
float64 on the same values; a native result may differ from it by at most
``32 * eps(dtype) * K * (1 + |reference|)`` per element, where K is the op's longest sum for the
drawn case (1 for elementwise ops): far below the O(1) error of a wrong index, offset or
window, and free of flakes under the derandomized CI profile (tests/fuzz_profile.py). Integer
outputs (pooling indices, dropout masks) and optimizer updates (bit for bit in the same dtype,
as nnkern promises) must be equal. In-place arguments (batch-norm running statistics) are
compared after the call as well.
"""
import fuzz_profile  # noqa: F401  (loads the hypothesis profile)
import nnkern.functional as F
import nnkern.reference as R
import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from optim_harness import RULES, RefOpt, make_grads, make_params

DTYPES = st.sampled_from([np.float32, np.float64])
SEEDS = st.integers(0, 2**32 - 1)


# ---------------------------------------------------------------- comparison
def _cast(a):
    if isinstance(a, np.ndarray) and a.dtype.kind == "f":
        return a.astype(np.float64)
    return a.copy() if isinstance(a, np.ndarray) else a


def _compare(nat, ref, dtype, k, what, scale=None):
    if nat is None or ref is None:
        assert nat is None and ref is None, f"{what}: None on one backend only"
        return
    if isinstance(nat, (tuple, list)):
        assert isinstance(ref, (tuple, list)) and len(nat) == len(ref), f"{what}: structure differs"
        for i, (a, b) in enumerate(zip(nat, ref)):
            _compare(a, b, dtype, k, f"{what}[{i}]", scale)
        return
    a, b = np.asarray(nat), np.asarray(ref)
    assert a.shape == b.shape, f"{what}: shape {a.shape} vs reference {b.shape}"
    if b.dtype.kind != "f":
        assert np.array_equal(a, b), f"{what}: integer outputs differ"
        return
    if isinstance(nat, np.ndarray):
        assert a.dtype == dtype, f"{what}: dtype {a.dtype}, input dtype {np.dtype(dtype)}"
    assert np.isfinite(a).all() == np.isfinite(b).all(), f"{what}: non-finite values differ"
    err = np.abs(a.astype(np.float64) - b)
    scale = 1 + (np.abs(b).max() if b.size else 0) if scale is None else scale
    bound = 32 * np.finfo(dtype).eps * k * (np.abs(b) + scale)
    i = np.unravel_index(np.argmax(err - bound), err.shape) if err.size else ()
    assert (err <= bound).all(), f"{what}: at {i} native {a[i]!r}, reference {b[i]!r} (K={k})"


def check(name, args, kwargs, dtype, k, scale=None):
    """F.name vs R.name on copies (the reference in float64); outputs and in-place arguments.
    ``scale``: the magnitude of the terms an output is a sum of (default 1 + its largest value),
    for ill-conditioned ops where the output is much smaller than its terms."""
    nat_args = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    ref_args = [_cast(a) for a in args]
    out = getattr(F, name)(*nat_args, **kwargs)
    want = getattr(R, name)(*ref_args, **kwargs)
    _compare(out, want, dtype, k, name, scale)
    for i, (a, b) in enumerate(zip(nat_args, ref_args)):
        if isinstance(a, np.ndarray) and a.dtype.kind == "f":
            _compare(a, b, dtype, k, f"{name} argument {i} after the call", scale)


def _arr(rng, shape, dtype, scale=1.0):
    return (rng.standard_normal(shape) * scale).astype(dtype)


# ---------------------------------------------------------------- conv2d, im2col, col2im
@st.composite
def conv_cases(draw, grouped=True):
    g = draw(st.integers(1, 3)) if grouped else 1
    c, oc = g * draw(st.integers(1, 3)), g * draw(st.integers(1, 3))
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    sh, sw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    dh, dw = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    ph, pw = draw(st.integers(0, 2)), draw(st.integers(0, 2))
    eh, ew = dh * (kh - 1) + 1, dw * (kw - 1) + 1  # effective kernel: the padded input must hold it
    h = draw(st.integers(max(1, eh - 2 * ph), eh + 8))
    w = draw(st.integers(max(1, ew - 2 * pw), ew + 8))
    n = draw(st.integers(1, 3))
    oh, ow = (h + 2 * ph - eh) // sh + 1, (w + 2 * pw - ew) // sw + 1
    kw_args = {"stride": (sh, sw), "padding": (ph, pw), "dilation": (dh, dw)}
    return dict(n=n, c=c, oc=oc, g=g, h=h, w=w, kh=kh, kw=kw, oh=oh, ow=ow, kwargs=kw_args)


@given(conv_cases(), DTYPES, SEEDS, st.booleans())
def test_fuzz_conv2d(case, dtype, seed, bias):
    rng = np.random.default_rng(seed)
    x = _arr(rng, (case["n"], case["c"], case["h"], case["w"]), dtype)
    wt = _arr(rng, (case["oc"], case["c"] // case["g"], case["kh"], case["kw"]), dtype)
    b = _arr(rng, (case["oc"],), dtype) if bias else None
    kw = dict(case["kwargs"], groups=case["g"])
    kred = case["c"] // case["g"] * case["kh"] * case["kw"]
    check("conv2d", (x, wt, b), kw, dtype, kred)
    gy = _arr(rng, (case["n"], case["oc"], case["oh"], case["ow"]), dtype)
    k_back = max(kred, case["n"] * case["oh"] * case["ow"], case["oc"] * case["kh"] * case["kw"])
    check("conv2d_backward", (gy, x, wt), kw, dtype, k_back)


@given(conv_cases(grouped=False), DTYPES, SEEDS)
def test_fuzz_im2col_col2im(case, dtype, seed):
    rng = np.random.default_rng(seed)
    x = _arr(rng, (case["n"], case["c"], case["h"], case["w"]), dtype)
    ks = (case["kh"], case["kw"])
    check("im2col", (x, ks), case["kwargs"], dtype, 1)
    cols = _arr(rng, (case["n"] * case["oh"] * case["ow"], case["c"] * case["kh"] * case["kw"]), dtype)
    check("col2im", (cols, x.shape, ks), case["kwargs"], dtype, case["kh"] * case["kw"])


# ---------------------------------------------------------------- pooling
@st.composite
def pool_cases(draw):
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    sh, sw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    ph, pw = draw(st.integers(0, kh // 2)), draw(st.integers(0, kw // 2))
    h, w = draw(st.integers(max(1, kh - 2 * ph), kh + 8)), draw(st.integers(max(1, kw - 2 * pw), kw + 8))
    shape = (draw(st.integers(1, 3)), draw(st.integers(1, 5)), h, w)
    return shape, (kh, kw), (sh, sw), (ph, pw)


@given(pool_cases(), DTYPES, SEEDS, st.booleans())
def test_fuzz_max_pool2d(case, dtype, seed, indices):
    shape, k, s, p = case
    rng = np.random.default_rng(seed)
    x = _arr(rng, shape, dtype)
    check("max_pool2d", (x, k, s, p, indices), {}, dtype, 1)
    y, idx = F.max_pool2d(x, k, s, p, return_indices=True)
    gy = _arr(rng, y.shape, dtype)
    check("max_pool2d_backward", (gy, idx, shape), {}, dtype, k[0] * k[1])


@given(pool_cases(), DTYPES, SEEDS, st.booleans())
def test_fuzz_avg_pool2d(case, dtype, seed, include_pad):
    shape, k, s, p = case
    rng = np.random.default_rng(seed)
    x = _arr(rng, shape, dtype)
    check("avg_pool2d", (x, k, s, p, include_pad), {}, dtype, k[0] * k[1])
    y = F.avg_pool2d(x, k, s, p, include_pad)
    check("avg_pool2d_backward", (_arr(rng, y.shape, dtype), shape, k, s, p, include_pad), {}, dtype, k[0] * k[1])


# ---------------------------------------------------------------- normalisation
@st.composite
def bn_cases(draw):
    if draw(st.booleans()):
        shape = (draw(st.integers(2, 6)), draw(st.integers(1, 7)))
    else:
        shape = (draw(st.integers(1, 3)), draw(st.integers(1, 5)), draw(st.integers(1, 5)), draw(st.integers(1, 5)))
        if shape[0] * shape[2] * shape[3] < 2:
            shape = (2,) + shape[1:]
    return shape, draw(st.booleans()), draw(st.floats(0.0, 1.0)), draw(st.sampled_from([1e-5, 1e-3, 0.5]))


@given(bn_cases(), DTYPES, SEEDS, st.booleans(), st.booleans())
def test_fuzz_batch_norm(case, dtype, seed, affine, unbiased):
    shape, training, momentum, eps = case
    rng = np.random.default_rng(seed)
    c, k = shape[1], int(np.prod(shape)) // shape[1]
    x = _arr(rng, shape, dtype)
    rm, rv = _arr(rng, (c,), dtype), (rng.random(c) + 0.5).astype(dtype)
    wt, b = (_arr(rng, (c,), dtype), _arr(rng, (c,), dtype)) if affine else (None, None)
    _, mean, invstd = F.batch_norm_forward(x, rm.copy(), rv.copy(), wt, b, training, momentum, eps)
    gy = _arr(rng, shape, dtype)
    # (x - mean) * invstd cancels: errors scale with |x| * invstd, not with the output
    scale = (1 + np.abs(x).max() + np.abs(rm).max()) * np.abs(invstd).max() * (1 + np.abs(wt).max() if affine else 2)
    check("batch_norm", (x, rm, rv, wt, b, training, momentum, eps), {}, dtype, k, scale + np.abs(rv).max())
    check("batch_norm_forward", (x, rm, rv, wt, b, training, momentum, eps, unbiased), {}, dtype, k,
          scale + np.abs(rv).max())
    check("batch_norm_backward", (gy, x, wt, mean, invstd, training), {}, dtype, k, scale * (1 + np.abs(gy).max()))


@given(st.tuples(st.integers(1, 2), st.integers(1, 9), st.integers(1, 4), st.integers(1, 4)), DTYPES, SEEDS,
       st.integers(1, 7), st.sampled_from([1e-4, 0.1, 1.0]), st.sampled_from([0.5, 0.75, 1.0]),
       st.sampled_from([1.0, 2.0]), st.booleans())
def test_fuzz_local_response_norm(shape, dtype, seed, size, alpha, beta, k, over_size):
    rng = np.random.default_rng(seed)
    x = _arr(rng, shape, dtype)
    kw = dict(size=size, alpha=alpha, beta=beta, k=k, alpha_over_size=over_size)
    check("local_response_norm", (x,), kw, dtype, 2 * size)
    check("local_response_norm_backward", (_arr(rng, shape, dtype), x), kw, dtype, 4 * size)


# ---------------------------------------------------------------- activations, dropout, affine, loss
SHAPES = st.lists(st.integers(1, 6), min_size=1, max_size=4).map(tuple)


@given(SHAPES, DTYPES, SEEDS, st.sampled_from(["relu", "sigmoid", "tanh"]))
def test_fuzz_elementwise(shape, dtype, seed, op):
    rng = np.random.default_rng(seed)
    x = _arr(rng, shape, dtype, 3.0)
    check(op, (x,), {}, dtype, 1)
    second = x if op == "relu" else getattr(F, op)(x)  # relu_backward takes x, the others y
    check(f"{op}_backward", (_arr(rng, shape, dtype), second), {}, dtype, 4)


@given(SHAPES, DTYPES, SEEDS, st.data())
def test_fuzz_softmax(shape, dtype, seed, data):
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    rng = np.random.default_rng(seed)
    x = _arr(rng, shape, dtype, 3.0)
    check("softmax", (x,), {"axis": axis}, dtype, shape[axis])
    check("softmax_backward", (_arr(rng, shape, dtype), F.softmax(x, axis)), {"axis": axis}, dtype, 2 * shape[axis])


@given(SHAPES, DTYPES, SEEDS, st.floats(0.0, 0.9), st.integers(0, 2**64 - 1), st.booleans(), st.booleans())
def test_fuzz_dropout(shape, dtype, seed, p, mask_seed, training, inverted):
    rng = np.random.default_rng(seed)
    x = _arr(rng, shape, dtype)
    check("dropout", (x, p, training, mask_seed, inverted), {}, dtype, 1)
    _, mask = F.dropout(x, p, True, mask_seed, inverted)
    check("dropout_backward", (_arr(rng, shape, dtype), mask, p, inverted), {}, dtype, 1)


@given(st.integers(1, 40), st.integers(1, 40), st.integers(1, 40), DTYPES, SEEDS, st.booleans(), st.booleans())
def test_fuzz_affine(n, d_in, d_out, dtype, seed, bias, need_gx):
    rng = np.random.default_rng(seed)
    x, wt = _arr(rng, (n, d_in), dtype), _arr(rng, (d_in, d_out), dtype)
    check("affine", (x, wt, _arr(rng, (d_out,), dtype) if bias else None), {}, dtype, d_in)
    check("affine_backward", (_arr(rng, (n, d_out), dtype), x, wt, need_gx), {}, dtype, max(n, d_out))


@given(st.integers(1, 8), st.integers(1, 10), DTYPES, SEEDS, st.booleans(), st.floats(0.1, 4.0))
def test_fuzz_softmax_cross_entropy(n, k, dtype, seed, one_hot, grad_loss):
    rng = np.random.default_rng(seed)
    logits, labels = _arr(rng, (n, k), dtype, 3.0), rng.integers(0, k, n)
    target = np.eye(k, dtype=dtype)[labels] if one_hot else labels
    check("softmax_cross_entropy", (logits, target), {}, dtype, n * k)
    probs = F.softmax(logits)
    check("softmax_cross_entropy_backward", (probs, target, grad_loss), {}, dtype, 2)


# ---------------------------------------------------------------- optimizers
@given(st.sampled_from(sorted(RULES)), st.sampled_from([1, 2]), DTYPES, SEEDS, st.integers(1, 3),
       st.dictionaries(st.sampled_from(["W1", "b1", "W2"]), SHAPES, min_size=1, max_size=3),
       st.sampled_from([0.0, 1e-3]), st.sampled_from(["l2", "l1", "decoupled"]))
def test_fuzz_optimizers(rule, hyper, dtype, seed, steps, shapes, weight_decay, decay):
    rng = np.random.default_rng(seed)
    factory, kw = RULES[rule][0], dict(RULES[rule][hyper])
    if rule != "adamw":  # AdamW's decay is decoupled by definition
        kw.update(weight_decay=weight_decay, decay=decay)
    opt, ref = factory(**kw), RefOpt(factory(**kw))
    params = make_params(rng, shapes, dtype)
    ref_params = {k: v.copy() for k, v in params.items()}
    for _ in range(steps):
        grads = make_grads(rng, params)
        opt.update(params, grads)
        ref.update(ref_params, grads)
    for k in params:  # bit for bit in the same dtype
        assert params[k].tobytes() == ref_params[k].tobytes(), f"{rule}: params[{k!r}] differ from the reference"


def test_every_public_op_is_fuzzed():
    with open(__file__, encoding="utf-8") as f:
        src = f.read()
    missing = [n for n in F.__all__ if f'"{n}"' not in src and f'"{n.replace("_backward", "")}"' not in src]
    assert not missing, missing

