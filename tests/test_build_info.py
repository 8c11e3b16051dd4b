"""nnkern._core.build_info describes this build and this machine: checked against what Python,
OpenBLAS (through threadpoolctl) and the CPU report independently."""
import nnkern
import pytest
from nnkern import _core
from threadpoolctl import threadpool_info

# x86-64 micro-architecture levels (psABI) by the Linux /proc/cpuinfo flags they need
V3 = {"avx", "avx2", "bmi1", "bmi2", "f16c", "fma", "abm", "movbe", "xsave"}
V4 = V3 | {"avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl"}


def cpu_flags():
    try:
        with open("/proc/cpuinfo") as f:
            line = next(ln for ln in f if ln.startswith("flags"))
    except (OSError, StopIteration):
        return None
    return set(line.split(":", 1)[1].split())


def test_version_and_thread_counts_match_python():
    info = _core.build_info()
    assert info["version"] == nnkern.__version__
    assert info["num_threads"] == nnkern.get_num_threads()
    assert info["blas_num_threads"] == _core.blas_get_num_threads()
    assert info["openmp"] >= 201511  # OpenMP 4.5, needed for the kernels' simd clauses


def test_blas_core_is_the_one_openblas_reports():
    info = _core.build_info()
    ours = [p for p in threadpool_info() if "scipy_openblas32" in p["filepath"]]
    assert len(ours) == 1, ours
    assert info["blas_corename"] == ours[0]["architecture"]
    assert ours[0]["version"] in info["blas_config"]


def test_simd_path_matches_the_cpu():
    flags = cpu_flags()
    if flags is None:
        pytest.skip("no /proc/cpuinfo on this system")
    info = _core.build_info()
    if not info["avx512_paths"]:  # the NNK_NO_AVX512 measurement build runs the AVX2 code on any AVX2 CPU
        want = "x86-64-v3 (AVX2+FMA; AVX-512 left out by NNK_NO_AVX512)" if V3 <= flags else "x86-64 (SSE2)"
    else:
        want = "x86-64-v4 (AVX-512)" if V4 <= flags else "x86-64-v3 (AVX2+FMA)" if V3 <= flags else "x86-64 (SSE2)"
    assert info["simd_path"] == want
