"""The model a checkpoint holds, described in its header, so that the file alone rebuilds it
(:func:`load_model`, ``nnkern export-onnx CHECKPOINT``).

``describe(model)`` is ``{"class": "SimpleConvNet", "kwargs": {...}}``: the constructor
arguments that rebuild the architecture, read from the model itself (its attributes and
layers; initialisation and seeds are not recorded, the weights come from the file), or None
for a model nnkern cannot describe (a user's own class). ``nnkern.save`` stores it as
``config`` in the checkpoint's header (npz and safetensors alike).

``build(description, shapes)`` constructs the model only after checking that the parameter
shapes the description implies are exactly ``shapes``, the ones the file declares (so a
forged description cannot make nnkern allocate more than the file holds). One function per
model class says what its description is (``_DESCRIBE``) and which parameter shapes it
implies (``_SHAPES``); both are tested against the models themselves.
"""
import math

import numpy as np

from ._checkpoint_errors import CheckpointError
from .keras import Sequential
from .keras import layers as K
from .keras.spatial import _same_padding
from .layers import Sigmoid, Tanh
from .layers.spatial import _out
from .models import AlexNet, DeepConvNet, MultiLayerNet, MultiLayerNetExtend, SimpleConvNet

MAX_LIST = 256  # hidden layers, conv layers or Keras layers in a description


# -- describe: the constructor arguments of a model ------------------------------------------
def _activation_name(model):
    layer = model.layers.get("Activation_function1")
    return {Sigmoid: "sigmoid", Tanh: "tanh"}.get(type(layer), "relu")


def _mlp(m):
    return {"input_size": m.input_size, "hidden_size_list": list(m.hidden_size_list), "output_size": m.output_size,
            "activation": _activation_name(m), "weight_decay_lambda": float(m.weight_decay_lambda),
            "use_dropout": bool(m.use_dropout), "dropout_ration": float(m.dropout_ration),
            "use_batchnorm": bool(m.use_batchnorm)}


def _conv_param(layer):
    return {"filter_num": int(layer.params["W"].shape[0]), "filter_size": int(layer.params["W"].shape[2]),
            "pad": int(layer.pad[0]), "stride": int(layer.stride[0])}


def _simple_convnet(m):
    return {"input_dim": list(m.input_dim), "conv_param": _conv_param(m.layers["Conv1"]),
            "hidden_size": int(m.params["W2"].shape[1]), "output_size": int(m.params["W3"].shape[1])}


def _deep_convnet(m):
    convs = [layer for name, layer in m.layers.items() if name.startswith("Conv")]
    return {"input_dim": list(m.input_dim), "conv_params": [_conv_param(c) for c in convs],
            "hidden_size": int(m.params["W7"].shape[1]), "output_size": int(m.params["W8"].shape[1]),
            "dropout_ratio": float(m.layers["Dropout1"].p)}


def _alexnet(m):
    return {"output_size": int(m.params["W8"].shape[1]), "input_size": int(m.input_dim[1]),
            "dropout_ratio": float(m.layers["Dropout1"].p), "lrn": "LRN1" in m.layers}


# Keras layer class -> its constructor arguments, as (argument, attribute) pairs
_KERAS = {
    K.Conv2D: [("filters", "filters"), ("kernel_size", "kernel_size"), ("strides", "strides"),
               ("padding", "padding"), ("activation", "activation_name"), ("use_bias", "use_bias")],
    K.MaxPooling2D: [("pool_size", "pool_size"), ("strides", "strides"), ("padding", "padding")],
    K.AveragePooling2D: [("pool_size", "pool_size"), ("strides", "strides"), ("padding", "padding")],
    K.Flatten: [],
    K.Dense: [("units", "units"), ("activation", "activation_name"), ("use_bias", "use_bias")],
    K.Dropout: [("rate", "rate")],
    K.BatchNormalization: [("momentum", "momentum"), ("epsilon", "epsilon")],
    K.Activation: [("activation", "activation_name")],
}
_KERAS_BY_NAME = {cls.__name__: cls for cls in _KERAS}


def _json(v):
    return list(v) if isinstance(v, tuple) else v


def _sequential(m):
    layers = []
    for i, lay in enumerate(m.layers):
        kw = {arg: _json(getattr(lay, attr)) for arg, attr in _KERAS[type(lay)]}
        if i == 0:
            kw["input_shape"] = list(m.input_shape_hwc)
        layers.append({"class": type(lay).__name__, "name": lay.name, "kwargs": kw})
    return {"name": m.name, "layers": layers}


_DESCRIBE = {MultiLayerNet: _mlp, MultiLayerNetExtend: _mlp, SimpleConvNet: _simple_convnet,
             DeepConvNet: _deep_convnet, AlexNet: _alexnet, Sequential: _sequential}
