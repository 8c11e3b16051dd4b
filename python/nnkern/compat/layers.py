# Mirrors the book's common/layers.py on purpose: class for class and attribute for attribute
# (Convolution and Pooling keep the book's parallel constructors).
"""The book's ``common/layers.py`` on nnkern's native kernels.

Same class names, constructor signatures, attributes and semantics as Deep Learning from
Scratch: plain attributes (``layer.W = params['W1']`` rebinds, as in the book's
``load_params``), float64 or float32 inputs (mixed dtypes promote like NumPy: float32 data
with float64 weights computes in float64; ``nnkern.compat.set_default_dtype(np.float32)``
computes everything in float32), ``Dropout`` non-inverted with ``dropout_ratio``,
``BatchNormalization`` per activation (4-D input is flattened to (N, C*H*W), the book's
choice), momentum 0.9 on the running value and eps 1e-6 (the book's 10e-7), biased variance.

Differences from the book, all deliberate:
* the dropout mask comes from nnkern's generator seeded from ``np.random`` (so
  ``np.random.seed`` still makes runs reproducible, but the mask differs from the book's);
  ``mask`` is a bool array as in the book;
* ``Pooling`` with ``pad > 0`` pads with -inf (the book pads zeros before taking the max);
  without padding (all of the book's networks) the results are identical;
* ``Convolution`` does not keep ``col``/``col_W`` (the kernels do not materialise them);
* backward never modifies ``dout`` in place (the book's Relu writes zeros into it).
"""
import numpy as np

from .. import functional as F
from ._dtype import as_float, common
from .functions import (
    cross_entropy_error,
    identity_function,
    relu,
    relu_grad,
    sigmoid,
    sigmoid_grad,
    softmax,
    softmax_loss,
    step_function,
    sum_squared_error,
)
from .util import col2im, im2col

# What the book's ``from common.layers import *`` binds (its layers.py star-imports
# common.functions and imports im2col/col2im and numpy as np), and nothing else.
__all__ = ["np", "identity_function", "step_function", "sigmoid", "sigmoid_grad", "relu", "relu_grad", "softmax",
           "sum_squared_error", "cross_entropy_error", "softmax_loss", "im2col", "col2im",
           "Relu", "Sigmoid", "Affine", "SoftmaxWithLoss", "Dropout", "BatchNormalization", "Convolution", "Pooling"]


class Relu:
    def __init__(self):
        self.mask = None

    def forward(self, x):
        x = as_float(x)
        self.x = x
        self.mask = x <= 0
        return F.relu(x)

    def backward(self, dout):
        return F.relu_backward(*common(dout, self.x))


class Sigmoid:
    def __init__(self):
        self.out = None

    def forward(self, x):
        self.out = F.sigmoid(as_float(x))
        return self.out

    def backward(self, dout):
        return F.sigmoid_backward(*common(dout, self.out))


class Affine:
    """out = x.reshape(N, -1) @ W + b; dW, db set by backward (tensor input is supported)."""

    def __init__(self, W, b):
        self.W = W
        self.b = b
        self.x = None
        self.original_x_shape = None
        self.dW = None
        self.db = None

    def forward(self, x):
        x = np.asarray(x)
        self.original_x_shape = x.shape
        x, W, b = common(x.reshape(x.shape[0], -1), self.W, self.b)
        self.x = x
        return F.affine(x, W, b)

    def backward(self, dout):
        dout, x, W = common(dout, self.x, self.W)
        dx, self.dW, self.db = F.affine_backward(dout, x, W)
        return dx.reshape(*self.original_x_shape)


class SoftmaxWithLoss:
    """loss = cross_entropy_error(softmax(x), t) (the book's +1e-7 inside the log);
    backward: (y - t) / N for one-hot t, y - onehot(t) / N for labels. Like the book,
    ``backward(dout)`` ignores dout (it is always 1 there)."""

    def __init__(self):
        self.loss = None
        self.y = None
        self.t = None

    def forward(self, x, t):
        self.t = t
        self.y = F.softmax(as_float(x), axis=-1)
        self.loss = cross_entropy_error(self.y, self.t)
        return self.loss

    def backward(self, dout=1):
        t = np.asarray(self.t)
        if t.size == self.y.size:
            t = np.ascontiguousarray(t, dtype=self.y.dtype).reshape(self.y.shape)
        else:
            t = t.astype(np.int64, copy=False)
        return F.softmax_cross_entropy_backward(self.y, t, 1.0)


