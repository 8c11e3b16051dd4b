"""Max and average pooling in NumPy (NCHW), after Deep Learning from Scratch's Pooling
layer (common/layers.py), extended with padding, (KH, KW) pairs and torch's index convention.

Windows are gathered into a (N, C, OH, OW, KH*KW) array, one strided slice per tap.
"""
import numpy as np


def _pair(v):
    return (int(v), int(v)) if np.isscalar(v) else tuple(int(a) for a in v)


def pool_output_size(size, kernel, stride, pad):
    """floor((size + 2*pad - kernel) / stride) + 1 (torch's ceil_mode=False)."""
    return (size + 2 * pad - kernel) // stride + 1


def _params(shape, kernel_size, stride, padding):
    (kh, kw), (ph, pw) = _pair(kernel_size), _pair(padding)
    sh, sw = _pair(kernel_size if stride is None else stride)
    h, w = shape[2], shape[3]
    return kh, kw, sh, sw, ph, pw, pool_output_size(h, kh, sh, ph), pool_output_size(w, kw, sw, pw)


def _windows(img, kh, kw, sh, sw, oh, ow):
    """(N, C, OH, OW, KH*KW): tap (i, j) of window (oh, ow) is img[oh*sh + i, ow*sw + j]."""
    return np.stack([img[:, :, i:i + sh * (oh - 1) + 1:sh, j:j + sw * (ow - 1) + 1:sw]
                     for i in range(kh) for j in range(kw)], axis=-1)


def max_pool2d(x, kernel_size, stride=None, padding=0, return_indices=False):
    """y (N, C, OH, OW) = max over each window of x (N, C, H, W); padding acts as -inf.

    indices (int64): flat index ih*W + iw of the maximum inside its input plane, the first one
    in row-major window order (np.argmax's rule); a NaN in the window propagates.
    """
    n, c, h, w = x.shape
    kh, kw, sh, sw, ph, pw, oh, ow = _params(x.shape, kernel_size, stride, padding)
    pads = [(0, 0), (0, 0), (ph, ph), (pw, pw)]
    win = _windows(np.pad(x, pads, constant_values=-np.inf), kh, kw, sh, sw, oh, ow)
    y = win.max(axis=-1)  # NaN propagates
    if not return_indices:
        return y
    valid = _windows(np.pad(np.ones((1, 1, h, w), bool), pads), kh, kw, sh, sw, oh, ow)
    hit = valid & ((win == y[..., None]) | (np.isnan(win) & np.isnan(y)[..., None]))
    a = np.argmax(hit, axis=-1)  # first real element equal to the maximum
    ih = np.arange(oh)[:, None] * sh - ph + a // kw
    iw = np.arange(ow)[None, :] * sw - pw + a % kw
    return y, (ih * w + iw).astype(np.int64)


def max_pool2d_backward(grad_out, indices, input_shape):
    """grad_x (N, C, H, W): grad_out scattered (added) to the input elements that were maxima."""
    n, c, h, w = input_shape
    gx = np.zeros((n * c, h * w), dtype=grad_out.dtype)
    planes = np.arange(n * c)[:, None]
    np.add.at(gx, (planes, indices.reshape(n * c, -1)), grad_out.reshape(n * c, -1))
    return gx.reshape(n, c, h, w)


def _divisor(shape, kh, kw, sh, sw, ph, pw, oh, ow, count_include_pad):
    if count_include_pad:
        return kh * kw
    ones = np.pad(np.ones((1, 1, shape[2], shape[3])), [(0, 0), (0, 0), (ph, ph), (pw, pw)])
    return _windows(ones, kh, kw, sh, sw, oh, ow).sum(axis=-1)


def avg_pool2d(x, kernel_size, stride=None, padding=0, count_include_pad=True):
    """y (N, C, OH, OW) = mean over each window; the divisor is KH*KW, or with
    count_include_pad=False the number of input (non-padding) elements in the window."""
    kh, kw, sh, sw, ph, pw, oh, ow = _params(x.shape, kernel_size, stride, padding)
    img = np.pad(x, [(0, 0), (0, 0), (ph, ph), (pw, pw)])
    s = _windows(img, kh, kw, sh, sw, oh, ow).sum(axis=-1)
    return (s / _divisor(x.shape, kh, kw, sh, sw, ph, pw, oh, ow, count_include_pad)).astype(x.dtype)


def avg_pool2d_backward(grad_out, input_shape, kernel_size, stride=None, padding=0, count_include_pad=True):
    """grad_x (N, C, H, W): each grad_out element divided by its window's divisor and added
    to every input element of that window."""
    n, c, h, w = input_shape
    kh, kw, sh, sw, ph, pw, oh, ow = _params(input_shape, kernel_size, stride, padding)
    g = grad_out / _divisor(input_shape, kh, kw, sh, sw, ph, pw, oh, ow, count_include_pad)
    img = np.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=np.result_type(grad_out.dtype, g.dtype))
    for i in range(kh):
        for j in range(kw):
            img[:, :, i:i + sh * (oh - 1) + 1:sh, j:j + sw * (ow - 1) + 1:sw] += g
    return img[:, :, ph:ph + h, pw:pw + w].astype(grad_out.dtype)

