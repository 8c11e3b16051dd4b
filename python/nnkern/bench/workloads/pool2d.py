"""Pooling workloads: forward (no indices, as in inference) and forward+backward.

``bytes`` counts what each call must move: input + output (+ int64 indices and the gradients
for the training step), so GB/s = bytes / seconds is comparable with the copy bandwidth.
"""
import numpy as np

from nnkern import functional as F

from . import Workload, on_both, torch_step

# name: (op, x shape NCHW, kernel, stride)
SHAPES = {
    "max 2x2 s2 (100,30,24,24)": ("max", (100, 30, 24, 24), 2, 2),
    "max 3x3 s2 (32,96,55,55)": ("max", (32, 96, 55, 55), 3, 2),
    "avg 2x2 s2 (32,64,72,72)": ("avg", (32, 64, 72, 72), 2, 2),
}


def _inputs(name):
    op, shape, k, s = SHAPES[name]
    x = np.random.default_rng(0).standard_normal(shape, dtype=np.float32)
    return op, x, k, s


def _torch_pool(op, k, s):
    return lambda torch, tx: getattr(torch.nn.functional, f"{op}_pool2d")(tx, k, s)


def _forward(name):
    def make():
        op, x, k, s = _inputs(name)
        y = getattr(F, f"{op}_pool2d")(x, k, s)
        return on_both(lambda M: getattr(M, f"{op}_pool2d")(x, k, s), torch_step(_torch_pool(op, k, s), [x]),
                       nbytes=x.nbytes + y.nbytes)
    return make


def _train_step(name):
    def make():
        op, x, k, s = _inputs(name)
        if op == "max":
            y, idx = F.max_pool2d(x, k, s, return_indices=True)

            def step(M):
                _, i = M.max_pool2d(x, k, s, return_indices=True)
                M.max_pool2d_backward(gy, i, x.shape)
            # forward: x in, y + indices out; backward: gy + indices in, gx out
            nbytes = 2 * x.nbytes + 2 * y.nbytes + 2 * idx.nbytes
        else:
            y = F.avg_pool2d(x, k, s)

            def step(M):
                M.avg_pool2d(x, k, s)
                M.avg_pool2d_backward(gy, x.shape, k, s)
            nbytes = 2 * x.nbytes + 2 * y.nbytes
        gy = np.ones_like(y)
        return on_both(step, torch_step(_torch_pool(op, k, s), [x], train=(0,), gy=gy), nbytes=nbytes)
    return make


WORKLOADS = [Workload("pool2d forward", n, _forward(n)) for n in SHAPES] + [
    Workload("pool2d fwd+bwd", n, _train_step(n)) for n in SHAPES]
