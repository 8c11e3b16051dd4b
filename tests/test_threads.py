"""Thread control: nnkern.set_num_threads drives both pools; OMP_NUM_THREADS is respected."""
import os
import subprocess
import sys

import nnkern
import pytest
from threadpoolctl import threadpool_info


def pools():
    """Thread counts by (api, prefix) of nnkern's own pools (numpy's OpenBLAS is a different
    library with a similar prefix, libscipy_openblas64_)."""
    ours = [p for p in threadpool_info() if p["prefix"] == "libgomp" or "scipy_openblas32" in p["filepath"]]
    return {(p["user_api"], p["prefix"]): p["num_threads"] for p in ours}


def test_set_num_threads_sets_openmp_and_openblas(threads):
    for n in (1, 2):
        threads(n)
        assert nnkern.get_num_threads() == n
        assert nnkern._core.blas_get_num_threads() == n
        p = pools()
        assert p[("blas", "libscipy_openblas")] == n
        assert p[("openmp", "libgomp")] == n


def test_set_num_threads_rejects_non_positive():
    with pytest.raises(ValueError, match="n must be >= 1"):
        nnkern.set_num_threads(0)


def test_omp_num_threads_is_respected():
    env = dict(os.environ, OMP_NUM_THREADS="1")
    code = "import nnkern; print(nnkern.get_num_threads(), nnkern._core.blas_get_num_threads())"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["1", "1"]


def test_info_command_runs():
    out = subprocess.run([sys.executable, "-m", "nnkern", "info"], capture_output=True, text=True, check=True)
    assert "SIMD path" in out.stdout and "libscipy_openblas" in out.stdout and "libgomp" in out.stdout
