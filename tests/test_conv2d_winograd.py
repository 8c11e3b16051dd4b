"""Winograd convolution (algo="winograd": F(2x2,3x3), F(4x4,3x3) and F(5x5,3x3) for 3x3 kernels, F(2x2,5x5)
for 5x5 ones) against the float64
reference, with the tolerance taken from its rounding-error bound (not an ad-hoc rtol);
float64 finite differences of grad_x and grad_weight; 1 vs 2 threads bit-identical.

The bound (src/conv2d_winograd.h, README "Convolution algorithms"): every output satisfies
    |y~ - y| <= gamma(K + kappa) * E,   gamma(n) = n u / (1 - n u),  u = eps / 2,
where E runs the Winograd pipeline on absolute values (|B^T| |d| |B|, |G| |k| |G^T|, |A^T| . |A|),
K is the length of the transform-domain dot products (input channels per group; tiles for
grad_weight) and kappa counts the other roundings along the longest path through the
transforms. `winograd_bound` computes it per element in float64."""
import zlib

import numpy as np
import pytest
from conftest import assert_close, numerical_grad
from nnkern import _core
from nnkern import functional as F
from nnkern import reference as R

# (m, r): the transforms of F(m x m, r x r) (src/conv2d_winograd_tf.h).
_BT6 = [[4, 0, -5, 0, 1, 0], [0, -4, -4, 1, 1, 0], [0, 4, -4, -1, 1, 0], [0, -2, -1, 2, 1, 0],
        [0, 2, -1, -2, 1, 0], [0, 4, 0, -5, 0, 1]]
_MATS = {
    (2, 3): dict(BT=[[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]],
            G=[[1, 0, 0], [.5, .5, .5], [.5, -.5, .5], [0, 0, 1]],
            AT=[[1, 1, 1, 0], [0, 1, -1, -1]]),
    (4, 3): dict(BT=_BT6,
            G=[[1 / 4, 0, 0], [-1 / 6, -1 / 6, -1 / 6], [-1 / 6, 1 / 6, -1 / 6], [1 / 24, 1 / 12, 1 / 6],
               [1 / 24, -1 / 12, 1 / 6], [0, 0, 1]],
            AT=[[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0], [0, 1, 1, 4, 4, 0], [0, 1, -1, 8, -8, 1]]),
    (2, 5): dict(BT=_BT6,
                 G=[[1 / 4, 0, 0, 0, 0], [-1 / 6] * 5, [-1 / 6, 1 / 6, -1 / 6, 1 / 6, -1 / 6],
                    [1 / 24, 1 / 12, 1 / 6, 1 / 3, 2 / 3], [1 / 24, -1 / 12, 1 / 6, -1 / 3, 2 / 3], [0, 0, 0, 0, 1]],
                 AT=[[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 1]]),
    (5, 3): dict(BT=[[-2, 4, 2.5, -5, -.5, 1, 0], [0, 2, -2, -4.5, .5, 1, 0], [0, -2, 6, -3.5, -1.5, 1, 0],
                     [0, 1, -1.5, -2, 1.5, 1, 0], [0, -1, 2.5, 0, -2.5, 1, 0], [0, 4, 0, -5, 0, 1, 0],
                     [0, -2, 4, 2.5, -5, -.5, 1]],
                 G=[[-1 / 2, 0, 0], [-1 / 3] * 3, [1 / 9, -1 / 9, 1 / 9], [1 / 36, 1 / 18, 1 / 9],
                    [-1 / 60, 1 / 30, -1 / 15], [32 / 45, 16 / 45, 8 / 45], [0, 0, 1]],
                 AT=[[1, 1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, .5, 0], [0, 1, 1, 4, 4, .25, 0],
                     [0, 1, -1, 8, -8, .125, 0], [0, 1, 1, 16, 16, .0625, 1]]),
}
# Roundings along the longest path, per stage (conv2d_winograd_tf.h's factored 1-D transforms):
# filters in double then rounded once (7: six double roundings, conservatively at the same u,
# plus the final one; 5 taps: ten and one), input tile (1 / 3 per 1-D pass for a = 4 / 6), output
# tile (2 / 3 per pass), grad_out tile (1 / 2 per pass; F(2,5): 1); the bias add is one more.
# F(5,3)'s transforms are plain sums over the nonzero coefficients (apply_matrix): a row of t
# terms rounds at most t times (the first product, then t - 1 additions), so 6 / 6 / 5 per pass.
# Its filter side counts 15: G's inexact constants (1/3, 1/9, 32/45, ...) once more per pass, and
# the adjoint G^T acc G summing up to 6 nonzeros per column twice (2 x 7, then the final rounding).
_KAPPA = {(2, 3): dict(u=7, v=2, out=4, gy=2), (4, 3): dict(u=7, v=6, out=6, gy=4),
          (2, 5): dict(u=11, v=6, out=6, gy=2), (5, 3): dict(u=15, v=12, out=12, gy=10)}
