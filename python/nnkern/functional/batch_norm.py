"""Batch normalization (Ioffe & Szegedy 2015, "Batch Normalization: Accelerating Deep Network
Training by Reducing Internal Covariate Shift"), forward in training and inference, backward.

Momentum follows torch: ``running = (1 - momentum) * running + momentum * batch_stat``, with
the unbiased batch variance for running_var. The book's (Deep Learning from Scratch)
convention ``running = m * running + (1 - m) * batch`` with m = 0.9 and the biased variance is
``momentum=1 - m, unbiased_running_var=False`` of :func:`batch_norm_forward`.
"""
from .. import _core
from ..typing import FloatArray
from ._args import contiguous


def batch_norm(x: FloatArray, running_mean: FloatArray | None, running_var: FloatArray | None,
               weight: FloatArray | None = None, bias: FloatArray | None = None, training: bool = False,
               momentum: float = 0.1, eps: float = 1e-5) -> FloatArray:
    """Batch normalization, as ``torch.nn.functional.batch_norm``: returns y (shape of x).

    x: (N, C, H, W) (statistics per channel over N, H, W) or (N, D) (per feature over N).
    running_mean, running_var, weight (gamma), bias (beta): (C,) arrays of x's dtype, or None
    (weight None = 1, bias None = 0; running stats None only in training). In training the
    batch statistics normalise x and the running statistics are updated in place (they must
    be writable C-contiguous arrays; they are never copied). In inference the running
    statistics, eps, weight and bias are folded into one scale and shift per channel.
    """
    return batch_norm_forward(x, running_mean, running_var, weight, bias, training, momentum, eps)[0]


def batch_norm_forward(x: FloatArray, running_mean: FloatArray | None, running_var: FloatArray | None,
                       weight: FloatArray | None, bias: FloatArray | None, training: bool, momentum: float = 0.1,
                       eps: float = 1e-5, unbiased_running_var: bool = True,
                       ) -> tuple[FloatArray, FloatArray, FloatArray]:
    """:func:`batch_norm` returning ``(y, save_mean, save_invstd)`` for the backward.

    save_mean/save_invstd (C,): the batch mean and 1/sqrt(biased var + eps) in training, the
    running mean and 1/sqrt(running_var + eps) in inference. Reductions are deterministic
    (bit-identical for any thread count).
    """
    y, save_mean, save_invstd = _core.batch_norm_forward(
        contiguous(x), running_mean, running_var, contiguous(weight), contiguous(bias), bool(training),
        float(momentum), float(eps), bool(unbiased_running_var))
    return y, save_mean, save_invstd


def batch_norm_backward(grad_out: FloatArray, x: FloatArray, weight: FloatArray | None, save_mean: FloatArray,
                        save_invstd: FloatArray, training: bool = True) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Gradients of :func:`batch_norm_forward`: ``(grad_x, grad_weight, grad_bias)``.

    grad_weight = sum(grad_out * xhat), grad_bias = sum(grad_out) per channel. With
    training=True the gradient flows through the batch statistics; with training=False
    (frozen statistics) grad_x = grad_out * weight * save_invstd. weight None means gamma = 1.
    """
    grad_x, grad_weight, grad_bias = _core.batch_norm_backward(
        contiguous(grad_out), contiguous(x), contiguous(weight), contiguous(save_mean), contiguous(save_invstd),
        bool(training))
    return grad_x, grad_weight, grad_bias
