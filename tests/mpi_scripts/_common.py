"""Shared by the MPI test scripts (run as ``mpiexec -n N python -m mpi4py <script>``).

A script checks its claims on every rank with :func:`check` (an AssertionError aborts the
whole job with a non-zero exit) and ends with :func:`done`, which prints one ``RESULT <json>``
line on rank 0 for the pytest side to read.
"""
import json
import zlib

import nnkern
import nnkern.distributed as dist
import numpy as np

nnkern.set_num_threads(1)
WORLD = dist.init()
RANK, SIZE = WORLD.rank, WORLD.size


def check(cond, message):
    if not cond:
        raise AssertionError(f"rank {RANK}: {message}")


def digits(flat=False, dtype=np.float32):
    (x, t), _ = nnkern.data.load_digits(dtype=dtype)
    return (x.reshape(len(x), -1) if flat else x), t


def copy_params(net):
    return {k: np.array(v) for k, v in net.params.items()}


def crc(arrays):
    """One checksum of the exact bits of a dict of arrays."""
    c = 0
    for k in sorted(arrays):
        c = zlib.crc32(np.ascontiguousarray(arrays[k]).tobytes(), zlib.crc32(k.encode(), c))
    return c


def same_bits_on_all_ranks(arrays, what):
    sums = WORLD.comm.allgather(crc(arrays)) if WORLD.comm is not None else [crc(arrays)]
    check(len(set(sums)) == 1, f"{what}: ranks hold different bits ({sums})")


def max_diff(a, b):
    """max |a - b| and max |b| over two dicts of arrays (float64)."""
    err = max(float(np.max(np.abs(a[k].astype(np.float64) - b[k].astype(np.float64)))) for k in b)
    return err, max(float(np.max(np.abs(b[k]))) for k in b)


def equivalence_bound(dtype, steps, scale, lr=None):
    """The stated bound on max|theta_n - theta_1| after ``steps`` updates (docs/distributed.md,
    "n ranks vs 1"): 4 * steps * eps * max|theta| for linear rules (SGD, Momentum); for Adam
    (``lr`` given), whose 1/sqrt(v) amplifies the rounding of a gradient that cancels,
    steps * lr * sqrt(eps)."""
    eps = float(np.finfo(dtype).eps)
    return 4 * steps * eps * scale if lr is None else steps * lr * eps ** 0.5


def done(**result):
    if RANK == 0:
        print("RESULT " + json.dumps(result), flush=True)
