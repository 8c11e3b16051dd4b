"""nnkern.distributed in one process (no mpiexec): the no-op world, the sharding and bucket
arithmetic, argument checks, and DistributedOptimizer == the wrapped optimizer bit for bit.
The multi-rank behaviour is in test_distributed_mpi.py."""
import importlib.util
import os
import subprocess
import sys

import nnkern.distributed as dist
import numpy as np
import pytest
from nnkern.distributed.buckets import choose_algorithm, plan_buckets
from nnkern.models import MultiLayerNet
from nnkern.optimizers import SGD, Adam

# Makes `import mpi4py` fail in a child interpreter, as where the [mpi] extra is not installed.
_NO_MPI4PY = ("import sys, importlib.abc\n"
              "class Block(importlib.abc.MetaPathFinder):\n"
              "    def find_spec(self, name, path=None, target=None):\n"
              "        if name.split('.')[0] == 'mpi4py': raise ImportError('no mpi4py here')\n"
              "sys.meta_path.insert(0, Block())\n")


def _python(code, **env):
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("PMI", "PMIX", "OMPI_", "MV2_"))}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env=dict(clean, **env))


def test_single_process_world():
    w = dist.init()
    assert (w.rank, w.size, w.comm) == (0, 1, None)
    assert dist.rank() == 0 and dist.world_size() == 1 and dist.is_main() and not dist.is_distributed()
    dist.barrier()
    assert dist.default_threads() == len(os.sched_getaffinity(0))
    assert dist.broadcast_object({"a": 1}) == {"a": 1}
    assert dist.allreduce_sum([1.5, 2]).tolist() == [1.5, 2.0]


def test_single_process_does_not_import_mpi4py():
    r = _python("import sys, nnkern.distributed as d; d.init(); d.barrier(); print('mpi4py' in sys.modules)")
    assert r.returncode == 0 and r.stdout.strip() == "False", r.stderr


def test_works_without_mpi4py_installed():
    code = _NO_MPI4PY + ("import numpy as np, nnkern, nnkern.distributed as d\n"
                         "net = nnkern.MultiLayerNet(4, [3], 2, seed=0)\n"
                         "opt = d.DistributedOptimizer(nnkern.optimizers.SGD())\n"
                         "opt.update(net.params, net.gradient(np.ones((2, 4), np.float32), np.array([0, 1])))\n"
                         "print(d.world_size())\n")
    r = _python(code)
    assert r.returncode == 0 and r.stdout.strip() == "1", r.stderr


def test_launched_ranks_without_mpi4py_raise():
    r = _python(_NO_MPI4PY + "import nnkern.distributed as d; d.init()", PMI_SIZE="2", PMI_RANK="0")
    assert r.returncode != 0
    assert "one of 2 ranks" in r.stderr and "pip install 'nnkern[mpi]'" in r.stderr, r.stderr


@pytest.mark.parametrize("m, n", [(0, 1), (1, 1), (7, 1), (1, 2), (7, 2), (8, 2), (2, 3), (10, 3), (100, 7), (3, 8)])
def test_shards_are_disjoint_near_equal_and_cover_the_batch(m, n):
    batch = np.arange(100, 100 + m)
    parts = [dist.shard(batch, r, n) for r in range(n)]
    assert np.array_equal(np.concatenate(parts), batch)  # contiguous, in order, disjoint, complete
    sizes = [len(p) for p in parts]
    assert max(sizes) - min(sizes) <= 1 and sizes == sorted(sizes, reverse=True)


@pytest.mark.parametrize("rank, size, exc", [(2, 2, ValueError), (-1, 2, ValueError), (0, 0, ValueError),
                                             (0.0, 2, TypeError), (True, 2, TypeError)])
def test_shard_rejects_bad_rank(rank, size, exc):
    with pytest.raises(exc):
        dist.shard_bounds(10, rank, size)


def _specs(*items):
    return [(f"p{i}", shape, dt) for i, (shape, dt) in enumerate(items)]


def test_bucket_plan():
    f32, f64 = np.float32, np.float64
    specs = _specs(((10,), f32), ((10,), f32), ((300,), f32), ((5,), f32), ((4,), f64), ((3,), f32))
    buckets = plan_buckets(specs, 80, world_size=3)
    assert [b.keys for b in buckets] == [["p0", "p1"], ["p2"], ["p3"], ["p4"], ["p5"]]
    assert [b.numel for b in buckets] == [20, 300, 5, 4, 3]
    assert [b.padded for b in buckets] == [21, 300, 6, 6, 3]  # multiples of the world size
    assert buckets[3].dtype == f64 and buckets[0].offsets == [0, 10, 20]
    assert len(plan_buckets(specs, dist.DEFAULT_BUCKET_BYTES, 2)) == 3  # split only at dtype changes
    for bad in (0, -5, 1.5, True):
        with pytest.raises(ValueError, match="bucket_bytes"):
            plan_buckets(specs, bad, 2)


def test_algorithm_choice():
    assert [choose_algorithm("auto", n) for n in (1, 2, 3, 64)] == ["mpi", "mpi", "fixed", "fixed"]
    assert choose_algorithm("fixed", 2) == "fixed"
    with pytest.raises(ValueError, match="algorithm"):
        choose_algorithm("ring", 2)


def _net_and_grads(seed=0):
    net = MultiLayerNet(6, [5], 3, seed=seed)
    rng = np.random.default_rng(seed)
    return net, net.gradient(rng.standard_normal((4, 6)).astype(np.float32), np.array([0, 1, 2, 1]))


