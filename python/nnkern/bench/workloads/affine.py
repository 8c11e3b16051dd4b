"""Affine (fully connected) workloads: the book's MNIST MLP layer and AlexNet's fc6."""
import numpy as np

from nnkern import functional as F
from nnkern import reference as R

from . import Workload, torch_or_none

SHAPES = {"mnist-mlp 100x784x50": (100, 784, 50), "alexnet-fc6 128x9216x4096": (128, 9216, 4096)}


def _affine(shape, backward):
    def make():
        n, fan_in, out = shape
        rng = np.random.default_rng(0)
        x = rng.standard_normal((n, fan_in), dtype=np.float32)
        w = rng.standard_normal((fan_in, out), dtype=np.float32) * 0.01
        b = rng.standard_normal(out, dtype=np.float32)
        gy = rng.standard_normal((n, out), dtype=np.float32)
        torch = torch_or_none()
        tfn = None
        if torch is not None:
            if backward:
                tx, tw, tb = (torch.from_numpy(a).requires_grad_() for a in (x, w, b))
                tg = torch.from_numpy(gy)

                def tfn():
                    torch.addmm(tb, tx, tw).backward(tg)
            else:
                tx, tw, tb = (torch.from_numpy(a) for a in (x, w, b))

                def tfn():
                    with torch.no_grad():
                        torch.addmm(tb, tx, tw)

        def nfn():
            F.affine(x, w, b)
            if backward:
                F.affine_backward(gy, x, w)

        def rfn():
            R.affine(x, w, b)
            if backward:
                R.affine_backward(gy, x, w)
        flops = 2.0 * n * fan_in * out * (3 if backward else 1)
        return {"nnkern": nfn, "reference": rfn, "torch": tfn, "flops": flops, "bytes": None}
    return make


WORKLOADS = [Workload("affine forward", name, _affine(s, False)) for name, s in SHAPES.items()] + [
    Workload("affine fwd+bwd", name, _affine(s, True)) for name, s in SHAPES.items()]
