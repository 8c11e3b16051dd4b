"""Batch normalization workloads: training forward+backward on (32,64,56,56), the
seed MLP's (100, 50), and inference forward. ``bytes``: training step = x, y (forward) +
gy, x, gx (backward) = 5 arrays; inference = x in, y out."""
import numpy as np

from nnkern import functional as F
from nnkern import reference as R

from . import Workload, torch_or_none

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
        torch = torch_or_none()
        tfn = None
        if torch is not None:
            tx = torch.from_numpy(x).requires_grad_()
            tw = torch.from_numpy(w).requires_grad_()
            tb = torch.from_numpy(b).requires_grad_()
            tg, trm, trv = torch.from_numpy(gy), torch.from_numpy(rm.copy()), torch.from_numpy(rv.copy())

            def tfn():
                torch.nn.functional.batch_norm(tx, trm, trv, tw, tb, training=True).backward(tg)

        def nfn():
            _, mean, invstd = F.batch_norm_forward(x, rm, rv, w, b, True)
            F.batch_norm_backward(gy, x, w, mean, invstd)

        rrm, rrv = rm.copy(), rv.copy()

        def rfn():
            _, mean, invstd = R.batch_norm_forward(x, rrm, rrv, w, b, True)
            R.batch_norm_backward(gy, x, w, mean, invstd)
        return {"nnkern": nfn, "reference": rfn, "torch": tfn, "flops": None, "bytes": float(5 * x.nbytes)}
    return make


def _inference(name):
    def make():
        x, _, w, b, rm, rv = _inputs(name)
        torch = torch_or_none()
        tfn = None
        if torch is not None:
            tx, tw, tb, trm, trv = (torch.from_numpy(a) for a in (x, w, b, rm, rv))

            def tfn():
                with torch.no_grad():
                    torch.nn.functional.batch_norm(tx, trm, trv, tw, tb, training=False)
        return {"nnkern": lambda: F.batch_norm(x, rm, rv, w, b), "reference": lambda: R.batch_norm(x, rm, rv, w, b),
                "torch": tfn, "flops": None, "bytes": float(2 * x.nbytes)}
    return make


WORKLOADS = [Workload("batchnorm train fwd+bwd", n, _train_step(n)) for n in SHAPES] + [
    Workload("batchnorm inference", n, _inference(n)) for n in SHAPES]
