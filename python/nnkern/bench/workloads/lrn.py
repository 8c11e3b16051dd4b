"""Local response normalization workloads (AlexNet: size 5, alpha 1e-4, beta 0.75,
k 2 on (32,96,55,55)): forward, and forward+backward. ``bytes``: forward x in, y out;
backward gy, x in, gx out."""
import numpy as np

from nnkern import functional as F
from nnkern import reference as R

from . import Workload, torch_or_none

SHAPE = (32, 96, 55, 55)
ARGS = dict(size=5, alpha=1e-4, beta=0.75, k=2.0)


def _forward():
    x = np.random.default_rng(0).standard_normal(SHAPE, dtype=np.float32)
    torch = torch_or_none()
    tfn = None
    if torch is not None:
        tx = torch.from_numpy(x)

        def tfn():
            with torch.no_grad():
                torch.nn.functional.local_response_norm(tx, **ARGS)
    return {"nnkern": lambda: F.local_response_norm(x, **ARGS), "reference": lambda: R.local_response_norm(x, **ARGS),
            "torch": tfn, "flops": None, "bytes": float(2 * x.nbytes)}


def _train_step():
    rng = np.random.default_rng(0)
    x = rng.standard_normal(SHAPE, dtype=np.float32)
    gy = rng.standard_normal(SHAPE, dtype=np.float32)
    torch = torch_or_none()
    tfn = None
    if torch is not None:
        tx, tg = torch.from_numpy(x).requires_grad_(), torch.from_numpy(gy)

        def tfn():
            torch.nn.functional.local_response_norm(tx, **ARGS).backward(tg)

    def nfn():
        F.local_response_norm(x, **ARGS)
        F.local_response_norm_backward(gy, x, **ARGS)

    def rfn():
        R.local_response_norm(x, **ARGS)
        R.local_response_norm_backward(gy, x, **ARGS)
    return {"nnkern": nfn, "reference": rfn, "torch": tfn, "flops": None, "bytes": float(5 * x.nbytes)}


WORKLOADS = [Workload("lrn forward", "AlexNet (32,96,55,55)", _forward),
             Workload("lrn fwd+bwd", "AlexNet (32,96,55,55)", _train_step)]
