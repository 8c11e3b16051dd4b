"""nnkern.distributed on real MPI: each test launches ``mpiexec -n N python -m mpi4py <script>``.

The scripts (tests/mpi_scripts/) check their claims on every rank and abort the job on the
first failure; here we check the exit status and read the one ``RESULT`` line of rank 0.
Each launch runs in its own process group with a timeout (the group is killed on timeout,
so a hang fails the test instead of stalling the suite), one OpenMP thread per rank.
Skipped only where the [mpi] extra (mpi4py + an MPI library) is not installed.
"""
import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

SCRIPTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "mpi_scripts")

pytestmark = pytest.mark.skipif(importlib.util.find_spec("mpi4py") is None,
                                reason="the [mpi] extra is not installed (pip install '.[mpi]')")


def mpiexec():
    found = shutil.which("mpiexec", path=os.path.dirname(sys.executable)) or shutil.which("mpiexec")
    assert found, "mpi4py is installed but no mpiexec beside sys.executable or on PATH (pip install mpich)"
    return found


def launch(args, n=2, timeout=120, mpi4py=True, cwd=None):
    """Run ``mpiexec -n n python [-m mpi4py] args...``; returns (returncode, output, seconds)."""
    cmd = [mpiexec(), "-n", str(n), sys.executable] + (["-m", "mpi4py"] if mpi4py else []) + list(args)
    env = dict(os.environ, OMP_NUM_THREADS="1")
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                         text=True, cwd=cwd, env=env, start_new_session=True)
    try:
        out, _ = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        out, _ = p.communicate()
        pytest.fail(f"{' '.join(cmd)} did not finish in {timeout} s (hang?); output:\n{out[-4000:]}")
    return p.returncode, out, time.monotonic() - t0


def run_script(name, *args, n=2, **kw):
    """Launch a test script, require exit 0, return rank 0's RESULT dict."""
    code, out, _ = launch([os.path.join(SCRIPTS, name), *args], n=n, **kw)
    assert code == 0, f"{name} failed (exit {code}):\n{out[-6000:]}"
    lines = [ln for ln in out.splitlines() if ln.startswith("RESULT ")]
    assert len(lines) == 1, f"{name}: expected one RESULT line (rank 0 only), got {len(lines)}:\n{out[-3000:]}"
    return json.loads(lines[0][len("RESULT "):])


def test_two_ranks_match_one_process_net():
    """MultiLayerNet and SimpleConvNet, float32/64, SGD/Momentum/Adam: within the stated bound,
    same bits on every rank, reproducible, independent of bucket size and algorithm."""
    res = run_script("equivalence_net.py")
    assert len(res["eps_units"]) == 12


def test_two_ranks_match_one_process_compat_net():
    res = run_script("equivalence_compat.py")
    assert set(res["eps_units"]) == {"SGD", "Momentum", "Adam"}


def test_broadcast_buffers_and_overlapped_reducer():
    res = run_script("collectives.py")
    assert res["size"] == 2 and res["buckets"] > 1


def test_fixed_order_on_three_ranks():
    """3 ranks (uneven chunks, summation order visible): bit-exact ((g0+g1)+g2)/3 on every rank."""
    assert run_script("fixed_order.py", n=3)["size"] == 3


@pytest.mark.parametrize("how, mpi4py, code", [("raise", True, 1), ("raise", False, 1), ("exit", True, 3)],
                         ids=["exception-m-mpi4py", "exception-plain-python", "sys.exit-m-mpi4py"])
def test_failing_rank_ends_the_job(how, mpi4py, code):
    """A rank that fails while the other waits in an allreduce ends the whole job (exit status
    and traceback), rather than hanging: plain python relies on nnkern's abort hook."""
    rc, out, _ = launch([os.path.join(SCRIPTS, "fail.py"), how], mpi4py=mpi4py, timeout=60)
    assert rc == code, out[-3000:]
    assert "should never get here" not in out
    if how == "raise":
        assert "FileNotFoundError: rank 1 could not read its data file" in out, out[-3000:]
