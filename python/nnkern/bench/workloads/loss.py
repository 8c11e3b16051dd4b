"""Softmax cross-entropy workloads (forward + backward, integer labels)."""
import numpy as np

from nnkern import functional as F
from nnkern import reference as R

from . import Workload, torch_or_none

SHAPES = {"mnist 100x10": (100, 10), "imagenet 128x1000": (128, 1000)}


def _sce(shape):
    def make():
        n, k = shape
        rng = np.random.default_rng(0)
        logits = rng.standard_normal(shape, dtype=np.float32) * 3
        labels = rng.integers(0, k, n)
        torch = torch_or_none()
        tfn = None
        if torch is not None:
            tl = torch.from_numpy(logits).requires_grad_()
            tt = torch.from_numpy(labels)

            def tfn():
                torch.nn.functional.cross_entropy(tl, tt).backward()

        def nfn():
            _, probs = F.softmax_cross_entropy(logits, labels)
            F.softmax_cross_entropy_backward(probs, labels)

        def rfn():
            _, probs = R.softmax_cross_entropy(logits, labels)
            R.softmax_cross_entropy_backward(probs, labels)
        # logits in, probs out; probs in, grad out (labels are negligible)
        return {"nnkern": nfn, "reference": rfn, "torch": tfn, "flops": None, "bytes": float(logits.nbytes * 4)}
    return make


WORKLOADS = [Workload("softmax cross-entropy fwd+bwd", name, _sce(s)) for name, s in SHAPES.items()]
