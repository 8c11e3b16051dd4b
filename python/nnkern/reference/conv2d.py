"""im2col convolution in NumPy, after Deep Learning from Scratch (common/util.py and
common/layers.py), extended with stride/padding/dilation pairs and groups.

Layout: cols has one row per output pixel (n, oh, ow) and columns ordered (c, kh, kw).
"""
import numpy as np


def _pair(v):
    return (v, v) if np.isscalar(v) else tuple(v)


def conv_output_size(size, kernel, stride=1, pad=0, dilation=1):
    """Output length of a convolution along one axis (an int, unlike the book's `/`)."""
    return (size + 2 * pad - dilation * (kernel - 1) - 1) // stride + 1


def im2col(x, kernel_size, stride=1, padding=0, dilation=1):
    """x (N, C, H, W) -> cols (N*OH*OW, C*KH*KW); padding reads as 0."""
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = map(_pair, (kernel_size, stride, padding, dilation))
    n, c, h, w = x.shape
    oh, ow = conv_output_size(h, kh, sh, ph, dh), conv_output_size(w, kw, sw, pw, dw)
    img = np.pad(x, [(0, 0), (0, 0), (ph, ph), (pw, pw)])
    col = np.empty((n, c, kh, kw, oh, ow), dtype=x.dtype)
    for i in range(kh):
        for j in range(kw):
            y0, x0 = i * dh, j * dw
            col[:, :, i, j] = img[:, :, y0:y0 + sh * (oh - 1) + 1:sh, x0:x0 + sw * (ow - 1) + 1:sw]
    return col.transpose(0, 4, 5, 1, 2, 3).reshape(n * oh * ow, -1)


def col2im(cols, input_shape, kernel_size, stride=1, padding=0, dilation=1):
    """Adjoint of im2col: scatter-add cols (N*OH*OW, C*KH*KW) into (N, C, H, W)."""
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = map(_pair, (kernel_size, stride, padding, dilation))
    n, c, h, w = input_shape
    oh, ow = conv_output_size(h, kh, sh, ph, dh), conv_output_size(w, kw, sw, pw, dw)
    col = cols.reshape(n, oh, ow, c, kh, kw).transpose(0, 3, 4, 5, 1, 2)
    img = np.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=cols.dtype)
    for i in range(kh):
        for j in range(kw):
            y0, x0 = i * dh, j * dw
            img[:, :, y0:y0 + sh * (oh - 1) + 1:sh, x0:x0 + sw * (ow - 1) + 1:sw] += col[:, :, i, j]
    return img[:, :, ph:ph + h, pw:pw + w].copy()


def _group_views(cols, weight, groups):
    """Per group g: (cols_g (M, C/g*KH*KW), w_g (OC/g, C/g*KH*KW))."""
    oc = weight.shape[0]
    wmat = weight.reshape(oc, -1)
    kg, og = wmat.shape[1], oc // groups
    return [(cols[:, g * kg:(g + 1) * kg], wmat[g * og:(g + 1) * og]) for g in range(groups)]


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, algo="auto"):
    """y (N, OC, OH, OW) = conv(x (N, C, H, W), weight (OC, C/groups, KH, KW)) + bias.
    ``algo`` is accepted for parity with nnkern.functional and ignored (one algorithm here)."""
    n, _, h, w = x.shape
    oc, _, kh, kw = weight.shape
    (sh, sw), (ph, pw), (dh, dw) = map(_pair, (stride, padding, dilation))
    oh, ow = conv_output_size(h, kh, sh, ph, dh), conv_output_size(w, kw, sw, pw, dw)
    cols = im2col(x, (kh, kw), stride, padding, dilation)
    out = np.concatenate([cg @ wg.T for cg, wg in _group_views(cols, weight, groups)], axis=1)
    if bias is not None:
        out = out + bias
    return out.reshape(n, oh, ow, oc).transpose(0, 3, 1, 2).astype(x.dtype, copy=False)


def conv2d_backward(grad_out, x, weight, stride=1, padding=0, dilation=1, groups=1,
                    output_mask=(True, True, True), algo="auto"):
    """(grad_x, grad_weight, grad_bias) of conv2d for grad_out (N, OC, OH, OW); the gradients
    that ``output_mask`` does not select are None (torch's ``convolution_backward``).
    ``algo`` is ignored, as in :func:`conv2d`."""
    need_x, need_w, need_b = output_mask
    oc, _, kh, kw = weight.shape
    og = oc // groups
    cols = im2col(x, (kh, kw), stride, padding, dilation)
    dout = grad_out.transpose(0, 2, 3, 1).reshape(-1, oc)
    grad_bias = grad_out.sum(axis=(0, 2, 3)) if need_b else None
    gws, dcols = [], []
    for g, (cg, wg) in enumerate(_group_views(cols, weight, groups)):
        dg = dout[:, g * og:(g + 1) * og]
        if need_w:
            gws.append(dg.T @ cg)
        if need_x:
            dcols.append(dg @ wg)
    grad_weight = np.concatenate(gws, axis=0).reshape(weight.shape) if need_w else None
    grad_x = col2im(np.concatenate(dcols, axis=1), x.shape, (kh, kw), stride, padding, dilation) if need_x else None
    return grad_x, grad_weight, grad_bias
