# Included by _data.pyx (one extension module, nnkern._data): argument checks of its functions.


def _u64(name, v):
    v = int(v)
    if v < 0 or v >= 2 ** 64:
        raise ValueError(f"{name} must be an integer in [0, 2**64), got {v}")
    return v


def _array(fn, name, a, dtypes, ndim=None, min_ndim=1, writable=False):
    if not isinstance(a, np.ndarray):
        raise TypeError(f"{fn}: {name} must be a numpy.ndarray, got {type(a).__name__}")
    if not a.dtype.isnative:
        raise TypeError(f"{fn}: {name} has dtype {a.dtype.str} of non-native byte order; nnkern reads native-order "
                        f"arrays only: convert it first (a.astype(a.dtype.newbyteorder('=')))")
    if a.dtype not in dtypes:
        raise TypeError(f"{fn}: {name} must be {' or '.join(str(np.dtype(d)) for d in dtypes)}, got {a.dtype}")
    if ndim is not None and a.ndim != ndim:
        raise ValueError(f"{fn}: {name} must be {ndim}-D, got shape {a.shape}")
    if a.ndim < min_ndim:
        raise ValueError(f"{fn}: {name} must have at least {min_ndim} dimensions, got shape {a.shape}")
    if not a.flags.c_contiguous:
        raise ValueError(f"{fn}: {name} must be C-contiguous (use numpy.ascontiguousarray, "
                         f"or the nnkern.data.pipeline wrapper)")
    if not a.flags.aligned:
        raise ValueError(f"{fn}: {name} is not aligned to its {a.itemsize}-byte elements (a view at an odd byte "
                         f"offset?): pass a copy (numpy.array(a)) or use the nnkern.data.pipeline wrapper")
    if writable and not a.flags.writeable:
        raise ValueError(f"{fn}: {name} is read-only; the result is written into it")
    return a


_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
_UINT8 = (np.dtype(np.uint8),)
_INT64 = (np.dtype(np.int64),)


def _no_overlap(fn, out, inputs):
    """out shares no memory with the (name, array) inputs that the loop reads while writing it."""
    for name, a in inputs:
        if np.may_share_memory(out, a):
            raise ValueError(f"{fn}: out and {name} share memory; out is written while {name} is read")


def _check_out(fn, out, shape, dtype, inputs=()):
    """out: a writable float array of shape (and dtype), sharing no memory with the inputs."""
    _array(fn, "out", out, _FLOATS, writable=True)
    _no_overlap(fn, out, inputs)
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
