"""Fully connected networks of the book (ch. 6): MultiLayerNet and MultiLayerNetExtend."""
import numpy as np

from .. import init
from ..layers import Affine, BatchNorm, Dropout, ReLU, Sigmoid, SoftmaxWithLoss, Tanh
from .base import Net

_ACTIVATIONS = {"relu": ReLU, "sigmoid": Sigmoid, "tanh": Tanh}


def _activation(name):
    try:
        return _ACTIVATIONS[str(name).lower()]
    except KeyError:
        raise ValueError(f"activation must be one of {sorted(_ACTIVATIONS)}, got {name!r}") from None


class MultiLayerNet(Net):
    """Fully connected network (the seed's example 3.1 listing) on nnkern's kernels.

    input_size: e.g. 784 for MNIST; hidden_size_list: e.g. [100, 100, 100]; output_size: e.g. 10;
    activation: 'relu', 'sigmoid' (or 'tanh'); weight_init_std: a float std, 'relu'/'he'
    (std sqrt(2/n)) or 'sigmoid'/'xavier' (std 1/sqrt(n)), n the fan-in;
    weight_decay_lambda: strength of the L2 term 0.5*lambda*sum||W||^2 added to the loss.

    Layers: Affine1, Activation_function1, ..., Affine{L+1}, then SoftmaxWithLoss.
    Parameters W1, b1, ..., W{L+1}, b{L+1}; float32 by default (``dtype=np.float64`` for
    gradient checks); ``backend='reference'`` runs the NumPy oracle.
    """

    def __init__(self, input_size, hidden_size_list, output_size, activation="relu",
                 weight_init_std="relu", weight_decay_lambda=0, dtype=np.float32, backend="native",
                 seed=None):
        super().__init__(dtype, backend, seed)
        self.input_size = int(input_size)
        self.output_size = int(output_size)
        self.hidden_size_list = list(hidden_size_list)
        self.hidden_layer_num = len(self.hidden_size_list)
        self.weight_decay_lambda = weight_decay_lambda
        act = _activation(activation)
        sizes = [self.input_size] + self.hidden_size_list + [self.output_size]
        for idx in range(1, len(sizes)):
            W = init.weight((sizes[idx - 1], sizes[idx]), weight_init_std, rng=self.rng, dtype=self.dtype)
            b = np.zeros(sizes[idx], self.dtype)
            self._add(f"Affine{idx}", Affine(W, b), W=f"W{idx}", b=f"b{idx}")
            if idx < len(sizes) - 1:
                self._add(f"Activation_function{idx}", act())
        self._finish(SoftmaxWithLoss())


class MultiLayerNetExtend(MultiLayerNet):
    """MultiLayerNet with optional batch normalisation and dropout (the book's
    MultiLayerNetExtend): Affine -> [BatchNorm] -> activation -> [Dropout] per hidden layer.

    use_dropout / dropout_ration (probability of dropping, the book's spelling) /
    use_batchnorm. Batch norm parameters are gamma{i}, beta{i}; its running statistics are
    buffers (``model.buffers()``). nnkern's Dropout is inverted (scaled in training, identity
    at inference); nnkern.compat.multi_layer_net_extend has the book's non-inverted variant.
    """

    def __init__(self, input_size, hidden_size_list, output_size, activation="relu",
                 weight_init_std="relu", weight_decay_lambda=0, use_dropout=False, dropout_ration=0.5,
                 use_batchnorm=False, dtype=np.float32, backend="native", seed=None):
        Net.__init__(self, dtype, backend, seed)
        self.input_size = int(input_size)
        self.output_size = int(output_size)
        self.hidden_size_list = list(hidden_size_list)
        self.hidden_layer_num = len(self.hidden_size_list)
        self.weight_decay_lambda = weight_decay_lambda
        self.use_dropout, self.dropout_ration, self.use_batchnorm = use_dropout, dropout_ration, use_batchnorm
        act = _activation(activation)
        sizes = [self.input_size] + self.hidden_size_list + [self.output_size]
        for idx in range(1, len(sizes)):
            W = init.weight((sizes[idx - 1], sizes[idx]), weight_init_std, rng=self.rng, dtype=self.dtype)
            b = np.zeros(sizes[idx], self.dtype)
            self._add(f"Affine{idx}", Affine(W, b), W=f"W{idx}", b=f"b{idx}")
            if idx == len(sizes) - 1:
                break
            if use_batchnorm:
                d = sizes[idx]
                self._add(f"BatchNorm{idx}", BatchNorm(np.ones(d, self.dtype), np.zeros(d, self.dtype)),
                          gamma=f"gamma{idx}", beta=f"beta{idx}")
            self._add(f"Activation_function{idx}", act())
            if use_dropout:
                self._add(f"Dropout{idx}", Dropout(dropout_ration, seed=int(self.rng.integers(2**31))))
        self._finish(SoftmaxWithLoss())
