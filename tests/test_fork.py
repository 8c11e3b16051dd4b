"""fork() after nnkern ran threaded kernels: children made by os.fork and by multiprocessing's
"fork" start method (Process, Pool(2)) run convolution, pooling, batch norm, Adam and a
training step on one thread, within a timeout, with the same results as the parent (nnkern's
results do not depend on the thread count), and warn once how to get threads back."""
import multiprocessing as mp
import os
import pickle
import select
import signal
import time
import warnings

import nnkern
import nnkern.functional as F
import numpy as np
import pytest
from nnkern import _core
from nnkern.models import SimpleConvNet
from nnkern.optimizers import Adam

TIMEOUT = 120  # seconds per child; a hang (the old behaviour) fails instead of blocking the run

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")


def _workload():
    """Arrays from conv2d (forward and backward), max/avg pooling, batch norm, three Adam
    steps and one SGD training step of a small convnet: large enough for threaded regions."""
    rng = np.random.default_rng(7)
    x = rng.standard_normal((4, 8, 24, 24)).astype(np.float32)
    w = rng.standard_normal((16, 8, 3, 3)).astype(np.float32)
    y = F.conv2d(x, w, padding=1)
    gx, gw, _ = F.conv2d_backward(y, x, w, padding=1)
    rm, rv = np.zeros(8, np.float32), np.ones(8, np.float32)
    bn = F.batch_norm(x, rm, rv, training=True)
    params = {"W": rng.standard_normal((300, 200)).astype(np.float32)}
    grads = {"W": rng.standard_normal((300, 200)).astype(np.float32)}
    opt = Adam(lr=0.01)
    for _ in range(3):
        opt.update(params, grads)
    net = SimpleConvNet((1, 12, 12), {"filter_num": 6, "filter_size": 3, "pad": 1, "stride": 1}, 20, 4, seed=0)
    xb, tb = rng.standard_normal((16, 1, 12, 12)).astype(np.float32), rng.integers(0, 4, 16)
    nnkern.optimizers.SGD(lr=0.1).update(net.params, net.gradient(xb, tb))
    return {"conv": y, "conv_gx": gx, "conv_gw": gw, "max_pool": F.max_pool2d(x, 2),
            "avg_pool": F.avg_pool2d(x, 3, 1, 1), "bn": bn, "bn_rm": rm, "bn_rv": rv, "adam": params["W"],
            "train_W1": net.params["W1"],
            "loss": np.asarray(net.loss(xb, tb))}


def _child_task(_=None):
    """Run in a child: the workload, the thread counts seen there and the warnings raised."""
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        out = _workload()
        nnkern.set_num_threads(2)  # cannot bring threads back in a forked child
        out = {k: v.tobytes() for k, v in out.items()}
        info = {"pid": os.getpid(), "in_child": _core._in_fork_child(), "threads": nnkern.get_num_threads(),
                "blas": _core.blas_get_num_threads()}
    return out, info, [(w.category.__name__, str(w.message)) for w in seen]


def _expected():
    return {k: v.tobytes() for k, v in _workload().items()}


def _check_child(result, want, warnings_expected=1):
    """Same bytes as the parent, one thread, and the fork warning (once per process)."""
    out, info, seen = result
    assert info["in_child"] and info["threads"] == 1 and info["blas"] == 1, info
    bad = [k for k in want if out[k] != want[k]]
    assert not bad, f"child results differ from the parent's: {bad}"
    fork_warnings = [m for c, m in seen if c == "RuntimeWarning" and "forked" in m]
    assert len(fork_warnings) == warnings_expected, seen
    assert all("'spawn'" in m and "forkserver" in m for m in fork_warnings), fork_warnings
    assert len(seen) == len(fork_warnings), f"unexpected warnings in the child: {seen}"


