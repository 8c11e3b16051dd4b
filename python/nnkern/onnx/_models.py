"""What the exporter needs to know about each model kind: its layers in forward order with
their names, the input shape (without the batch axis) and the layout changes at the graph's
input and output. One function per model kind, chosen in :func:`plan`."""
from collections import OrderedDict
from dataclasses import dataclass

from ..compat import layers as C
from ..keras import Sequential
from ..models.base import Model
from ._errors import ExportError

NCHW_FROM_NHWC = (0, 3, 1, 2)
NHWC_FROM_NCHW = (0, 2, 3, 1)


@dataclass
class Plan:
    kind: str               # what the model is, for messages and the graph's doc string
    input_shape: tuple      # of the graph input, without the batch axis
    layers: list            # [(name, layer)] in forward order (inference pass)
    to_nchw: tuple = None   # Transpose at the input (channels-last models)
    to_output: tuple = None  # Transpose at the output


def _check_given(model, shape, given):
    if given is not None and tuple(given) != tuple(shape):
        raise ValueError(f"{type(model).__name__} takes input of shape (N, {', '.join(map(str, shape))}); "
                         f"input_shape={tuple(given)} does not match")


def _net(model, input_shape):
    """nnkern.models (Net): layers by name; input (C, H, W) or the MLP's (input_size,); the loss
    layer is left out, so the graph outputs what predict() returns (the scores)."""
    names = {id(layer): name for name, layer in model.layers.items()}
    shape = tuple(model.input_dim) if model.input_dim is not None else (int(model.input_size),)
    _check_given(model, shape, input_shape)
    return Plan(type(model).__name__, shape, [(names[id(layer)], layer) for layer in model._pipeline])


def _sequential(model, input_shape):
    """nnkern.keras.Sequential: channels-last input (N, H, W, C) transposed once to NCHW (as fit
    and predict do), so Flatten sees nnkern's (C, H, W) order; a 4-D output goes back to NHWC."""
    if not model.layers:
        raise ExportError("the Sequential model has no layers")
    shape = tuple(model.input_shape_hwc)
    _check_given(model, shape, input_shape)
    layers = []
    for klayer in model.layers:
        for inner in klayer.inner:
            one = len(klayer.inner) == 1
            layers.append((klayer.name if one else f"{klayer.name}/{type(inner).__name__}", inner))
    image = len(shape) == 3
    out_image = len(model._shapes[-1]) == 3
    return Plan(f"Sequential {model.name!r}", shape, layers, NCHW_FROM_NHWC if image else None,
                NHWC_FROM_NCHW if out_image else None)


def _compat(model, input_shape):
    """The book's networks on nnkern.compat.layers (compat's MultiLayerNet(Extend),
    SimpleConvNet, DeepConvNet, or a network of the book's chapters built on them): ``layers``
    an OrderedDict or a list, ``last_layer`` the loss. The input shape is ``input_size`` for
    the fully connected ones; the convolutional ones do not record it: pass input_shape."""
    items = model.layers.items() if isinstance(model.layers, dict) else (
        (f"layers[{i}]", layer) for i, layer in enumerate(model.layers))
    layers = list(items)
    if input_shape is None:
        input_shape = _compat_input_shape(model, layers)
    return Plan(type(model).__name__, tuple(int(d) for d in input_shape), layers)


def _compat_input_shape(model, layers):
    if getattr(model, "input_size", None) is not None:
        return (int(model.input_size),)
    if layers and isinstance(layers[0][1], C.Affine):
        return (int(layers[0][1].W.shape[0]),)
    raise ExportError(f"{type(model).__name__} does not record its input size: pass input_shape=(C, H, W), "
                      f"e.g. input_shape=(1, 28, 28) for MNIST")


def _is_compat(model):
    layers = getattr(model, "layers", None)
    if not isinstance(layers, (list, OrderedDict, dict)) or not layers:
        return False
    values = layers.values() if isinstance(layers, dict) else layers
    return any(type(layer).__module__ == C.__name__ for layer in values)


def plan(model, input_shape=None):
    """The Plan of any exportable model, or ExportError saying what it is not."""
    if isinstance(model, Sequential):
        return _sequential(model, input_shape)
    if isinstance(model, Model) and hasattr(model, "layers"):
        return _net(model, input_shape)
    if _is_compat(model):
        return _compat(model, input_shape)
    raise ExportError(f"cannot export a {type(model).__module__}.{type(model).__name__}: nnkern.onnx exports "
                      f"nnkern.models networks, nnkern.keras.Sequential and networks of nnkern.compat layers")
