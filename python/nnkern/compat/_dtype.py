"""dtype handling shared by the compat layers: the book mixes float32 data with float64
parameters (NumPy promotes); the native kernels want one float dtype, C-contiguous."""
import numpy as np

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def common(*arrays):
    """The arrays (None passes through) as C-contiguous arrays of their promoted float dtype
    (float64 unless all are float32), like NumPy's promotion in the book's expressions."""
    present = [np.asarray(a) for a in arrays if a is not None]
    dt = np.result_type(*present) if present else np.dtype(np.float64)
    if dt not in _FLOATS:
        dt = np.dtype(np.float64)
    out = []
    for a in arrays:
        out.append(None if a is None else np.ascontiguousarray(a, dtype=dt))
    return out if len(out) > 1 else out[0]


def as_float(x):
    x = np.asarray(x)
    if x.dtype not in _FLOATS:
        x = x.astype(np.float64)
    return np.ascontiguousarray(x)
