"""``nnkern demo``: one convolution layer natively and with the NumPy reference."""
import time

import numpy as np

from . import _core
from . import functional as F
from . import reference as R


def _median_time(fn, repeat):
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def run_demo(threads=None, repeat=5):
    if threads:
        _core.set_num_threads(threads)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((100, 16, 28, 28), dtype=np.float32)
    w = rng.standard_normal((16, 16, 3, 3), dtype=np.float32) * 0.1
    b = rng.standard_normal(16, dtype=np.float32)
    y = F.conv2d(x, w, b, padding=1)
    y_ref = R.conv2d(x, w, b, padding=1)
    err = float(np.max(np.abs(y - y_ref)))
    t_nat = _median_time(lambda: F.conv2d(x, w, b, padding=1), repeat)
    t_ref = _median_time(lambda: R.conv2d(x, w, b, padding=1), repeat)
    info = _core.build_info()
    print(f"conv2d 3x3 pad 1: x {x.shape} float32, weight {w.shape}, threads {info['num_threads']}, "
          f"BLAS core {info['blas_corename']}")
    print(f"max |native - reference| = {err:.2e}")
    print(f"native {t_nat * 1e3:.2f} ms, reference {t_ref * 1e3:.2f} ms (median of {repeat}): "
          f"speed-up {t_ref / t_nat:.1f}x")
    return 0 if err < 1e-3 else 1
