"""Convolution, pooling and local response normalisation layers (NCHW)."""
from numpy.typing import ArrayLike

from ..functional._args import pair
from ..typing import FloatArray, IndexArray, IntOrPair, Shape
from .base import Layer, check_float


def _out(size: int, k: int, s: int, p: int, d: int = 1) -> int:
    return (size + 2 * p - d * (k - 1) - 1) // s + 1


class Conv2D(Layer):
    """2-D convolution layer (the book's Convolution): W (OC, C/groups, KH, KW), b (OC,).

    ``stride``/``pad`` are ints or pairs; ``groups`` splits channels as in Krizhevsky et al.
    (2012) and torch. Input (N, C, H, W), output (N, OC, OH, OW),
    OH = (H + 2*pad - KH) // stride + 1. ``algo`` is the native backend's convolution
    algorithm for every pass (``"auto"``, or a name from ``nnkern.conv_algorithms()``).
    """

    x: FloatArray  # the forward input, for backward

    def __init__(self, W: ArrayLike, b: ArrayLike | None = None, stride: IntOrPair = 1, pad: IntOrPair = 0,
                 groups: int = 1, backend: str = "native", algo: str = "auto") -> None:
        super().__init__(backend)
        W = check_float(W, "W")
        if W.ndim != 4:
            raise ValueError(f"W must be 4-D (OC, C/groups, KH, KW), got shape {W.shape}")
        if W.shape[0] % groups:
            raise ValueError(f"out channels {W.shape[0]} not divisible by groups={groups}")
        self.params["W"] = W
        if b is not None:
            self.params["b"] = check_float(b, "b")
            if self.params["b"].shape != (W.shape[0],):
                raise ValueError(f"b must have shape ({W.shape[0]},), got {self.params['b'].shape}")
        self.stride = pair(stride, "stride")
        self.pad = pair(pad, "pad")
        self.groups = int(groups)
        self.algo = str(algo)

    def forward(self, x: FloatArray, train: bool = True) -> FloatArray:
        x = check_float(x)
        W = self.params["W"]
        if x.ndim != 4 or x.shape[1] != W.shape[1] * self.groups:
            raise ValueError(f"Conv2D expects (N, {W.shape[1] * self.groups}, H, W), got {x.shape}")
        self.x = x
        y: FloatArray = self.F.conv2d(x, W, self.params.get("b"), stride=self.stride, padding=self.pad,
                                      groups=self.groups, algo=self.algo)
        return y

    def backward(self, dout: FloatArray) -> FloatArray | None:
        mask = (self.need_input_grad, True, "b" in self.params)
        gx: FloatArray | None
        gx, gw, gb = self.F.conv2d_backward(dout, self.x, self.params["W"], stride=self.stride, padding=self.pad,
                                            groups=self.groups, output_mask=mask, algo=self.algo)
        self.grads["W"] = gw
        if "b" in self.params:
            self.grads["b"] = gb
        return gx

    def output_shape(self, input_shape: Shape) -> Shape:
        c, h, w = input_shape
        oc, _, kh, kw = self.params["W"].shape
        return (oc, _out(h, kh, self.stride[0], self.pad[0]), _out(w, kw, self.stride[1], self.pad[1]))


Convolution = Conv2D


class _Pool(Layer):
    input_shape: Shape  # of the forward input, for backward

    def __init__(self, pool_size: IntOrPair = 2, stride: IntOrPair | None = None, pad: IntOrPair = 0,
                 backend: str = "native") -> None:
        super().__init__(backend)
        self.pool_size = pair(pool_size, "pool_size")
        self.stride = pair(stride, "stride") if stride is not None else self.pool_size
        self.pad = pair(pad, "pad")

    def output_shape(self, input_shape: Shape) -> Shape:
        c, h, w = input_shape
        (kh, kw), (sh, sw), (ph, pw) = self.pool_size, self.stride, self.pad
        return (c, _out(h, kh, sh, ph), _out(w, kw, sw, pw))

    def _check(self, x: FloatArray) -> FloatArray:
        x = check_float(x)
        if x.ndim != 4:
            raise ValueError(f"{type(self).__name__} expects (N, C, H, W), got {x.shape}")
        return x


class MaxPool2D(_Pool):
    """Max pooling (overlapping when stride < pool_size, as AlexNet's 3x3 stride 2).

    Padding reads as -inf; ties go to the first maximum; backward routes the gradient to
    the arg-max recorded in forward.
    """

    indices: IndexArray  # the forward's arg-max positions

    def forward(self, x: FloatArray, train: bool = True) -> FloatArray:
        x = self._check(x)
        self.input_shape = x.shape
        y: FloatArray
        y, self.indices = self.F.max_pool2d(x, self.pool_size, self.stride, self.pad, return_indices=True)
        return y

    def backward(self, dout: FloatArray) -> FloatArray:
        y: FloatArray = self.F.max_pool2d_backward(dout, self.indices, self.input_shape)
        return y


class AvgPool2D(_Pool):
    """Average pooling; ``count_include_pad`` as in torch (padding counts as zeros)."""

    def __init__(self, pool_size: IntOrPair = 2, stride: IntOrPair | None = None, pad: IntOrPair = 0,
                 count_include_pad: bool = True, backend: str = "native") -> None:
        super().__init__(pool_size, stride, pad, backend)
        self.count_include_pad = bool(count_include_pad)

    def forward(self, x: FloatArray, train: bool = True) -> FloatArray:
        x = self._check(x)
        self.input_shape = x.shape
        y: FloatArray = self.F.avg_pool2d(x, self.pool_size, self.stride, self.pad,
                                          count_include_pad=self.count_include_pad)
        return y

    def backward(self, dout: FloatArray) -> FloatArray:
        y: FloatArray = self.F.avg_pool2d_backward(dout, self.input_shape, self.pool_size, self.stride, self.pad,
                                                   count_include_pad=self.count_include_pad)
        return y


class LRN(Layer):
    """Local response normalisation across channels (Krizhevsky et al. 2012, sec. 3.3):
    b_c = a_c / (k + alpha' * sum_{c'=c-size//2}^{c+(size-1)//2} a_c'^2) ** beta, defaults the
    paper's size=5, alpha=1e-4, beta=0.75, k=2.

    The layer's default ``alpha_over_size=False`` is the paper's formula, alpha' = alpha (what
    AlexNet uses). ``True`` is torch/Caffe's alpha' = alpha / size, the default of
    :func:`nnkern.functional.local_response_norm` (which matches torch's function).
    """

    x: FloatArray

    def __init__(self, size: int = 5, alpha: float = 1e-4, beta: float = 0.75, k: float = 2.0,
                 alpha_over_size: bool = False, backend: str = "native") -> None:
        super().__init__(backend)
        self.size, self.alpha, self.beta, self.k = int(size), float(alpha), float(beta), float(k)
        self.alpha_over_size = bool(alpha_over_size)

    def forward(self, x: FloatArray, train: bool = True) -> FloatArray:
        self.x = check_float(x)
        if self.x.ndim != 4:
            raise ValueError(f"LRN expects (N, C, H, W), got {self.x.shape}")
        y: FloatArray = self.F.local_response_norm(self.x, self.size, self.alpha, self.beta, self.k,
                                                   self.alpha_over_size)
        return y

    def backward(self, dout: FloatArray) -> FloatArray:
        y: FloatArray = self.F.local_response_norm_backward(dout, self.x, self.size, self.alpha, self.beta, self.k,
                                                            self.alpha_over_size)
        return y