# grad_weight adds its partial sums (at most 16) in order inside the final double G^T acc G: up to
# 15 more roundings, which count at the data's u for float64.
_PARTIALS = 15
TILES = (2, 4, 5)  # the forced tile sizes of 3x3 kernels; 5x5 ones always run F(2x2,5x5)


def _algos(r):
    """The (m, r) algorithms Winograd may run for an r x r kernel."""
    return [(m, r) for m in TILES] if r == 3 else [(2, 5)]


def _abs(mr):
    return {k: np.abs(np.array(v, float)) for k, v in _MATS[mr].items()}


@pytest.mark.parametrize("mr", sorted(_MATS))
def test_transforms_compute_the_correlation(rng, mr):
    """A^T [(G g) (.) (B^T d)] is the r-tap correlation of d with g, for each F(m, r) above."""
    (m, r), t = mr, {k: np.array(v, float) for k, v in _MATS[mr].items()}
    d, g = rng.standard_normal(m + r - 1), rng.standard_normal(r)
    np.testing.assert_allclose(t["AT"] @ ((t["G"] @ g) * (t["BT"] @ d)), [d[i:i + r] @ g for i in range(m)],
                               rtol=1e-12, atol=1e-12)


def _tiles(inp, offy, offx, ty, tx, m, a):
    """D[n, c, ty, tx, i, j] = inp[n, c, ty*m + i + offy, tx*m + j + offx] (a x a tiles), 0 outside."""
    n, c, h, w = inp.shape
    pad = np.zeros((n, c, ty * m + a - m, tx * m + a - m))
    r0, c0, ys, xs = max(0, -offy), max(0, -offx), max(0, offy), max(0, offx)
    hh, ww = min(h - ys, pad.shape[2] - r0), min(w - xs, pad.shape[3] - c0)
    if hh > 0 and ww > 0:
        pad[:, :, r0:r0 + hh, c0:c0 + ww] = inp[:, :, ys:ys + hh, xs:xs + ww]
    s = pad.strides
    return np.lib.stride_tricks.as_strided(pad, (n, c, ty, tx, a, a),
                                           (s[0], s[1], m * s[2], m * s[3], s[2], s[3]))


