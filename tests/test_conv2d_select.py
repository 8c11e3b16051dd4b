"""Convolution algorithm selection: the heuristic's rule table pinned on the bench's
workload shapes, the selection modes (set_conv_algo, NNKERN_CONV_ALGO) and the
benchmark-mode cache."""
import os
import subprocess
import sys

import nnkern
import numpy as np
import pytest
from nnkern import _core
from nnkern import functional as F
from nnkern.bench.workloads.conv2d import BENCH, SHAPES
from test_conv2d_algos import BUILT, CASES, PASSES, shapes

# What algo="auto" picks (heuristic mode) for the bench's workloads, per pass
# (forward / grad_x / grad_weight) and dtype, with nnkern's SIMD GEMM kernels (AVX2 or
# AVX-512) and with the portable ones. The rules and their measurements: src/conv2d_algo.cpp;
# change this table only with new measurements there.
W, IM, IC, DI = "winograd", "im2col", "implicit", "direct"
PICKS = {
    "mnist-simpleconv": (DI, IM, IM),
    "deepconv-3x3": (W, W, W),
    "keras-cnn-conv2": (W, W, W),
    "alexnet-conv1": (W, W, W),  # 11x11 stride 4: Winograd on its 4x4 phase planes
    "alexnet-conv2-g2": (W, W, W),
    "alexnet-conv3": (W, W, W),
}
PICKS_GENERIC = {k: tuple(IM if a in (IC, DI) else a for a in v) for k, v in PICKS.items()}


def workload_query(name, dtype):
    xs, (oc, kh, kw), stride, pad, groups = SHAPES[name]
    return dict(x_shape=xs, weight_shape=(oc, xs[1] // groups, kh, kw), stride=stride, padding=pad,
                groups=groups, dtype=dtype)


def picks(name, dtype):
    return tuple(nnkern.conv_algo.conv2d_algo_for(**workload_query(name, dtype), pass_=p) for p in PASSES)


@pytest.mark.parametrize("isa,table", [("simd", PICKS), ("generic", PICKS_GENERIC)])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_heuristic_rule_table_on_the_bench_workloads(isa, table, dtype):
    assert set(PICKS) == set(BENCH), "pin every bench workload"
    best = _core.gemm_isa()
    if isa == "simd" and best == "generic":
        pytest.skip("this CPU has neither AVX2+FMA nor AVX-512")
    prev = _core._gemm_set_isa("generic") if isa == "generic" else None
    try:
        got = {name: picks(name, dtype) for name in table}
    finally:
        if prev:
            _core._gemm_set_isa(prev)
    assert got == table


@pytest.mark.parametrize("isa,kernel,groups,want", [
    ("avx2", 3, 1, DI), ("avx2", 5, 1, DI), ("avx512", 3, 1, IM), ("avx512", 5, 1, DI), ("avx512", 3, 16, DI),
    ("generic", 5, 1, IM), ("generic", 3, 16, IM)])
def test_direct_rule_depends_on_the_gemm_isa(isa, kernel, groups, want):
    """Direct summation for <= 4 input channels: every kernel size with AVX2; 5x5 and up, or <= 4
    outputs per group (depthwise), with AVX-512 (other 3x3 layers tie there); never on the
    portable path (src/conv2d_algo.cpp: direct_pays)."""
    if not _core.gemm_isa_supported(isa):
        pytest.skip(f"this CPU cannot run the {isa} path")
    prev = _core._gemm_set_isa(isa)
    try:
        got = nnkern.conv_algo.conv2d_algo_for(x_shape=(100, groups, 28, 28), weight_shape=(16, 1, kernel, kernel),
                                               padding=kernel // 2, groups=groups, dtype="float32", pass_="forward")
    finally:
        _core._gemm_set_isa(prev)
    assert got == want


# ---- selection modes and the benchmark cache ----

@pytest.fixture
def conv_mode():
    before = nnkern.get_conv_algo()
    _core.conv2d_autotune_clear()
    yield nnkern.set_conv_algo
    nnkern.set_conv_algo(before)
    _core.conv2d_autotune_clear()


def test_set_conv_algo_modes(conv_mode):
    assert nnkern.get_conv_algo() == "heuristic"
    for mode in ("benchmark", "im2col", "heuristic"):
        conv_mode(mode)
        assert nnkern.get_conv_algo() == mode
    conv_mode("auto")
    assert nnkern.get_conv_algo() == "heuristic"
    with pytest.raises(ValueError, match="unknown mode 'fastest'"):
        conv_mode("fastest")
    assert nnkern.get_conv_algo() == "heuristic"


def test_benchmark_mode_measures_each_key_once(conv_mode, threads):
    conv_mode("benchmark")
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 5, 9, 8)).astype(np.float32)
    w = rng.standard_normal((6, 5, 3, 3)).astype(np.float32)
    gy = np.ones((2, 6, 9, 8), np.float32)
    threads(1)
    y1 = F.conv2d(x, w, padding=1)
    assert _core.conv2d_autotune_count() == 1
    y2 = F.conv2d(x, w, padding=1)  # same key: cached
    assert _core.conv2d_autotune_count() == 1
    np.testing.assert_array_equal(y1, y2)
    F.conv2d_backward(gy, x, w, padding=1)  # two more passes (bias grad is not selected)
    assert _core.conv2d_autotune_count() == 3
    F.conv2d(x.astype(np.float64), w.astype(np.float64), padding=1)  # dtype is part of the key
    F.conv2d(x[:1], w, padding=1)  # so is every size
    F.conv2d(x, w, padding=2)  # and every hyper-parameter
    assert _core.conv2d_autotune_count() == 6
    threads(2)
    F.conv2d(x, w, padding=1)  # and the thread count
    assert _core.conv2d_autotune_count() == 7
    cache = _core.conv2d_autotune_cache()
    assert len(cache) == 7
    rec = [r for r in cache if r["pass"] == "forward" and r["threads"] == 2][0]
    assert rec["x_shape"] == (2, 5, 9, 8) and rec["weight_shape"] == (6, 5, 3, 3)
    assert rec["padding"] == (1, 1) and rec["dtype"] == "float32" and rec["chosen"] in BUILT
    cands = nnkern.conv_algo.conv2d_algo_candidates(x.shape, w.shape, padding=1)
    assert set(rec["seconds"]) == (set(cands) if len(cands) > 1 else set())
    assert nnkern.conv_algo.conv2d_algo_for(x.shape, w.shape, padding=1) == rec["chosen"]