def test_single_rank_reducer_is_the_identity():
    net, g = _net_and_grads()
    r = dist.GradientReducer(net.params)
    out = r.allreduce(g, weight=4)
    assert all(out[k] is g[k] for k in g) and list(out) == list(net.params)
    r.begin()
    for k in reversed(list(g)):
        r.ready(k, g[k])
    assert all(v is g[k] for k, v in r.finish().items())


def test_reducer_errors():
    net, g = _net_and_grads()
    r = dist.GradientReducer(net.params)
    with pytest.raises(ValueError, match="weight 0"):
        r.allreduce(g, weight=0)
    for bad, exc in ((-1, ValueError), (float("nan"), ValueError), ("4", TypeError), (True, TypeError)):
        with pytest.raises(exc, match="weight"):
            r.allreduce(g, weight=bad)
    with pytest.raises(KeyError, match="W1"):
        r.allreduce({k: v for k, v in g.items() if k != "W1"})
    with pytest.raises(RuntimeError, match="begin"):
        r.ready("W1", g["W1"])
    r.begin()
    with pytest.raises(RuntimeError, match="not finished"):
        r.begin()
    with pytest.raises(TypeError, match="float32 or float64"):
        dist.GradientReducer({"i": np.zeros(3, np.int32)})


@pytest.mark.parametrize("make", [lambda: SGD(lr=0.1), lambda: Adam(lr=1e-2)], ids=["SGD", "Adam"])
def test_distributed_optimizer_single_rank_is_the_optimizer(make):
    a, _ = _net_and_grads(1)
    b, _ = _net_and_grads(1)
    plain, wrapped = make(), dist.DistributedOptimizer(make())
    rng = np.random.default_rng(5)
    for _ in range(3):
        x, t = rng.standard_normal((4, 6)).astype(np.float32), rng.integers(0, 3, 4)
        plain.update(a.params, a.gradient(x, t))
        wrapped.update(b.params, b.gradient(x, t), weight=len(x))
    assert all(np.array_equal(a.params[k], b.params[k]) for k in a.params)
    assert wrapped.lr == plain.lr and wrapped.state_dict()["step"] == 3  # the wrapped optimizer's attributes


def test_distributed_optimizer_needs_an_optimizer():
    with pytest.raises(TypeError, match="update"):
        dist.DistributedOptimizer(object())


def test_mpi_extra_is_declared():
    from importlib.metadata import metadata
    md = metadata("nnkern")
    assert "mpi" in md.get_all("Provides-Extra")
    reqs = " ".join(r for r in md.get_all("Requires-Dist") if 'extra == "mpi"' in r)
    assert "mpi4py" in reqs and "mpich" in reqs


def test_launch_command():
    from nnkern.distributed.launch import command
    py = sys.executable
    assert command(4, ["train", "--epochs", "3"], "/x/mpiexec") == [
        "/x/mpiexec", "-n", "4", py, "-m", "mpi4py", "-m", "nnkern", "train", "--distributed", "--epochs", "3"]
    assert command(2, ["train", "--distributed"], "mpiexec", ["-hosts", "a,b"])[:5] == [
        "mpiexec", "-hosts", "a,b", "-n", "2"]
    assert command(2, ["run.py", "--lr", "1"], "mpiexec")[-3:] == ["run.py", "--lr", "1"]


@pytest.mark.parametrize("argv, message", [
    (["launch", "-n", "0", "train"], "positive number of ranks"),
    (["launch", "-n", "2", "bench"], "runs 'train' or a Python script"),
    (["launch", "-n", "2"], "say what to run"),
    (["launch", "-n", "2", "--mpiexec", "/no/such/mpiexec", "train"], "not an executable"),
])
def test_launch_errors(argv, message, capsys):
    from nnkern.cli import main
    if importlib.util.find_spec("mpi4py") is None and "ranks" not in message:
        message = "pip install 'nnkern[mpi]'"  # checked before the target
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_train_distributed_without_mpiexec_is_one_process(tmp_path):
    from nnkern.cli import main
    assert main(["train", "--distributed", "--epochs", "1", "--no-progress", "--out", str(tmp_path)]) == 0
    assert sorted(os.listdir(tmp_path)) == ["checkpoint.npz", "history.json", "training.png"]


def test_loader_shards_partition_every_epoch():
    """n loaders (rank 0..n-1) yield, batch by batch, disjoint parts whose union in rank order is
    the single-process batch; every rank has the same number of batches."""
    from nnkern.data import BatchLoader
    x = np.arange(23 * 2, dtype=np.float32).reshape(23, 2)
    t = np.arange(23)
    single = BatchLoader(x, t, 5, seed=4)
    for n in (2, 3, 7):
        ranks = [BatchLoader(x, t, 5, seed=4, rank=r, world_size=n) for r in range(n)]
        assert all(len(r) == len(single) for r in ranks)
        for epoch in (0, 3):
            for whole, *parts in zip(single.batches(epoch), *(r.batches(epoch) for r in ranks)):
                assert np.array_equal(np.concatenate([p[1] for p in parts]), whole[1])
                assert np.array_equal(np.concatenate([p[0] for p in parts]), whole[0])
    with pytest.raises(ValueError, match="rank"):
        BatchLoader(x, t, 5, rank=2, world_size=2)
