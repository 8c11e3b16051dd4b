"""Same start, same state: broadcasting parameters and averaging batch-norm statistics.

All of these are collective (every rank calls them, in the same order) and in place: they
write into the arrays a model already holds, so its layers and optimizer see the result.
With one rank they return at once.
"""
import numpy as np

from .group import mpi, world
from .reducer import check_same_on_all_ranks, signature_of


def _comm():
    w = world()
    return w.comm if w.size > 1 else None


def _writable(name, a):
    if not (isinstance(a, np.ndarray) and a.flags.c_contiguous and a.flags.writeable):
        raise ValueError(f"{name!r} must be a writable C-contiguous numpy array (it is written in place)")
    return a


def broadcast_parameters(params, root=0):
    """Copy rank ``root``'s values into every rank's arrays of ``params`` (name -> array), in place.

    Call it after building the model and before the first gradient, so ranks that built
    their models with different seeds (or loaded a checkpoint on one rank only) train one
    model. Names, shapes and dtypes must agree across ranks (ValueError on every rank if not).
    Works for any dict of arrays: parameters, ``model.buffers()``.
    """
    comm = _comm()
    if comm is None:
        return params
    arrays = {k: _writable(k, params[k]) for k in params}
    check_same_on_all_ranks(comm, signature_of(arrays), "parameter names, shapes or dtypes")
    for a in arrays.values():
        if a.size:
            comm.Bcast(a, root=root)
    return params


def broadcast_object(obj, root=0):
    """Rank ``root``'s picklable ``obj`` on every rank (small things: options, optimizer state)."""
    comm = _comm()
    return obj if comm is None else comm.bcast(obj, root=root)


def broadcast_optimizer_state(optimizer, root=0):
    """Give every rank ``root``'s optimizer state (``state_dict()`` / ``load_state_dict()``),
    e.g. after rank 0 alone resumed from a checkpoint. The optimizer may be wrapped in a
    :class:`~nnkern.distributed.DistributedOptimizer`."""
    if _comm() is None:
        return optimizer
    inner = getattr(optimizer, "optimizer", optimizer)
    state = broadcast_object(inner.state_dict() if world().rank == root else None, root)
    # unpickled arrays carry a fresh dtype object; the native kernels want numpy's own float32/float64
    inner.load_state_dict({k: v.astype(v.dtype.type) if isinstance(v, np.ndarray) else v for k, v in state.items()})
    return optimizer


def average_buffers(buffers):
    """Replace every float array of ``buffers`` (e.g. ``model.buffers()``: batch-norm running
    mean and variance) by its mean over the ranks, in place, in a fixed order (identical bits
    on every rank). Returns ``buffers``.

    With per-rank batch statistics (as PyTorch DDP) each rank's running statistics follow
    its own shards; averaging them at the end of every epoch (and before evaluating or
    saving) keeps the ranks consistent. The averaged variance is the mean of the per-rank
    running variances: it leaves out the spread of the per-rank means, which is small when
    the shards are drawn from one shuffled dataset.
    """
    comm = _comm()
    if comm is None:
        return buffers
    floats = {k: _writable(k, v) for k, v in buffers.items() if np.asarray(v).dtype.kind == "f"}
    if floats:
        from .reducer import GradientReducer
        GradientReducer(floats, algorithm="fixed", comm=comm).allreduce(floats)
    return buffers


def allreduce_sum(values):
    """Element-wise sum over ranks of a small list/array of numbers, as float64 (metrics:
    loss sums, correct counts, sample counts)."""
    arr = np.array(values, dtype=np.float64).reshape(-1)
    comm = _comm()
    if comm is not None:
        comm.Allreduce(mpi().IN_PLACE, arr, op=mpi().SUM)
    return arr
