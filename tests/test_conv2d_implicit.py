"""The implicit-GEMM convolution (algo="implicit") on every GEMM ISA path this CPU can run
(test_conv2d_algos.py covers the default path on the whole case table): forward,
backward_input and backward_weight against the float64 reference on shapes that hit the
packing's special cases, and 1 vs 2 threads bit-identical per path."""
import numpy as np
import pytest
from cases import conv2d_case
from conftest import assert_close
from nnkern import _core
from nnkern import functional as F
from nnkern import reference as R
from tolerances import reduction_tol as tol

ISAS = [i for i in ("avx512", "avx2", "generic") if _core.gemm_isa_supported(i)]

# ([x (N, C, H, W), weight (OC, C/groups, KH, KW), bias], conv arguments)
CASES = {
    # strips that cross output rows and images (OW < vector width, P < strip width)
    "tiny-planes": ([(5, 3, 4, 3), (7, 3, 2, 2), (7,)], {}),
    "odd-rows-pad": ([(3, 5, 13, 11), (9, 5, 3, 3), (9,)], dict(padding=1)),
    # staged rows (column stride > 1) with dilation, and rectangular everything
    "stride3-dil2": ([(2, 4, 17, 19), (6, 4, 3, 2), (6,)], dict(stride=(2, 3), padding=(1, 2), dilation=(1, 2))),
    # padding larger than the kernel reach: backward_input's padding is negative
    "pad-exceeds": ([(2, 3, 6, 7), (5, 3, 3, 3), (5,)], dict(padding=3)),
    # groups, OC/G not a multiple of the register tile, K over several KC blocks
    "groups-deep": ([(2, 48, 9, 8), (20, 24, 3, 3), (20,)], dict(padding=1, groups=2)),
    "dilated-1x5": ([(2, 6, 10, 20), (11, 6, 1, 5), (11,)], dict(padding=(0, 4), dilation=(1, 2))),
}


def make_case(rng, case, dtype):
    return conv2d_case(rng, *case, dtype)


def run(pass_, x, w, b, gy, kw):
    if pass_ == "forward":
        return F.conv2d(x, w, b, **kw, algo="implicit")
    mask = (True, False, False) if pass_ == "backward_input" else (False, True, False)
    out = F.conv2d_backward(gy, x, w, **kw, output_mask=mask, algo="implicit")
    return out[0] if pass_ == "backward_input" else out[1]


def applies(pass_, kw):
    stride = kw["stride"] if isinstance(kw["stride"], tuple) else (kw["stride"],) * 2
    return pass_ != "backward_input" or stride == (1, 1)


@pytest.fixture(params=ISAS)
def isa(request):
    prev = _core._gemm_set_isa(request.param)
    yield request.param
    _core._gemm_set_isa(prev)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", CASES)
def test_implicit_matches_reference_on_every_isa(rng, isa, name, dtype):
    x, w, b, kw = make_case(rng, CASES[name], dtype)
    x64, w64, b64 = (a.astype(np.float64) for a in (x, w, b))
    y_ref = R.conv2d(x64, w64, b64, **kw)
    gy = rng.standard_normal(y_ref.shape).astype(dtype)
    gx_ref, gw_ref, _ = R.conv2d_backward(gy.astype(np.float64), x64, w64, **kw)
    refs = {"forward": (y_ref, w[0].size), "backward_input": (gx_ref, w.size),
            "backward_weight": (gw_ref, gy.size // gy.shape[1])}
    for pass_, (ref, reduction) in refs.items():
        if applies(pass_, kw):
            got = run(pass_, x, w, b, gy, kw)
            assert got.dtype == dtype
            assert_close(got, ref, **tol(dtype, reduction, ref), what=f"{isa} {name} {pass_}")


THREAD_CASES = {  # over 2^20 multiply-adds per pass, the implicit kernels' threshold for threads
    "3x3-pad": ([(6, 16, 30, 29), (24, 16, 3, 3), (24,)], dict(padding=1)),
    "stride3-dil2": ([(8, 16, 40, 50), (12, 16, 3, 2), (12,)], dict(stride=(2, 3), padding=(1, 2), dilation=(1, 2))),
    "groups-deep": ([(6, 48, 17, 16), (20, 24, 3, 3), (20,)], dict(padding=1, groups=2)),
}


@pytest.mark.parametrize("name", THREAD_CASES)
def test_implicit_one_and_two_threads_bit_identical_on_every_isa(rng, threads, isa, name):
    x, w, b, kw = make_case(rng, THREAD_CASES[name], np.float32)
    gy = rng.standard_normal(F.conv2d(x, w, b, **kw).shape).astype(np.float32)
    for pass_ in ("forward", "backward_input", "backward_weight"):
        if applies(pass_, kw):
            threads(1)
            one = run(pass_, x, w, b, gy, kw)
            threads(2)
            two = run(pass_, x, w, b, gy, kw)
            np.testing.assert_array_equal(one, two, err_msg=f"{isa} {name} {pass_}")
