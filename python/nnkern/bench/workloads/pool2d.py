"""Pooling workloads: forward (no indices, as in inference) and forward+backward.

``bytes`` counts what each call must move: input + output (+ int64 indices and the gradients
for the training step), so GB/s = bytes / seconds is comparable with the copy bandwidth.
"""
import numpy as np

from nnkern import functional as F
from nnkern import reference as R

from . import Workload, torch_or_none

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


def _forward(name):
    def make():
        op, x, k, s = _inputs(name)
        torch = torch_or_none()
        fn = F.max_pool2d if op == "max" else F.avg_pool2d
        ref = R.max_pool2d if op == "max" else R.avg_pool2d
        y = fn(x, k, s)
        tfn = None
        if torch is not None:
            tx = torch.from_numpy(x)
            tf = torch.nn.functional.max_pool2d if op == "max" else torch.nn.functional.avg_pool2d

            def tfn():
                with torch.no_grad():
                    tf(tx, k, s)
        return {"nnkern": lambda: fn(x, k, s), "reference": lambda: ref(x, k, s), "torch": tfn,
                "flops": None, "bytes": float(x.nbytes + y.nbytes)}
    return make


def _train_step(name):
    def make():
        op, x, k, s = _inputs(name)
        torch = torch_or_none()
        if op == "max":
            y, idx = F.max_pool2d(x, k, s, return_indices=True)
            gy = np.ones_like(y)

            def nfn():
                _, i = F.max_pool2d(x, k, s, return_indices=True)
                F.max_pool2d_backward(gy, i, x.shape)

            def rfn():
                _, i = R.max_pool2d(x, k, s, return_indices=True)
                R.max_pool2d_backward(gy, i, x.shape)
            # forward: x in, y + indices out; backward: gy + indices in, gx out
            nbytes = 2 * x.nbytes + 2 * y.nbytes + 2 * idx.nbytes
        else:
            y = F.avg_pool2d(x, k, s)
            gy = np.ones_like(y)

            def nfn():
                F.avg_pool2d(x, k, s)
                F.avg_pool2d_backward(gy, x.shape, k, s)

            def rfn():
                R.avg_pool2d(x, k, s)
                R.avg_pool2d_backward(gy, x.shape, k, s)
            nbytes = 2 * x.nbytes + 2 * y.nbytes
        tfn = None
        if torch is not None:
            tx = torch.from_numpy(x).requires_grad_()
            tg = torch.from_numpy(gy)
            tf = torch.nn.functional.max_pool2d if op == "max" else torch.nn.functional.avg_pool2d

            def tfn():
                tf(tx, k, s).backward(tg)
        return {"nnkern": nfn, "reference": rfn, "torch": tfn, "flops": None, "bytes": float(nbytes)}
    return make


WORKLOADS = [Workload("pool2d forward", n, _forward(n)) for n in SHAPES] + [
    Workload("pool2d fwd+bwd", n, _train_step(n)) for n in SHAPES]
