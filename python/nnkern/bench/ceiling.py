"""The GEMM ceiling of a benchmark run: a large sgemm through nnkern's own OpenBLAS
(libscipy_openblas, called with ctypes: the library and thread count nnkern's kernels use)
and through torch.matmul, in GFLOP/s, timed in the same process as the workloads."""
import ctypes
import os
import time

import numpy as np

from .workloads import torch_or_none

_ROW_MAJOR, _NO_TRANS = 101, 111


def _openblas():
    import scipy_openblas32 as sob
    lib = ctypes.CDLL(os.path.join(sob.get_lib_dir(), sob.get_library(True)))
    f = lib.scipy_cblas_sgemm
    f.restype = None
    f.argtypes = [ctypes.c_int] * 6 + [ctypes.c_float, ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p, ctypes.c_int,
                                       ctypes.c_float, ctypes.c_void_p, ctypes.c_int]
    return f


def _best_rate(fn, flops, repeat):
    fn()
    best = min(_timed(fn) for _ in range(repeat))
    return flops / best / 1e9


def _timed(fn):
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def sgemm_ceiling(threads, size=2048, repeat=5):
    """{'size': n, 'nnkern OpenBLAS': GFLOP/s, 'torch matmul': GFLOP/s or None}: the best of
    `repeat` n x n x n float32 products on `threads` threads (nnkern.set_num_threads sets
    OpenBLAS's count too)."""
    import nnkern
    nnkern.set_num_threads(threads)
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal((size, size), dtype=np.float32) for _ in range(2))
    c = np.empty((size, size), np.float32)
    sgemm = _openblas()
    flops = 2.0 * size ** 3
    out = {"size": size}

    def blas():  # ctypes releases the GIL, like nnkern's kernels
        sgemm(_ROW_MAJOR, _NO_TRANS, _NO_TRANS, size, size, size, 1.0, a.ctypes.data, size, b.ctypes.data, size,
              0.0, c.ctypes.data, size)
    out["nnkern OpenBLAS"] = _best_rate(blas, flops, repeat)
    torch = torch_or_none()
    out["torch matmul"] = None
    if torch is not None:
        torch.set_num_threads(threads)
        ta, tb = torch.from_numpy(a), torch.from_numpy(b)
        out["torch matmul"] = _best_rate(lambda: torch.matmul(ta, tb), flops, repeat)
    return out
