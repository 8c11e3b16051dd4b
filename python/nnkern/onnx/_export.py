"""The export itself: the model's plan, one emitter per layer, the checks of onnx."""
import os
import tempfile

import onnx

from ._graph import Graph, Tensor
from ._layers import emit
from ._models import plan
from ._ops import transpose


def write(model, path, opset, input_shape=None):
    """Write ``model`` to ``path``, checked by onnx (full check, strict shape inference) and with
    the inferred shapes. Checked on a temporary file beside ``path`` (the checks read files in
    C++, without copies of the weights through Python), which then replaces ``path``: a model
    that fails a check leaves nothing behind."""
    proto = to_onnx(model, opset, input_shape)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(suffix=".onnx", prefix=".nnkern-", dir=folder)
    os.close(fd)
    try:
        onnx.save(proto, tmp)
        onnx.shape_inference.infer_shapes_path(tmp, tmp, check_type=True, strict_mode=True)
        onnx.checker.check_model(tmp, full_check=True)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def to_onnx(model, opset, input_shape=None):
    """The ``onnx.ModelProto`` of ``model``, not yet checked (:func:`write` checks it)."""
    p = plan(model, input_shape)
    g = Graph()
    x = Tensor("input", p.input_shape)
    g.unique(x.name)
    y = transpose(g, "to_nchw", x, p.to_nchw) if p.to_nchw else x
    for name, layer in p.layers:
        y = emit(g, name, layer, y)
    if p.to_output:
        y = transpose(g, "to_nhwc", y, p.to_output)
    if y.name == x.name:  # a model without nodes at inference still needs one
        y = g.op("Identity", [x.name], x.shape, "output")
    # the declared output shape is nnkern's; strict shape inference refuses the model if onnx
    # infers another one (a guard on the emitters)
    return g.model(x.name, y.name, x.shape, y.shape, opset, doc=f"{p.kind}, exported by nnkern")
