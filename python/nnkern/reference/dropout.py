"""Dropout in NumPy (Srivastava et al. 2014; the book's common/layers.py Dropout), with the
counter-based mask of the native kernel: element i (C order) is kept iff u_i >= p, where
u_i is the top 53 bits of the i-th SplitMix64 output of ``seed`` (Steele, Lea & Flood 2014).
The mask is a function of (seed, i) alone, so native and reference masks are identical.
"""
import numpy as np

_GAMMA = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def splitmix64(seed, count):
    """The first ``count`` outputs of SplitMix64 seeded with ``seed`` (uint64 array)."""
    z = np.uint64(seed) + np.arange(1, count + 1, dtype=np.uint64) * _GAMMA  # wraps mod 2^64
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


def dropout_mask(shape, p, seed):
    """uint8 mask of ``shape``: 1 where u_i = (z_i >> 11) * 2^-53 >= p."""
    n = int(np.prod(shape))
    u = (splitmix64(seed, n) >> np.uint64(11)).astype(np.float64) * 2.0**-53
    return (u >= p).astype(np.uint8).reshape(shape)


def dropout(x, p=0.5, training=True, seed=0, inverted=True):
    """(y, mask), mask uint8 (1 = kept) of x's shape, None at inference.

    Training: y = x * mask / (1 - p) (inverted) or x * mask (the book).
    Inference: y = x (a copy) inverted, x * (1 - p) otherwise (the book)."""
    if not training:
        return (x.copy() if inverted else x * x.dtype.type(1 - p)), None
    mask = dropout_mask(x.shape, p, seed)
    y = x * mask
    if inverted:
        y = y / x.dtype.type(1 - p)
    return y.astype(x.dtype, copy=False), mask


def dropout_backward(grad_out, mask, p=0.5, inverted=True):
    """grad_x = grad_out * mask (/ (1 - p) when inverted)."""
    g = grad_out * mask
    if inverted:
        g = g / grad_out.dtype.type(1 - p)
    return g.astype(grad_out.dtype, copy=False)
