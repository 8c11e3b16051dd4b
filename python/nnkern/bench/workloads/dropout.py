"""Dropout workloads (training: mask generation + scaling, and the backward)."""
import numpy as np

from . import Workload, on_both, torch_step

SHAPE = (32, 64, 56, 56)
P = 0.5


def _dropout(backward):
    def make():
        rng = np.random.default_rng(0)
        x = rng.standard_normal(SHAPE, dtype=np.float32)
        gy = rng.standard_normal(SHAPE, dtype=np.float32)
        tfn = torch_step(lambda torch, tx: torch.nn.functional.dropout(tx, P, training=True), [x],
                         train=(0,) if backward else None, gy=gy)

        def step(M):
            _, mask = M.dropout(x, P, seed=1)
            if backward:
                M.dropout_backward(gy, mask, P)
        # forward: x in, y + uint8 mask out; backward: gy + mask in, gx out
        return on_both(step, tfn, nbytes=x.nbytes * 2 + x.size + (x.nbytes * 2 + x.size if backward else 0))
    return make


WORKLOADS = [
    Workload("dropout forward", "32x64x56x56 p=0.5", _dropout(False)),
    Workload("dropout fwd+bwd", "32x64x56x56 p=0.5", _dropout(True)),
]
