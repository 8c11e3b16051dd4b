"""Measure the data-parallel costs on your machines: ``mpiexec -n 2 python -m mpi4py -m nnkern.distributed.bench``.

Three tables (printed by rank 0 as Markdown, also written as JSON with ``--json``):

* ``allreduce``: time to average one float32 buffer of each size over the ranks with the
  'mpi' (MPI_Allreduce in place) and 'fixed' (alltoall, rank-order sum, allgather)
  algorithms; algbw = bytes / time, busbw = algbw * 2 (n-1) / n (what each link carries).
* ``buckets``: one step's gradient averaging for a model's parameters (AlexNet's 61M by
  default) as the bucket size varies.
* ``train``: training images/s of one model, blocking vs overlapped gradient averaging, and
  the compute and communication time per step.

Each time is the median over repetitions of the slowest rank's time. Run it with one rank
too (``-n 1``) for the single-process compute figures.
"""
import argparse
import json
import time

import numpy as np

from . import group as _group
from .buckets import ALGORITHMS, DEFAULT_BUCKET_BYTES, Bucket
from .optimizer import DistributedOptimizer
from .reducer import GradientReducer

MODELS = ("simple-cnn-mnist", "simple-cnn-digits", "alexnet")


def build_model(name, seed=0):
    """(model, input shape without batch) for the benchmark models."""
    from ..models import AlexNet, SimpleConvNet
    if name == "simple-cnn-mnist":  # the book's SimpleConvNet on MNIST
        return SimpleConvNet((1, 28, 28), {"filter_num": 30, "filter_size": 5, "pad": 0, "stride": 1},
                             hidden_size=100, output_size=10, seed=seed), (1, 28, 28)
    if name == "simple-cnn-digits":  # what `nnkern train` trains by default
        return SimpleConvNet((1, 8, 8), {"filter_num": 30, "filter_size": 3, "pad": 1, "stride": 1},
                             hidden_size=100, output_size=10, weight_init_std="he", seed=seed), (1, 8, 8)
    if name == "alexnet":
        return AlexNet(seed=seed), (3, 227, 227)
    raise ValueError(f"unknown model {name!r}; choose from {', '.join(MODELS)}")


def timed(fn, reps, comm):
    """Median over ``reps`` of the slowest rank's time of ``fn()`` (seconds)."""
    times = []
    for _ in range(reps):
        if comm is not None:
            comm.Barrier()
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    if comm is not None:
        times = np.max(np.array(comm.allgather(times)), axis=0)
    return float(np.median(times))


def allreduce_table(counts, reps):
    w = _group.world()
    rows = []
    for count in counts:
        row = {"elements": int(count), "MiB": count * 4 / 2**20}
        for name, algo in ALGORITHMS.items():
            bucket = Bucket(["x"], [(count,)], np.float32, w.size)
            bucket.buf[:] = 1.0
            run = algo(w.comm).run if w.comm is not None else (lambda b: None)
            run(bucket)  # warm-up (allocations, first-touch)
            t = timed(lambda run=run, bucket=bucket: run(bucket), reps, w.comm)
            row[f"{name}_ms"] = t * 1e3
            row[f"{name}_busbw_GBs"] = count * 4 / t / 1e9 * 2 * (w.size - 1) / w.size if w.size > 1 else 0.0
        rows.append(row)
    return rows


def bucket_sweep(model_name, sizes, reps):
    w = _group.world()
    model, _ = build_model(model_name)
    grads = {k: np.full_like(p, 0.5) for k, p in model.params.items()}
    rows = []
    for size in sizes:
        reducer = GradientReducer(model.params, bucket_bytes=int(size))
        reducer.allreduce(grads)
        t = timed(lambda reducer=reducer: reducer.allreduce(grads), reps, w.comm)
        rows.append({"bucket_MiB": size / 2**20, "buckets": len(reducer.buckets), "ms": t * 1e3,
                     "algorithm": reducer.algorithm})
    return rows


