"""Batch normalization in NumPy (Ioffe & Szegedy 2015), after Deep Learning from Scratch's
BatchNormalization layer (common/layers.py): per feature for (N, D) input, per channel for
(N, C, H, W) input. The backward is the book's step-by-step chain rule (through xc, std,
var and mu), independent of the closed form that the native kernel uses.
"""
import numpy as np


def _axes(x):
    if x.ndim not in (2, 4):
        raise ValueError(f"x must be 2-D (N, D) or 4-D (N, C, H, W), got shape {x.shape}")
    return (0,) if x.ndim == 2 else (0, 2, 3)


def _bc(v, x):
    """(C,) -> broadcastable against x."""
    return np.asarray(v).reshape((1, -1) + (1,) * (x.ndim - 2))


def batch_norm(x, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5):
    """y only, as ``torch.nn.functional.batch_norm``."""
    return batch_norm_forward(x, running_mean, running_var, weight, bias, training, momentum, eps)[0]


def batch_norm_forward(x, running_mean, running_var, weight, bias, training, momentum=0.1, eps=1e-5,
                       unbiased_running_var=True):
    """(y, save_mean, save_invstd).

    Training: batch mean and biased variance; running stats (if not None) updated in place as
    running = (1 - momentum) * running + momentum * stat, with the unbiased variance when
    unbiased_running_var (torch's convention; the book's is momentum=1-0.9, biased).
    Inference: the running statistics. y = (x - mean) / sqrt(var + eps) * weight + bias.
    """
    axes = _axes(x)
    if training:
        m = x.size // x.shape[1]
        mean = x.mean(axis=axes, dtype=np.float64)
        var = ((x - _bc(mean, x)) ** 2).mean(axis=axes)
        if running_mean is not None:
            rv = var * m / (m - 1) if unbiased_running_var else var
            running_mean[...] = (1 - momentum) * running_mean + momentum * mean
            running_var[...] = (1 - momentum) * running_var + momentum * rv
    else:
        mean = np.asarray(running_mean, dtype=np.float64)
        var = np.asarray(running_var, dtype=np.float64)
    std = np.sqrt(var + eps)
    xn = (x - _bc(mean, x)) / _bc(std, x)
    y = xn * (1.0 if weight is None else _bc(weight, x)) + (0.0 if bias is None else _bc(bias, x))
    return y.astype(x.dtype), mean.astype(x.dtype), (1.0 / std).astype(x.dtype)


def batch_norm_backward(grad_out, x, weight, save_mean, save_invstd, training=True):
    """(grad_x, grad_weight, grad_bias) of batch_norm_forward (weight None: gamma = 1)."""
    axes = _axes(x)
    m = x.size // x.shape[1]
    gamma = 1.0 if weight is None else _bc(weight, x)
    std = 1.0 / _bc(save_invstd, x).astype(np.float64)
    xc = x - _bc(save_mean, x)
    xn = xc / std
    dbeta = grad_out.sum(axis=axes)
    dgamma = (xn * grad_out).sum(axis=axes)
    dxn = gamma * grad_out
    dxc = dxn / std
    if training:  # the batch statistics depend on x
        dstd = -np.sum(dxn * xc / (std * std), axis=axes, keepdims=True)
        dvar = 0.5 * dstd / std
        dxc = dxc + (2.0 / m) * xc * dvar
        dmu = np.sum(dxc, axis=axes, keepdims=True)
        dx = dxc - dmu / m
    else:
        dx = dxc
    return dx.astype(x.dtype), dgamma.astype(x.dtype), dbeta.astype(x.dtype)
