"""Dropout workloads (training: mask generation + scaling, and the backward)."""
import numpy as np

from nnkern import functional as F
from nnkern import reference as R

from . import Workload, torch_or_none

SHAPE = (32, 64, 56, 56)
P = 0.5


def _dropout(backward):
    def make():
        rng = np.random.default_rng(0)
        x = rng.standard_normal(SHAPE, dtype=np.float32)
        gy = rng.standard_normal(SHAPE, dtype=np.float32)
        torch = torch_or_none()
        tfn = None
        if torch is not None:
            tg = torch.from_numpy(gy)
            if backward:
                tx = torch.from_numpy(x).requires_grad_()

                def tfn():
                    torch.nn.functional.dropout(tx, P, training=True).backward(tg)
            else:
                tx = torch.from_numpy(x)

                def tfn():
                    with torch.no_grad():
                        torch.nn.functional.dropout(tx, P, training=True)

        def nfn():
            _, mask = F.dropout(x, P, seed=1)
            if backward:
                F.dropout_backward(gy, mask, P)

        def rfn():
            _, mask = R.dropout(x, P, seed=1)
            if backward:
                R.dropout_backward(gy, mask, P)
        # forward: x in, y + uint8 mask out; backward: gy + mask in, gx out
        nbytes = x.nbytes * 2 + x.size + (x.nbytes * 2 + x.size if backward else 0)
        return {"nnkern": nfn, "reference": rfn, "torch": tfn, "flops": None, "bytes": float(nbytes)}
    return make


WORKLOADS = [
    Workload("dropout forward", "32x64x56x56 p=0.5", _dropout(False)),
    Workload("dropout fwd+bwd", "32x64x56x56 p=0.5", _dropout(True)),
]