class Dropout:
    """http://arxiv.org/abs/1207.0580 — the book's (non-inverted) dropout: x * mask in
    training (mask = rand > dropout_ratio), x * (1 - dropout_ratio) at test time."""

    def __init__(self, dropout_ratio=0.5):
        self.dropout_ratio = dropout_ratio
        self.mask = None

    def forward(self, x, train_flg=True):
        x = as_float(x)
        if train_flg:
            seed = int(np.random.randint(0, 2**31 - 1))
            y, mask = F.dropout(x, p=self.dropout_ratio, training=True, seed=seed, inverted=False)
            self.mask = mask.view(bool)
            return y
        y, _ = F.dropout(x, p=self.dropout_ratio, training=False, seed=0, inverted=False)
        return y

    def backward(self, dout):
        return F.dropout_backward(as_float(dout), self.mask.view(np.uint8), p=self.dropout_ratio, inverted=False)


class BatchNormalization:
    """http://arxiv.org/abs/1502.03167 — per activation: (N, D) per feature, and (N, C, H, W)
    is flattened to (N, C*H*W) (gamma/beta of size C*H*W), as the book does.
    running = momentum * running + (1 - momentum) * batch (momentum 0.9), biased variance,
    std = sqrt(var + 10e-7)."""

    def __init__(self, gamma, beta, momentum=0.9, running_mean=None, running_var=None):
        self.gamma = gamma
        self.beta = beta
        self.momentum = momentum
        self.input_shape = None
        self.running_mean = running_mean
        self.running_var = running_var
        self.batch_size = None
        self.dgamma = None
        self.dbeta = None

    def forward(self, x, train_flg=True):
        x = np.asarray(x)
        self.input_shape = x.shape
        if x.ndim != 2:
            x = x.reshape(x.shape[0], -1)
        out = self.__forward(x, train_flg)
        return out.reshape(*self.input_shape)

    def __forward(self, x, train_flg):
        x, gamma, beta = common(x, self.gamma, self.beta)
        D = x.shape[1]
        if self.running_mean is None:
            self.running_mean = np.zeros(D, x.dtype)
            self.running_var = np.zeros(D, x.dtype)
        for name in ("running_mean", "running_var"):
            arr = getattr(self, name)
            if not (isinstance(arr, np.ndarray) and arr.dtype == x.dtype and arr.flags.c_contiguous
                    and arr.flags.writeable):
                setattr(self, name, np.array(arr, dtype=x.dtype))
        self.batch_size = x.shape[0]
        self.train_flg = bool(train_flg)
        out, self.save_mean, self.save_invstd = F.batch_norm_forward(
            x, self.running_mean, self.running_var, gamma, beta, self.train_flg, momentum=1.0 - self.momentum,
            eps=10e-7, unbiased_running_var=False)
        self.x = x
        return out

    def backward(self, dout):
        dout = np.asarray(dout)
        if dout.ndim != 2:
            dout = dout.reshape(dout.shape[0], -1)
        dout, x, gamma = common(dout, self.x, self.gamma)
        dx, self.dgamma, self.dbeta = F.batch_norm_backward(dout, x, gamma, self.save_mean, self.save_invstd,
                                                            training=self.train_flg)
        return dx.reshape(*self.input_shape)


class Convolution:
    """W (FN, C, FH, FW), b (FN,); stride and pad ints. dW, db set by backward."""

    def __init__(self, W, b, stride=1, pad=0):
        self.W = W
        self.b = b
        self.stride = stride
        self.pad = pad
        self.x = None
        self.col = None
        self.col_W = None
        self.dW = None
        self.db = None

    def forward(self, x):
        x, W, b = common(x, self.W, self.b)
        self.x = x
        return F.conv2d(x, W, b, stride=self.stride, padding=self.pad)

    def backward(self, dout):
        dout, x, W = common(dout, self.x, self.W)
        dx, self.dW, self.db = F.conv2d_backward(dout, x, W, stride=self.stride, padding=self.pad)
        return dx


class Pooling:
    """Max pooling pool_h x pool_w, stride (default 2), pad."""

    def __init__(self, pool_h, pool_w, stride=2, pad=0):
        self.pool_h = pool_h
        self.pool_w = pool_w
        self.stride = stride
        self.pad = pad
        self.x = None
        self.arg_max = None

    def forward(self, x):
        x = as_float(x)
        self.x = x
        out, self.arg_max = F.max_pool2d(x, (self.pool_h, self.pool_w), self.stride, self.pad, return_indices=True)
        return out

    def backward(self, dout):
        return F.max_pool2d_backward(np.ascontiguousarray(dout, dtype=self.x.dtype), self.arg_max, self.x.shape)
