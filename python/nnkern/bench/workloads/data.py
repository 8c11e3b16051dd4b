"""Data pipeline workloads: per-batch gather + uint8 normalisation, augmentation.

nnkern runs the Cython loops of ``nnkern._data`` into preallocated batches (as the
BatchLoader does); reference is ``nnkern.reference.data``; torch does the same work with
tensor indexing (no torchvision needed).
"""
import numpy as np

from nnkern import data as D
from nnkern import reference as R

from . import Workload, torch_or_none

MNIST_MEAN, MNIST_STD = 0.1307, 0.3081


def _gather_normalize(n, shape, batch):
    def make():
        rng = np.random.default_rng(0)
        src = rng.integers(0, 256, (n,) + shape, dtype=np.uint8)
        idx = rng.permutation(n)[:batch].astype(np.int64)
        out = np.empty((batch,) + shape, dtype=np.float32)
        torch = torch_or_none()
        tfn = None
        if torch is not None:
            tsrc, tidx = torch.from_numpy(src), torch.from_numpy(idx)

            def tfn():
                (tsrc.index_select(0, tidx).float() * (1 / 255) - MNIST_MEAN) / MNIST_STD
        return {"nnkern": lambda: D.gather_normalize(src, idx, 1 / 255, MNIST_MEAN, MNIST_STD, out=out),
                "reference": lambda: R.gather_normalize(src, idx, 1 / 255, MNIST_MEAN, MNIST_STD),
                "torch": tfn, "flops": None, "bytes": float(batch * int(np.prod(shape)) * 5)}
    return make


def _augment(shape, padding, crop):
    def make():
        rng = np.random.default_rng(0)
        x = rng.standard_normal(shape, dtype=np.float32)
        b, c, h, w = shape
        oh, ow = crop or (h, w)
        keys = np.arange(b, dtype=np.int64)
        out = np.empty((b, c, oh, ow), dtype=np.float32)
        torch = torch_or_none()
        tfn = None
        if torch is not None:
            tx = torch.from_numpy(x)
            ar_h, ar_w = torch.arange(oh), torch.arange(ow)
            bi, ci = torch.arange(b)[:, None, None, None], torch.arange(c)[None, :, None, None]

            def tfn():
                p = torch.nn.functional.pad(tx, (padding,) * 4) if padding else tx
                dy = torch.randint(0, h + 2 * padding - oh + 1, (b,))
                dx = torch.randint(0, w + 2 * padding - ow + 1, (b,))
                flip = torch.rand(b) < 0.5
                cols = torch.where(flip[:, None], ar_w.flip(0), ar_w) + dx[:, None]
                rows = ar_h + dy[:, None]
                p[bi, ci, rows[:, None, :, None], cols[:, None, None, :]]
        return {"nnkern": lambda: D.augment(x, keys, seed=1, padding=padding, out_size=(oh, ow), out=out),
                "reference": lambda: R.augment(x, keys, seed=1, padding=padding, out_size=(oh, ow)),
                "torch": tfn, "flops": None, "bytes": float(2 * out.nbytes)}
    return make


WORKLOADS = [
    Workload("data gather+normalize", "mnist-batch100-of-60000", _gather_normalize(60000, (784,), 100)),
    Workload("data gather+normalize", "cifar-batch128-of-50000", _gather_normalize(50000, (3, 32, 32), 128)),
    Workload("data augment", "cifar-128x3x32x32-pad4-flip", _augment((128, 3, 32, 32), 4, None)),
    Workload("data augment", "alexnet-32x3x256x256-crop224-flip", _augment((32, 3, 256, 256), 0, (224, 224))),
]
