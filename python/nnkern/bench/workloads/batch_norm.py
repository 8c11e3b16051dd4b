"""Batch normalization workloads: training forward+backward on (32,64,56,56), the study
notes' MLP's (100, 50), and inference forward. ``bytes``: training step = x, y (forward) +
gy, x, gx (backward) = 5 arrays; inference = x in, y out."""
import numpy as np

from . import Workload, on_both, torch_step

SHAPES = {"(32,64,56,56)": (32, 64, 56, 56), "(100,50)": (100, 50)}


def _inputs(name):
    shape = SHAPES[name]
    rng = np.random.default_rng(0)
    c = shape[1]
    x = rng.standard_normal(shape, dtype=np.float32)
    gy = rng.standard_normal(shape, dtype=np.float32)
    w = rng.standard_normal(c, dtype=np.float32)
    b = rng.standard_normal(c, dtype=np.float32)
    return x, gy, w, b, np.zeros(c, np.float32), np.ones(c, np.float32)


def _train_step(name):
    def make():
        x, gy, w, b, rm, rv = _inputs(name)
        tfn = torch_step(lambda torch, tx, tw, tb, trm, trv: torch.nn.functional.batch_norm(
            tx, trm, trv, tw, tb, training=True), [x, w, b, rm.copy(), rv.copy()], train=(0, 1, 2), gy=gy)

        def step(M):
            _, mean, invstd = M.batch_norm_forward(x, rm, rv, w, b, True)
            M.batch_norm_backward(gy, x, w, mean, invstd)
        return on_both(step, tfn, nbytes=5 * x.nbytes)
    return make


def _inference(name):
    def make():
        x, _, w, b, rm, rv = _inputs(name)
        tfn = torch_step(lambda torch, tx, tw, tb, trm, trv: torch.nn.functional.batch_norm(
            tx, trm, trv, tw, tb, training=False), [x, w, b, rm, rv])
        return on_both(lambda M: M.batch_norm(x, rm, rv, w, b), tfn, nbytes=2 * x.nbytes)
    return make


WORKLOADS = [Workload("batchnorm train fwd+bwd", n, _train_step(n)) for n in SHAPES] + [
    Workload("batchnorm inference", n, _inference(n)) for n in SHAPES]
