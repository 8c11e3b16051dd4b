"""Thread control: nnkern.set_num_threads drives both pools; OMP_NUM_THREADS is respected."""
import json
import os
import subprocess
import sys

import nnkern
import pytest

# In a fresh process: once a test has imported torch, its bundled libgomp is loaded too, and with
# the same soname (libgomp.so.1) a source build's nnkern even runs on torch's copy; threadpoolctl
# then reports pools that are not nnkern's. A process that imports only nnkern sees its own pools:
# its OpenBLAS (scipy-openblas32; numpy's is another library with a similar prefix) and its libgomp
# (the system's for a source build, the one bundled in nnkern.libs for the repaired wheel).
POOLS_AFTER_SET = """
import json, sys, nnkern
from threadpoolctl import threadpool_info
out = []
for n in (1, 2, 1):
    nnkern.set_num_threads(n)
    ours = [p for p in threadpool_info() if p["prefix"] == "libgomp" or "scipy_openblas32" in p["filepath"]]
    out.append({"n": n, "nnkern": nnkern.get_num_threads(), "blas": nnkern._core.blas_get_num_threads(),
                "pools": sorted([p["user_api"], p["prefix"], p["num_threads"]] for p in ours)})
print(json.dumps(out))
"""


def test_set_num_threads_sets_openmp_and_openblas():
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS")}
    res = subprocess.run([sys.executable, "-c", POOLS_AFTER_SET], env=env, capture_output=True, text=True,
                         check=True, timeout=120)
    for step in json.loads(res.stdout):
        n = step["n"]
        assert step["nnkern"] == n and step["blas"] == n, step
        assert step["pools"] == [["blas", "libscipy_openblas", n], ["openmp", "libgomp", n]], step


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
