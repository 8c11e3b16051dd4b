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


cdef extern from "nnk_common.h" namespace "nnk::grain":
    const int64_t kData  # the grains of every kernel are one table, in src/nnk_common.h

# Elements per thread below which another thread costs more (wake-up, barrier) than it saves.
# Results never depend on the thread count, only the speed does.
_GRAIN = kData


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


include "_data_checks.pxi"


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
    _check_out(fn, out, (idx.shape[0],) + src.shape[1:], src.dtype, (("src", src), ("idx", idx)))
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
    _check_out(fn, out, src.shape, None, (("src", src),))
    return _run_normalize(fn, src, None, out, scale, mean, std)


def gather_normalize(src, idx, out, scale=1.0 / 255.0, mean=0.0, std=1.0):
    """out[i] = (src[idx[i]] * scale - mean) / std: gather and normalisation in one pass.

    src: (N, C, ...) or (N, D) uint8; idx: (B,) int64 in [0, N); out: (B, ...) float32/float64.
    """
    fn = "gather_normalize"
    _array(fn, "src", src, _UINT8)
    _check_idx(fn, idx, src.shape[0])
    _check_out(fn, out, (idx.shape[0],) + src.shape[1:], None, (("src", src), ("idx", idx)))
    return _run_normalize(fn, src, idx, out, scale, mean, std)


include "_data_augment.pxi"