def train_throughput(model_name, batch, steps, bucket_bytes=DEFAULT_BUCKET_BYTES):
    """Global images/s of SGD steps (global batch ``batch``): gradient only (no communication),
    blocking averaging after backward, and averaging overlapped with backward, interleaved
    step by step so that a busy machine slows all three alike. ``wait_ms`` is the time spent
    in ``update`` (the communication left after backward, plus the SGD update itself)."""
    from ..optimizers import SGD
    from .sharding import shard_bounds
    w = _group.world()
    model, shape = build_model(model_name, seed=w.rank)
    lo, hi = shard_bounds(batch, w.rank, w.size)
    rng = np.random.default_rng(w.rank)
    x = rng.standard_normal((hi - lo,) + shape).astype(np.float32)
    t = rng.integers(0, 10, hi - lo)
    opt = DistributedOptimizer(SGD(lr=1e-3), bucket_bytes=bucket_bytes)
    opt.broadcast_parameters(model.params)
    modes = ("compute", "blocking", "overlapped")
    step_t, wait_t = {m: [] for m in modes}, {m: [] for m in modes}
    for rep in range(steps + 1):  # the first round warms up
        for mode in modes:
            if w.comm is not None:
                w.comm.Barrier()
            t0 = time.perf_counter()
            if mode == "overlapped":
                grads = model.gradient(x, t, on_grad_ready=opt.begin_step(model.params, weight=len(x)))
            else:
                grads = model.gradient(x, t)
            t1 = time.perf_counter()
            if mode != "compute":
                opt.update(model.params, grads, weight=len(x))
            t2 = time.perf_counter()
            if rep:
                step_t[mode].append(t2 - t0)
                wait_t[mode].append(t2 - t1)
    rows = []
    for mode in modes:
        times = np.array(step_t[mode]) if w.comm is None else np.max(w.comm.allgather(step_t[mode]), axis=0)
        waits = np.array(wait_t[mode]) if w.comm is None else np.max(w.comm.allgather(wait_t[mode]), axis=0)
        rows.append({"model": model_name, "ranks": w.size, "threads": _threads(), "batch": batch, "mode": mode,
                     "buckets": len(opt.reducer(model.params).buckets), "step_ms": float(np.median(times)) * 1e3,
                     "wait_ms": float(np.median(waits)) * 1e3, "images_per_s": batch / float(np.median(times)),
                     "grad_MiB": model.param_count() * 4 / 2**20})
    return rows


def _threads():
    from .. import get_num_threads
    return get_num_threads()


def _header():
    """CPU, SIMD path, BLAS core and MPI library: printed beside every table."""
    from .. import info
    lines = [ln for ln in info.format_info().splitlines() if ln.startswith(("nnkern", "SIMD path", "BLAS  "))]
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name"))
        lines.insert(1, f"CPU            {cpu}")
    except (OSError, StopIteration):
        pass
    w = _group.world()
    if w.comm is not None:
        lines.append("MPI            " + _group.mpi().Get_library_version().splitlines()[0].strip())
    return "\n".join(lines)


def _markdown(rows):
    if not rows:
        return ""
    keys = list(rows[0])
    fmt = lambda v: f"{v:.3g}" if isinstance(v, float) else str(v)  # noqa: E731
    return "\n".join(["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)] +
                     ["| " + " | ".join(fmt(r[k]) for k in keys) + " |" for r in rows])


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m nnkern.distributed.bench", description=__doc__.split("\n")[0])
    ap.add_argument("--tables", default="allreduce,buckets,train", help="comma-separated: allreduce, buckets, train")
    ap.add_argument("--sizes", default="4096,65536,1048576,3453121,16777216,60965224",
                    help="allreduce buffer sizes (float32 elements)")
    ap.add_argument("--buckets", default="262144,1048576,4194304,26214400,104857600,1073741824",
                    help="bucket sizes (bytes) for the sweep")
    ap.add_argument("--bucket-model", default="alexnet", help=f"one of {', '.join(MODELS)}")
    ap.add_argument("--train-model", default="simple-cnn-mnist", help=f"one of {', '.join(MODELS)}")
    ap.add_argument("--batch", type=int, default=100, help="global batch of the train table")
    ap.add_argument("--bucket-mb", type=float, default=25.0, help="bucket size of the train table (MiB)")
    ap.add_argument("--reps", type=int, default=9)
    ap.add_argument("--threads", type=int, default=None, help="threads per rank (default cores / local ranks)")
    ap.add_argument("--json", default=None, help="also write the results here (rank 0)")
    a = ap.parse_args(argv)
    from .. import set_num_threads
    w = _group.init()
    set_num_threads(a.threads or _group.default_threads())
    tables = a.tables.split(",")
    out = {"ranks": w.size, "threads": _threads()}
    if "allreduce" in tables:
        out["allreduce"] = allreduce_table([int(s) for s in a.sizes.split(",")], a.reps)
    if "buckets" in tables:
        out["buckets"] = bucket_sweep(a.bucket_model, [int(s) for s in a.buckets.split(",")], a.reps)
    if "train" in tables:
        out["train"] = train_throughput(a.train_model, a.batch, a.reps, int(a.bucket_mb * 2**20))
    if w.is_main:
        print(_header())
        for name in ("allreduce", "buckets", "train"):
            if name in out:
                print(f"\n{name} ({w.size} ranks, {out['threads']} threads each)\n{_markdown(out[name])}")
        if a.json:
            with open(a.json, "w") as f:
                json.dump(out, f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
