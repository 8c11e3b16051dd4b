"""The two backends a layer can run on: ``"native"`` (nnkern.functional, the C++ kernels)
and ``"reference"`` (nnkern.reference, the NumPy oracle).

Both expose the same small set of operations with the same signatures, so a layer is
written once and switched with ``layer.backend = "reference"``. Lookups go through the
modules at call time (no copies of function objects), which keeps the switch cheap.
"""
from .. import functional as _F
from .. import reference as _R

BACKENDS = ("native", "reference")


class NativeOps:
    """Operations on the native kernels (nnkern.functional)."""
    name = "native"

    # convolution
    @staticmethod
    def conv2d(x, w, b, stride, padding, groups, algo="auto"):
        return _F.conv2d(x, w, b, stride=stride, padding=padding, groups=groups, algo=algo)

    @staticmethod
    def conv2d_backward(g, x, w, stride, padding, groups, need_grad_x=True, has_bias=True, algo="auto"):
        return _F.conv2d_backward(g, x, w, stride=stride, padding=padding, groups=groups,
                                  output_mask=(need_grad_x, True, has_bias), algo=algo)

    # pooling
    @staticmethod
    def max_pool2d(x, k, stride, padding):
        return _F.max_pool2d(x, k, stride, padding, return_indices=True)

    @staticmethod
    def max_pool2d_backward(g, indices, input_shape):
        return _F.max_pool2d_backward(g, indices, input_shape)

    @staticmethod
    def avg_pool2d(x, k, stride, padding, count_include_pad=True):
        return _F.avg_pool2d(x, k, stride, padding, count_include_pad=count_include_pad)

    @staticmethod
    def avg_pool2d_backward(g, input_shape, k, stride, padding, count_include_pad=True):
        return _F.avg_pool2d_backward(g, input_shape, k, stride, padding, count_include_pad=count_include_pad)

    # normalisation
    @staticmethod
    def batch_norm_forward(x, running_mean, running_var, weight, bias, training, momentum, eps, unbiased):
        return _F.batch_norm_forward(x, running_mean, running_var, weight, bias, training,
                                     momentum=momentum, eps=eps, unbiased_running_var=unbiased)

    @staticmethod
    def batch_norm_backward(g, x, weight, save_mean, save_invstd, training):
        return _F.batch_norm_backward(g, x, weight, save_mean, save_invstd, training=training)

    @staticmethod
    def lrn(x, size, alpha, beta, k, alpha_over_size):
        return _F.local_response_norm(x, size=size, alpha=alpha, beta=beta, k=k, alpha_over_size=alpha_over_size)

    @staticmethod
    def lrn_backward(g, x, size, alpha, beta, k, alpha_over_size):
        return _F.local_response_norm_backward(g, x, size=size, alpha=alpha, beta=beta, k=k,
                                               alpha_over_size=alpha_over_size)

    # activations, dropout, affine, loss
    @staticmethod
    def relu(x):
        return _F.relu(x)

    @staticmethod
    def relu_backward(g, x):
        return _F.relu_backward(g, x)

    @staticmethod
    def sigmoid(x):
        return _F.sigmoid(x)

    @staticmethod
    def sigmoid_backward(g, y):
        return _F.sigmoid_backward(g, y)

    @staticmethod
    def tanh(x):
        return _F.tanh(x)

    @staticmethod
    def tanh_backward(g, y):
        return _F.tanh_backward(g, y)

    @staticmethod
    def softmax(x):
        return _F.softmax(x, axis=-1)

    @staticmethod
    def softmax_backward(g, y):
        return _F.softmax_backward(g, y, axis=-1)

    @staticmethod
    def dropout(x, p, training, seed, inverted):
        return _F.dropout(x, p=p, training=training, seed=seed, inverted=inverted)

    @staticmethod
    def dropout_backward(g, mask, p, inverted):
        return _F.dropout_backward(g, mask, p=p, inverted=inverted)

    @staticmethod
    def affine(x, w, b):
        return _F.affine(x, w, b)

    @staticmethod
    def affine_backward(g, x, w, need_grad_x=True):
        return _F.affine_backward(g, x, w, need_grad_x=need_grad_x)

    @staticmethod
    def softmax_cross_entropy(logits, target):
        return _F.softmax_cross_entropy(logits, target)

    @staticmethod
    def softmax_cross_entropy_backward(probs, target, grad_loss=1.0):
        return _F.softmax_cross_entropy_backward(probs, target, grad_loss)


