"""Local response normalization workloads (AlexNet: size 5, alpha 1e-4, beta 0.75,
k 2 on (32,96,55,55)): forward, and forward+backward. ``bytes``: forward x in, y out;
backward gy, x in, gx out."""
import numpy as np

from . import Workload, on_both, torch_step

SHAPE = (32, 96, 55, 55)
ARGS = dict(size=5, alpha=1e-4, beta=0.75, k=2.0)


def _lrn(torch, tx):
    return torch.nn.functional.local_response_norm(tx, **ARGS)


def _forward():
    x = np.random.default_rng(0).standard_normal(SHAPE, dtype=np.float32)
    return on_both(lambda M: M.local_response_norm(x, **ARGS), torch_step(_lrn, [x]), nbytes=2 * x.nbytes)


def _train_step():
    rng = np.random.default_rng(0)
    x = rng.standard_normal(SHAPE, dtype=np.float32)
    gy = rng.standard_normal(SHAPE, dtype=np.float32)

    def step(M):
        M.local_response_norm(x, **ARGS)
        M.local_response_norm_backward(gy, x, **ARGS)
    return on_both(step, torch_step(_lrn, [x], train=(0,), gy=gy), nbytes=5 * x.nbytes)


WORKLOADS = [Workload("lrn forward", "AlexNet (32,96,55,55)", _forward),
             Workload("lrn fwd+bwd", "AlexNet (32,96,55,55)", _train_step)]
