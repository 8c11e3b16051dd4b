"""Data-parallel training across processes and machines, on MPI (mpi4py).

Every rank holds the whole model, trains on its own part of each batch, and averages the
gradients with the other ranks before each update, so all ranks apply the same step and
stay one model. Launch with ``mpiexec -n 4 python -m mpi4py script.py`` (``-m mpi4py`` makes
a rank that raises abort the whole job) or ``nnkern launch -n 4 train ...``. Not launched by
MPI, everything here is a single process of rank 0 and costs nothing; mpi4py is imported
only when needed (``pip install 'nnkern[mpi]'`` brings mpi4py and the mpich wheel).

    import nnkern.distributed as dist
    dist.init()
    net = nnkern.SimpleConvNet(seed=0)
    dist.broadcast_parameters(net.params)                      # same start on every rank
    opt = dist.DistributedOptimizer(nnkern.optimizers.Adam())
    loader = BatchLoader(x, t, batch_size=100, rank=dist.rank(), world_size=dist.world_size())
    for epoch in range(10):
        for xb, tb in loader:                                  # this rank's part of each batch
            opt.step(net, xb, tb)       # = update(params, gradient(xb, tb), weight=len(xb)), overlapped
        dist.average_buffers(net.buffers())                    # batch-norm running statistics
        if dist.is_main(): ...                                 # print, save

``batch_size`` is the global batch: n ranks each compute 1/n of it, and the weighted mean of
their gradients is the single-process batch mean, so n ranks train the model one process
would (to float32 rounding; docs/distributed.md states the bound, the measurements and a
cost model of where scaling stops).
"""
from .buckets import DEFAULT_BUCKET_BYTES
from .collectives import (
    allreduce_sum,
    average_buffers,
    broadcast_object,
    broadcast_optimizer_state,
    broadcast_parameters,
)
from .group import (
    World,
    abort,
    barrier,
    default_threads,
    init,
    is_distributed,
    is_main,
    launched,
    local_rank,
    local_size,
    rank,
    world,
    world_size,
)
from .optimizer import DistributedOptimizer
from .reducer import GradientReducer, allreduce_gradients
from .sharding import shard, shard_bounds

__all__ = ["init", "world", "World", "rank", "world_size", "local_rank", "local_size", "is_main",
           "is_distributed", "launched", "barrier", "abort", "default_threads", "broadcast_parameters",
           "broadcast_object", "broadcast_optimizer_state", "average_buffers", "allreduce_sum",
           "allreduce_gradients", "GradientReducer", "DistributedOptimizer", "DEFAULT_BUCKET_BYTES",
           "shard", "shard_bounds"]
