"""Shared fixtures (poisoned outputs, seeded data, thread pinning) and the test harness.

A kernel's test is a table of cases run by ``harness.check_op`` on both backends
(``nnkern.functional`` and ``nnkern.reference``)::

    from harness import DTYPES, case, check_op

    CASES = [  # one line per case: id, input shapes, keyword arguments of the op
        case("n1-odd", (1, 3, 7, 9), kernel_size=3, stride=2, padding=1),
    ]

    @pytest.mark.parametrize("dtype", DTYPES)
    @pytest.mark.parametrize("inputs,kwargs", CASES)
    def test_max_pool2d(inputs, kwargs, dtype):
        check_op("max_pool2d", inputs, kwargs, dtype=dtype)

check_op compares forward outputs and gradients with the reference under the tolerance rule
in tests/tolerances.py, checks float64 gradients against finite differences and 1 and 2
threads for bit-identical results, and names the op, case, dtype and worst element when a
check fails. A new op is one entry of ``OPS`` in tests/harness_ops.py; tables that several
files share are in tests/cases.py. Keyword arguments reach both backends, so a forced algorithm
is ``check_op("conv2d", inputs, dict(kwargs, algo="implicit"), dtype=...)`` (the reference
ignores ``algo``); check_op returns the native outputs and gradients for further checks.

Tests marked ``slow`` (end-to-end training and experiments) run by default, as in CI;
``python -m pytest -m "not slow"`` is the quick local run.
"""
import os
import zlib

# Thread counts are part of what the suite checks (1 vs 2 threads bit-identical, the team a
# kernel really ran with), so the opt-in busy-machine adaptation, which may run fewer threads
# than asked while other processes keep the cores busy, stays off here and in the suite's
# subprocesses even if the environment asks for it; tests/test_busy_threads.py turns it on.
os.environ["NNKERN_ADAPTIVE_THREADS"] = "0"

import nnkern  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from harness import assert_close, numerical_grad  # noqa: F401, E402  (shared by the test files)
from nnkern import _core  # noqa: E402
from tolerances import TOL  # noqa: F401, E402


@pytest.fixture(autouse=True)
def poison_outputs():
    """Every native output buffer starts poisoned with a value no kernel writes (NaN in floats,
    INT64_MIN in indices, 255 in masks: _core._poison_value), so an element a kernel forgot to
    write fails the comparison with the reference."""
    _core._set_poison_outputs(True)
    yield
    _core._set_poison_outputs(False)


@pytest.fixture
def rng(request):
    """A generator seeded from the test's id (a stable CRC, not Python's salted hash):
    different data for every case, the same data on every run."""
    seed = zlib.crc32(request.node.nodeid.encode())
    return np.random.default_rng(seed)


@pytest.fixture
def threads():
    """Run a block with a given thread count and restore the previous one afterwards."""
    before = nnkern.get_num_threads()

    def set_(n):
        nnkern.set_num_threads(n)

    yield set_
    nnkern.set_num_threads(before)
