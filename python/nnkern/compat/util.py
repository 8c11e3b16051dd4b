# Mirrors the book's common/util.py on purpose (names and signatures).
"""The book's ``common/util.py``: smooth_curve, shuffle_dataset, conv_output_size, and
im2col/col2im on the native kernels (same layout: one row per output pixel)."""
import numpy as np

from .. import functional as F
from ._dtype import as_float

# What the book's ``from common.util import *`` binds (not F, as_float).
__all__ = ["np", "smooth_curve", "shuffle_dataset", "conv_output_size", "im2col", "col2im"]


def smooth_curve(x):
    """Smoothing of a loss curve with an 11-tap Kaiser window (the book's plotting helper)."""
    window_len = 11
    s = np.r_[x[window_len - 1:0:-1], x, x[-1:-window_len:-1]]
    w = np.kaiser(window_len, 2)
    y = np.convolve(w / w.sum(), s, mode="valid")
    return y[5:len(y) - 5]


def shuffle_dataset(x, t):
    permutation = np.random.permutation(x.shape[0])
    x = x[permutation, :] if x.ndim == 2 else x[permutation, :, :, :]
    t = t[permutation]
    return x, t


def conv_output_size(input_size, filter_size, stride=1, pad=0):
    return (input_size + 2 * pad - filter_size) / stride + 1


def im2col(input_data, filter_h, filter_w, stride=1, pad=0):
    """(N, C, H, W) -> (N*out_h*out_w, C*filter_h*filter_w)."""
    return F.im2col(as_float(input_data), (filter_h, filter_w), stride, pad)


def col2im(col, input_shape, filter_h, filter_w, stride=1, pad=0):
    """Adjoint of im2col: overlapping entries are summed."""
    return F.col2im(as_float(col), input_shape, (filter_h, filter_w), stride, pad)
