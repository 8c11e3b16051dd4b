"""nnkern's fork-join pool (src/thread_pool.h), through the _pool_run testing hook: every item
runs once on a slot below the team size, workers really take items, the join does not wait for
a worker that wakes late (the busy-machine case that an OpenMP team barrier stalls on), an
item's exception reaches Python and leaves the pool usable, nested and concurrent calls, fork."""
import os
import select
import subprocess
import sys
import threading
import time

import pytest
from nnkern import _core

CASES = [  # (items, threads)
    (1, 1), (1, 2), (2, 2), (7, 2), (64, 2), (5, 3), (100, 4), (33, 8),
]


@pytest.mark.parametrize("items,threads", CASES)
def test_every_item_runs_once_on_a_slot_of_the_team(items, threads):
    slots, inner = _core._pool_run(items, threads)
    assert len(slots) == items and inner == []
    assert all(0 <= s < threads for s in slots), slots


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="needs 2 cores")
def test_workers_take_items():
    slots, _ = _core._pool_run(100, 2, item_us=5000)  # 0.5 s of items: the worker wakes long before the end
    assert set(slots) == {0, 1}, slots
    assert _core._pool_state()["workers"] >= 1


def test_the_join_does_not_wait_for_a_worker_that_wakes_late():
    _core._pool_run(4, 2)  # the worker exists
    _core._pool_set_join_delay_us(400_000)  # it now looks for work 0.4 s after each wake-up
    try:
        t0 = time.perf_counter()
        slots, _ = _core._pool_run(8, 2)
        elapsed = time.perf_counter() - t0
    finally:
        _core._pool_set_join_delay_us(0)
    assert slots == [0] * 8  # the calling thread ran them all
    assert elapsed < 0.2, elapsed  # not held until the late worker arrives (0.4 s)
    time.sleep(0.5)  # the late worker finds the call closed and goes back to sleep
    slots, _ = _core._pool_run(16, 2, item_us=2000)
    assert all(0 <= s < 2 for s in slots)


def test_an_items_exception_reaches_python_and_the_pool_stays_usable():
    with pytest.raises(RuntimeError, match="item 3 failed on purpose"):
        _core._pool_run(50, 2, item_us=100, fail_item=3)
    slots, _ = _core._pool_run(50, 2)
    assert all(0 <= s < 2 for s in slots)


def test_a_nested_call_runs_on_the_item_thread():
    slots, inner = _core._pool_run(12, 2, item_us=500, nested=True)
    assert len(inner) == 48 and inner == [0] * 48  # slot 0 of the inner call: its own scratch
    assert all(0 <= s < 2 for s in slots)


def test_concurrent_calls_from_python_threads():
    results, errors = [], []

    def work():
        try:
            for _ in range(20):
                results.append(_core._pool_run(30, 2, item_us=50))
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)
    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors and not any(t.is_alive() for t in threads)
    assert len(results) == 80
    assert all(len(s) == 30 and all(0 <= v < 2 for v in s) for s, _ in results)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_runs_items_on_the_calling_thread():
    _core._pool_run(16, 2, item_us=1000)  # the parent's pool has workers
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: the pool's threads do not exist here
        try:
            slots, _ = _core._pool_run(16, 2, item_us=100)
            os.write(w, bytes([1 if slots == [0] * 16 else 2]))
        finally:
            os._exit(0)
    os.close(w)
    ready, _, _ = select.select([r], [], [], 60)
    got = os.read(r, 1) if ready else b""
    os.close(r)
    if not ready:
        os.kill(pid, 9)
    os.waitpid(pid, 0)
    assert got == b"\x01"


@pytest.mark.parametrize("args", [(0, 2), (1 << 21, 2), (4, 0), (4, 65), (4, 2, -1), (1 << 20, 2, 1_000_000),
                                  (11, 2, 1_000_000)])
def test_bad_arguments_raise(args):
    with pytest.raises(ValueError, match="_pool_run"):
        _core._pool_run(*args)


@pytest.mark.parametrize("policy,spin", [(None, 0), ("passive", 0), ("PASSIVE", 0), ("active", 2000)])
def test_idle_workers_follow_the_wait_policy(policy, spin):
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    if policy:
        env["OMP_WAIT_POLICY"] = policy
    code = "from nnkern import _core; print(_core._pool_state()['spin_us'])"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert int(out.stdout) == spin
