"""Fully connected networks of the book (ch. 6): MultiLayerNet and MultiLayerNetExtend (one
constructor: MultiLayerNetExtend is MultiLayerNet under the book's name for the options)."""
from collections.abc import Sequence

import numpy as np
from numpy.typing import DTypeLike

from .. import init
from ..layers import Affine, BatchNorm, Dropout, ReLU, Sigmoid, SoftmaxWithLoss, Tanh
from ..layers.base import Layer
from .net import Net

_ACTIVATIONS = {"relu": ReLU, "sigmoid": Sigmoid, "tanh": Tanh}


def _activation(name: str) -> type[Layer]:
    try:
        return _ACTIVATIONS[str(name).lower()]
    except KeyError:
        raise ValueError(f"activation must be one of {sorted(_ACTIVATIONS)}, got {name!r}") from None


class MultiLayerNet(Net):
    """Fully connected network (the book's MultiLayerNet) on nnkern's kernels:
    Affine -> [BatchNorm] -> activation -> [Dropout] per hidden layer, then Affine and
    SoftmaxWithLoss.

    input_size: e.g. 784 for MNIST; hidden_size_list: e.g. [100, 100, 100]; output_size: e.g. 10;
    activation: 'relu', 'sigmoid' (or 'tanh'); weight_init_std: a float std, 'relu'/'he'
    (std sqrt(2/n)) or 'sigmoid'/'xavier' (std 1/sqrt(n)), n the fan-in;
    weight_decay_lambda: strength of the L2 term 0.5*lambda*sum||W||^2 added to the loss;
    use_dropout / dropout_ration (probability of dropping, the book's spelling) /
    use_batchnorm: the options of the book's MultiLayerNetExtend (off by default).

    Layers: Affine1, [BatchNorm1], Activation_function1, [Dropout1], ..., Affine{L+1}.
    Parameters W1, b1, [gamma1, beta1], ..., W{L+1}, b{L+1}; batch-norm running statistics
    are buffers (``model.buffers()``). nnkern's Dropout is inverted (scaled in training,
    identity at inference); nnkern.compat.multi_layer_net_extend has the book's non-inverted
    variant. float32 by default (``dtype=np.float64`` for gradient checks);
    ``backend='reference'`` runs the NumPy oracle.
    """

    def __init__(self, input_size: int, hidden_size_list: Sequence[int], output_size: int, activation: str = "relu",
                 weight_init_std: float | str = "relu", weight_decay_lambda: float = 0, use_dropout: bool = False,
                 dropout_ration: float = 0.5, use_batchnorm: bool = False, dtype: DTypeLike = np.float32,
                 backend: str = "native", seed: int | None = None) -> None:
        super().__init__(dtype, backend, seed)
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


class MultiLayerNetExtend(MultiLayerNet):
    """The book's MultiLayerNetExtend: :class:`MultiLayerNet` with its batch-norm and dropout
    options (``use_batchnorm``, ``use_dropout``, ``dropout_ration``); the same constructor."""