def _fork_and_run(fn):
    """fn() in an os.fork() child; its pickled result comes back through a pipe. Fails (and
    kills the child) after TIMEOUT seconds."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: never return into pytest
        code = 0
        try:
            os.close(r)
            data = pickle.dumps(("ok", fn()))
        except BaseException as e:  # noqa: BLE001 - reported to the parent
            data, code = pickle.dumps(("error", repr(e))), 1
        with os.fdopen(w, "wb") as f:
            f.write(data)
        os._exit(code)
    os.close(w)
    chunks, deadline = [], time.monotonic() + TIMEOUT
    with os.fdopen(r, "rb") as f:
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([f], [], [], left)[0]:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                pytest.fail(f"forked child hung (no result within {TIMEOUT} s)")
            chunk = os.read(f.fileno(), 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status), f"child died with signal {os.WTERMSIG(status)}"
    kind, value = pickle.loads(b"".join(chunks))
    assert kind == "ok", f"child raised {value}"
    return value


@pytest.fixture
def parent_ran_threaded_kernels(threads):
    """The parent runs every kernel of the workload with 2 threads first (libgomp's pool exists)."""
    threads(2)
    assert not _core._in_fork_child()
    return _expected()


def test_os_fork_child_runs_kernels(parent_ran_threaded_kernels):
    _check_child(_fork_and_run(_child_task), parent_ran_threaded_kernels)
    # the parent keeps its threads
    assert nnkern.get_num_threads() == 2 and _core.blas_get_num_threads() == 2 and not _core._in_fork_child()
    assert _expected() == parent_ran_threaded_kernels


def test_os_fork_tiny_conv_after_conv(threads):
    """The reported hang's reproducer: even a 1x8x8 convolution hung in a child forked after a conv."""
    threads(2)
    x, w = np.ones((1, 1, 8, 8), np.float32), np.ones((1, 1, 3, 3), np.float32)
    want = F.conv2d(x, w).tobytes()

    def tiny():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return F.conv2d(x, w).tobytes()

    assert _fork_and_run(tiny) == want


def test_multiprocessing_fork_process(parent_ran_threaded_kernels):
    ctx = mp.get_context("fork")
    recv, send = ctx.Pipe(duplex=False)
    p = ctx.Process(target=_pipe_task, args=(send,))
    p.start()
    send.close()
    got = recv.poll(TIMEOUT)  # read before join: the result is larger than a pipe's buffer
    result = recv.recv() if got else None
    p.join(TIMEOUT)
    if not got or p.is_alive():
        p.kill()
        p.join()
        pytest.fail(f"multiprocessing fork Process hung (> {TIMEOUT} s)")
    assert p.exitcode == 0
    _check_child(result, parent_ran_threaded_kernels)


def _pipe_task(conn):
    conn.send(_child_task())
    conn.close()


def test_multiprocessing_fork_pool(parent_ran_threaded_kernels):
    ctx = mp.get_context("fork")
    with ctx.Pool(2) as pool:
        try:
            results = pool.map_async(_child_task, range(4), chunksize=1).get(TIMEOUT)
        except mp.TimeoutError:
            pool.terminate()
            pytest.fail(f"multiprocessing fork Pool(2) hung (> {TIMEOUT} s)")
    first = {}
    for out, info, seen in results:  # every task matches; each worker process warns once, in its first task
        _check_child((out, info, seen), parent_ran_threaded_kernels, 0 if info["pid"] in first else 1)
        first.setdefault(info["pid"], True)
    assert 1 <= len(first) <= 2


def test_every_parallel_region_takes_nnkerns_thread_count():
    """The kernels' parallel regions are parallel_items calls (src/thread_pool.h), which run on
    the calling thread alone in a forked child; no OpenMP parallel region is left in src/ or
    csrc/ to start libgomp's team there. Cython's prange names its team (num_threads=)."""
    root = os.path.join(os.path.dirname(__file__), os.pardir)
    regions, bad = 0, []
    for sub in ("src", "csrc"):
        for name in sorted(os.listdir(os.path.join(root, sub))):
            with open(os.path.join(root, sub, name), encoding="utf-8") as f:
                for i, line in enumerate(f, 1):
                    if "omp parallel" in line or "omp for" in line:
                        bad.append(f"{sub}/{name}:{i}: {line.strip()}")
                    elif "prange(" in line and "cimport" not in line:
                        regions += 1
                        if "num_threads" not in line:
                            bad.append(f"{sub}/{name}:{i}: {line.strip()}")
                    elif "parallel_items(" in line and sub == "src" and name != "thread_pool.h":
                        regions += 1
    assert regions >= 10 and not bad, bad