_CLASSES = {cls.__name__: cls for cls in _DESCRIBE}


def describe(model):
    """The JSON description of ``model``, or None if nnkern cannot describe its class."""
    fn = _DESCRIBE.get(type(model))
    if fn is None or (type(model) is Sequential and any(type(lay) not in _KERAS for lay in model.layers)):
        return None
    return {"class": type(model).__name__, "kwargs": fn(model), "dtype": model.dtype.name}


# -- shapes: the parameters a description implies ---------------------------------------------
def _mlp_shapes(kw):
    sizes = [kw["input_size"], *kw["hidden_size_list"], kw["output_size"]]
    shapes = {}
    for i in range(1, len(sizes)):
        shapes[f"W{i}"], shapes[f"b{i}"] = (sizes[i - 1], sizes[i]), (sizes[i],)
        if kw.get("use_batchnorm") and i < len(sizes) - 1:
            shapes[f"gamma{i}"] = shapes[f"beta{i}"] = (sizes[i],)
    return shapes


class _Shapes:
    """(C, H, W) bookkeeping while walking a convolutional description."""

    def __init__(self, chw):
        self.chw, self.shapes = tuple(chw), {}

    def conv(self, idx, oc, k, stride, pad, groups=1):
        c, h, w = self.chw
        self.shapes[f"W{idx}"], self.shapes[f"b{idx}"] = (oc, c // groups, k, k), (oc,)
        self.chw = (oc, _out(h, k, stride, pad), _out(w, k, stride, pad))

    def pool(self, k, s):
        c, h, w = self.chw
        self.chw = (c, _out(h, k, s, 0), _out(w, k, s, 0))

    def affine(self, idx, out):
        self.shapes[f"W{idx}"], self.shapes[f"b{idx}"] = (math.prod(self.chw), out), (out,)
        self.chw = (out,)


def _simple_convnet_shapes(kw):
    cp, s = kw["conv_param"], _Shapes(kw["input_dim"])
    s.conv(1, cp["filter_num"], cp["filter_size"], cp["stride"], cp["pad"])
    s.pool(2, 2)
    s.affine(2, kw["hidden_size"])
    s.affine(3, kw["output_size"])
    return s.shapes


def _deep_convnet_shapes(kw):
    s = _Shapes(kw["input_dim"])
    for i, cp in enumerate(kw["conv_params"]):
        s.conv(i + 1, cp["filter_num"], cp["filter_size"], cp["stride"], cp["pad"])
        if i % 2 == 1:
            s.pool(2, 2)
    s.affine(7, kw["hidden_size"])
    s.affine(8, kw["output_size"])
    return s.shapes


def _alexnet_shapes(kw):
    s = _Shapes((3, kw["input_size"], kw["input_size"]))
    s.conv(1, 96, 11, 4, 2 if kw["input_size"] == 224 else 0)
    s.pool(3, 2)
    s.conv(2, 256, 5, 1, 2, groups=2)
    s.pool(3, 2)
    s.conv(3, 384, 3, 1, 1)
    s.conv(4, 384, 3, 1, 1, groups=2)
    s.conv(5, 256, 3, 1, 1, groups=2)
    s.pool(3, 2)
    s.affine(6, 4096)
    s.affine(7, 4096)
    s.affine(8, kw["output_size"])
    return s.shapes


def _sequential_shapes(kw):
    shapes, shape = {}, None
    for lay in kw["layers"]:
        k, name = lay["kwargs"], lay["name"]
        if shape is None:
            hwc = k["input_shape"]
            shape = (hwc[2], hwc[0], hwc[1]) if len(hwc) == 3 else tuple(hwc)
        shape = _KERAS_SHAPES[lay["class"]](k, name, shape, shapes)
    return shapes


def _keras_conv(k, name, shape, shapes):
    c, h, w = shape
    (kh, kw_), (sh, sw) = _pair(k["kernel_size"]), _pair(k["strides"])
    shapes[f"{name}/kernel"] = (k["filters"], c, kh, kw_)
    if k["use_bias"]:
        shapes[f"{name}/bias"] = (k["filters"],)
    if k["padding"] == "same":
        h, w = h + _same_padding(h, kh, sh), w + _same_padding(w, kw_, sw)
    return (k["filters"], _out(h, kh, sh, 0), _out(w, kw_, sw, 0))


def _keras_pool(k, name, shape, shapes):
    c, h, w = shape
    (ph, pw) = _pair(k["pool_size"])
    sh, sw = _pair(k["strides"]) if k["strides"] is not None else (ph, pw)
    if k["padding"] == "same":
        h, w = h + _same_padding(h, ph, sh), w + _same_padding(w, pw, sw)
    return (c, _out(h, ph, sh, 0), _out(w, pw, sw, 0))


def _keras_dense(k, name, shape, shapes):
    shapes[f"{name}/kernel"] = (math.prod(shape), k["units"])
    if k["use_bias"]:
        shapes[f"{name}/bias"] = (k["units"],)
    return (k["units"],)


def _keras_bn(k, name, shape, shapes):
    shapes[f"{name}/gamma"] = shapes[f"{name}/beta"] = (shape[0],)
    return shape


def _pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


_KERAS_SHAPES = {"Conv2D": _keras_conv, "MaxPooling2D": _keras_pool, "AveragePooling2D": _keras_pool,
                 "Flatten": lambda k, name, shape, shapes: (math.prod(shape),), "Dense": _keras_dense,
                 "BatchNormalization": _keras_bn, "Dropout": lambda k, name, shape, shapes: shape,
                 "Activation": lambda k, name, shape, shapes: shape}

_SHAPES = {"MultiLayerNet": _mlp_shapes, "MultiLayerNetExtend": _mlp_shapes, "SimpleConvNet": _simple_convnet_shapes,
           "DeepConvNet": _deep_convnet_shapes, "AlexNet": _alexnet_shapes, "Sequential": _sequential_shapes}


def implied_shapes(description):
    """name -> shape of every parameter of the model ``description`` describes (no allocation)."""
    return {k: tuple(int(d) for d in v) for k, v in _SHAPES[description["class"]](description["kwargs"]).items()}


# -- build --------------------------------------------------------------------------------
def _check(description, path):
    """The description's structure (known class, bounded lists, known Keras layers), or CheckpointError."""
    if not isinstance(description, dict) or description.get("class") not in _CLASSES \
            or not isinstance(description.get("kwargs"), dict):
        raise CheckpointError(f"{path}: the model description is not one nnkern can rebuild "
                              f"({str(description)[:80]})")
    for v in description["kwargs"].values():
        if isinstance(v, list) and len(v) > MAX_LIST:
            raise CheckpointError(f"{path}: the model description has a list of {len(v)} entries (at most {MAX_LIST})")
    if description["class"] == "Sequential":
        for lay in description["kwargs"].get("layers", []):
            if not isinstance(lay, dict) or lay.get("class") not in _KERAS_BY_NAME \
                    or not isinstance(lay.get("kwargs"), dict) or not isinstance(lay.get("name"), str):
                raise CheckpointError(f"{path}: the model description has an unknown Keras layer {str(lay)[:80]}")


def build(description, shapes, path="checkpoint"):
    """The model of ``description`` (from :func:`describe`), built only if the parameter shapes
    it implies equal ``shapes`` (name -> shape, from the file's headers); else CheckpointError."""
    _check(description, path)
    try:
        implied = implied_shapes(description)
    except (KeyError, TypeError, ValueError, IndexError, ZeroDivisionError) as e:
        raise CheckpointError(f"{path}: malformed model description ({type(e).__name__}: {e})") from None
    if implied != {k: tuple(v) for k, v in shapes.items()}:
        diff = sorted(set(implied.items()) ^ {(k, tuple(v)) for k, v in shapes.items()})[:4]
        raise CheckpointError(f"{path}: the model description does not fit the parameters in the file "
                              f"(first differences: {diff})")
    try:
        return _construct(description)
    except (KeyError, TypeError, ValueError) as e:
        raise CheckpointError(f"{path}: the model description cannot be built ({type(e).__name__}: {e})") from None


def _construct(description):
    cls, kw = _CLASSES[description["class"]], dict(description["kwargs"])
    dtype = np.dtype(description.get("dtype", "float32"))
    if cls is Sequential:
        model = Sequential(name=kw["name"], dtype=dtype)
        for lay in kw["layers"]:
            model.add(_KERAS_BY_NAME[lay["class"]](name=lay["name"], **lay["kwargs"]))
        return model
    return cls(**kw, dtype=dtype)


def load_model(path):
    """The model of an nnkern checkpoint (.npz or .safetensors), rebuilt from the description in
    its header and loaded with its parameters and buffers. CheckpointError for a file without
    one (written by another program, or for a model class nnkern cannot describe)."""
    from . import checkpoint
    with checkpoint._open(path) as z:
        meta = checkpoint._read_meta(z)
        shapes = {k[len("params/"):]: z.header(k).shape for k in z.keys() if k.startswith("params/")}
    if "config" not in meta:
        raise CheckpointError(f"{path}: the checkpoint does not describe its model (it holds a "
                              f"{meta.get('model', 'model')!s:.40} nnkern cannot rebuild, or was written by an "
                              f"older nnkern): build the model and use nnkern.load(path, model)")
    model = build(meta["config"], shapes, path)
    checkpoint.load(path, model)
    return model