class ReferenceOps(NativeOps):
    """The same operations on the NumPy oracle (nnkern.reference, kernel names)."""
    name = "reference"

    @staticmethod
    def conv2d(x, w, b, stride, padding, groups, algo="auto"):  # one algorithm: algo is ignored
        return _R.conv2d(x, w, b, stride=stride, padding=padding, groups=groups)

    @staticmethod
    def conv2d_backward(g, x, w, stride, padding, groups, need_grad_x=True, has_bias=True, algo="auto"):
        gx, gw, gb = _R.conv2d_backward(g, x, w, stride=stride, padding=padding, groups=groups)
        return (gx if need_grad_x else None), gw, (gb if has_bias else None)

    @staticmethod
    def max_pool2d(x, k, stride, padding):
        return _R.max_pool2d(x, k, stride, padding, return_indices=True)

    @staticmethod
    def max_pool2d_backward(g, indices, input_shape):
        return _R.max_pool2d_backward(g, indices, input_shape)

    @staticmethod
    def avg_pool2d(x, k, stride, padding, count_include_pad=True):
        return _R.avg_pool2d(x, k, stride, padding, count_include_pad=count_include_pad)

    @staticmethod
    def avg_pool2d_backward(g, input_shape, k, stride, padding, count_include_pad=True):
        return _R.avg_pool2d_backward(g, input_shape, k, stride, padding, count_include_pad=count_include_pad)

    @staticmethod
    def batch_norm_forward(x, running_mean, running_var, weight, bias, training, momentum, eps, unbiased):
        return _R.batch_norm_forward(x, running_mean, running_var, weight, bias, training,
                                     momentum=momentum, eps=eps, unbiased_running_var=unbiased)

    @staticmethod
    def batch_norm_backward(g, x, weight, save_mean, save_invstd, training):
        return _R.batch_norm_backward(g, x, weight, save_mean, save_invstd, training=training)

    @staticmethod
    def lrn(x, size, alpha, beta, k, alpha_over_size):
        return _R.local_response_norm(x, size=size, alpha=alpha, beta=beta, k=k, alpha_over_size=alpha_over_size)

    @staticmethod
    def lrn_backward(g, x, size, alpha, beta, k, alpha_over_size):
        return _R.local_response_norm_backward(g, x, size=size, alpha=alpha, beta=beta, k=k,
                                               alpha_over_size=alpha_over_size)

    @staticmethod
    def relu(x):
        return _R.relu(x)

    @staticmethod
    def relu_backward(g, x):
        return _R.relu_backward(g, x)

    @staticmethod
    def sigmoid(x):
        return _R.sigmoid(x)

    @staticmethod
    def sigmoid_backward(g, y):
        return _R.sigmoid_backward(g, y)

    @staticmethod
    def tanh(x):
        return _R.tanh(x)

    @staticmethod
    def tanh_backward(g, y):
        return _R.tanh_backward(g, y)

    @staticmethod
    def softmax(x):
        return _R.softmax(x, axis=-1)

    @staticmethod
    def softmax_backward(g, y):
        return _R.softmax_backward(g, y, axis=-1)

    @staticmethod
    def dropout(x, p, training, seed, inverted):
        return _R.dropout(x, p=p, seed=seed, training=training, inverted=inverted)

    @staticmethod
    def dropout_backward(g, mask, p, inverted):
        return _R.dropout_backward(g, mask, p=p, inverted=inverted)

    @staticmethod
    def affine(x, w, b):
        return _R.affine(x, w, b)

    @staticmethod
    def affine_backward(g, x, w, need_grad_x=True):
        gx, gw, gb = _R.affine_backward(g, x, w)
        return (gx if need_grad_x else None), gw, gb

    @staticmethod
    def softmax_cross_entropy(logits, target):
        return _R.softmax_cross_entropy(logits, target)

    @staticmethod
    def softmax_cross_entropy_backward(probs, target, grad_loss=1.0):
        return _R.softmax_cross_entropy_backward(probs, target, grad_loss)


_OPS = {"native": NativeOps, "reference": ReferenceOps}


def get_ops(backend):
    """The operation table of a backend name; ValueError for anything else."""
    try:
        return _OPS[backend]
    except (KeyError, TypeError):
        raise ValueError(f"backend must be 'native' or 'reference', got {backend!r}") from None
