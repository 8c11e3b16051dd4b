# Mirrors the book's ch08/deep_convnet.py on purpose: its accuracy/save/load code repeats
# simple_convnet.py as the book's listings do.
"""The book's ``ch08/deep_convnet.py`` on compat layers (about 99% on MNIST):

conv - relu - conv - relu - pool - conv - relu - conv - relu - pool - conv - relu - conv - relu -
pool - affine - relu - dropout - affine - dropout - softmax."""
import numpy as np

from . import _params_io
from ._dtype import param
from .layers import Affine, Convolution, Dropout, Pooling, Relu, SoftmaxWithLoss


class DeepConvNet:
    def __init__(self, input_dim=(1, 28, 28),
                 conv_param_1={"filter_num": 16, "filter_size": 3, "pad": 1, "stride": 1},
                 conv_param_2={"filter_num": 16, "filter_size": 3, "pad": 1, "stride": 1},
                 conv_param_3={"filter_num": 32, "filter_size": 3, "pad": 1, "stride": 1},
                 conv_param_4={"filter_num": 32, "filter_size": 3, "pad": 2, "stride": 1},
                 conv_param_5={"filter_num": 64, "filter_size": 3, "pad": 1, "stride": 1},
                 conv_param_6={"filter_num": 64, "filter_size": 3, "pad": 1, "stride": 1},
                 hidden_size=50, output_size=10):
        pre_node_nums = np.array([1 * 3 * 3, 16 * 3 * 3, 16 * 3 * 3, 32 * 3 * 3, 32 * 3 * 3, 64 * 3 * 3,
                                  64 * 4 * 4, hidden_size])
        weight_init_scales = np.sqrt(2.0 / pre_node_nums)

        self.params = {}
        pre_channel_num = input_dim[0]
        for idx, conv_param in enumerate([conv_param_1, conv_param_2, conv_param_3, conv_param_4, conv_param_5,
                                          conv_param_6]):
            self.params["W" + str(idx + 1)] = weight_init_scales[idx] * np.random.randn(
                conv_param["filter_num"], pre_channel_num, conv_param["filter_size"], conv_param["filter_size"])
            self.params["b" + str(idx + 1)] = np.zeros(conv_param["filter_num"])
            pre_channel_num = conv_param["filter_num"]
        self.params["W7"] = weight_init_scales[6] * np.random.randn(64 * 4 * 4, hidden_size)
        self.params["b7"] = np.zeros(hidden_size)
        self.params["W8"] = weight_init_scales[7] * np.random.randn(hidden_size, output_size)
        self.params["b8"] = np.zeros(output_size)
        self.params = {k: param(v) for k, v in self.params.items()}  # float32 in compat's float32 mode

        p = self.params
        cps = [conv_param_1, conv_param_2, conv_param_3, conv_param_4, conv_param_5, conv_param_6]
        self.layers = []
        for i, cp in enumerate(cps):
            self.layers.append(Convolution(p["W" + str(i + 1)], p["b" + str(i + 1)], cp["stride"], cp["pad"]))
            self.layers.append(Relu())
            if i % 2 == 1:
                self.layers.append(Pooling(pool_h=2, pool_w=2, stride=2))
        self.layers.append(Affine(p["W7"], p["b7"]))
        self.layers.append(Relu())
        self.layers.append(Dropout(0.5))
        self.layers.append(Affine(p["W8"], p["b8"]))
        self.layers.append(Dropout(0.5))
        self.last_layer = SoftmaxWithLoss()

    def predict(self, x, train_flg=False):
        for layer in self.layers:
            if isinstance(layer, Dropout):
                x = layer.forward(x, train_flg)
            else:
                x = layer.forward(x)
        return x

    def loss(self, x, t):
        y = self.predict(x, train_flg=True)
        return self.last_layer.forward(y, t)

    def accuracy(self, x, t, batch_size=100):
        if t.ndim != 1:
            t = np.argmax(t, axis=1)
        acc = 0.0
        for i in range(int(x.shape[0] / batch_size)):
            tx = x[i * batch_size:(i + 1) * batch_size]
            tt = t[i * batch_size:(i + 1) * batch_size]
            y = np.argmax(self.predict(tx, train_flg=False), axis=1)
            acc += np.sum(y == tt)
        return acc / x.shape[0]

    def gradient(self, x, t):
        self.loss(x, t)
        dout = self.last_layer.backward(1)
        for layer in reversed(self.layers):
            dout = layer.backward(dout)
        grads = {}
        for i, layer_idx in enumerate((0, 2, 5, 7, 10, 12, 15, 18)):
            grads["W" + str(i + 1)] = self.layers[layer_idx].dW
            grads["b" + str(i + 1)] = self.layers[layer_idx].db
        return grads

    def save_params(self, file_name="params.pkl"):
        """The book's format (a pickled dict of float64 arrays; .npz/.safetensors by the suffix),
        see nnkern.compat._params_io."""
        _params_io.save_params({k: v for k, v in self.params.items()}, file_name)

    def load_params(self, file_name="params.pkl"):
        """Reads the book's deep_convnet_params.pkl through the allow-list unpickler (or .npz)."""
        params = _params_io.load_params(file_name)
        for key, val in params.items():
            self.params[key] = val
        for i, layer_idx in enumerate((0, 2, 5, 7, 10, 12, 15, 18)):
            self.layers[layer_idx].W = self.params["W" + str(i + 1)]
            self.layers[layer_idx].b = self.params["b" + str(i + 1)]
