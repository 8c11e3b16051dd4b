"""Local response normalization across channels in NumPy (Krizhevsky, Sutskever & Hinton 2012,
section 3.3): b_c = a_c / (k + alpha' * sum_{c'} a_{c'}^2)^beta over the channels
c' in [c - size//2, c + (size-1)//2] that exist. alpha' = alpha / size when alpha_over_size
(torch and Caffe), alpha' = alpha for the paper's formula.
"""
import numpy as np


def _window_sum(v, before, after):
    """Sum over channels [c - before, c + after] (clipped) for every channel c of v (N, C, H, W)."""
    c = v.shape[1]
    vp = np.pad(v, [(0, 0), (before, after), (0, 0), (0, 0)])
    return sum(vp[:, i:i + c] for i in range(before + after + 1))


def _denominator(x, size, alpha, k, alpha_over_size):
    a = alpha / size if alpha_over_size else alpha
    return k + a * _window_sum(x.astype(np.float64) ** 2, size // 2, (size - 1) // 2), a


def local_response_norm(x, size=5, alpha=1e-4, beta=0.75, k=2.0, alpha_over_size=True):
    """y (N, C, H, W) = x / d^beta with d = k + alpha' * window sum of x^2 across channels."""
    d, _ = _denominator(x, size, alpha, k, alpha_over_size)
    return (x * d ** -beta).astype(x.dtype)


def local_response_norm_backward(grad_out, x, size=5, alpha=1e-4, beta=0.75, k=2.0, alpha_over_size=True):
    """grad_x of local_response_norm:
    dL/dx_j = g_j d_j^-beta - 2 alpha' beta x_j sum_{c: j in window(c)} g_c x_c d_c^(-beta-1)."""
    d, a = _denominator(x, size, alpha, k, alpha_over_size)
    r = grad_out * x * d ** (-beta - 1)
    # channel j lies in the window of the channels c in [j - (size-1)//2, j + size//2]
    t = _window_sum(r, (size - 1) // 2, size // 2)
    return (grad_out * d ** -beta - 2.0 * a * beta * x * t).astype(x.dtype)

