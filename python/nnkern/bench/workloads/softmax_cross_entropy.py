"""Softmax cross-entropy workloads (forward + backward, integer labels)."""
import numpy as np

from . import Workload, on_both, torch_step

SHAPES = {"mnist 100x10": (100, 10), "imagenet 128x1000": (128, 1000)}


def _sce(shape):
    def make():
        n, k = shape
        rng = np.random.default_rng(0)
        logits = rng.standard_normal(shape, dtype=np.float32) * 3
        labels = rng.integers(0, k, n)
        tfn = torch_step(lambda torch, tl, tt: torch.nn.functional.cross_entropy(tl, tt), [logits, labels], train=(0,))

        def step(M):
            _, probs = M.softmax_cross_entropy(logits, labels)
            M.softmax_cross_entropy_backward(probs, labels)
        # logits in, probs out; probs in, grad out (labels are negligible)
        return on_both(step, tfn, nbytes=logits.nbytes * 4)
    return make


WORKLOADS = [Workload("softmax cross-entropy fwd+bwd", name, _sce(s)) for name, s in SHAPES.items()]