def _corr_e(inp, k, offy, offx, oh, ow, groups, mr):
    """E of out[n, o] = sum_c inp[n, c] (*) k[o, c] (correlation, input offset (offy, offx))."""
    t, m = _abs(mr), mr[0]
    ty, tx = -(-oh // m), -(-ow // m)
    v = np.einsum("ki,nctxij,lj->nctxkl", t["BT"], _tiles(np.abs(inp), offy, offx, ty, tx, m, m + mr[1] - 1), t["BT"],
                  optimize=True)
    u = np.einsum("ap,ocpq,bq->ocab", t["G"], np.abs(k), t["G"], optimize=True)
    oc, cg = k.shape[:2]
    og = oc // groups
    mt = np.concatenate([np.einsum("ocab,nctxab->notxab", u[g * og:(g + 1) * og], v[:, g * cg:(g + 1) * cg],
                                   optimize=True) for g in range(groups)], axis=1)
    e = np.einsum("ik,notxkl,jl->notixj", t["AT"], mt, t["AT"], optimize=True)
    return e.reshape(inp.shape[0], oc, ty * m, tx * m)[:, :, :oh, :ow], cg


def _gamma(n, u):
    return n * u / (1 - n * u)


def _pair(v):
    return (v, v) if np.isscalar(v) else tuple(v)


def phase_problem(x, w, kw):
    """The stride-1 problem a strided convolution runs as (src/conv2d_winograd_phases.cpp):
    X'[n, (c, py, px), u, v] = xpad[n, c, S u + py, S v + px] and W'[o, (c, py, px), a, b] =
    w[o, c, S a + py, S b + px] (0 past the kernel), r = ceil(k / S) taps, no padding."""
    S, (ph, pw), k = _pair(kw.get("stride", 1))[0], _pair(kw.get("padding", 0)), w.shape[2]
    r, (n, c, h, wd) = -(-k // S), x.shape
    oh, ow = (h + 2 * ph - k) // S + 1, (wd + 2 * pw - k) // S + 1
    hq, wq = oh + r - 1, ow + r - 1
    xp = np.zeros((n, c, S * hq, S * wq), x.dtype)
    hh, ww = min(h, S * hq - ph), min(wd, S * wq - pw)
    xp[:, :, ph:ph + hh, pw:pw + ww] = x[:, :, :hh, :ww]
    xq = xp.reshape(n, c, hq, S, wq, S).transpose(0, 1, 3, 5, 2, 4).reshape(n, c * S * S, hq, wq)
    wpad = np.zeros(w.shape[:2] + (S * r, S * r), w.dtype)
    wpad[:, :, :k, :k] = w
    wq_ = wpad.reshape(w.shape[:2] + (r, S, r, S)).transpose(0, 1, 3, 5, 2, 4).reshape(
        w.shape[0], w.shape[1] * S * S, r, r)
    return xq, wq_, dict(padding=0, groups=kw.get("groups", 1))


def _strided_bound(pass_, x, w, b, gy, kw, m):
    """winograd_bound of a strided pass: the phase problem's bound, mapped back element by element
    (every x pixel / weight tap is one element of X' / W', or read by no output: bound 0)."""
    S, (ph, pw), k = _pair(kw["stride"])[0], _pair(kw.get("padding", 0)), w.shape[2]
    xq, wq, kq = phase_problem(x, w, kw)
    e = winograd_bound(pass_, xq, wq, b, gy, kq, m)
    if pass_ == "forward":
        return e
    if pass_ == "backward_weight":  # gw[o, c, p, q] = gW'[o, (c, p % S, q % S), p // S, q // S]
        r = wq.shape[2]
        e = e.reshape(w.shape[:2] + (S, S, r, r)).transpose(0, 1, 4, 2, 5, 3).reshape(w.shape[:2] + (r * S, r * S))
        return e[:, :, :k, :k]
    n, c, h, wd = x.shape
    hq, wq_ = xq.shape[2:]
    e = e.reshape(n, c, S, S, hq, wq_).transpose(0, 1, 4, 2, 5, 3).reshape(n, c, hq * S, wq_ * S)
    out = np.zeros(x.shape)
    hh, ww = min(h, S * hq - ph), min(wd, S * wq_ - pw)
    out[:, :, :hh, :ww] = e[:, :, ph:ph + hh, pw:pw + ww]
    return out


def winograd_bound(pass_, x, w, b, gy, kw, m=None):
    """Per-element bound on |winograd - exact| for one pass with output tile m (3x3 kernels;
    5x5 ones always use 2); m=None: the largest over the tile sizes the kernel may run.
    Strided shapes: the bound of their phase problem (phase_problem)."""
    if _pair(kw.get("stride", 1))[0] > 1:
        return _strided_bound(pass_, x, w, b, gy, kw, m)
    r = w.shape[2]
    if m is None:
        return np.maximum.reduce([winograd_bound(pass_, x, w, b, gy, kw, t) for t, _ in _algos(r)])
    mr = (m, r) if r == 3 else (2, 5)
    m = mr[0]
    u = np.finfo(x.dtype).eps / 2
    ph, pw = (kw.get("padding", 0),) * 2 if np.isscalar(kw.get("padding", 0)) else kw["padding"]
    g, k = kw.get("groups", 1), _KAPPA[mr]
    if pass_ == "forward":
        e, cg = _corr_e(x, w, -ph, -pw, x.shape[2] + 2 * ph - (r - 1), x.shape[3] + 2 * pw - (r - 1), g, mr)
        bias = 0.0 if b is None else np.abs(b.astype(np.float64))[None, :, None, None]
        return _gamma(cg + k["u"] + k["v"] + k["out"] + 1, u) * (e + bias)
    if pass_ == "backward_input":  # the correlation of gy with the flipped, channel-transposed kernel
        og = w.shape[0] // g
        wt = np.concatenate([w[i * og:(i + 1) * og].transpose(1, 0, 2, 3) for i in range(g)])[:, :, ::-1, ::-1]
        e, kk = _corr_e(gy, wt, ph - (r - 1), pw - (r - 1), x.shape[2], x.shape[3], g, mr)
        return _gamma(kk + k["u"] + k["v"] + k["out"], u) * e
    t, a = _abs(mr), m + r - 1
    ty, tx = -(-gy.shape[2] // m), -(-gy.shape[3] // m)
    v = np.einsum("ki,nctxij,lj->nctxkl", t["BT"], _tiles(np.abs(x), -ph, -pw, ty, tx, m, a), t["BT"], optimize=True)
    wt = np.einsum("ik,notxij,jl->notxkl", t["AT"], _tiles(np.abs(gy), 0, 0, ty, tx, m, a)[..., :m, :m], t["AT"],
                   optimize=True)
    og, cg = w.shape[0] // g, w.shape[1]
    acc = np.concatenate([np.einsum("notxab,nctxab->ocab", wt[:, i * og:(i + 1) * og], v[:, i * cg:(i + 1) * cg],
                                    optimize=True) for i in range(g)])
    e = np.einsum("ap,ocab,bq->ocpq", t["G"], acc, t["G"], optimize=True)
    return _gamma(x.shape[0] * ty * tx + k["v"] + k["gy"] + k["u"] + _PARTIALS + 1, u) * e


class setting:
    """A process-global testing hook `setter(value) -> previous` set inside a with-block, restored after."""

    def __init__(self, setter, value):
        self.setter, self.value = setter, value

    def __enter__(self):
        self.before = self.setter(self.value)

    def __exit__(self, *exc):
        self.setter(self.before)


def tile(m):
    """Force Winograd's output tile size (2, 4 or 5; 0 = per shape)."""
    return setting(_core._conv2d_winograd_tile, m)


def phase_budget(elements):
    """The strided path's chunk budget (elements of phase planes; 1 = a chunk per image)."""
    return setting(_core._conv2d_winograd_phase_budget, elements)


# (N, C, H, W), OC, padding, groups, run with 3x3 and 5x5 kernels: partial tiles (H, W not
# multiples of 2, 4 or 5), padding 0..5 (past the kernel's reach: grad_x's correlation then
# crops), groups, depthwise, N=1, channel counts that are not multiples of 8/16 and larger than
# one 16-lane block, one input channel, a row wider than one work item (split into segments).
CASES = {
    "n1-odd-pad0": ((1, 3, 7, 9), 5, 0, 1),
    "odd-pad1": ((2, 5, 11, 13), 7, 1, 1),
    "pad2-hw": ((2, 4, 6, 5), 3, (2, 1), 1),
    "pad3-tiny": ((1, 2, 4, 5), 3, (3, 0), 1),
    "groups3": ((2, 6, 10, 9), 9, 1, 3),
    "depthwise": ((2, 7, 9, 10), 7, 1, 7),
    "channels-17-33": ((2, 17, 9, 8), 33, 1, 1),
    "c1": ((3, 1, 12, 11), 16, 1, 1),
    "wide-row": ((1, 2, 3, 1100), 3, 1, 1),
    "pad5-tiny": ((1, 2, 4, 5), 3, (5, 2), 1),
    # >= 128 channels per group on the GEMMs' K side: nnkern's GEMM on the packed filters
    # (forward here, grad_x in the next; 33 output channels per group: a partial register tile;
    # 400: two K blocks).
    "k130-forward": ((1, 130, 5, 7), 40, 1, 1),
    "k130-grad-x": ((1, 40, 5, 6), 130, 1, 1),
    "k130-groups2": ((1, 260, 3, 5), 66, 1, 2),
    "k400": ((1, 400, 3, 3), 34, 1, 1),
    # <= 32 channels per group on both sides: the products skip GEMM (small_products); 20 and
    # 32 output channels: 3 and 4 vectors of doubles.
    "small-c32-o20": ((2, 32, 7, 6), 20, 1, 1),
    "small-c24-o32": ((1, 24, 6, 9), 32, (1, 2), 1),
    # og cg / (og + cg) >= 96: the "positions" schedule of every pass (conv2d_winograd_impl.h),
    # 200 channels (not a multiple of 16) and two groups of 194 -> 198.
    "positions-c200": ((2, 200, 9, 7), 200, 1, 1),
    "positions-groups2": ((1, 388, 6, 5), 396, 1, 2),
}
# F(m x m, r x r) run by each test below: (forced tile m, kernel size r).
ALGOS = ((2, 3), (4, 3), (5, 3), (2, 5))
PASSES = ("forward", "backward_input", "backward_weight")


def _data(name, dtype, r=3):
    xs, oc, pad, groups = CASES[name]
    rng = np.random.default_rng(zlib.crc32(f"{name}-{np.dtype(dtype).name}-{r}".encode()))
    x = rng.standard_normal(xs).astype(dtype)
    w = (rng.standard_normal((oc, xs[1] // groups, r, r)) / np.sqrt(r * r * xs[1] / groups)).astype(dtype)
    b = rng.standard_normal(oc).astype(dtype)
    kw = dict(padding=pad, groups=groups)
    gy = rng.standard_normal(R.conv2d(x, w, b, **kw).shape).astype(dtype)
    return x, w, b, gy, kw


def _run(pass_, x, w, b, gy, kw):
    if pass_ == "forward":
        return F.conv2d(x, w, b, **kw, algo="winograd")
    gx, gw, _ = F.conv2d_backward(gy, x, w, **kw, algo="winograd",
                                  output_mask=(pass_ == "backward_input", pass_ == "backward_weight", False))
    return gx if pass_ == "backward_input" else gw


def _reference(pass_, x, w, b, gy, kw):
    x, w, b, gy = (a.astype(np.float64) for a in (x, w, b, gy))
    if pass_ == "forward":
        return R.conv2d(x, w, b, **kw)
    gx, gw, _ = R.conv2d_backward(gy, x, w, **kw)
    return gx if pass_ == "backward_input" else gw


@pytest.mark.parametrize("pass_", PASSES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("m,r", ALGOS)
@pytest.mark.parametrize("name", CASES)
def test_winograd_within_its_error_bound(name, m, r, dtype, pass_):
    x, w, b, gy, kw = _data(name, dtype, r)
    with tile(m):
        got = _run(pass_, x, w, b, gy, kw)
    assert got.dtype == dtype
    # Tolerance = the rounding-error bound of this algorithm and dtype, element by element.
    assert_close(got, _reference(pass_, x, w, b, gy, kw), rtol=0.0, atol=winograd_bound(pass_, x, w, b, gy, kw, m),
                 what=f"winograd F({m}x{m},{r}x{r}) {name} {pass_}")


def test_forward_without_bias_and_each_tile_differs_in_rounding_only():
    x, w, b, gy, kw = _data("odd-pad1", np.float32)
    ref = _reference("forward", x, w, b, gy, kw) - b[:, None, None]
    outs = []
    for m in TILES:
        with tile(m):
            outs.append(F.conv2d(x, w, None, **kw, algo="winograd"))
        assert_close(outs[-1], ref, rtol=0.0, atol=winograd_bound("forward", x, w, None, gy, kw, m), what=f"F({m})")
    assert not np.array_equal(outs[0], outs[1]) and not np.array_equal(outs[1], outs[2])  # different algorithms ran


@pytest.mark.parametrize("m,r", ALGOS)
@pytest.mark.parametrize("shape", [((1, 3, 5, 6), 4, 1, 1), ((2, 4, 6, 5), 4, (0, 2), 2)])
def test_float64_gradients_match_finite_differences(rng, m, r, shape):
    xs, oc, pad, groups = shape
    x = rng.standard_normal(xs)
    w = rng.standard_normal((oc, xs[1] // groups, r, r))
    kw = dict(padding=pad, groups=groups)
    with tile(m):
        r = rng.standard_normal(F.conv2d(x, w, None, **kw, algo="winograd").shape)
        loss = lambda: float(np.sum(F.conv2d(x, w, None, **kw, algo="winograd") * r))  # noqa: E731
        gx, gw, _ = F.conv2d_backward(r, x, w, **kw, algo="winograd")
        for got, arr, what in ((gx, x, "x"), (gw, w, "weight")):
            assert_close(got, numerical_grad(loss, arr), rtol=1e-6, atol=1e-7, what=f"F({m},{r}) d loss/d {what}")


# Big enough for several work items per pass (and several grad_weight partial sums).
THREAD_CASES = {"16ch": ((12, 16, 30, 29), 24, 1, 1), "groups2-wide": ((2, 8, 9, 1300), 6, 1, 2),
                "k160": ((6, 160, 12, 11), 48, 1, 1), "positions-c192": ((4, 192, 14, 13), 208, 1, 1)}


@pytest.mark.parametrize("m,r", ALGOS)
@pytest.mark.parametrize("pass_", PASSES)
@pytest.mark.parametrize("name", THREAD_CASES)
def test_one_and_two_threads_bit_identical(rng, threads, name, pass_, m, r):
    xs, oc, pad, groups = THREAD_CASES[name]
    x = rng.standard_normal(xs).astype(np.float32)
    w = rng.standard_normal((oc, xs[1] // groups, r, r)).astype(np.float32)
    b = rng.standard_normal(oc).astype(np.float32)
    kw = dict(padding=pad, groups=groups)
    gy = rng.standard_normal(F.conv2d(x, w, b, **kw).shape).astype(np.float32)
    with tile(m):
        threads(1)
        one = _run(pass_, x, w, b, gy, kw)
        threads(2)
        two = _run(pass_, x, w, b, gy, kw)
    np.testing.assert_array_equal(one, two)


def test_tile_override_rejects_other_sizes():
    with pytest.raises(ValueError, match="tile must be 2, 4 or 5"):
        _core._conv2d_winograd_tile(3)


def test_5x5_ignores_the_forced_tile():
    """F(4x4,5x5) and F(5x5,5x5) do not exist here: a 5x5 kernel runs F(2x2,5x5) whatever tile is forced."""
    x, w, b, gy, kw = _data("odd-pad1", np.float32, 5)
    with tile(2):
        two = F.conv2d(x, w, b, **kw, algo="winograd")
    with tile(4):
        four = F.conv2d(x, w, b, **kw, algo="winograd")
    with tile(5):
        five = F.conv2d(x, w, b, **kw, algo="winograd")
    np.testing.assert_array_equal(two, four)
    np.testing.assert_array_equal(two, five)


@pytest.mark.parametrize("hw,want", [(13, 5), (14, 5), (28, 4), (12, 4)])
def test_per_shape_tile_is_the_one_with_fewer_transform_values(rng, hw, want):
    """The per-shape choice (tile 0) runs F(5x5,3x3) where 5x5 tiles need <= 85% of F(4x4)'s
    transform-domain values (13x13: 9 x 49 against 16 x 36), else F(4x4,3x3): its output is
    bit-identical to the forced tile's and differs from the other's."""
    x = rng.standard_normal((2, 8, hw, hw)).astype(np.float32)
    w = rng.standard_normal((8, 8, 3, 3)).astype(np.float32)
    outs = {}
    for m in (0, 4, 5):
        with tile(m):
            outs[m] = F.conv2d(x, w, None, padding=1, algo="winograd")
    np.testing.assert_array_equal(outs[0], outs[want])
    assert not np.array_equal(outs[0], outs[9 - want])


def test_zero_batch():
    x = np.zeros((0, 3, 8, 8), np.float32)
    w = np.ones((4, 3, 3, 3), np.float32)
    y = F.conv2d(x, w, np.ones(4, np.float32), padding=1, algo="winograd")
    assert y.shape == (0, 4, 8, 8)
    gx, gw, _ = F.conv2d_backward(y, x, w, padding=1, algo="winograd")
    assert gx.shape == x.shape and not gw.any()


GEMM_ISAS = [i for i in ("avx512", "avx2", "generic") if _core.gemm_isa_supported(i)]


@pytest.mark.parametrize("isa", GEMM_ISAS)
@pytest.mark.parametrize("name", ["k130-forward", "k130-grad-x", "k130-groups2", "positions-c200"])
def test_wide_channels_on_each_gemm_path(isa, name):
    """Shapes whose transform-domain GEMMs run on nnkern's GEMM (AVX-512 and AVX2 packed layouts)
    or on OpenBLAS (generic path): within the bound on each, and each pass really ran on the
    engine its ISA setting names (positions-c200: the wide-layer schedule on both). The engine is
    read from the kernel, not inferred from differing bits: on Zen 3, OpenBLAS's Haswell sgemm
    and nnkern's AVX2 kernel sum K in the same FMA order and give the same bits here."""
    x, w, b, gy, kw = _data(name, np.float32)
    want = "openblas" if isa == "generic" else "nnkern-gemm"
    prev = _core._gemm_set_isa(isa)
    try:
        got, engine = {}, {}
        for p in PASSES[:2]:
            got[p] = _run(p, x, w, b, gy, kw)
            engine[p] = _core._conv2d_winograd_last_products()
    finally:
        _core._gemm_set_isa(prev)
    for p, out in got.items():
        assert_close(out, _reference(p, x, w, b, gy, kw), rtol=0.0, atol=winograd_bound(p, x, w, b, gy, kw),
                     what=f"{isa} {name} {p}")
    checked = "forward" if "forward" in name or "groups" in name else "backward_input"
    assert engine[checked] == want, f"{isa} {name} {checked}: ran on {engine[checked]}"


# Below 128 channels per group on the GEMMs' K side the products run in small_products or on
# OpenBLAS, never on nnkern's GEMM, so the ISA setting changes only the vector width of the
# transposes and of small_products (64 bytes on avx512, 32 elsewhere: AVX2's 16 registers):
# those move and sum the same values in the same order, so every pass gives the same bits.
NARROW_CASES = [n for n in CASES if not n.startswith(("k130", "k400", "positions"))]


@pytest.mark.skipif("avx512" not in GEMM_ISAS, reason="needs an AVX-512 CPU to compare the two widths")
@pytest.mark.parametrize("name", NARROW_CASES)
def test_transform_vector_width_gives_the_same_bits(name):
    for m, r in ALGOS:
        for dtype in (np.float32, np.float64):
            x, w, b, gy, kw = _data(name, dtype, r)
            got = {}
            for isa in ("avx512", "avx2"):
                prev = _core._gemm_set_isa(isa)
                try:
                    with tile(m):
                        got[isa] = [_run(p, x, w, b, gy, kw) for p in PASSES]
                finally:
                    _core._gemm_set_isa(prev)
            for p, wide, narrow in zip(PASSES, got["avx512"], got["avx2"]):
                np.testing.assert_array_equal(wide, narrow, err_msg=f"F({m}x{m},{r}x{r}) {name} {dtype.__name__} {p}")


# Strided shapes through the phase decomposition: (N, C, H, W), OC, kernel, stride, padding,
# groups. AlexNet's first layer in small (11x11 stride 4), 5x5 stride 2 (3 taps per phase), 9x9
# stride 2 (5 taps: F(2x2,5x5)), 9x9 stride 3, groups, odd sizes, padding past the stride.
STRIDED = {
    "k11-s4": ((2, 3, 35, 33), 8, 11, 4, 2, 1),
    "k5-s2-groups2": ((1, 4, 13, 12), 6, 5, 2, 1, 2),
    "k9-s2": ((2, 2, 19, 17), 5, 9, 2, 3, 1),
    "k9-s3-pad0": ((1, 3, 20, 21), 4, 9, 3, 0, 1),
    "k6-s2-n1": ((1, 10, 11, 14), 9, 6, 2, (2, 1), 1),
}


def _strided_data(name, dtype):
    xs, oc, k, st, pad, g = STRIDED[name]
    rng = np.random.default_rng(zlib.crc32(f"{name}-{np.dtype(dtype).name}".encode()))
    x = rng.standard_normal(xs).astype(dtype)
    w = (rng.standard_normal((oc, xs[1] // g, k, k)) / np.sqrt(k * k * xs[1] / g)).astype(dtype)
    b = rng.standard_normal(oc).astype(dtype)
    kw = dict(stride=st, padding=pad, groups=g)
    gy = rng.standard_normal(R.conv2d(x, w, b, **kw).shape).astype(dtype)
    return x, w, b, gy, kw


@pytest.mark.parametrize("pass_", PASSES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", STRIDED)
def test_strided_within_the_bound_of_its_phase_problem(name, dtype, pass_):
    x, w, b, gy, kw = _strided_data(name, dtype)
    got = _run(pass_, x, w, b, gy, kw)
    assert got.dtype == dtype
    assert_close(got, _reference(pass_, x, w, b, gy, kw), rtol=0.0, atol=winograd_bound(pass_, x, w, b, gy, kw),
                 what=f"winograd phases {name} {pass_}")


@pytest.mark.parametrize("pass_", PASSES)
@pytest.mark.parametrize("name", ["k11-s4", "k9-s2"])
def test_strided_in_chunks_of_one_image(name, pass_):
    """A budget of 1 element: every image is its own chunk (the chunk offsets and grad_weight's
    sum over chunks): forward and grad_x equal the one-chunk result, grad_weight differs in
    rounding (so the chunked sum really ran) and all three are within the bound."""
    x, w, b, gy, kw = _strided_data(name, np.float64)
    x, gy = np.concatenate([x, x[::-1], x]), np.concatenate([gy, gy, gy[::-1]])
    whole = _run(pass_, x, w, b, gy, kw)
    with phase_budget(1):
        chunks = _run(pass_, x, w, b, gy, kw)
    if pass_ == "backward_weight":  # per-chunk Winograd sums, then added: other roundings, same bound below
        assert not np.array_equal(chunks, whole) or x.shape[0] == 1
    else:
        np.testing.assert_array_equal(chunks, whole)  # images are independent: the same arithmetic
    assert_close(chunks, _reference(pass_, x, w, b, gy, kw), rtol=0.0, atol=winograd_bound(pass_, x, w, b, gy, kw),
                 what=f"winograd phases {name} {pass_} in chunks")


def test_phase_problem_is_the_strided_convolution(rng):
    """The decomposition itself (NumPy, float64): the stride-1 correlation of the phase planes
    is the strided convolution."""
    for name in STRIDED:
        x, w, b, gy, kw = _strided_data(name, np.float64)
        xq, wq, kq = phase_problem(x, w, kw)
        np.testing.assert_allclose(R.conv2d(xq, wq, b, **kq), R.conv2d(x, w, b, **kw), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("budget", [0, 1])
@pytest.mark.parametrize("pass_", PASSES)
def test_strided_one_and_two_threads_bit_identical(rng, threads, pass_, budget):
    x = rng.standard_normal((6, 3, 131, 127)).astype(np.float32)  # 32x31 outputs: several work items
    w = rng.standard_normal((8, 3, 11, 11)).astype(np.float32)
    b = rng.standard_normal(8).astype(np.float32)
    kw = dict(stride=4, padding=2)
    gy = rng.standard_normal(F.conv2d(x, w, b, **kw).shape).astype(np.float32)
    with phase_budget(budget):  # 0: the default (one chunk), 1: a chunk per image
        threads(1)
        one = _run(pass_, x, w, b, gy, kw)
        threads(2)
        two = _run(pass_, x, w, b, gy, kw)
    np.testing.assert_array_equal(one, two)


def test_strided_float64_gradients_match_finite_differences(rng):
    x = rng.standard_normal((1, 2, 11, 10))
    w = rng.standard_normal((3, 2, 5, 5))
    kw = dict(stride=2, padding=1)
    r = rng.standard_normal(F.conv2d(x, w, None, **kw, algo="winograd").shape)
    loss = lambda: float(np.sum(F.conv2d(x, w, None, **kw, algo="winograd") * r))  # noqa: E731
    gx, gw, _ = F.conv2d_backward(r, x, w, **kw, algo="winograd")
    for got, arr, what in ((gx, x, "x"), (gw, w, "weight")):
        assert_close(got, numerical_grad(loss, arr), rtol=1e-6, atol=1e-7, what=f"phases d loss/d {what}")


@pytest.mark.parametrize("kw,error", [(dict(stride=2, padding=2 ** 20), ValueError),
                                      (dict(stride=2, padding=2 ** 30), OverflowError),
                                      (dict(stride=2 ** 31, padding=2), ValueError)])
def test_strided_hostile_sizes_raise(kw, error):
    """Padding whose phase planes would not fit, and a stride the phases do not apply to: Python
    exceptions before any memory is touched."""
    x, w = np.ones((1, 1, 3, 3), np.float32), np.ones((1, 1, 5, 5), np.float32)
    with pytest.raises(error):
        F.conv2d(x, w, None, **kw, algo="winograd")
    with pytest.raises(error):
        F.conv2d_backward(np.ones((1, 1, 1, 1), np.float32), x, w, **kw, algo="winograd")


def chunk_budget(elements):
    """The wide-layer schedule's chunk budget (elements of transformed tiles; 1 = a block per chunk)."""
    return setting(_core._conv2d_winograd_chunk_budget, elements)


def _positions(cg, og):
    """Whether a pass runs the wide-layer schedule (src/conv2d_winograd_impl.h: positions_schedule)."""
    return og * cg >= 96 * (og + cg)


@pytest.mark.parametrize("pass_", PASSES)
@pytest.mark.parametrize("name", sorted(set(CASES) | set(THREAD_CASES)))
def test_schedule_follows_the_channel_rule(rng, name, pass_):
    xs, oc, pad, groups = CASES.get(name) or THREAD_CASES[name]
    x = rng.standard_normal(xs).astype(np.float32)
    w = rng.standard_normal((oc, xs[1] // groups, 3, 3)).astype(np.float32)
    kw = dict(padding=pad, groups=groups)
    gy = rng.standard_normal(F.conv2d(x, w, None, **kw).shape).astype(np.float32)
    _run(pass_, x, w, None, gy, kw)
    expected = 2 if _positions(xs[1] // groups, oc // groups) else 1
    assert _core._conv2d_winograd_last_schedule() == expected
    if name.startswith("positions"):  # the cases meant for the wide-layer schedule reach it
        assert expected == 2


@pytest.mark.parametrize("pass_", PASSES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", ["positions-c200", "positions-groups2"])
def test_positions_in_chunks_of_one_block_bit_identical(rng, threads, name, dtype, pass_):
    """Chunks of one block (the chunk loop, the buffer reused; grad_weight: beta 1 across chunks)
    give the bits of one chunk: every output sums in the same order either way."""
    xs, oc, pad, groups = CASES[name]
    x = rng.standard_normal(xs).astype(dtype)
    w = rng.standard_normal((oc, xs[1] // groups, 3, 3)).astype(dtype)
    kw = dict(padding=pad, groups=groups)
    gy = rng.standard_normal(F.conv2d(x, w, None, **kw).shape).astype(dtype)
    run = lambda: _run(pass_, x, w, None, gy, kw)  # noqa: E731
    threads(2)
    whole = run()
    with chunk_budget(1):
        chunked = run()
        assert _core._conv2d_winograd_last_schedule() == 2
        threads(1)
        chunked_one = run()
    np.testing.assert_array_equal(chunked, whole)
    np.testing.assert_array_equal(chunked_one, whole)


def test_weight_positions_float64_gradient_matches_finite_differences(rng):
    """The wide-layer grad_weight schedule against central differences of the float64 loss, at a
    sample of weights (the full finite-difference gradient of 194 x 198 x 9 weights is too slow)."""
    x = rng.standard_normal((1, 194, 6, 5))
    w = rng.standard_normal((198, 194, 3, 3))
    r = rng.standard_normal(F.conv2d(x, w, None, padding=1, algo="winograd").shape)
    _, gw, _ = F.conv2d_backward(r, x, w, padding=1, output_mask=(False, True, False), algo="winograd")
    assert _core._conv2d_winograd_last_schedule() == 2
    eps = 1e-6
    for flat in rng.choice(w.size, 12, replace=False):
        idx = np.unravel_index(flat, w.shape)
        old = w[idx]
        w[idx] = old + eps
        up = float(np.sum(F.conv2d(x, w, None, padding=1, algo="winograd") * r))
        w[idx] = old - eps
        down = float(np.sum(F.conv2d(x, w, None, padding=1, algo="winograd") * r))
        w[idx] = old
        assert_close(np.array(gw[idx]), np.array((up - down) / (2 * eps)), rtol=1e-6, atol=1e-6,
                     what=f"positions d loss/d w{idx}")
