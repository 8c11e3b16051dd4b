"""Export nnkern models to ONNX (needs the onnx package: ``pip install "nnkern[onnx]"``).

    import nnkern.onnx
    nnkern.onnx.export(model, "model.onnx")                 # a model object, or
    nnkern.onnx.export("nnkern-run/checkpoint.npz", "model.onnx")   # a checkpoint nnkern.save wrote

or ``nnkern export-onnx CHECKPOINT --out model.onnx`` on the command line.

Every model kind exports: ``nnkern.models`` (MultiLayerNet, MultiLayerNetExtend,
SimpleConvNet, DeepConvNet, AlexNet with its groups, LRN and overlapping pooling),
``nnkern.keras.Sequential`` and the book's networks on ``nnkern.compat.layers``. The graph
is the model's inference pass in float32, with a symbolic batch axis ``N``:

* its output is what ``predict`` returns: the scores (logits) of the nnkern.models and compat
  networks (their softmax lives in the loss layer), the last activation's output of a
  Sequential (probabilities when it ends in softmax or sigmoid);
* a Sequential takes channels-last input (N, H, W, C), as its ``predict`` does: one Transpose
  at the graph input, the body is NCHW, so Flatten keeps nnkern's (C, H, W) feature order;
* LRN: ONNX divides alpha by size (as torch and Caffe), so the paper's formula (nnkern's LRN
  layer and AlexNet, ``alpha_over_size=False``) is written with alpha * size; an even size
  is refused (ONNX centres its window differently and onnxruntime runs odd sizes only);
* dropout: nnkern's inverted dropout is the identity; the book's (compat) dropout is Mul(1 - p);
* batch norm: nnkern's per-channel BatchNorm is BatchNormalization; the book's per-activation
  batch norm (compat) is Sub/Div/Mul/Add with constants of the activation's shape (C, H, W);
* pooling: floor mode with explicit pads (no ceil_mode), padding never counted by MaxPool.

The model is checked with ``onnx.checker.check_model(full_check=True)`` and saved with its
inferred shapes. A layer without an ONNX conversion raises :class:`ExportError` naming it.
"""
import os

from ._errors import ExportError

DEFAULT_OPSET = 17
MIN_OPSET = 13  # Softmax over one axis, Pad with input pads, Gemm with an optional bias

__all__ = ["export", "ExportError", "DEFAULT_OPSET"]


def _onnx():
    try:
        import onnx
    except ImportError as e:
        raise ImportError("nnkern.onnx needs the onnx package: pip install \"nnkern[onnx]\"") from e
    return onnx


def export(model, path, opset=DEFAULT_OPSET, input_shape=None):
    """Write ``model`` (or the model of checkpoint file ``model``) to ``path`` as ONNX.

    ``opset``: the ONNX opset (13 to the installed onnx's newest; 17 by default).
    ``input_shape``: the input without the batch axis, needed only for compat convolutional
    networks (they do not record it), e.g. ``(1, 28, 28)``; checked against the model otherwise.
    Returns ``path``.
    """
    onnx = _onnx()
    from . import _export
    if isinstance(model, (str, os.PathLike)):
        from .._model_config import load_model
        model = load_model(model)
    newest = onnx.defs.onnx_opset_version()
    if not isinstance(opset, int) or not MIN_OPSET <= opset <= newest:
        raise ValueError(f"opset must be an int from {MIN_OPSET} to {newest} (the installed onnx's newest), "
                         f"got {opset!r}")
    _export.write(model, os.fspath(path), opset, input_shape)
    return path
