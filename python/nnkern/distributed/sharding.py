"""Splitting each global batch between ranks: disjoint parts whose union is the batch.

A data-parallel step with world size n and global batch B gives rank r the r-th of n
contiguous, near-equal parts of the single-process batch (``numpy.array_split`` sizes: the
first ``B mod n`` parts hold one sample more). So step k of n ranks sees exactly the samples
of step k of one process, the ranks' parts are disjoint, and over an epoch their union is
the single-process epoch. With the parts' sizes as gradient weights, the averaged gradient
is the single-process batch mean. A part may be empty (a final batch smaller than n).
"""
import numbers


def _check(rank, world_size):
    for name, v in (("rank", rank), ("world_size", world_size)):
        if isinstance(v, bool) or not isinstance(v, numbers.Integral):
            raise TypeError(f"{name} must be an integer, got {v!r}")
    if world_size < 1 or not 0 <= rank < world_size:
        raise ValueError(f"need world_size >= 1 and 0 <= rank < world_size, got rank {rank}, "
                         f"world_size {world_size}")


def shard_bounds(m, rank, world_size):
    """(start, stop) of rank's part of a batch of m samples."""
    _check(rank, world_size)
    q, extra = divmod(int(m), int(world_size))
    start = rank * q + min(rank, extra)
    return start, start + q + (1 if rank < extra else 0)


def shard(batch, rank, world_size):
    """rank's contiguous part of ``batch`` (a sequence or array of sample indices)."""
    start, stop = shard_bounds(len(batch), rank, world_size)
    return batch[start:stop]
