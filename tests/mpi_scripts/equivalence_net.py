"""Net models with DistributedOptimizer: n ranks with batch B/n each == 1 process with batch B.

For MultiLayerNet and SimpleConvNet, float32 and float64, SGD / Momentum / Adam: the ranks
build their models with different seeds, broadcast from rank 0, train K steps on their
parts of each batch (B odd, so the parts are unequal and the weights matter), and must end
(a) within the stated bound of a plain single-process run with batch B, (b) with identical
bits on every rank, (c) bit-identical to a second run (reproducible), (d) bit-identical
whatever the bucket size (several buckets vs one), the algorithm ('fixed' vs 'mpi') and whether
the averaging overlaps backward (DistributedOptimizer.step) or follows it.
"""
import nnkern.distributed as dist
import numpy as np
from _common import RANK, SIZE, check, copy_params, digits, done, equivalence_bound, max_diff, same_bits_on_all_ranks
from nnkern.models import MultiLayerNet, SimpleConvNet
from nnkern.optimizers import SGD, Adam, Momentum

B, K = 63, 12
MODELS = {
    "MultiLayerNet": (lambda dt, s: MultiLayerNet(64, [40, 20], 10, weight_decay_lambda=1e-3, dtype=dt, seed=s),
                      True),
    "SimpleConvNet": (lambda dt, s: SimpleConvNet((1, 8, 8), {"filter_num": 6, "filter_size": 3, "pad": 1,
                                                              "stride": 1}, hidden_size=20, output_size=10,
                                                  dtype=dt, seed=s), False),
}
OPTIMIZERS = {"SGD": lambda: SGD(lr=0.1), "Momentum": lambda: Momentum(lr=0.05), "Adam": lambda: Adam(lr=2e-3)}


def batches(n_samples):
    order = np.random.default_rng(7).permutation(n_samples)
    return [order[k * B:(k + 1) * B] for k in range(K)]


def train(make, make_opt, dtype, x, t, world, step=False, **opts):
    if world == 1:  # plain single process: no nnkern.distributed at all
        net, opt = make(dtype, 100), make_opt()
        for idx in batches(len(x)):
            opt.update(net.params, net.gradient(x[idx], t[idx]))
        return copy_params(net)
    net = make(dtype, 100 + RANK)  # different seeds: the broadcast makes one model
    opt = dist.DistributedOptimizer(make_opt(), **opts)
    opt.broadcast_parameters(net.params)
    for idx in batches(len(x)):
        part = dist.shard(idx, RANK, SIZE)
        if step:  # overlapped with backward through the model's on_grad_ready hook
            opt.step(net, x[part], t[part])
        else:
            opt.update(net.params, net.gradient(x[part], t[part]), weight=len(part))
    return copy_params(net)


worst = {}
for mname, (make, flat) in MODELS.items():
    for dtype in (np.float32, np.float64):
        x, t = digits(flat, dtype)
        for oname, make_opt in OPTIMIZERS.items():
            case = f"{mname}/{oname}/{np.dtype(dtype).name}"
            one = train(make, make_opt, dtype, x, t, 1)
            many = train(make, make_opt, dtype, x, t, SIZE)
            err, scale = max_diff(many, one)
            bound = equivalence_bound(dtype, K, scale, make_opt().lr if oname == "Adam" else None)
            check(err <= bound, f"{case}: max|diff| {err:.3g} > the bound {bound:.3g} (max|theta| {scale:.3g})")
            worst[case] = err / scale / float(np.finfo(dtype).eps)
            same_bits_on_all_ranks(many, case)
            if oname == "Momentum":
                again = train(make, make_opt, dtype, x, t, SIZE)
                small = train(make, make_opt, dtype, x, t, SIZE, bucket_bytes=1024)
                fixed = train(make, make_opt, dtype, x, t, SIZE, algorithm="fixed")
                stepped = train(make, make_opt, dtype, x, t, SIZE, step=True, bucket_bytes=4096)
                for other, label in ((again, "a second run"), (small, "1 KiB buckets"), (fixed, "'fixed'"),
                                     (stepped, "overlapped steps")):
                    check(all(np.array_equal(many[k], other[k]) for k in many), f"{case}: {label} differs")

done(steps=K, batch=B, eps_units=worst)
