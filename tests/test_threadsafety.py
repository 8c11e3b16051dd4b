"""Concurrent use from Python threads: nnkern kernels called from a ThreadPoolExecutor give
results bit-identical to the same calls made one after another, and the thread counts of
nnkern's OpenMP regions and of OpenBLAS are right afterwards, also when set_num_threads is
called while kernels run in other threads."""
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import nnkern
import nnkern.functional as F
import numpy as np
import pytest
from nnkern import _core
from nnkern.optimizers import Adam
from threadpoolctl import threadpool_info

RUN_SECONDS = 2.0  # of mixed concurrent calls


def _openblas_threads():
    """OpenBLAS's thread count as threadpoolctl sees it (nnkern's libscipy_openblas only)."""
    return [p["num_threads"] for p in threadpool_info() if "scipy_openblas32" in p["filepath"]][0]


def _workloads(seed=0):
    """name -> zero-argument callable returning a tuple of arrays. Each call works on its own
    arrays (the optimizer starts from the same state every call), so results are
    reproducible; the shapes are large enough for threaded regions and several GEMM tiles."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((4, 16, 20, 20)).astype(np.float32)
    w = rng.standard_normal((24, 16, 3, 3)).astype(np.float32)
    b = rng.standard_normal(24).astype(np.float32)
    gy = rng.standard_normal((4, 24, 20, 20)).astype(np.float32)
    xa = rng.standard_normal((256, 300)).astype(np.float32)
    wa = rng.standard_normal((300, 200)).astype(np.float32)
    ba = rng.standard_normal(200).astype(np.float32)
    ga = rng.standard_normal((256, 200)).astype(np.float32)
    xd = rng.standard_normal((64, 300))  # float64 GEMMs differ between OpenBLAS's 1 and 2 threads
    wd = rng.standard_normal((300, 150))
    p0 = {f"W{i}": rng.standard_normal((200, 300)).astype(np.float32) for i in range(3)}
    g0 = {k: rng.standard_normal(v.shape).astype(np.float32) for k, v in p0.items()}
    gamma, beta = rng.standard_normal(16).astype(np.float32), rng.standard_normal(16).astype(np.float32)

    def conv_fwd():
        return (F.conv2d(x, w, b, stride=1, padding=1),)

    def conv_bwd():
        return tuple(a for a in F.conv2d_backward(gy, x, w, stride=1, padding=1) if a is not None)

    def affine_fwd_bwd():
        return (F.affine(xa, wa, ba), *F.affine_backward(ga, xa, wa), F.affine(xd, wd, None))

    def adam():
        params = {k: v.copy() for k, v in p0.items()}
        opt = Adam(lr=0.01)
        for _ in range(3):
            opt.update(params, g0)
        return tuple(params[k] for k in sorted(params))

    def pool_bn():
        y = F.max_pool2d(x, 2, 2)
        rm, rv = np.zeros(16, np.float32), np.ones(16, np.float32)
        z = F.batch_norm(x, rm, rv, gamma, beta, training=True)
        return (y, z, rm, rv)

    return {"conv2d": conv_fwd, "conv2d_backward": conv_bwd, "affine": affine_fwd_bwd, "adam": adam,
            "pool_bn": pool_bn}


def _same(got, want):
    return len(got) == len(want) and all(g.dtype == e.dtype and g.shape == e.shape and g.tobytes() == e.tobytes()
                                         for g, e in zip(got, want))


def test_concurrent_mixed_kernels_are_bit_identical_to_serial(threads):
    threads(2)
    work = _workloads()
    serial = {name: f() for name, f in work.items()}
    for name, f in work.items():  # the serial results are themselves reproducible
        assert _same(f(), serial[name]), f"{name}: two serial calls differ"
    names = list(work)
    done, wrong = 0, []
    deadline = time.monotonic() + RUN_SECONDS
    with ThreadPoolExecutor(4) as pool:
        while time.monotonic() < deadline:
            futures = [(n, pool.submit(work[n])) for n in names * 2]
            for n, fut in futures:
                if not _same(fut.result(), serial[n]):
                    wrong.append(n)
                done += 1
    assert done >= 4 * len(names)
    assert not wrong, f"{len(wrong)} of {done} concurrent results differ from the serial ones: {sorted(set(wrong))}"
    assert nnkern.get_num_threads() == 2
    assert _core.blas_get_num_threads() == 2 and _openblas_threads() == 2


def test_set_num_threads_during_concurrent_kernels(threads):
    """set_num_threads flips between 1 and 2 while kernels run in 3 other threads; results do
    not depend on the thread count, and the last request is what remains."""
    threads(2)
    work = _workloads(1)
    serial = {name: f() for name, f in work.items()}
    stop = threading.Event()
    wrong = []

    def worker(names):
        while not stop.is_set():
            for n in names:
                if not _same(work[n](), serial[n]):
                    wrong.append(n)

    ts = [threading.Thread(target=worker, args=(names,))
          for names in (["conv2d", "affine"], ["conv2d_backward", "adam"], ["pool_bn", "affine"])]
    for t in ts:
        t.start()
    try:
        for i in range(40):
            nnkern.set_num_threads(1 + i % 2)
            time.sleep(0.01)
        nnkern.set_num_threads(1)
    finally:
        stop.set()
        for t in ts:
            t.join()
    assert not wrong, f"results changed under concurrent set_num_threads: {sorted(set(wrong))}"
    assert nnkern.get_num_threads() == 1
    assert _core.blas_get_num_threads() == 1 and _openblas_threads() == 1


@pytest.mark.parametrize("final", [1, 2])
def test_set_num_threads_while_a_kernel_runs_elsewhere(threads, final):
    """The request made while another thread is inside a GEMM kernel is the count afterwards."""
    threads(3 - final)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((24, 32, 48, 48)).astype(np.float32)  # ~10 ms of im2col on 2 threads
    w = rng.standard_normal((64, 32, 3, 3)).astype(np.float32)
    seen_inside = []
    for _ in range(5):
        # im2col: one OpenBLAS GEMM kernel of known length (auto's Winograd may end within 5 ms)
        t = threading.Thread(target=F.conv2d, args=(x, w), kwargs={"padding": 1, "algo": "im2col"})
        t.start()
        # 2 ms into the convolution (final=2: the request then lands inside it), then poll until it
        # has made OpenBLAS serial or has ended (one fixed 5 ms probe missed a ~3 ms convolution)
        time.sleep(0.002)
        seen = _openblas_threads()
        while seen != 1 and t.is_alive():
            time.sleep(0.0002)
            seen = _openblas_threads()
        seen_inside.append(seen)
        nnkern.set_num_threads(final)
        t.join()
        assert nnkern.get_num_threads() == final
        assert _core.blas_get_num_threads() == final and _openblas_threads() == final
        nnkern.set_num_threads(3 - final)
    # OpenBLAS is serial while the convolution runs (not a timing assertion: at least one of
    # five polls from the start of a convolution falls inside it)
    assert 1 in seen_inside
