"""broadcast_parameters, the first-update broadcast, average_buffers, a mismatched model
(raises on every rank, no hang), and the overlapped reducer (begin / ready / finish) against
the blocking one, bit for bit, with gradients reported in any order and an empty shard."""
import nnkern.distributed as dist
import numpy as np
from _common import RANK, SIZE, WORLD, check, copy_params, digits, done, same_bits_on_all_ranks
from nnkern.models import MultiLayerNet, MultiLayerNetExtend
from nnkern.optimizers import SGD

x, t = digits(flat=True)

# -- broadcast_parameters: every rank gets rank 0's values, in its own arrays
net = MultiLayerNet(64, [16], 10, seed=RANK)
arrays = dict(net.params)
root = WORLD.comm.bcast(copy_params(net), root=0)
dist.broadcast_parameters(net.params)
check(all(net.params[k] is arrays[k] for k in arrays), "broadcast replaced arrays instead of writing into them")
check(all(np.array_equal(net.params[k], root[k]) for k in root), "broadcast: not rank 0's values")

# -- DistributedOptimizer broadcasts on its first update: the ranks end as one model
net = MultiLayerNet(64, [16], 10, seed=10 + RANK)
opt = dist.DistributedOptimizer(SGD(lr=0.1))
opt.update(net.params, net.gradient(x[:8], t[:8]))
same_bits_on_all_ranks(net.params, "after the first update")

# -- average_buffers: per-rank batch-norm statistics become their mean over ranks
bn = MultiLayerNetExtend(64, [16], 10, use_batchnorm=True, seed=0)
opt = dist.DistributedOptimizer(SGD(lr=0.1))
for k in range(3):
    part = dist.shard(np.arange(k * 40, (k + 1) * 40), RANK, SIZE)
    opt.update(bn.params, bn.gradient(x[part], t[part]), weight=len(part))
mine = {k: np.array(v) for k, v in bn.buffers().items()}
every = WORLD.comm.allgather(mine)
check(any(not np.array_equal(every[0][k], every[1][k]) for k in mine), "per-rank statistics should differ")
dist.average_buffers(bn.buffers())
same_bits_on_all_ranks(bn.buffers(), "averaged buffers")
for k, v in bn.buffers().items():
    want = sum(e[k].astype(np.float64) for e in every) / SIZE
    check(np.allclose(v, want, rtol=1e-6, atol=1e-7), f"buffer {k} is not the mean over ranks")

# -- a model that differs between ranks: ValueError on every rank, not a hang
try:
    dist.GradientReducer(MultiLayerNet(64, [16 + RANK], 10).params)
    raised = ""
except ValueError as e:
    raised = str(e)
check("differ between ranks" in raised, f"mismatched parameters not reported: {raised!r}")

# -- overlapped vs blocking reduction: same bits; any report order; empty shard (weight 0)
net = MultiLayerNet(64, [40, 30, 20], 10, seed=0)
for bucket_bytes in (64, 4096, dist.DEFAULT_BUCKET_BYTES):
    for algorithm in ("fixed", "mpi"):
        reducer = dist.GradientReducer(net.params, bucket_bytes=bucket_bytes, algorithm=algorithm)
        part = dist.shard(np.arange(45), RANK, SIZE)
        g = net.gradient(x[part], t[part])
        blocking = reducer.allreduce({k: v.copy() for k, v in g.items()}, weight=len(part))
        for order in (list(reversed(list(g))), list(g)):  # backward order, then the worst order
            reducer.begin(weight=len(part))
            for k in order:
                reducer.ready(k, g[k].copy())
            overlapped = reducer.finish()
            check(all(np.array_equal(blocking[k], overlapped[k]) for k in g),
                  f"overlapped != blocking ({bucket_bytes} B buckets, {algorithm})")
        same_bits_on_all_ranks(blocking, "reduced gradients")
        # rank 1's shard is empty: it passes no gradients and weight 0; the mean is rank 0's
        empty = RANK == 1
        mean = reducer.allreduce(None if empty else {k: v.copy() for k, v in g.items()}, weight=0 if empty else 5)
        root = WORLD.comm.bcast(g if RANK == 0 else None, root=0)
        check(all(np.array_equal(mean[k], root[k]) for k in g), "weight 0 rank changed the mean")
done(buckets=len(dist.GradientReducer(net.params, bucket_bytes=64).buckets), size=SIZE)
