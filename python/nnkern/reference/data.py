"""NumPy reference of the data pipeline's per-batch loops (``nnkern._data``).

gather_batch, normalize, gather_normalize and augment have the same names and meaning
as the Cython functions; here they return new arrays instead of filling ``out``.
The random crop/flip of :func:`augment` uses the same counter-based generator
(splitmix64 of seed, epoch and a per-sample key), so both give identical batches.
"""
import numpy as np

_M64 = np.uint64(0xFFFFFFFFFFFFFFFF)


def splitmix64(x):
    """splitmix64 (Steele, Lea, Flood 2014) of a uint64 array, elementwise, wrapping."""
    x = np.asarray(x, dtype=np.uint64) + np.uint64(0x9E3779B97F4A7C15)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def augment_params(keys, seed, epoch, n_dy, n_dx, flip=True):
    """Per-sample (dy, dx, flipped) of :func:`augment`: dy in [0, n_dy), dx in [0, n_dx).

    s = splitmix64(splitmix64(splitmix64(seed) ^ epoch) ^ key); r_k = splitmix64(s + k);
    dy = r_0 mod n_dy, dx = r_1 mod n_dx, flipped = flip and the top bit of r_2.
    """
    keys = np.asarray(keys, dtype=np.int64).view(np.uint64).reshape(-1)
    s0 = splitmix64(np.array([seed], dtype=np.uint64))
    s1 = splitmix64(s0 ^ np.array([epoch], dtype=np.uint64))
    s = splitmix64(s1 ^ keys)
    dy = splitmix64(s) % np.uint64(n_dy)
    dx = splitmix64(s + np.uint64(1)) % np.uint64(n_dx)
    flipped = (splitmix64(s + np.uint64(2)) >> np.uint64(63)) == 1
    if not flip:
        flipped[:] = False
    return dy.astype(np.int64), dx.astype(np.int64), flipped


def gather_batch(src, idx):
    """src[idx]: the rows of a shuffled batch. src (N, ...); idx (B,) ints in [0, N)."""
    return np.asarray(src)[np.asarray(idx, dtype=np.int64)]


def _channel_params(src, mean, std):
    shape = (1, -1) + (1,) * (src.ndim - 2) if src.ndim >= 3 else (1, -1)
    return (np.asarray(mean, dtype=np.float64).reshape(shape),
            np.asarray(std, dtype=np.float64).reshape(shape))


def normalize(src, scale=1.0 / 255.0, mean=0.0, std=1.0, dtype=np.float32):
    """(src * scale - mean) / std in float64, returned as dtype. mean and std: a scalar or
    one value per channel (axis 1 when src has >= 3 dimensions)."""
    src = np.asarray(src)
    m, s = _channel_params(src, mean, std)
    return ((src.astype(np.float64) * scale - m) / s).astype(dtype)


def gather_normalize(src, idx, scale=1.0 / 255.0, mean=0.0, std=1.0, dtype=np.float32):
    """normalize(gather_batch(src, idx), ...)."""
    return normalize(gather_batch(src, idx), scale, mean, std, dtype)


def augment(x, keys, seed=0, epoch=0, padding=0, flip=True, fill=0.0, out_size=None):
    """Random crop of the padded image and random horizontal flip (Krizhevsky et al. 2012).

    x: (B, C, H, W); keys: (B,) int64 per-sample counters; padding: int or (ph, pw) of
    ``fill`` around each image; out_size: (OH, OW) of the crop, default (H, W).
    Returns (B, C, OH, OW): padded[:, dy:dy+OH, dx:dx+OW], mirrored left-right when flipped.
    """
    x = np.asarray(x)
    ph, pw = (padding, padding) if np.ndim(padding) == 0 else padding
    b, c, h, w = x.shape
    oh, ow = (h, w) if out_size is None else out_size
    padded = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=fill)
    dy, dx, flipped = augment_params(keys, seed, epoch, h + 2 * ph - oh + 1, w + 2 * pw - ow + 1, flip)
    out = np.empty((b, c, oh, ow), dtype=x.dtype)
    for i in range(b):
        crop = padded[i, :, dy[i]:dy[i] + oh, dx[i]:dx[i] + ow]
        out[i] = crop[:, :, ::-1] if flipped[i] else crop
    return out
