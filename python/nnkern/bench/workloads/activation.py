"""Activation workloads: relu / sigmoid / tanh on a large tensor, softmax rows."""
import numpy as np

from . import Workload, on_both, torch_step

LARGE = (32, 64, 56, 56)  # 6.4M elements, 25.7 MB in float32


def _elementwise(op, backward):
    uses_y = op != "relu"  # relu's backward takes x, the others take y

    def make():
        rng = np.random.default_rng(0)
        x = rng.standard_normal(LARGE, dtype=np.float32)
        gy = rng.standard_normal(LARGE, dtype=np.float32)
        tfn = torch_step(lambda torch, tx: getattr(torch, op)(tx), [x], train=(0,) if backward else None, gy=gy)
        if not backward:
            return on_both(lambda M: getattr(M, op)(x), tfn, nbytes=x.nbytes * 2)

        def step(M):
            y = getattr(M, op)(x)
            getattr(M, op + "_backward")(gy, y if uses_y else x)
        return on_both(step, tfn, nbytes=x.nbytes * 5)  # forward: x in, y out; backward: gy and x|y in, gx out
    return make


def _softmax(shape):
    def make():
        rng = np.random.default_rng(0)
        x = rng.standard_normal(shape, dtype=np.float32) * 3
        gy = rng.standard_normal(shape, dtype=np.float32)
        tfn = torch_step(lambda torch, tx: torch.softmax(tx, dim=-1), [x], train=(0,), gy=gy)
        return on_both(lambda M: M.softmax_backward(gy, M.softmax(x)), tfn, nbytes=x.nbytes * 5)
    return make


WORKLOADS = [
    Workload("relu forward", "32x64x56x56", _elementwise("relu", False)),
    Workload("relu fwd+bwd", "32x64x56x56", _elementwise("relu", True)),
    Workload("sigmoid forward", "32x64x56x56", _elementwise("sigmoid", False)),
    Workload("sigmoid fwd+bwd", "32x64x56x56", _elementwise("sigmoid", True)),
    Workload("tanh forward", "32x64x56x56", _elementwise("tanh", False)),
    Workload("softmax fwd+bwd", "128x1000", _softmax((128, 1000))),
]
