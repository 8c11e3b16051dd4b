"""Convolution workloads: forward, and forward+backward (grad_x, grad_weight, grad_bias).

``make()`` also returns ``"conv"``: (x shape, weight shape, conv kwargs, passes), from which
the bench reports the algorithm each pass used.
"""
import numpy as np

from nnkern import functional as F

from . import Workload, on_both, torch_step

# name: (x shape NCHW), (OC, KH, KW), stride, padding, groups; the first six are the bench's
SHAPES = {
    "mnist-simpleconv": ((100, 1, 28, 28), (30, 5, 5), 1, 0, 1),
    "deepconv-3x3": ((100, 16, 28, 28), (16, 3, 3), 1, 1, 1),
    "keras-cnn-conv2": ((32, 32, 74, 74), (64, 3, 3), 1, 0, 1),
    "alexnet-conv1": ((32, 3, 224, 224), (96, 11, 11), 4, 2, 1),
    "alexnet-conv2-g2": ((32, 96, 27, 27), (256, 5, 5), 1, 2, 2),
    "alexnet-conv3": ((32, 256, 13, 13), (384, 3, 3), 1, 1, 1),
    # more shapes for `nnkern bench --algos` only (the heuristic's evidence)
    "small-c3-oc16-3x3": ((32, 3, 32, 32), (16, 3, 3), 1, 1, 1),
    "c16-oc16-3x3-56": ((32, 16, 56, 56), (16, 3, 3), 1, 1, 1),
    "c4-oc8-3x3-64": ((8, 4, 64, 64), (8, 3, 3), 1, 1, 1),
    "c512-oc512-3x3-14": ((8, 512, 14, 14), (512, 3, 3), 1, 1, 1),
    "c256-oc256-3x3-28": ((8, 256, 28, 28), (256, 3, 3), 1, 1, 1),
    "c64-oc128-3x3-s2": ((16, 64, 56, 56), (128, 3, 3), 2, 1, 1),
    "c256-oc128-1x1": ((16, 256, 28, 28), (128, 1, 1), 1, 0, 1),
    "c64-oc256-1x1-56": ((16, 64, 56, 56), (256, 1, 1), 1, 0, 1),
    "c32-oc64-5x5": ((16, 32, 32, 32), (64, 5, 5), 1, 2, 1),
    "c3-oc64-11x11-s4": ((8, 3, 227, 227), (64, 11, 11), 4, 0, 1),
    "c3-oc64-7x7-s2": ((8, 3, 224, 224), (64, 7, 7), 2, 3, 1),
    "c128-oc128-3x3-g4": ((16, 128, 28, 28), (128, 3, 3), 1, 1, 4),
    "depthwise-64-3x3": ((16, 64, 56, 56), (64, 3, 3), 1, 1, 64),
    "depthwise-128-3x3-s2": ((16, 128, 28, 28), (128, 3, 3), 2, 1, 128),
    "n1-c64-oc64-3x3-56": ((1, 64, 56, 56), (64, 3, 3), 1, 1, 1),
    "n1-c256-oc384-3x3-13": ((1, 256, 13, 13), (384, 3, 3), 1, 1, 1),
    "n1-c3-oc64-7x7-s2": ((1, 3, 224, 224), (64, 7, 7), 2, 3, 1),
}


def conv_inputs(name, dtype=np.float32):
    """x, w, b, conv kwargs, y = conv2d(x, w, b), direct-method FLOPs of the named shape."""
    xs, (oc, kh, kw), stride, pad, groups = SHAPES[name]
    rng = np.random.default_rng(0)
    x = rng.standard_normal(xs, dtype=dtype)
    w = rng.standard_normal((oc, xs[1] // groups, kh, kw), dtype=dtype) * 0.05
    b = rng.standard_normal(oc, dtype=dtype)
    kwargs = dict(stride=stride, padding=pad, groups=groups)
    y = F.conv2d(x, w, b, **kwargs)
    flops = 2.0 * y.size * w[0].size
    return x, w, b, kwargs, y, flops


def _spec(x, w, kw, passes):
    return (x.shape, w.shape, kw, passes)


def _conv2d(torch, tx, tw, tb, **kw):
    return torch.nn.functional.conv2d(tx, tw, tb, **kw)


def _forward(name):
    def make():
        x, w, b, kw, y, flops = conv_inputs(name)
        tfn = torch_step(lambda torch, *ts: _conv2d(torch, *ts, **kw), [x, w, b])
        return on_both(lambda M: M.conv2d(x, w, b, **kw), tfn, flops=flops, conv=_spec(x, w, kw, ("forward",)))
    return make


def _train_step(name):
    def make():
        x, w, b, kw, y, flops = conv_inputs(name)
        gy = np.ones_like(y)
        tfn = torch_step(lambda torch, *ts: _conv2d(torch, *ts, **kw), [x, w, b], train=(0, 1, 2), gy=gy)

        def step(M):
            M.conv2d(x, w, b, **kw)
            M.conv2d_backward(gy, x, w, **kw)
        return on_both(step, tfn, flops=3 * flops,
                       conv=_spec(x, w, kw, ("forward", "backward_input", "backward_weight")))
    return make


BENCH = tuple(SHAPES)[:6]
SWEEP = tuple(SHAPES)[6:]
WORKLOADS = [Workload("conv2d forward", n, _forward(n)) for n in BENCH] + [
    Workload("conv2d fwd+bwd", n, _train_step(n)) for n in BENCH]
