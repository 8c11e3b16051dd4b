"""The direct convolution (algo="direct", forward, <= 4 input channels per group) beyond the
shared algorithm table of test_conv2d_algos.py: the shapes that exercise its blocks (output
channels not a multiple of its 6-channel block, rows shorter than a vector, rows that end in an
overlapping vector, odd row counts, padding on one side only, groups), against the reference, and
the same bits from its 64-byte (AVX-512) and 32-byte (AVX2) code."""
import numpy as np
import pytest
from conftest import assert_close
from nnkern import _core
from nnkern import functional as F
from nnkern import reference as R
from tolerances import reduction_tol as tol

# (N, C, H, W), (OC, C/groups, KH, KW), conv arguments
SHAPES = {
    "c1-oc7-ow41": ((2, 1, 9, 41), (7, 1, 3, 5), dict(padding=(1, 2))),
    "c4-oc13-ow7": ((1, 4, 6, 7), (13, 4, 3, 3), dict(padding=(0, 1))),
    "oh1-kw-over-w": ((2, 2, 3, 3), (5, 2, 3, 5), dict(padding=(0, 1))),  # OH = OW = 1, KW > W
    "depthwise-n1": ((1, 8, 10, 19), (8, 1, 3, 3), dict(padding=1, groups=8)),
    "c3-g2-oc14": ((3, 6, 11, 20), (14, 3, 4, 2), dict(padding=(2, 1), groups=2)),
    "c2-oc6-k1": ((2, 2, 5, 33), (6, 2, 1, 1), {}),
    "c1-oc1-7x7": ((1, 1, 17, 16), (1, 1, 7, 7), dict(padding=3)),
}
GEMM_ISAS = [i for i in ("avx512", "avx2") if _core.gemm_isa_supported(i)]


def data(rng, name, dtype):
    xs, ws, kw = SHAPES[name]
    x = rng.standard_normal(xs).astype(dtype)
    w = rng.standard_normal(ws).astype(dtype)
    b = rng.standard_normal(ws[0]).astype(dtype)
    return x, w, b, kw


@pytest.mark.parametrize("isa", GEMM_ISAS or ["generic"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", SHAPES)
def test_direct_matches_reference(rng, name, dtype, isa):
    x, w, b, kw = data(rng, name, dtype)
    prev = _core._gemm_set_isa(isa)
    try:
        got = F.conv2d(x, w, b, **kw, algo="direct")
    finally:
        _core._gemm_set_isa(prev)
    ref = R.conv2d(*(a.astype(np.float64) for a in (x, w, b)), **kw)
    assert_close(got, ref, **tol(dtype, w[0].size, ref), what=f"direct {name} {isa}")


@pytest.mark.skipif(len(GEMM_ISAS) < 2, reason="needs an AVX-512 CPU to compare the two vector widths")
@pytest.mark.parametrize("name", SHAPES)
def test_direct_vector_width_gives_the_same_bits(rng, name):
    """Each output is the same FMA chain over the taps whichever width and column block computed it."""
    for dtype in (np.float32, np.float64):
        x, w, b, kw = data(rng, name, dtype)
        got = {}
        for isa in ("avx512", "avx2"):
            prev = _core._gemm_set_isa(isa)
            try:
                got[isa] = F.conv2d(x, w, b, **kw, algo="direct")
            finally:
                _core._gemm_set_isa(prev)
        np.testing.assert_array_equal(got["avx512"], got["avx2"], err_msg=f"{name} {dtype.__name__}")


# Padded planes over kDirectMaxScratch (2^24 elements) are left to im2col, so direct's per-thread
# scratch stays bounded and its size arithmetic cannot overflow: a column of 2^20 + 8 rows has
# rows padded to 16 float32 lanes, (2^20 + 8) x 16 elements; 8 rows fewer fit.
def test_direct_refuses_padded_planes_over_its_scratch_bound(rng):
    import nnkern.conv_algo as A

    h = (1 << 20) + 8
    for rows, fits in ((h, False), (h - 16, True)):
        cands = A.conv2d_algo_candidates((1, 1, rows, 1), (2, 1, 1, 1), pass_="forward", dtype=np.float32)
        assert ("direct" in cands) == fits, (rows, cands)
    x = rng.standard_normal((1, 1, h, 1)).astype(np.float32)
    w = rng.standard_normal((2, 1, 1, 1)).astype(np.float32)
    with pytest.raises(ValueError, match="2\\^24"):
        F.conv2d(x, w, algo="direct")
    ref = R.conv2d(x, w)
    assert_close(F.conv2d(x, w), ref, **tol(np.float32, 1, ref))  # auto falls back
