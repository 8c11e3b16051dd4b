"""nnkern's own GEMM (src/gemm.h) through the _core._gemm test hook: every ISA path this CPU
can run, edge shapes around the register tile (mr x nr) and the cache blocks (kc, mc, nc),
transposes, alpha/beta, strided operands, NaN-poisoned outputs, the pack-once path, and the
NNKERN_ISA override."""
import os
import subprocess
import sys

import numpy as np
import pytest
from nnkern import _core

ISAS = [i for i in ("avx512", "avx2", "generic") if _core.gemm_isa_supported(i)]
UNIT_ROUNDOFF = {np.float32: 2.0 ** -24, np.float64: 2.0 ** -53}


def edge_shapes(isa, dtype):
    """(m, n, k) around the tile and block sizes of this path: k < kc, k % kc != 0, k a
    multiple of kc, m and n off the micro-tile by one either way, n across an nc block, m
    across an mc block, and degenerate sizes."""
    b = _core._gemm_blocking(isa, dtype)
    mr, nr, kc, mc, nc = b["mr"], b["nr"], b["kc"], b["mc"], b["nc"]
    return [
        (1, 1, 1), (mr, nr, 1), (mr - 1, nr + 1, 7), (mr + 1, nr - 1, kc - 1), (2 * mr + 3, 3 * nr - 5, kc),
        (mr // 2 + 1, 2 * nr + 1, kc + 1), (3, 5, 2 * kc + 3), (mc + 5, nr + 3, 33), (mr + 2, nc + 7, 19),
        (mc + mr + 1, nc + nr + 1, kc + 5), (7, 9, 0), (0, 6, 4), (5, 0, 4),
    ]


def reference(a, b, c, ta, tb, alpha, beta):
    """float64 result and the rounding bound of a length-k dot product (Higham's gamma_n:
    |err| <= n u / (1 - n u) * (|alpha| |A| |B| + |beta| |C|), n = k + 3 for the alpha, beta
    and C roundings). Inputs are exact in float64, so this bound is rigorous for any
    summation order: a correct kernel cannot fail it, a wrong element exceeds it."""
    A = (a.T if ta else a).astype(np.float64)
    B = (b.T if tb else b).astype(np.float64)
    C = c.astype(np.float64) if beta != 0 else np.zeros(c.shape)
    want = alpha * (A @ B) + beta * C
    n = A.shape[1] + 3
    u = UNIT_ROUNDOFF[a.dtype.type]
    bound = n * u / (1 - n * u) * (abs(alpha) * (np.abs(A) @ np.abs(B)) + abs(beta) * np.abs(C))
    return want, bound + np.finfo(a.dtype).tiny


def strided(rng, rows, cols, dtype, pad, fill=None):
    """A (rows, cols) view with row stride cols + pad (unit column stride) into a NaN buffer."""
    buf = np.full((rows, cols + pad), np.nan, dtype)
    view = buf[:, :cols]
    view[...] = rng.standard_normal((rows, cols)) if fill is None else fill
    return buf, view


def check(rng, isa, dtype, m, n, k, ta=False, tb=False, alpha=1.0, beta=0.0, pad=0, packed=False, packed_b=False):
    a = rng.standard_normal((k, m) if ta else (m, k)).astype(dtype)
    b = rng.standard_normal((n, k) if tb else (k, n)).astype(dtype)
    if pad:
        _, a = strided(rng, *a.shape, dtype, pad + 1, fill=a)
        _, b = strided(rng, *b.shape, dtype, pad + 2, fill=b)
    cbuf, c = strided(rng, m, n, dtype, pad)
    if beta == 0:
        c[...] = np.nan  # never read when beta == 0
    c0 = c.copy()
    _core._gemm(a, b, c, trans_a=ta, trans_b=tb, alpha=alpha, beta=beta, isa=isa, packed=packed, packed_b=packed_b)
    want, bound = reference(a, b, c0, ta, tb, alpha, beta)
    assert not np.isnan(c).any(), "unwritten element of C"
    err = np.abs(c - want)
    assert (err <= bound).all(), f"max error {err.max():.3g} over its bound ({m}x{n}x{k})"
    if pad:
        assert np.isnan(cbuf[:, n:]).all(), "wrote outside C (the gap between rows)"


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("isa", ISAS)
def test_gemm_edge_shapes(rng, isa, dtype):
    for m, n, k in edge_shapes(isa, dtype):
        check(rng, isa, dtype, m, n, k)
        check(rng, isa, dtype, m, n, k, packed=True)
        check(rng, isa, dtype, m, n, k, packed_b=True)


@pytest.mark.parametrize("trans", [(False, False), (True, False), (False, True), (True, True)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("isa", ISAS)
def test_gemm_transposes_and_strides(rng, isa, dtype, trans):
    b = _core._gemm_blocking(isa, dtype)
    for m, n, k in [(b["mr"] + 3, b["nr"] * 2 + 5, b["kc"] + 9), (5, 3, 2)]:
        check(rng, isa, dtype, m, n, k, *trans, pad=3)
        check(rng, isa, dtype, m, n, k, *trans, pad=3, packed=True)
        if not trans[0]:  # packed_b reads A in place, untransposed
            check(rng, isa, dtype, m, n, k, *trans, pad=3, packed_b=True)


@pytest.mark.parametrize("alpha,beta", [(1.0, 1.0), (0.5, 0.0), (-2.0, 0.25), (1.0, -1.0), (0.0, 2.0), (0.0, 0.0)])
@pytest.mark.parametrize("isa", ISAS)
def test_gemm_alpha_beta(rng, isa, alpha, beta):
    b = _core._gemm_blocking(isa, np.float32)
    for packed in (False, True):
        check(rng, isa, np.float32, b["mr"] * 2 + 1, b["nr"] + 7, b["kc"] * 2 + 1, alpha=alpha, beta=beta,
              packed=packed)


@pytest.mark.parametrize("beta", [0.0, 1.0])
@pytest.mark.parametrize("isa", ISAS)
def test_gemm_strided_a_accumulates(rng, isa, beta):
    b = _core._gemm_blocking(isa, np.float64)
    check(rng, isa, np.float64, b["mr"] * 3 + 2, b["nr"] * 2 + 1, b["kc"] * 2 + 3, beta=beta, pad=5, packed_b=True)


@pytest.mark.parametrize("isa", ISAS)
def test_gemm_strided_a_equals_packed_gemm(rng, isa):
    """Reading A in place changes no arithmetic: with one K block (k <= kc) it is bit-identical
    to the packing GEMM (its K blocks are longer, so for larger k the partial sums differ)."""
    m, n, k = 37, 70, _core._gemm_blocking(isa, np.float32)["kc"]
    a = rng.standard_normal((m, k)).astype(np.float32)
    b = rng.standard_normal((k, n)).astype(np.float32)
    want, got = np.empty((m, n), np.float32), np.empty((m, n), np.float32)
    _core._gemm(a, b, want, isa=isa)
    _core._gemm(a, b, got, isa=isa, packed_b=True)
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("kw", [dict(packed=True, packed_b=True), dict(packed_b=True, trans_a=True),
                                dict(packed_b=True, alpha=2.0), dict(packed_b=True, beta=0.5)])
def test_gemm_packed_b_refuses_what_it_does_not_compute(kw):
    a, b, c = np.ones((3, 3), np.float32), np.ones((3, 3), np.float32), np.zeros((3, 3), np.float32)
    with pytest.raises(ValueError):
        _core._gemm(a, b, c, **kw)


@pytest.mark.parametrize("isa", ISAS)
def test_gemm_is_independent_of_the_tile_position(rng, isa):
    """Rows computed as part of a big product equal the same rows computed alone: an
    element's arithmetic does not depend on which tile (full or edge) holds it."""
    m, n, k = 29, 70, 500
    a = rng.standard_normal((m, k)).astype(np.float32)
    b = rng.standard_normal((k, n)).astype(np.float32)
    full = np.empty((m, n), np.float32)
    _core._gemm(a, b, full, isa=isa)
    for r0, r1 in [(0, 1), (3, 17), (28, 29)]:
        part = np.empty((r1 - r0, n), np.float32)
        _core._gemm(np.ascontiguousarray(a[r0:r1]), b, part, isa=isa)
        np.testing.assert_array_equal(part, full[r0:r1])
    cols = np.empty((m, 9), np.float32)
    _core._gemm(a, np.ascontiguousarray(b[:, 61:]), cols, isa=isa)
    np.testing.assert_array_equal(cols, full[:, 61:])


def test_gemm_bad_input():
    a = np.ones((4, 3), np.float32)
    b = np.ones((3, 5), np.float32)
    with pytest.raises(ValueError, match="must be \\(k, n\\)"):
        _core._gemm(a, np.ones((4, 5), np.float32), np.empty((4, 5), np.float32))
    with pytest.raises(ValueError, match="shape"):
        _core._gemm(a, b, np.empty((4, 6), np.float32))
    with pytest.raises(TypeError, match="dtype"):
        _core._gemm(a, b, np.empty((4, 5), np.float64))
    with pytest.raises(TypeError, match="float32 or float64"):
        _core._gemm(a.astype(np.int32), b.astype(np.int32), np.empty((4, 5), np.int32))
    ro = np.empty((4, 5), np.float32)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        _core._gemm(a, b, ro)
    buf = np.zeros((4, 8), np.float32)
    with pytest.raises(ValueError, match="overlap"):
        _core._gemm(buf[:, :3], b, buf[:, 3:])
    with pytest.raises(ValueError, match="unit column stride"):
        _core._gemm(np.ones((3, 4), np.float32).T, b, np.empty((4, 5), np.float32))
    with pytest.raises(ValueError, match="isa must be"):
        _core._gemm(a, b, np.empty((4, 5), np.float32), isa="avx9")


def _isa_in_subprocess(value):
    env = dict(os.environ, NNKERN_ISA=value)
    code = "from nnkern import _core; print(_core.gemm_isa()); print(_core.gemm_isa_note())"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return out.stdout.splitlines()


@pytest.mark.parametrize("isa", ISAS)
def test_nnkern_isa_env_caps_the_path(isa):
    assert _isa_in_subprocess(isa)[0] == isa


def test_nnkern_isa_env_rejects_unknown_names():
    name, note = _isa_in_subprocess("sse9")
    assert name == ISAS[0] and "not one of" in note


def test_gemm_set_isa_round_trip():
    prev = _core._gemm_set_isa("generic")
    try:
        assert _core.gemm_isa() == "generic"
    finally:
        _core._gemm_set_isa(prev)
    assert _core.gemm_isa() == prev
