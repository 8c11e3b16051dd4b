"""nnkern.data.BatchLoader: seeding, epochs, the reference backend, options, and results that
do not depend on the thread count."""
import numpy as np
from conftest import TOL, assert_close
from nnkern import _data
from nnkern import data as D

# ------------------------------------------------------------------ determinism and threads


def test_thread_count_does_not_change_results(rng, threads):
    # Sizes above twice the kernels' per-thread grain (65536 elements), so 2 threads really run.
    src = rng.integers(0, 256, (500, 3, 24, 24), dtype=np.uint8)
    idx = rng.integers(0, 500, 129)
    outs = []
    for n in (1, 2):
        threads(n)
        g = D.gather_normalize(src, idx, 1 / 255, (0.5, 0.4, 0.3), (0.2, 0.25, 0.3))
        assert _data._nthreads(g.size) == n
        b = D.gather_batch(g, np.arange(len(g))[::-1].copy())
        a = D.augment(g, idx, seed=5, epoch=2, padding=3, out_size=(22, 23))
        assert _data._nthreads(a.size) == n
        loader = D.BatchLoader(src, np.arange(500), batch_size=100, seed=9, augment=D.Augment(padding=2))
        batches = [xb.copy() for xb, _ in loader]
        outs.append((g, b, a, batches))
    for u, v in zip(outs[0][:3], outs[1][:3]):
        np.testing.assert_array_equal(u, v)
    for u, v in zip(outs[0][3], outs[1][3]):
        np.testing.assert_array_equal(u, v)


def _epochs(loader, k):
    return [[(xb.copy(), tb.copy()) for xb, tb in loader] for _ in range(k)]


def test_batchloader_same_seed_same_batches(rng):
    x = rng.integers(0, 256, (103, 1, 6, 6), dtype=np.uint8)
    t = np.arange(103)
    make = lambda seed: D.BatchLoader(x, t, batch_size=10, seed=seed, augment=D.Augment(padding=1))  # noqa: E731
    a, b, c = _epochs(make(4), 2), _epochs(make(4), 2), _epochs(make(5), 2)
    for ea, eb in zip(a, b):
        for (xa, ta), (xb, tb) in zip(ea, eb):
            np.testing.assert_array_equal(xa, xb)
            np.testing.assert_array_equal(ta, tb)
    order = lambda e: np.concatenate([tb for _, tb in e])  # noqa: E731
    # every sample exactly once per epoch; epochs and seeds differ in order
    assert sorted(order(a[0]).tolist()) == list(range(103)) == sorted(order(a[1]).tolist())
    assert not np.array_equal(order(a[0]), order(a[1]))
    assert not np.array_equal(order(a[0]), order(c[0]))
    # batches() replays any epoch without touching the counter
    loader = make(4)
    replay = [tb for _, tb in loader.batches(1)]
    assert loader.epoch == 0 and np.array_equal(np.concatenate(replay), order(a[1]))


def test_batchloader_matches_reference_backend(rng):
    x = rng.integers(0, 256, (70, 3, 8, 8), dtype=np.uint8)
    t = rng.integers(0, 10, 70)
    kw = dict(batch_size=16, seed=2, augment=D.Augment(padding=2, crop=(7, 9)), mean=(0.5, 0.5, 0.4), std=0.25)
    nat = D.BatchLoader(x, t, backend="native", **kw)
    ref = D.BatchLoader(x, t, backend="reference", dtype=np.float64, **kw)
    for (xn, tn), (xr, tr) in zip(nat, ref):
        assert xn.dtype == np.float32 and xn.shape[1:] == (3, 7, 9)
        assert_close(xn, xr, **TOL[np.float32], what="native vs reference batch")
        np.testing.assert_array_equal(tn, tr)


def test_batchloader_options(rng):
    x = rng.standard_normal((25, 2, 4, 4)).astype(np.float64)
    t = np.eye(5)[np.arange(25) % 5]
    plain = D.BatchLoader(x, t, batch_size=10, shuffle=False, dtype=np.float64)
    assert len(plain) == 3
    got = [(xb, tb) for xb, tb in plain]
    assert [len(xb) for xb, _ in got] == [10, 10, 5]
    np.testing.assert_array_equal(np.concatenate([xb for xb, _ in got]), x)
    np.testing.assert_array_equal(np.concatenate([tb for _, tb in got]), t)
    dropped = D.BatchLoader(x, t, batch_size=10, drop_last=True)
    assert len(dropped) == 2 and [len(xb) for xb, _ in dropped] == [10, 10]
    assert next(iter(dropped))[0].dtype == np.float32  # float data cast once to dtype
    # reused buffers: same values, and the batches share memory
    reuse = D.BatchLoader(x, t, batch_size=10, seed=3, dtype=np.float64, reuse_buffers=True)
    fresh = D.BatchLoader(x, t, batch_size=10, seed=3, dtype=np.float64)
    kept = []
    for (xr, _), (xf, _) in zip(reuse, fresh):
        np.testing.assert_array_equal(xr, xf)
        kept.append(xr)
    assert np.shares_memory(kept[0], kept[1])
    # digits straight from the loader
    (xd, td), _ = D.load_digits(normalize=False)
    xb, tb = next(iter(D.BatchLoader(xd, td, batch_size=32, scale=1 / 16)))
    assert xb.shape == (32, 1, 8, 8) and 0 <= xb.min() and xb.max() <= 1
