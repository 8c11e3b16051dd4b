"""Affine (fully connected) workloads: the book's MNIST MLP layer and AlexNet's fc6."""
import numpy as np

from . import Workload, on_both, torch_step

SHAPES = {"mnist-mlp 100x784x50": (100, 784, 50), "alexnet-fc6 128x9216x4096": (128, 9216, 4096)}


def _affine(shape, backward):
    def make():
        n, fan_in, out = shape
        rng = np.random.default_rng(0)
        x = rng.standard_normal((n, fan_in), dtype=np.float32)
        w = rng.standard_normal((fan_in, out), dtype=np.float32) * 0.01
        b = rng.standard_normal(out, dtype=np.float32)
        gy = rng.standard_normal((n, out), dtype=np.float32)
        tfn = torch_step(lambda torch, tx, tw, tb: torch.addmm(tb, tx, tw), [x, w, b],
                         train=(0, 1, 2) if backward else None, gy=gy)

        def step(M):
            M.affine(x, w, b)
            if backward:
                M.affine_backward(gy, x, w)
        return on_both(step, tfn, flops=2.0 * n * fan_in * out * (3 if backward else 1))
    return make


WORKLOADS = [Workload("affine forward", name, _affine(s, False)) for name, s in SHAPES.items()] + [
    Workload("affine fwd+bwd", name, _affine(s, True)) for name, s in SHAPES.items()]
