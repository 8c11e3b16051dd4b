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

import numpy as np
import pytest
from nnkern.checkpoint import load_params

SCRIPTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "mpi_scripts")

pytestmark = pytest.mark.skipif(importlib.util.find_spec("mpi4py") is None,
                                reason="the [mpi] extra is not installed (pip install '.[mpi]')")


def mpiexec():
    found = shutil.which("mpiexec", path=os.path.dirname(sys.executable)) or shutil.which("mpiexec")
    assert found, "mpi4py is installed but no mpiexec beside sys.executable or on PATH (pip install mpich)"
    return found


def run_group(cmd, timeout=120, cwd=None):
    """Run cmd in its own process group (killed as a group on timeout); (returncode, output)."""
    env = dict(os.environ, OMP_NUM_THREADS="1")
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                         text=True, cwd=cwd, env=env, start_new_session=True)
    try:
        out, _ = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        out, _ = p.communicate()
        pytest.fail(f"{' '.join(cmd)} did not finish in {timeout} s (hang?); output:\n{out[-4000:]}")
    return p.returncode, out


def launch(args, n=2, timeout=120, mpi4py=True, cwd=None):
    """Run ``mpiexec -n n python [-m mpi4py] args...``; returns (returncode, output)."""
    cmd = [mpiexec(), "-n", str(n), sys.executable] + (["-m", "mpi4py"] if mpi4py else []) + list(args)
    return run_group(cmd, timeout, cwd)


def run_script(name, *args, n=2, **kw):
    """Launch a test script, require exit 0, return rank 0's RESULT dict."""
    code, out = launch([os.path.join(SCRIPTS, name), *args], n=n, **kw)
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


def test_two_ranks_match_one_process_sequential_fit():
    """Sequential.fit with a DistributedOptimizer; History over all ranks; rank 0's bar only."""
    assert set(run_script("equivalence_sequential.py")["eps_units"]) == {"SGD", "Momentum"}


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
    rc, out = launch([os.path.join(SCRIPTS, "fail.py"), how], mpi4py=mpi4py, timeout=60)
    assert rc == code, out[-3000:]
    assert "should never get here" not in out
    if how == "raise":
        assert "FileNotFoundError: rank 1 could not read its data file" in out, out[-3000:]


# -- nnkern train --distributed / nnkern launch -------------------------------------------------
TRAIN = ["--epochs", "2", "--no-progress", "--seed", "3"]
ADAM_STEP_BOUND = 0.002 * float(np.finfo(np.float32).eps) ** 0.5  # docs/distributed.md: lr sqrt(eps) per step


def nnkern(*args, timeout=180, cwd=None):
    return run_group([sys.executable, "-m", "nnkern", *args], timeout, cwd)


def history(folder):
    with open(os.path.join(folder, "history.json")) as f:
        return json.load(f)["epochs"]


def max_param_diff(a, b):
    pa, pb = load_params(os.path.join(a, "checkpoint.npz")), load_params(os.path.join(b, "checkpoint.npz"))
    assert pa.keys() == pb.keys()
    return max(float(np.max(np.abs(pa[k].astype(np.float64) - pb[k]))) for k in pa)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """One 2-epoch run on 1 process and on 2 ranks (nnkern launch), and a 1-epoch 2-rank run."""
    root = tmp_path_factory.mktemp("train")
    outs = {}
    for name, cmd in {"one": ["train", *TRAIN], "two": ["launch", "-n", "2", "train", *TRAIN],
                      "two-1epoch": ["launch", "-n", "2", "train", *TRAIN, "--epochs", "1"]}.items():
        code, out = nnkern(*cmd, "--out", str(root / name))
        assert code == 0, out[-4000:]
        outs[name] = out
    return root, outs


def test_launch_trains_with_rank_0_alone_printing_and_writing(runs):
    root, outs = runs
    out = outs["two"]
    threads = max(1, len(os.sched_getaffinity(0)) // 2)
    assert out.count("nnkern train:") == 1 and f"2 ranks x {threads} threads" in out, out
    assert out.count("epoch   1") == 1 and out.count("epoch   2") == 1 and out.count("final test accuracy") == 1
    assert sorted(os.listdir(root / "two")) == ["checkpoint.npz", "history.json", "training.png"]
    one, two = history(root / "one"), history(root / "two")
    assert len(two) == 2
    for r1, r2 in zip(one, two):  # the same training as one process, to rounding
        assert r2["loss"] == pytest.approx(r1["loss"], rel=1e-4)
        assert abs(r2["test_acc"] - r1["test_acc"]) <= 2 / 359 and abs(r2["train_acc"] - r1["train_acc"]) <= 2 / 1438
    steps = 2 * 29  # 2 epochs of 29 batches of 50 digits
    assert max_param_diff(root / "two", root / "one") <= steps * ADAM_STEP_BOUND


def test_resume_from_a_distributed_checkpoint_on_any_world_size(runs, tmp_path):
    root, _ = runs
    first = str(root / "two-1epoch")
    code, out = nnkern("launch", "-n", "2", "train", *TRAIN, "--resume", first, "--out", str(tmp_path / "on2"))
    assert code == 0, out[-4000:]
    assert out.count("epoch   2") == 1 and "epoch   1" not in out
    assert max_param_diff(tmp_path / "on2", root / "two") == 0.0  # same world size: the very same run
    assert history(tmp_path / "on2")[0] == history(first)[0]
    code, out = nnkern("train", *TRAIN, "--resume", first, "--out", str(tmp_path / "on1"))
    assert code == 0, out[-4000:]
    assert max_param_diff(tmp_path / "on1", root / "two") <= 29 * ADAM_STEP_BOUND  # one epoch on 1 rank


@pytest.mark.parametrize("mpi4py", [True, False], ids=["m-mpi4py", "plain-python"])
def test_a_rank_that_gives_up_ends_the_job(runs, tmp_path, mpi4py):
    """Rank 0 refuses the resume (already 2 epochs) while rank 1 waits for its broadcast: exit 2 and the
    message, not a hang, with or without ``-m mpi4py``."""
    root, _ = runs
    code, out = launch(["-m", "nnkern", "train", "--distributed", *TRAIN, "--resume", str(root / "two"),
                        "--out", str(tmp_path / "x")], mpi4py=mpi4py, timeout=60)
    assert code == 2 and "holds 2 epochs already" in out, out[-3000:]


def test_launch_reports_bad_data(tmp_path):
    code, out = nnkern("launch", "-n", "2", "train", "--data", str(tmp_path / "missing.npz"), timeout=60)
    assert code == 2 and "missing.npz" in out, out[-3000:]
