"""Convolutional networks: the book's SimpleConvNet (ch. 7) and DeepConvNet (ch. 8), and
AlexNet (Krizhevsky, Sutskever & Hinton 2012)."""
from collections.abc import Mapping, Sequence

import numpy as np
from numpy.typing import DTypeLike

from .. import init
from ..layers import LRN, Affine, Conv2D, Dropout, Flatten, MaxPool2D, ReLU, SoftmaxWithLoss
from ..typing import Shape
from .net import Net


class _ConvNetBuilder(Net):
    """Shape bookkeeping while appending layers (C, H, W) -> next shape."""

    _shape: Shape  # (C, H, W) or (features,) after the last layer appended
    _n: dict[str, int]  # layers appended so far, by kind (their names' numbers)

    def _start(self, input_dim: Sequence[int]) -> None:
        self.input_dim = tuple(int(v) for v in input_dim)
        if len(self.input_dim) != 3:
            raise ValueError(f"input_dim must be (C, H, W), got {input_dim!r}")
        self._shape = self.input_dim
        self._n = {}

    def _count(self, kind: str) -> int:
        self._n[kind] = self._n.get(kind, 0) + 1
        return self._n[kind]

    def _conv(self, idx: int, filters: int, size: int, stride: int, pad: int, std: float | str, groups: int = 1,
              bias: float = 0.0) -> None:
        c = self._shape[0]
        fan_in = c // groups * size * size
        W = init.weight((filters, c // groups, size, size), std, fan_in=fan_in, rng=self.rng, dtype=self.dtype)
        b = np.full(filters, bias, self.dtype)
        layer = self._add(f"Conv{self._count('Conv')}", Conv2D(W, b, stride, pad, groups), W=f"W{idx}", b=f"b{idx}")
        self._shape = layer.output_shape(self._shape)
        if min(self._shape[1:]) < 1:
            raise ValueError(f"input_dim {self.input_dim} is too small for this network")

    def _relu(self) -> None:
        self._add(f"Relu{self._count('Relu')}", ReLU())

    def _pool(self, size: int = 2, stride: int = 2) -> None:
        layer = self._add(f"Pool{self._count('Pool')}", MaxPool2D(size, stride))
        self._shape = layer.output_shape(self._shape)

    def _affine(self, idx: int, out: int, std: float | str, fan_in: int | None = None, bias: float = 0.0) -> None:
        n = int(np.prod(self._shape))
        W = init.weight((n, out), std, fan_in=fan_in or n, rng=self.rng, dtype=self.dtype)
        self._add(f"Affine{self._count('Affine')}", Affine(W, np.full(out, bias, self.dtype)),
                  W=f"W{idx}", b=f"b{idx}")
        self._shape = (out,)

    def _dropout(self, p: float) -> None:
        self._add(f"Dropout{self._count('Dropout')}", Dropout(p, seed=int(self.rng.integers(2**31))))


class SimpleConvNet(_ConvNetBuilder):
    """conv - relu - pool - affine - relu - affine - softmax (the book's SimpleConvNet).

    input_dim (C, H, W) = (1, 28, 28); conv_param filter_num 30, filter_size 5, pad 0,
    stride 1; 2x2 max pooling stride 2; hidden_size 100; output_size 10;
    weight_init_std 0.01 (or 'relu'/'he', 'sigmoid'/'xavier'). 433,890 parameters for
    1x28x28 (W1 30x1x5x5, W2 4320x100, W3 100x10 and biases).
    """

    def __init__(self, input_dim: Sequence[int] = (1, 28, 28), conv_param: Mapping[str, int] | None = None,
                 hidden_size: int = 100, output_size: int = 10, weight_init_std: float | str = 0.01,
                 dtype: DTypeLike = np.float32, backend: str = "native", seed: int | None = None) -> None:
        super().__init__(dtype, backend, seed)
        cp = {"filter_num": 30, "filter_size": 5, "pad": 0, "stride": 1}
        cp.update(conv_param or {})
        self._start(input_dim)
        self._conv(1, cp["filter_num"], cp["filter_size"], cp["stride"], cp["pad"], weight_init_std)
        self._relu()
        self._pool(2, 2)
        self._affine(2, hidden_size, weight_init_std)
        self._relu()
        self._affine(3, output_size, weight_init_std)
        self._finish(SoftmaxWithLoss())


class DeepConvNet(_ConvNetBuilder):
    """The book's DeepConvNet (ch. 8), about 99% on MNIST:

        conv 16 - relu - conv 16 - relu - pool - conv 32 - relu - conv 32 (pad 2) - relu - pool -
        conv 64 - relu - conv 64 - relu - pool - affine 50 - relu - dropout - affine 10 - dropout
        - softmax

    3x3 filters, pad 1 (pad 2 on the 4th conv, as in the book), He initialisation with the
    fan-ins of the book. 123,552 parameters for 1x28x28. Dropout is nnkern's inverted dropout
    (p=0.5); the book's non-inverted one scales at test time instead, same expectation.
    """

    def __init__(self, input_dim: Sequence[int] = (1, 28, 28), conv_params: Sequence[Mapping[str, int]] | None = None,
                 hidden_size: int = 50, output_size: int = 10, dropout_ratio: float = 0.5,
                 dtype: DTypeLike = np.float32, backend: str = "native", seed: int | None = None) -> None:
        super().__init__(dtype, backend, seed)
        default = [(16, 1), (16, 1), (32, 1), (32, 2), (64, 1), (64, 1)]
        conv_params = conv_params or [{"filter_num": f, "filter_size": 3, "pad": p, "stride": 1}
                                      for f, p in default]
        self._start(input_dim)
        for i, cp in enumerate(conv_params):
            self._conv(i + 1, cp["filter_num"], cp["filter_size"], cp["stride"], cp["pad"], "he")
            self._relu()
            if i % 2 == 1:
                self._pool(2, 2)
        # the book's He fan-in for the first affine is 64*4*4: the flattened size
        self._affine(7, hidden_size, "he")
        self._relu()
        self._dropout(dropout_ratio)
        self._affine(8, output_size, "he")
        self._dropout(dropout_ratio)
        self._finish(SoftmaxWithLoss())


class AlexNet(_ConvNetBuilder):
    """AlexNet (Krizhevsky, Sutskever & Hinton 2012).

    Input: 3x227x227 (``input_size=227``, the default; conv1 has no padding), or 3x224x224
    as the paper states with ``input_size=224``, which pads conv1 by 2 so that both give
    55x55 after conv1 (224 + 2*2 - 11) // 4 + 1 = 55.

        conv1 96 11x11 stride 4 - relu - LRN - maxpool 3x3 stride 2 (overlapping)
        conv2 256 5x5 pad 2, 2 groups - relu - LRN - maxpool 3x3/2
        conv3 384 3x3 pad 1 - relu
        conv4 384 3x3 pad 1, 2 groups - relu
        conv5 256 3x3 pad 1, 2 groups - relu - maxpool 3x3/2        (256x6x6)
        fc6 4096 - relu - dropout - fc7 4096 - relu - dropout - fc8 output_size - softmax

    The two groups are the paper's two GPUs (conv2/4/5 see only their half of the channels;
    conv3 and the FC layers connect across). LRN: size 5, alpha 1e-4 (not divided by size, as in
    the paper), beta 0.75, k 2.
    60,965,224 parameters for 1000 classes. Initialisation: ``weight_init_std`` ('he' by
    default; the paper's is 0.01 with biases 1 in conv2/4/5 and the hidden FC layers, set
    ``paper_init=True`` for that). ``lrn=False`` drops the LRN layers.
    """

    def __init__(self, output_size: int = 1000, input_size: int = 227, dropout_ratio: float = 0.5,
                 weight_init_std: float | str = "he", paper_init: bool = False, lrn: bool = True,
                 dtype: DTypeLike = np.float32, backend: str = "native", seed: int | None = None) -> None:
        super().__init__(dtype, backend, seed)
        if input_size not in (224, 227):
            raise ValueError(f"AlexNet input_size must be 227 or 224, got {input_size}")
        self._start((3, input_size, input_size))
        std = 0.01 if paper_init else weight_init_std
        one = 1.0 if paper_init else 0.0
        self._conv(1, 96, 11, 4, 2 if input_size == 224 else 0, std)
        self._relu()
        if lrn:
            self._add("LRN1", LRN(5, 1e-4, 0.75, 2.0))
        self._pool(3, 2)
        self._conv(2, 256, 5, 1, 2, std, groups=2, bias=one)
        self._relu()
        if lrn:
            self._add("LRN2", LRN(5, 1e-4, 0.75, 2.0))
        self._pool(3, 2)
        self._conv(3, 384, 3, 1, 1, std)
        self._relu()
        self._conv(4, 384, 3, 1, 1, std, groups=2, bias=one)
        self._relu()
        self._conv(5, 256, 3, 1, 1, std, groups=2, bias=one)
        self._relu()
        self._pool(3, 2)
        self._add("Flatten", Flatten())
        self._affine(6, 4096, std, bias=one)
        self._relu()
        self._dropout(dropout_ratio)
        self._affine(7, 4096, std, bias=one)
        self._relu()
        self._dropout(dropout_ratio)
        self._affine(8, output_size, std)
        self._finish(SoftmaxWithLoss())
