"""Small models of every kind nnkern.onnx exports, for tests/test_onnx*.py: each builder takes a
seeded generator and returns (model, input batch, export keyword arguments)."""
from collections import OrderedDict

import numpy as np
from nnkern import compat, keras
from nnkern import layers as L
from nnkern.compat import layers as CL
from nnkern.models import AlexNet, DeepConvNet, MultiLayerNet, MultiLayerNetExtend, Net, SimpleConvNet


def _warm_up(model, x, t, steps=3):
    """Training forwards, so batch-norm running statistics are not their initial 0 / 1."""
    for _ in range(steps):
        model.loss(x, t, train=True)


def mlp(rng, activation="relu"):
    return MultiLayerNet(12, [9, 7], 4, activation=activation, seed=1), rng.standard_normal((3, 12)), {}


def mlp_extend(rng):
    m = MultiLayerNetExtend(12, [9, 7], 4, activation="sigmoid", use_batchnorm=True, use_dropout=True,
                            dropout_ration=0.3, seed=2)
    x = rng.standard_normal((5, 12)).astype(np.float32)
    _warm_up(m, x * 3 + 1, np.arange(5) % 4)
    return m, x, {}


def simple_convnet(rng):
    m = SimpleConvNet(input_dim=(2, 11, 9), conv_param={"filter_num": 5, "filter_size": 3, "pad": 1, "stride": 2},
                      hidden_size=6, output_size=3, weight_init_std="he", seed=3)
    return m, rng.standard_normal((2, 2, 11, 9)), {}


def deep_convnet(rng):
    return DeepConvNet(input_dim=(1, 16, 16), hidden_size=8, output_size=4, seed=4), \
        rng.standard_normal((2, 1, 16, 16)), {}


def alexnet(rng):
    """AlexNet itself (groups, LRN, overlapping pooling) with a large LRN alpha, which tells
    ONNX's alpha / size from the paper's alpha (with alpha 1e-4 they differ by ~1e-3 only)."""
    m = AlexNet(output_size=10, seed=5)
    m.layers["LRN1"].alpha = m.layers["LRN2"].alpha = 0.5
    return m, rng.standard_normal((2, 3, 227, 227)), {}


class LayerZoo(Net):
    """Grouped conv, both LRN conventions (large alpha), overlapping max pooling, avg pooling
    with and without counted padding, per-channel batch norm, inverted and the book's dropout,
    tanh, flatten."""

    input_dim = (4, 13, 12)

    def __init__(self, rng):
        super().__init__(seed=6)
        f = np.float32
        self._add("Conv1", L.Conv2D(rng.standard_normal((6, 2, 3, 3)).astype(f), rng.standard_normal(6).astype(f),
                                    stride=(1, 2), pad=(1, 0), groups=2), W="W1", b="b1")
        self._add("LRN1", L.LRN(size=3, alpha=2.0, beta=0.75, k=1.0))
        self._add("Pool1", L.MaxPool2D(3, 2, pad=1))
        self._add("BatchNorm1", L.BatchNorm2D(rng.uniform(0.5, 2, 6).astype(f), rng.standard_normal(6).astype(f),
                                              rng.standard_normal(6), rng.uniform(0.5, 2, 6)), gamma="g1", beta="be1")
        self._add("LRN2", L.LRN(size=5, alpha=3.0, beta=0.6, k=2.0, alpha_over_size=True))
        self._add("Pool2", L.AvgPool2D(2, 1, pad=1))
        self._add("Pool3", L.AvgPool2D(3, 2, pad=1, count_include_pad=False))
        self._add("Tanh1", L.Tanh())
        self._add("Dropout1", L.Dropout(0.4))
        self._add("Dropout2", L.Dropout(0.25, inverted=False))
        self._add("Flatten", L.Flatten())
        self._add("Affine1", L.Affine(rng.standard_normal((6 * 4 * 2, 5)).astype(f), None), W="W2")
        self._finish(L.SoftmaxWithLoss())


def layer_zoo(rng):
    return LayerZoo(rng), rng.standard_normal((2, 4, 13, 12)), {}


def sequential_convnet(rng):
    """Chollet's small convnet in miniature: odd 'same' padding (a Pad node), batch norm, avg
    pooling, dropout and a sigmoid output (probabilities), channels-last input."""
    m = keras.Sequential(seed=7)
    m.add(keras.layers.Conv2D(4, (3, 3), activation="relu", input_shape=(13, 11, 3)))
    m.add(keras.layers.MaxPooling2D((2, 2)))
    m.add(keras.layers.Conv2D(6, (2, 2), padding="same", activation="tanh"))
    m.add(keras.layers.BatchNormalization())
    m.add(keras.layers.AveragePooling2D((2, 2)))
    m.add(keras.layers.Flatten())
    m.add(keras.layers.Dense(8, activation="relu"))
    m.add(keras.layers.Dropout(0.5))
    m.add(keras.layers.Dense(1, activation="sigmoid"))
    for k, v in m.buffers().items():
        v[...] = rng.uniform(0.5, 1.5, v.shape) if "variance" in k else rng.standard_normal(v.shape)
    return m, rng.standard_normal((3, 13, 11, 3)), {}


