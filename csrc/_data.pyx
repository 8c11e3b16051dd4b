# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False
# cython: cdivision=True, embedsignature=True
"""nnkern._data: the per-batch hot loops of the data pipeline (Cython, OpenMP).

gather_batch      out[i] = src[idx[i]]                                   (float32/float64)
normalize         out = (src * scale - mean[c]) / std[c]                (uint8 -> float)
gather_normalize  both at once: out[i] = (src[idx[i]] * scale - mean[c]) / std[c]
augment           random crop with zero padding + horizontal flip (Krizhevsky et al. 2012)

Every function writes into a caller-provided ``out`` (checked before anything is written)
and returns it. The loops run ``prange`` over the samples of the batch, without the GIL,
with nnkern's thread count (``nnkern.set_num_threads``). Each sample's random crop offset
and flip come from a counter-based generator, splitmix64 of (seed, epoch, key[i]), so the
result depends on neither the thread count nor the batch composition. The NumPy reference
of each function, with the same name, is in ``nnkern.reference.data``.
"""
from cython.parallel cimport prange
from libc.stdint cimport int64_t, uint8_t, uint64_t
from libc.string cimport memcpy

import math

import numpy as np

from nnkern._core import get_num_threads

# Elements per thread below which another thread costs more (wake-up, barrier) than it saves.
# Results never depend on the thread count, only the speed does.
_GRAIN = 65536


