"""Gradient buckets and the two ways of summing one across ranks.

A bucket is one contiguous buffer that holds several gradients back to back (one dtype),
so a step costs a few large messages instead of one small message per tensor (PyTorch DDP's
design, Li et al., "PyTorch Distributed", VLDB 2020). :func:`plan_buckets` fills buckets in
the order the gradients become ready (last layer first in backpropagation) and closes one
when it reaches ``bucket_bytes``; a tensor larger than that gets a bucket of its own.

Reductions (sum, then divide by the world size n), identical on every rank:

* :class:`FixedOrderSum` ("fixed"): rank r owns the r-th 1/n of the bucket. An alltoall hands
  every rank the n contributions to its chunk, which it adds in rank order
  ``((g0 + g1) + g2) + ...`` and divides by n; an allgather returns the reduced chunks to all.
  The order of every floating-point addition is fixed by the rank numbers alone, whatever
  the MPI library, its tuning or the message size, so a run is reproducible bit for bit and
  every rank holds the same bits. It moves 2 (n-1)/n of the bucket per rank, as a ring
  allreduce does.
* :class:`MpiSum` ("mpi"): ``MPI_Allreduce(MPI_IN_PLACE, SUM)``, the library's own algorithm.
  Its summation order is the library's choice; with two ranks every element is one IEEE
  addition ``g0 + g1``, which is commutative, so the result is the same as "fixed".

Both have a blocking form (``run``) and a non-blocking one (``start`` / ``advance`` /
``finish``, on MPI-3 non-blocking collectives) used to overlap communication with backward.
Non-blocking collectives must be issued in the same order on every rank of a communicator;
buckets are issued in plan order, and the two phases of "fixed" run on two communicators.
"""
import numpy as np

DEFAULT_BUCKET_BYTES = 25 * 2**20  # 25 MiB, DDP's bucket_cap_mb default


class Bucket:
    """Several gradients flattened into one buffer ``buf`` (zero padding to a multiple of n)."""

    def __init__(self, keys, shapes, dtype, world_size):
        self.keys = list(keys)
        self.shapes = [tuple(s) for s in shapes]
        self.dtype = np.dtype(dtype)
        sizes = [int(np.prod(s, dtype=np.int64)) for s in self.shapes]
        self.offsets = np.concatenate([[0], np.cumsum(sizes, dtype=np.int64)]).tolist()
        self.numel = self.offsets[-1]
        n = int(world_size)
        self.padded = -(-max(self.numel, 1) // n) * n
        self.buf = np.zeros(self.padded, self.dtype)
        self.recv = None  # FixedOrderSum's alltoall target, allocated on first use
        self.chunk = None
        self.request = None
        self.phase = 0  # 0 idle, 1.. in flight (algorithm-specific), done when finished
        self.filled = 0

    @property
    def nbytes(self):
        return self.numel * self.dtype.itemsize

    def slot(self, i):
        """The flat view of the i-th gradient inside ``buf``."""
        return self.buf[self.offsets[i]:self.offsets[i + 1]]


def plan_buckets(specs, bucket_bytes, world_size):
    """Buckets for ``specs`` = [(key, shape, dtype), ...] in readiness order.

    Consecutive tensors share a bucket while it is under ``bucket_bytes`` and of one dtype.
    """
    if not (isinstance(bucket_bytes, (int, np.integer)) and not isinstance(bucket_bytes, bool)
            and bucket_bytes > 0):
        raise ValueError(f"bucket_bytes must be a positive integer, got {bucket_bytes!r}")
    buckets, cur, size, dtype = [], [], 0, None
    for key, shape, dt in specs:
        dt = np.dtype(dt)
        if cur and (dt != dtype or size >= bucket_bytes):
            buckets.append(Bucket([c[0] for c in cur], [c[1] for c in cur], dtype, world_size))
            cur, size = [], 0
        cur.append((key, shape))
        dtype = dt
        size += int(np.prod(shape, dtype=np.int64)) * dt.itemsize
    if cur:
        buckets.append(Bucket([c[0] for c in cur], [c[1] for c in cur], dtype, world_size))
    return buckets


class FixedOrderSum:
    """Mean over ranks with additions in rank order (see the module docstring)."""

    name = "fixed"

    def __init__(self, comm, comm2=None):
        self.comm, self.comm2 = comm, comm2 if comm2 is not None else comm
        self.n = comm.Get_size()

    def _buffers(self, b):
        if b.recv is None:
            b.recv = np.empty(b.padded, b.dtype)
            b.chunk = np.empty(b.padded // self.n, b.dtype)

    def _reduce_chunk(self, b):
        parts = b.recv.reshape(self.n, -1)
        np.copyto(b.chunk, parts[0])
        for r in range(1, self.n):
            np.add(b.chunk, parts[r], out=b.chunk)
        np.divide(b.chunk, self.n, out=b.chunk)

    def run(self, b):
        self._buffers(b)
        self.comm.Alltoall(b.buf, b.recv)
        self._reduce_chunk(b)
        self.comm2.Allgather(b.chunk, b.buf)

    def start(self, b):
        self._buffers(b)
        b.request = self.comm.Ialltoall(b.buf, b.recv)
        b.phase = 1

    def advance(self, b):
        """Move b on without blocking; True once all its collectives are issued."""
        if b.phase == 1 and b.request.Test():
            self._reduce_chunk(b)
            b.request = self.comm2.Iallgather(b.chunk, b.buf)
            b.phase = 2
        return b.phase >= 2

    def finish(self, b):
        if b.phase == 1:
            b.request.Wait()
            self._reduce_chunk(b)
            b.request = self.comm2.Iallgather(b.chunk, b.buf)
        b.request.Wait()
        b.request, b.phase = None, 0


class MpiSum:
    """Mean over ranks with the MPI library's in-place Allreduce / Iallreduce."""

    name = "mpi"

    def __init__(self, comm, comm2=None):
        self.comm = comm
        self.n = comm.Get_size()

    def _mean(self, b):
        np.divide(b.buf, self.n, out=b.buf)

    def run(self, b):
        from .group import mpi
        self.comm.Allreduce(mpi().IN_PLACE, b.buf, op=mpi().SUM)
        self._mean(b)

    def start(self, b):
        from .group import mpi
        b.request = self.comm.Iallreduce(mpi().IN_PLACE, b.buf, op=mpi().SUM)
        b.phase = 1

    def advance(self, b):
        b.request.Test()  # drives MPI's progress engine
        return True

    def finish(self, b):
        b.request.Wait()
        self._mean(b)
        b.request, b.phase = None, 0


ALGORITHMS = {"fixed": FixedOrderSum, "mpi": MpiSum}


def choose_algorithm(name, world_size):
    """'auto' is 'mpi' for 2 ranks (one commutative addition per element: the same bits) and
    'fixed' for more; 'fixed' and 'mpi' are taken as given."""
    if name == "auto":
        return "mpi" if world_size <= 2 else "fixed"
    if name not in ALGORITHMS:
        raise ValueError(f"algorithm must be 'auto', 'fixed' or 'mpi', got {name!r}")
    return name