def test_forced_global_algorithm_falls_back_where_it_does_not_apply(conv_mode):
    conv_mode("im2col")
    assert nnkern.conv_algo.conv2d_algo_for((1, 3, 8, 8), (4, 3, 3, 3)) == "im2col"
    x = np.ones((1, 3, 8, 8), np.float32)
    w = np.ones((4, 3, 3, 3), np.float32)
    np.testing.assert_array_equal(F.conv2d(x, w), F.conv2d(x, w, algo="im2col"))


def test_heuristic_picks_an_applicable_algorithm_for_every_case():
    for name, case in CASES.items():
        xs, ws, kw = shapes(case)
        for p in PASSES:
            for d in ("float32", "float64"):
                pick = nnkern.conv_algo.conv2d_algo_for(xs, ws, pass_=p, dtype=d, **kw)
                assert pick in nnkern.conv_algo.conv2d_algo_candidates(xs, ws, pass_=p, dtype=d, **kw), (name, p, d)


def test_algo_query_validates_like_a_call():
    with pytest.raises(ValueError, match="groups=2 must divide"):
        nnkern.conv_algo.conv2d_algo_for((1, 3, 8, 8), (4, 3, 3, 3), groups=2)
    with pytest.raises(ValueError, match="unknown pass"):
        nnkern.conv_algo.conv2d_algo_for((1, 3, 8, 8), (4, 3, 3, 3), pass_="sideways")
    with pytest.raises(TypeError, match="float32 or float64"):
        nnkern.conv_algo.conv2d_algo_for((1, 3, 8, 8), (4, 3, 3, 3), dtype="int32")


@pytest.mark.parametrize("value,expect", [("benchmark", "benchmark"), ("im2col", "im2col"), ("heuristic", "heuristic")])
def test_env_variable_sets_the_mode(value, expect):
    env = dict(os.environ, NNKERN_CONV_ALGO=value)
    out = subprocess.run([sys.executable, "-c", "import nnkern; print(nnkern.get_conv_algo())"], env=env,
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip() == expect


def test_env_variable_with_a_bad_value_names_the_variable():
    env = dict(os.environ, NNKERN_CONV_ALGO="fastest")
    out = subprocess.run([sys.executable, "-c", "import nnkern"], env=env, capture_output=True, text=True)
    assert out.returncode != 0
    assert "NNKERN_CONV_ALGO='fastest'" in out.stderr and "unknown mode" in out.stderr