def _nthreads(work):
    """nnkern's thread count, reduced so that each thread gets at least _GRAIN elements."""
    return max(1, min(get_num_threads(), work // _GRAIN))


ctypedef fused real:
    float
    double


# ---------------------------------------------------------------- counter-based RNG

cdef inline uint64_t _splitmix64(uint64_t x) noexcept nogil:
    # Steele, Lea, Flood: "Fast splittable pseudorandom number generators" (OOPSLA 2014).
    x = x + <uint64_t>0x9E3779B97F4A7C15
    x = (x ^ (x >> 30)) * <uint64_t>0xBF58476D1CE4E5B9
    x = (x ^ (x >> 27)) * <uint64_t>0x94D049BB133111EB
    return x ^ (x >> 31)


cdef inline uint64_t _sample_state(uint64_t seed, uint64_t epoch, uint64_t key) noexcept nogil:
    return _splitmix64(_splitmix64(_splitmix64(seed) ^ epoch) ^ key)


def splitmix64(x):
    """splitmix64 of one unsigned 64-bit integer (for tests and the reference)."""
    return int(_splitmix64(<uint64_t>(int(x) & 0xFFFFFFFFFFFFFFFF)))


# ---------------------------------------------------------------- argument checks

def _u64(name, v):
    v = int(v)
    if v < 0 or v >= 2 ** 64:
        raise ValueError(f"{name} must be an integer in [0, 2**64), got {v}")
    return v


def _array(fn, name, a, dtypes, ndim=None, min_ndim=1, writable=False):
    if not isinstance(a, np.ndarray):
        raise TypeError(f"{fn}: {name} must be a numpy.ndarray, got {type(a).__name__}")
    if a.dtype not in dtypes:
        raise TypeError(f"{fn}: {name} must be {' or '.join(str(np.dtype(d)) for d in dtypes)}, got {a.dtype}")
    if ndim is not None and a.ndim != ndim:
        raise ValueError(f"{fn}: {name} must be {ndim}-D, got shape {a.shape}")
    if a.ndim < min_ndim:
        raise ValueError(f"{fn}: {name} must have at least {min_ndim} dimensions, got shape {a.shape}")
    if not a.flags.c_contiguous:
        raise ValueError(f"{fn}: {name} must be C-contiguous (use numpy.ascontiguousarray, "
                         f"or the nnkern.data.pipeline wrapper)")
    if writable and not a.flags.writeable:
        raise ValueError(f"{fn}: {name} is read-only; the result is written into it")
    return a


_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
_UINT8 = (np.dtype(np.uint8),)
_INT64 = (np.dtype(np.int64),)


def _check_out(fn, out, shape, dtype):
    _array(fn, "out", out, _FLOATS, writable=True)
    if out.shape != tuple(shape):
        raise ValueError(f"{fn}: out must have shape {tuple(shape)}, got {out.shape}")
    if dtype is not None and out.dtype != dtype:
        raise TypeError(f"{fn}: out has dtype {out.dtype} but src has dtype {dtype}; mixed dtypes are not supported")


cdef void _min_max(const int64_t[::1] idx, int64_t* lo, int64_t* hi) noexcept nogil:
    cdef Py_ssize_t i
    lo[0] = idx[0]
    hi[0] = idx[0]
    for i in range(1, idx.shape[0]):
        if idx[i] < lo[0]:
            lo[0] = idx[i]
        if idx[i] > hi[0]:
            hi[0] = idx[i]


def _check_idx(fn, idx, n):
    _array(fn, "idx", idx, _INT64, ndim=1)
    cdef int64_t lo = 0, hi = 0
    if idx.shape[0]:
        _min_max(idx, &lo, &hi)
        if lo < 0 or hi >= n:
            bad = lo if lo < 0 else hi
            raise IndexError(f"{fn}: idx contains {bad}, out of range for src with {n} samples")


def _floats(fn, name, v, channels):
    if isinstance(v, (int, float)):
        vals = [float(v)]
    else:
        vals = [float(u) for u in np.asarray(v, dtype=np.float64).reshape(-1)]
    if len(vals) not in (1, channels):
        raise ValueError(f"{fn}: {name} must be a scalar or have one value per channel ({channels}), "
                         f"got {len(vals)} values")
    return vals * channels if len(vals) == 1 else vals


def _affine(fn, scale, mean, std, channels):
    """(a, b) per channel (float64) with (v * scale - mean) / std == v * a + b."""
    scale = float(scale)
    mean, std = _floats(fn, "mean", mean, channels), _floats(fn, "std", std, channels)
    if not (math.isfinite(scale) and all(math.isfinite(m) for m in mean)):
        raise ValueError(f"{fn}: scale and mean must be finite")
    if not all(math.isfinite(s) and s > 0 for s in std):
        raise ValueError(f"{fn}: std must be finite and > 0, got {std}")
    return (np.array([scale / s for s in std], dtype=np.float64),
            np.array([-m / s for m, s in zip(mean, std)], dtype=np.float64))


def _channels_view(a):
    """(N, C, L) view: channel axis 1 for (N, C, ...) with ndim >= 3, else C = 1."""
    n = a.shape[0]
    if a.ndim >= 3:
        return a.reshape(n, a.shape[1], _prod(a.shape[2:]))
    return a.reshape(n, 1, _prod(a.shape[1:]))


def _prod(shape):
    p = 1
    for d in shape:
        p *= int(d)
    return p


# ---------------------------------------------------------------- gather

cdef void _gather_rows(const real[:, ::1] src, const int64_t[::1] idx, real[:, ::1] out,
                       int nt) noexcept nogil:
    cdef Py_ssize_t i, b = out.shape[0], d = out.shape[1]
    if d == 0:
        return
    for i in prange(b, num_threads=nt, schedule="static"):
        memcpy(&out[i, 0], &src[idx[i], 0], d * sizeof(real))


cdef void _gather_rows_f(const float[:, ::1] src, const int64_t[::1] idx, float[:, ::1] out, int nt):
    with nogil:
        _gather_rows(src, idx, out, nt)


cdef void _gather_rows_d(const double[:, ::1] src, const int64_t[::1] idx, double[:, ::1] out, int nt):
    with nogil:
        _gather_rows(src, idx, out, nt)


def gather_batch(src, idx, out):
    """out[i] = src[idx[i]]: the rows of a shuffled batch, copied into a preallocated out.

    src: (N, ...) float32 or float64; idx: (B,) int64 in [0, N); out: (B, ...) like src.
    """
    fn = "gather_batch"
    _array(fn, "src", src, _FLOATS)
    _check_idx(fn, idx, src.shape[0])
    _check_out(fn, out, (idx.shape[0],) + src.shape[1:], src.dtype)
    d = _prod(src.shape[1:])
    s2, o2 = src.reshape(src.shape[0], d), out.reshape(out.shape[0], d)
    cdef int nt = _nthreads(out.size)
    if src.dtype == np.float32:
        _gather_rows_f(s2, idx, o2, nt)
    else:
        _gather_rows_d(s2, idx, o2, nt)
    return out


# ---------------------------------------------------------------- uint8 -> float normalisation

cdef inline void _affine_row(const uint8_t* s, real* o, Py_ssize_t l, real a, real b) noexcept nogil:
    cdef Py_ssize_t j
    for j in range(l):
        o[j] = <real>s[j] * a + b


cdef void _normalize_rows(const uint8_t[:, :, ::1] src, const int64_t[::1] idx, bint gather,
                          real[:, :, ::1] out, const double[::1] a, const double[::1] b,
                          int nt) noexcept nogil:
    cdef Py_ssize_t i, c, k, n = out.shape[0], ch = out.shape[1], l = out.shape[2]
    if l == 0 or ch == 0:
        return
    for i in prange(n, num_threads=nt, schedule="static"):
        k = idx[i] if gather else i
        for c in range(ch):
            _affine_row(&src[k, c, 0], &out[i, c, 0], l, <real>a[c], <real>b[c])


cdef void _normalize_f(const uint8_t[:, :, ::1] src, const int64_t[::1] idx, bint gather,
                       float[:, :, ::1] out, const double[::1] a, const double[::1] b, int nt):
    with nogil:
        _normalize_rows(src, idx, gather, out, a, b, nt)


cdef void _normalize_d(const uint8_t[:, :, ::1] src, const int64_t[::1] idx, bint gather,
                       double[:, :, ::1] out, const double[::1] a, const double[::1] b, int nt):
    with nogil:
        _normalize_rows(src, idx, gather, out, a, b, nt)


def _run_normalize(fn, src, idx, out, scale, mean, std):
    s3, o3 = _channels_view(src), _channels_view(out)
    a, b = _affine(fn, scale, mean, std, s3.shape[1])
    gather = idx is not None
    if not gather:
        idx = np.zeros(1, dtype=np.int64)  # unused
    cdef int nt = _nthreads(out.size)
    if out.dtype == np.float32:
        _normalize_f(s3, idx, gather, o3, a, b, nt)
    else:
        _normalize_d(s3, idx, gather, o3, a, b, nt)
    return out


def normalize(src, out, scale=1.0 / 255.0, mean=0.0, std=1.0):
    """out = (src * scale - mean) / std, uint8 pixels to float32/float64.

    src: (N, C, ...) or (N, D) uint8; out: same shape, float32 or float64. mean, std: a
    scalar or one value per channel (axis 1 when src has >= 3 dimensions). Computed as
    src * a + b with a = scale / std and b = -mean / std in out's precision.
    """
    fn = "normalize"
    _array(fn, "src", src, _UINT8)
    _check_out(fn, out, src.shape, None)
    return _run_normalize(fn, src, None, out, scale, mean, std)


def gather_normalize(src, idx, out, scale=1.0 / 255.0, mean=0.0, std=1.0):
    """out[i] = (src[idx[i]] * scale - mean) / std: gather and normalisation in one pass.

    src: (N, C, ...) or (N, D) uint8; idx: (B,) int64 in [0, N); out: (B, ...) float32/float64.
    """
    fn = "gather_normalize"
    _array(fn, "src", src, _UINT8)
    _check_idx(fn, idx, src.shape[0])
    _check_out(fn, out, (idx.shape[0],) + src.shape[1:], None)
    return _run_normalize(fn, src, idx, out, scale, mean, std)


# ---------------------------------------------------------------- augmentation

cdef inline void _crop_row(const real* s, real* o, Py_ssize_t ow, Py_ssize_t lo, Py_ssize_t hi,
                           Py_ssize_t shift, bint flip, real fill) noexcept nogil:
    # Crop column jj in [lo, hi) reads s[jj + shift]; the others are padding (fill).
    # With flip, out column j shows crop column ow - 1 - j.
    cdef Py_ssize_t j
    if not flip:
        for j in range(lo):
            o[j] = fill
        for j in range(lo, hi):
            o[j] = s[j + shift]
        for j in range(hi, ow):
            o[j] = fill
    else:
        for j in range(ow - hi):
            o[j] = fill
        for j in range(ow - hi, ow - lo):
            o[j] = s[ow - 1 - j + shift]
        for j in range(ow - lo, ow):
            o[j] = fill


cdef void _augment_one(const real[:, :, :, ::1] x, real[:, :, :, ::1] out, Py_ssize_t n,
                       Py_ssize_t dy, Py_ssize_t dx, bint flip, Py_ssize_t ph, Py_ssize_t pw,
                       real fill) noexcept nogil:
    cdef Py_ssize_t c, i, j, y
    cdef Py_ssize_t ch = x.shape[1], h = x.shape[2], w = x.shape[3]
    cdef Py_ssize_t oh = out.shape[2], ow = out.shape[3]
    # Padded column X = dx + jj reads source column X - pw, valid for 0 <= X - pw < w.
    cdef Py_ssize_t lo = pw - dx, hi = pw - dx + w
    if lo < 0:
        lo = 0
    if hi > ow:
        hi = ow
    if hi < lo:
        hi = lo
    for c in range(ch):
        for i in range(oh):
            y = dy + i - ph
            if y < 0 or y >= h or w == 0:
                for j in range(ow):
                    out[n, c, i, j] = fill
            else:
                _crop_row(&x[n, c, y, 0], &out[n, c, i, 0], ow, lo, hi, dx - pw, flip, fill)


cdef void _augment_all(const real[:, :, :, ::1] x, real[:, :, :, ::1] out, const int64_t[::1] keys,
                       uint64_t seed, uint64_t epoch, Py_ssize_t ph, Py_ssize_t pw, bint flip,
                       real fill, int nt) noexcept nogil:
    cdef Py_ssize_t n, bsz = x.shape[0], dy, dx
    cdef uint64_t st, ny = x.shape[2] + 2 * ph - out.shape[2] + 1, nx = x.shape[3] + 2 * pw - out.shape[3] + 1
    cdef bint f
    for n in prange(bsz, num_threads=nt, schedule="static"):
        st = _sample_state(seed, epoch, <uint64_t>keys[n])
        dy = <Py_ssize_t>(_splitmix64(st) % ny)
        dx = <Py_ssize_t>(_splitmix64(st + 1) % nx)
        f = flip and (_splitmix64(st + 2) >> 63) != 0
        _augment_one(x, out, n, dy, dx, f, ph, pw, fill)


cdef void _augment_f(const float[:, :, :, ::1] x, float[:, :, :, ::1] out, const int64_t[::1] keys,
                     uint64_t seed, uint64_t epoch, Py_ssize_t ph, Py_ssize_t pw, bint flip,
                     float fill, int nt):
    with nogil:
        _augment_all(x, out, keys, seed, epoch, ph, pw, flip, fill, nt)


cdef void _augment_d(const double[:, :, :, ::1] x, double[:, :, :, ::1] out, const int64_t[::1] keys,
                     uint64_t seed, uint64_t epoch, Py_ssize_t ph, Py_ssize_t pw, bint flip,
                     double fill, int nt):
    with nogil:
        _augment_all(x, out, keys, seed, epoch, ph, pw, flip, fill, nt)


def _pair(name, v):
    if isinstance(v, (tuple, list)) and len(v) == 2:
        p = (int(v[0]), int(v[1]))
    else:
        p = (int(v), int(v))
    if p[0] < 0 or p[1] < 0:
        raise ValueError(f"augment: {name} must be >= 0, got {v!r}")
    return p


def augment(x, out, keys, seed=0, epoch=0, padding=0, flip=True, fill=0.0):
    """Random crop of the zero-padded image plus random horizontal flip, per sample.

    x: (B, C, H, W) float32/float64; out: (B, C, OH, OW) like x, with OH <= H + 2*pad_h and
    OW <= W + 2*pad_w (OH, OW = H, W: CIFAR-style pad-and-crop; padding 0 and OH < H:
    AlexNet's 224 crops of 256 images). keys: (B,) int64, one counter per sample (e.g. the
    dataset index). Sample i's offsets dy in [0, H + 2*pad_h - OH], dx in [0, W + 2*pad_w - OW]
    and flip bit come from r_k = splitmix64(s + k), s = splitmix64(splitmix64(splitmix64(seed)
    ^ epoch) ^ keys[i]): dy = r_0 mod #dy, dx = r_1 mod #dx, flip = flip and r_2 >> 63.
    """
    fn = "augment"
    _array(fn, "x", x, _FLOATS, ndim=4)
    _array(fn, "out", out, _FLOATS, ndim=4, writable=True)
    if out.dtype != x.dtype:
        raise TypeError(f"{fn}: out has dtype {out.dtype} but x has dtype {x.dtype}; mixed dtypes are not supported")
    _array(fn, "keys", keys, _INT64, ndim=1)
    ph, pw = _pair("padding", padding)
    b, c, h, w = x.shape
    if keys.shape[0] != b:
        raise ValueError(f"{fn}: keys must have shape ({b},), got {keys.shape}")
    if out.shape[:2] != (b, c):
        raise ValueError(f"{fn}: out must have shape ({b}, {c}, OH, OW), got {out.shape}")
    oh, ow = out.shape[2:]
    if oh > h + 2 * ph or ow > w + 2 * pw:
        raise ValueError(f"{fn}: crop {oh}x{ow} is larger than the padded image {h + 2 * ph}x{w + 2 * pw}")
    s, e = _u64("seed", seed), _u64("epoch", epoch)
    cdef int nt = _nthreads(out.size)
    if x.dtype == np.float32:
        _augment_f(x, out, keys, s, e, ph, pw, bool(flip), float(fill), nt)
    else:
        _augment_d(x, out, keys, s, e, ph, pw, bool(flip), float(fill), nt)
    return out
