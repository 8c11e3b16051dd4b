"""Layer class -> ONNX emitter, for nnkern.layers (the layers of nnkern.models and, inside,
of nnkern.keras.Sequential) and for nnkern.compat.layers (the book's layers).

An emitter is ``emit(g, name, layer, x) -> Tensor``: it writes the layer's *inference* pass
(dropout off, batch norm on its running statistics) as nodes of graph ``g`` after the value
``x`` and returns the output. A layer class missing from both tables cannot be exported.
"""
from .. import layers as L
from ..compat import layers as C
from ..keras.spatial import PadBottomRight
from . import _ops
from ._errors import ExportError

BOOK_BN_EPS = 10e-7  # the eps of the book's BatchNormalization (nnkern.compat.layers)


# -- nnkern.layers ----------------------------------------------------------------------
def _affine(g, name, layer, x):
    return _ops.affine(g, name, x, layer.params["W"], layer.params.get("b"))


def _conv2d(g, name, layer, x):
    return _ops.conv2d(g, name, x, layer.params["W"], layer.params.get("b"), layer.stride, layer.pad, layer.groups)


def _max_pool2d(g, name, layer, x):
    return _ops.pool2d(g, name, x, "MaxPool", layer.pool_size, layer.stride, layer.pad)


def _avg_pool2d(g, name, layer, x):
    return _ops.pool2d(g, name, x, "AveragePool", layer.pool_size, layer.stride, layer.pad,
                       count_include_pad=int(layer.count_include_pad))


def _lrn(g, name, layer, x):
    return _ops.local_response_norm(g, name, x, layer.size, layer.alpha, layer.beta, layer.k, layer.alpha_over_size)


def _batch_norm(g, name, layer, x):
    p, b = layer.params, layer.buffers
    return _ops.batch_norm(g, name, x, p["gamma"], p["beta"], b["running_mean"], b["running_var"], layer.eps)


def _dropout(g, name, layer, x):
    """Inverted dropout is the identity at inference; the book's variant scales by 1 - p."""
    return _ops.identity(g, name, x) if layer.inverted else _ops.scale(g, name, x, 1.0 - layer.p)


def _flatten(g, name, layer, x):
    return _ops.flatten(g, name, x)


def _softmax(g, name, layer, x):
    return _ops.activation(g, name, x, "Softmax", axis=-1)


def _pad_bottom_right(g, name, layer, x):
    return _ops.pad_bottom_right(g, name, x, layer.extra)


def _by_op(op_type):
    def emit(g, name, layer, x):
        return _ops.activation(g, name, x, op_type)
    emit.__name__ = f"_{op_type.lower()}"
    return emit


def _identity(g, name, layer, x):
    return x


NNKERN = {
    L.Affine: _affine, L.Conv2D: _conv2d, L.MaxPool2D: _max_pool2d, L.AvgPool2D: _avg_pool2d, L.LRN: _lrn,
    L.BatchNorm: _batch_norm, L.BatchNorm1D: _batch_norm, L.BatchNorm2D: _batch_norm, L.Dropout: _dropout,
    L.Flatten: _flatten, L.ReLU: _by_op("Relu"), L.Sigmoid: _by_op("Sigmoid"), L.Tanh: _by_op("Tanh"),
    L.Softmax: _softmax, L.Identity: _identity, PadBottomRight: _pad_bottom_right,
}


# -- nnkern.compat.layers (the book's layers: float64, non-inverted dropout, per-activation BN) --
def _compat_affine(g, name, layer, x):
    return _ops.affine(g, name, x, layer.W, layer.b)


def _compat_convolution(g, name, layer, x):
    s, p = int(layer.stride), int(layer.pad)
    return _ops.conv2d(g, name, x, layer.W, layer.b, (s, s), (p, p))


def _compat_pooling(g, name, layer, x):
    s, p = int(layer.stride), int(layer.pad)
    return _ops.pool2d(g, name, x, "MaxPool", (layer.pool_h, layer.pool_w), (s, s), (p, p))


def _compat_dropout(g, name, layer, x):
    return _ops.scale(g, name, x, 1.0 - layer.dropout_ratio)


def _compat_batch_normalization(g, name, layer, x):
    if layer.running_mean is None:
        raise ExportError(f"layer {name!r} (BatchNormalization) has no running statistics yet: run a training "
                          f"forward (train_flg=True) before exporting")
    return _ops.per_activation_batch_norm(g, name, x, layer.gamma, layer.beta, layer.running_mean,
                                          layer.running_var, BOOK_BN_EPS)


COMPAT = {
    C.Affine: _compat_affine, C.Convolution: _compat_convolution, C.Pooling: _compat_pooling,
    C.Relu: _by_op("Relu"), C.Sigmoid: _by_op("Sigmoid"), C.Dropout: _compat_dropout,
    C.BatchNormalization: _compat_batch_normalization,
}

EMITTERS = {**NNKERN, **COMPAT}


def emit(g, name, layer, x):
    """The output of ``layer`` (called ``name`` in its model) after ``x``, or ExportError naming it."""
    fn = EMITTERS.get(type(layer))
    if fn is None:
        supported = sorted({c.__name__ for c in EMITTERS})
        raise ExportError(f"cannot export layer {name!r} ({type(layer).__module__}.{type(layer).__name__}): nnkern "
                          f"has no ONNX conversion for it (supported layers: {', '.join(supported)})")
    return fn(g, name, layer, x)
