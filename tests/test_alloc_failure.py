"""Allocation failures inside parallel regions become MemoryError, and pooling needs no
padded buffer. Each case runs in a child process whose memory is capped (RLIMIT_AS; under
AddressSanitizer, which reserves terabytes of address space, its max_allocation_size_mb
instead), so a failure there cannot take the test run down with it and the cap is exact."""
import json
import os
import subprocess
import sys
import textwrap

import pytest
from nnkern import _core

SANITIZED = "-fsanitize=address" in _core.build_info()["cxx_flags"]
HEADROOM = 1 << 30  # bytes the child may allocate beyond what it has mapped after warming up

CHILD = textwrap.dedent("""
    import json, resource, sys
    import numpy as np
    import nnkern, nnkern.functional as F

    nnkern.set_num_threads(2)
    small_x, small_w = np.ones((2, 3, 8, 8), np.float32), np.ones((4, 3, 3, 3), np.float32)
    want = F.conv2d(small_x, small_w, padding=1, algo="im2col")  # warm: threads, OpenBLAS buffers
    if sys.argv[1] == "rlimit":
        with open("/proc/self/status") as f:
            vm = next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmSize:"))
        resource.setrlimit(resource.RLIMIT_AS, (vm + int(sys.argv[2]), resource.RLIM_INFINITY))
    out = {}

    def attempt(name, fn):
        try:
            r = fn()
            out[name] = ["ok", r]
        except MemoryError as e:
            out[name] = ["MemoryError", str(e)]
        except Exception as e:  # reported, the parent decides
            out[name] = [type(e).__name__, str(e)]

    # one image whose im2col workspace (2^20 x 1024 floats, 4 GiB) is allocated inside the
    # convolution's parallel region, forward and backward (im2col path forced)
    k = 1 << 20
    x, w = np.ones((1, 1, 1, k + 1023), np.float32), np.ones((1, 1, 1, k), np.float32)
    attempt("conv2d forward workspace", lambda: F.conv2d(x, w, algo="im2col").shape)
    gy = np.ones((1, 1, 1, 1024), np.float32)
    attempt("conv2d backward workspace",
            lambda: [None if g is None else g.shape for g in F.conv2d_backward(gy, x, w, algo="im2col")])
    # a window 2^28 wide on a 2x2 input: it once needed a 1 GiB padded row; now its edge
    # columns clamp their taps. Every window covers the whole row here.
    xs = np.arange(8, dtype=np.float32).reshape(2, 1, 2, 2)
    def absurd():
        y = F.max_pool2d(xs, (1, 1 << 28), 1, (0, 1 << 27))
        a = F.avg_pool2d(xs, (1, 1 << 28), 1, (0, 1 << 27), count_include_pad=False)
        rows = lambda v: np.repeat(v, 3, axis=3)
        return [y.shape, bool(np.array_equal(y, rows(xs.max(axis=3, keepdims=True)))),
                bool(np.allclose(a, rows(xs.mean(axis=3, keepdims=True))))]
    attempt("pool absurd window", absurd)
    # the process is healthy afterwards
    attempt("after", lambda: bool(np.array_equal(F.conv2d(small_x, small_w, padding=1, algo="im2col"), want)))
    print(json.dumps(out))
""")


@pytest.fixture(scope="module")
def child_results():
    env = dict(os.environ)
    if SANITIZED:
        env["ASAN_OPTIONS"] = (env.get("ASAN_OPTIONS", "") +
                               f":allocator_may_return_null=1:max_allocation_size_mb={HEADROOM >> 20}")
        args = ["asan"]
    else:
        args = ["rlimit", str(HEADROOM)]
    r = subprocess.run([sys.executable, "-c", CHILD, *args], capture_output=True, text=True, timeout=600, env=env)
    assert r.returncode == 0, f"the child died (exit {r.returncode}):\n{r.stderr[-3000:]}"
    return json.loads(r.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("case", ["conv2d forward workspace", "conv2d backward workspace"])
def test_workspace_allocation_failure_in_a_parallel_region_is_memory_error(child_results, case):
    kind, detail = child_results[case]
    assert kind == "MemoryError", f"{case}: {kind}: {detail}"


def test_absurd_pooling_window_needs_no_padded_buffer(child_results):
    kind, detail = child_results["pool absurd window"]
    assert kind == "ok", detail
    shape, max_is_row_max, avg_is_row_mean = detail
    assert shape == [2, 1, 2, 3] and max_is_row_max and avg_is_row_mean


def test_process_is_healthy_after_the_failures(child_results):
    assert child_results["after"] == ["ok", True]
