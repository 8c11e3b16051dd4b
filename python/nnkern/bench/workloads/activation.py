"""Activation workloads: relu / sigmoid / tanh on a large tensor, softmax rows."""
import numpy as np

from nnkern import functional as F
from nnkern import reference as R

from . import Workload, torch_or_none

LARGE = (32, 64, 56, 56)  # 6.4M elements, 25.7 MB in float32


def _elementwise(op, backward):
    fwd, bwd = {"relu": (F.relu, F.relu_backward), "sigmoid": (F.sigmoid, F.sigmoid_backward),
                "tanh": (F.tanh, F.tanh_backward)}[op]
    rfwd, rbwd = {"relu": (R.relu, R.relu_backward), "sigmoid": (R.sigmoid, R.sigmoid_backward),
                  "tanh": (R.tanh, R.tanh_backward)}[op]
    uses_y = op != "relu"

    def make():
        rng = np.random.default_rng(0)
        x = rng.standard_normal(LARGE, dtype=np.float32)
        gy = rng.standard_normal(LARGE, dtype=np.float32)
        torch = torch_or_none()
        tfn = None
        if torch is not None:
            tf = {"relu": torch.relu, "sigmoid": torch.sigmoid, "tanh": torch.tanh}[op]
            if backward:
                tx = torch.from_numpy(x).requires_grad_()
                tg = torch.from_numpy(gy)

                def tfn():
                    tf(tx).backward(tg)
            else:
                tx = torch.from_numpy(x)

                def tfn():
                    with torch.no_grad():
                        tf(tx)
        if backward:
            def nfn():
                y = fwd(x)
                bwd(gy, y if uses_y else x)

            def rfn():
                y = rfwd(x)
                rbwd(gy, y if uses_y else x)
            nbytes = x.nbytes * 5  # forward: x in, y out; backward: gy and x|y in, gx out
        else:
            nfn, rfn = (lambda: fwd(x)), (lambda: rfwd(x))
            nbytes = x.nbytes * 2
        return {"nnkern": nfn, "reference": rfn, "torch": tfn, "flops": None, "bytes": float(nbytes)}
    return make


def _softmax(shape):
    def make():
        rng = np.random.default_rng(0)
        x = rng.standard_normal(shape, dtype=np.float32) * 3
        gy = rng.standard_normal(shape, dtype=np.float32)
        torch = torch_or_none()
        tfn = None
        if torch is not None:
            tx = torch.from_numpy(x).requires_grad_()
            tg = torch.from_numpy(gy)

            def tfn():
                torch.softmax(tx, dim=-1).backward(tg)

        def nfn():
            F.softmax_backward(gy, F.softmax(x))

        def rfn():
            R.softmax_backward(gy, R.softmax(x))
        return {"nnkern": nfn, "reference": rfn, "torch": tfn, "flops": None, "bytes": float(x.nbytes * 5)}
    return make


WORKLOADS = [
    Workload("relu forward", "32x64x56x56", _elementwise("relu", False)),
    Workload("relu fwd+bwd", "32x64x56x56", _elementwise("relu", True)),
    Workload("sigmoid forward", "32x64x56x56", _elementwise("sigmoid", False)),
    Workload("sigmoid fwd+bwd", "32x64x56x56", _elementwise("sigmoid", True)),
    Workload("tanh forward", "32x64x56x56", _elementwise("tanh", False)),
    Workload("softmax fwd+bwd", "128x1000", _softmax((128, 1000))),
]