def sequential_softmax(rng):
    m = keras.Sequential(seed=8)
    m.add(keras.layers.Dense(5, activation="tanh", input_shape=(7,)))
    m.add(keras.layers.Activation("relu"))
    m.add(keras.layers.Dense(3, activation="softmax"))
    return m, rng.standard_normal((4, 7)), {}


def sequential_image_output(rng):
    """A model whose output has spatial axes: it comes back channels-last, as predict's does."""
    m = keras.Sequential(seed=9)
    m.add(keras.layers.Conv2D(3, (3, 3), strides=2, padding="same", input_shape=(7, 6, 2)))
    return m, rng.standard_normal((2, 7, 6, 2)), {}


def compat_mlp(rng):
    np.random.seed(10)
    return compat.multi_layer_net.MultiLayerNet(12, [9, 7], 4, activation="sigmoid"), rng.standard_normal((3, 12)), {}


def compat_mlp_extend(rng):
    np.random.seed(11)
    m = compat.multi_layer_net_extend.MultiLayerNetExtend(12, [9, 7], 4, use_batchnorm=True, use_dropout=True,
                                                          dropout_ration=0.2)
    for _ in range(3):
        m.predict(rng.standard_normal((6, 12)) * 2 + 1, train_flg=True)
    return m, rng.standard_normal((3, 12)), {}


def compat_simple_convnet(rng):
    np.random.seed(12)
    m = compat.simple_convnet.SimpleConvNet(input_dim=(1, 10, 10), conv_param={"filter_num": 4, "filter_size": 3,
                                                                               "pad": 0, "stride": 1},
                                            hidden_size=6, output_size=3, weight_init_std=0.3)
    return m, rng.standard_normal((2, 1, 10, 10)), {"input_shape": (1, 10, 10)}


def compat_deep_convnet(rng):
    np.random.seed(13)
    return compat.deep_convnet.DeepConvNet(), rng.standard_normal((2, 1, 28, 28)), {"input_shape": (1, 28, 28)}


class BookConvNet:
    """A network as the book's chapters write them, on compat layers: the book's per-activation
    batch norm on 4-D input and its (non-inverted) dropout."""

    def __init__(self, rng):
        W, b = 0.5 * rng.standard_normal((3, 2, 3, 3)), np.zeros(3)
        n = 3 * 6 * 6  # activations after Conv1
        self.layers = OrderedDict(
            Conv1=CL.Convolution(W, b, stride=1, pad=1), BatchNorm1=CL.BatchNormalization(np.ones(n), np.zeros(n)),
            Relu1=CL.Relu(), Pool1=CL.Pooling(2, 2, stride=2), Dropout1=CL.Dropout(0.3),
            Affine1=CL.Affine(rng.standard_normal((3 * 3 * 3, 4)), rng.standard_normal(4)), Sigmoid1=CL.Sigmoid())
        self.layers["BatchNorm1"].gamma = rng.uniform(0.5, 2, n)
        self.layers["BatchNorm1"].beta = rng.standard_normal(n)

    def predict(self, x, train_flg=False):
        for name, layer in self.layers.items():
            x = layer.forward(x, train_flg) if name.startswith(("BatchNorm", "Dropout")) else layer.forward(x)
        return x


def book_convnet(rng):
    m = BookConvNet(rng)
    for _ in range(3):
        m.predict(rng.standard_normal((5, 2, 6, 6)) + 0.5, train_flg=True)
    return m, rng.standard_normal((2, 2, 6, 6)), {"input_shape": (2, 6, 6)}


class TwoLayerNet:
    """ch05's TwoLayerNet on compat layers (its input size comes from the first Affine)."""

    def __init__(self, rng):
        self.layers = OrderedDict(Affine1=CL.Affine(rng.standard_normal((10, 6)), rng.standard_normal(6)),
                                  Relu1=CL.Relu(), Affine2=CL.Affine(rng.standard_normal((6, 3)), np.zeros(3)))
        self.last_layer = CL.SoftmaxWithLoss()

    def predict(self, x):
        for layer in self.layers.values():
            x = layer.forward(x)
        return x


def two_layer_net(rng):
    return TwoLayerNet(rng), rng.standard_normal((4, 10)), {}


def inference(model, x):
    """What the exported graph must compute: the model's inference output."""
    if isinstance(model, keras.Sequential):
        return model.predict(x)
    if isinstance(model, Net):
        return model.predict(x, train=False)
    return model.predict(x)
