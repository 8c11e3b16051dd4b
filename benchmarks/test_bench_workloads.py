"""pytest-benchmark cases for every workload in nnkern/bench/workloads (not part of the test
suite: `testpaths` is tests/). Run, e.g.:

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python -m pytest benchmarks -k conv2d --benchmark-only

Each workload is timed for nnkern and the reference (and torch when installed); compare.py
prints the same numbers side by side as one table.
"""
import pytest
from nnkern.bench.workloads import all_workloads

CASES = [(wl, impl) for wl in all_workloads() for impl in ("nnkern", "reference", "torch")]


@pytest.mark.parametrize("wl,impl", CASES, ids=[f"{w.family}-{w.name}-{i}".replace(" ", "_") for w, i in CASES])
def test_workload(benchmark, wl, impl):
    fns = wl.make()
    if fns.get(impl) is None:
        pytest.skip(f"{impl} not available")
    benchmark.group = f"{wl.family} {wl.name}"
    benchmark(fns[impl])
