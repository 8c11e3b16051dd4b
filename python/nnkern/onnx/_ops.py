"""The ONNX nodes of nnkern's operations, shared by the layer tables of nnkern.layers and
nnkern.compat. Each function takes the graph, a node name, the input Tensor and the layer's
arrays and hyper-parameters, and returns the output Tensor (NCHW inside the graph)."""
import numpy as np

from ..layers.spatial import _out
from ._errors import ExportError


def flatten(g, name, x):
    """(N, ...) -> (N, prod(...)) in C order, nnkern's (C, H, W) feature order."""
    if len(x.shape) == 1:
        return x
    return g.op("Flatten", [x.name], (int(np.prod(x.shape)),), name, axis=1)


def affine(g, name, x, W, b):
    """x.reshape(N, -1) @ W + b with the book's W (in, out): Gemm without transposes."""
    n_in, n_out = W.shape
    if int(np.prod(x.shape)) != n_in:
        raise ExportError(f"layer {name!r}: its W takes {n_in} features, the input has {int(np.prod(x.shape))} "
                          f"(shape {x.shape})")
    x = flatten(g, f"{name}.flatten", x)
    inputs = [x.name, g.const(f"{name}.W", W)] + ([g.const(f"{name}.b", b)] if b is not None else [])
    return g.op("Gemm", inputs, (n_out,), name)


def conv2d(g, name, x, W, b, stride, pad, groups=1):
    """Conv with explicit symmetric pads; W (OC, C/groups, KH, KW)."""
    oc, cg, kh, kw = W.shape
    if len(x.shape) != 3 or x.shape[0] != cg * groups:
        raise ExportError(f"layer {name!r}: expects (N, {cg * groups}, H, W) input, the graph has (N, {x.shape})")
    (sh, sw), (ph, pw) = stride, pad
    shape = (oc, _out(x.shape[1], kh, sh, ph), _out(x.shape[2], kw, sw, pw))
    inputs = [x.name, g.const(f"{name}.W", W)] + ([g.const(f"{name}.b", b)] if b is not None else [])
    return g.op("Conv", inputs, shape, name, kernel_shape=[kh, kw], strides=[sh, sw], pads=[ph, pw, ph, pw],
                group=int(groups))


def pool2d(g, name, x, op_type, kernel, stride, pad, **attrs):
    """MaxPool / AveragePool, floor mode (ceil_mode=0) with explicit pads, as nnkern's kernels."""
    if len(x.shape) != 3:
        raise ExportError(f"layer {name!r}: pooling expects (N, C, H, W) input, the graph has (N, {x.shape})")
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, pad
    shape = (x.shape[0], _out(x.shape[1], kh, sh, ph), _out(x.shape[2], kw, sw, pw))
    return g.op(op_type, [x.name], shape, name, kernel_shape=[kh, kw], strides=[sh, sw], pads=[ph, pw, ph, pw],
                ceil_mode=0, **attrs)


def local_response_norm(g, name, x, size, alpha, beta, k, alpha_over_size):
    """ONNX LRN divides alpha by size (as torch and Caffe): nnkern's paper formula
    (alpha_over_size=False) exports alpha * size. Only odd sizes: for even ones ONNX's window
    is not nnkern's (nnkern takes size//2 channels before c, ONNX (size-1)//2) and
    onnxruntime's CPU kernel refuses them."""
    if size % 2 == 0:
        raise ExportError(f"layer {name!r}: LRN with an even size ({size}) has no ONNX equivalent (ONNX centres "
                          f"the window differently and onnxruntime accepts odd sizes only)")
    onnx_alpha = alpha if alpha_over_size else alpha * size
    return g.op("LRN", [x.name], x.shape, name, size=int(size), alpha=float(onnx_alpha), beta=float(beta),
                bias=float(k))


def batch_norm(g, name, x, gamma, beta, mean, var, eps):
    """Inference batch norm over axis 1 (per feature of (N, D), per channel of (N, C, H, W))."""
    arrays = {"scale": gamma, "B": beta, "mean": mean, "var": var}
    inputs = [x.name] + [g.const(f"{name}.{k}", v) for k, v in arrays.items()]
    return g.op("BatchNormalization", inputs, x.shape, name, epsilon=float(eps))


def per_activation_batch_norm(g, name, x, gamma, beta, mean, var, eps):
    """The book's batch norm on running statistics, one (mean, var, gamma, beta) per activation:
    ((x - mean) / sqrt(var + eps)) * gamma + beta, explicit Sub/Div/Mul/Add with constants of
    the input's shape (C, H, W) (the book flattens 4-D input to (N, C*H*W) for this)."""
    shape = x.shape

    def c(k, v):
        v = np.asarray(v, np.float64)
        if v.size != int(np.prod(shape)):
            raise ExportError(f"layer {name!r}: {k} has {v.size} entries for an input of shape {shape}")
        return g.const(f"{name}.{k}", v.reshape(shape))

    std = np.sqrt(np.asarray(var, np.float64) + eps)
    y = g.op("Sub", [x.name, c("mean", mean)], shape, f"{name}.sub")
    y = g.op("Div", [y.name, c("std", std)], shape, f"{name}.div")
    y = g.op("Mul", [y.name, c("gamma", gamma)], shape, f"{name}.mul")
    return g.op("Add", [y.name, c("beta", beta)], shape, name)


def scale(g, name, x, factor):
    """x * factor (the book's non-inverted dropout at inference: factor 1 - p)."""
    return g.op("Mul", [x.name, g.const(f"{name}.scale", np.array(factor, np.float64))], x.shape, name)


def activation(g, name, x, op_type, **attrs):
    return g.op(op_type, [x.name], x.shape, name, **attrs)


def pad_bottom_right(g, name, x, extra):
    """Zero rows/columns after the last ones (TensorFlow's odd 'same' padding)."""
    eh, ew = extra
    pads = g.const(f"{name}.pads", np.array([0, 0, 0, 0, 0, 0, eh, ew], np.int64))
    return g.op("Pad", [x.name, pads], (x.shape[0], x.shape[1] + eh, x.shape[2] + ew), name, mode="constant")


def identity(g, name, x):
    """A layer that is the identity at inference (inverted dropout, linear activation): no node."""
    return x


def transpose(g, name, x, perm):
    """Transpose with the full permutation ``perm`` (perm[0] == 0: the batch axis stays)."""
    shape = tuple(x.shape[p - 1] for p in perm[1:])
    return g.op("Transpose", [x.name], shape, name, perm=list(perm))

