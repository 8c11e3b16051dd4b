"""The book's own network and optimizers (nnkern.compat, float64, np.random init) wrapped in
DistributedOptimizer: n ranks with B/n each == 1 process with batch B, within the bound."""
import nnkern.distributed as dist
import numpy as np
from _common import RANK, SIZE, check, copy_params, digits, done, equivalence_bound, max_diff, same_bits_on_all_ranks
from nnkern.compat.multi_layer_net import MultiLayerNet
from nnkern.compat.optimizer import SGD, Adam, Momentum

B, K = 50, 10
x, t = digits(flat=True, dtype=np.float64)
order = np.random.default_rng(3).permutation(len(x))


def train(make_opt, world):
    np.random.seed(11 if world == 1 else 11 + RANK)  # the book's init draws from np.random
    net = MultiLayerNet(64, [30, 30], 10, weight_decay_lambda=1e-3)
    opt = make_opt() if world == 1 else dist.DistributedOptimizer(make_opt())
    if world > 1:
        opt.broadcast_parameters(net.params)
    for k in range(K):
        idx = order[k * B:(k + 1) * B]
        if world > 1:
            idx = dist.shard(idx, RANK, SIZE)
        opt.update(net.params, net.gradient(x[idx], t[idx]))  # equal parts: the book's call, no weight
    return copy_params(net)


eps_units = {}
for name, make_opt in {"SGD": lambda: SGD(lr=0.1), "Momentum": lambda: Momentum(lr=0.05),
                       "Adam": lambda: Adam(lr=1e-3)}.items():
    one, many = train(make_opt, 1), train(make_opt, SIZE)
    err, scale = max_diff(many, one)
    bound = equivalence_bound(np.float64, K, scale, make_opt().lr if name == "Adam" else None)
    check(err <= bound, f"compat {name}: max|diff| {err:.3g} > {bound:.3g}")
    same_bits_on_all_ranks(many, f"compat {name}")
    eps_units[name] = err / scale / float(np.finfo(np.float64).eps)
    # the layers hold the very arrays the optimizer updated: predictions agree too
done(eps_units=eps_units)
