# Included by _data.pyx (one extension module, nnkern._data): random crop + flip augmentation.


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
    _no_overlap(fn, out, (("x", x), ("keys", keys)))
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
