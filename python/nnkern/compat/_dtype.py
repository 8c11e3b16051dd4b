"""dtype handling shared by the compat layers, and compat's opt-in float32 mode.

The book mixes float32 data with float64 parameters and NumPy promotes: by default compat
does the same (:func:`common`), so its results are the book's, float64 GEMMs included.

``set_default_dtype(np.float32)`` (or ``NNKERN_COMPAT_DTYPE=float32`` in the environment,
read when nnkern.compat is imported) makes compat compute in float32, about twice as fast
in the book's MLP chapters (half the bytes per GEMM, twice the SIMD lanes):

* every compat layer computes in float32: float64 inputs and parameters are cast on the way
  in, so networks written in the book's chapters (ch05's TwoLayerNet, whose parameters
  ``np.random.randn`` makes float64) run in float32 unchanged; their float64 parameters
  then act as master weights that the optimizers update with the float32 gradients;
* compat's own networks (multi_layer_net, multi_layer_net_extend, simple_convnet,
  deep_convnet) create their parameters from the same ``np.random.randn`` draws, rounded to
  float32 (see :func:`param`), so nothing is cast per call;
* everything else is the book's: the formulas, the optimizers, ``np.random`` seeding,
  ``save_params`` (which still writes float64, the book's format).

The accuracy effect is float32 rounding (about 6e-8 relative per operation): training
curves of the book's chapters stay within run-to-run noise (see the README), but the
book's numerical gradient checks (h = 1e-4 central differences) need float64, the default.
"""
import os

import numpy as np

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
ENV = "NNKERN_COMPAT_DTYPE"
_default = np.dtype(np.float64)


def set_default_dtype(dtype):
    """Compute compat in ``dtype``: np.float32 (fast) or np.float64 (the book's default)."""
    global _default
    dt = np.dtype(dtype)
    if dt not in _FLOATS:
        raise TypeError(f"compat computes in float32 or float64, got {dt}")
    _default = dt


def get_default_dtype():
    """The dtype set by :func:`set_default_dtype` (float64 unless changed)."""
    return _default


def _from_environment():
    value = os.environ.get(ENV, "").strip().lower()
    if value not in ("", "float32", "float64"):
        raise ValueError(f"{ENV}={os.environ[ENV]!r}: use float32 or float64")
    if value:
        set_default_dtype(value)


def param(array):
    """A parameter array the way compat's networks create it: the book's float64 array, or
    that array rounded to float32 in float32 mode."""
    return array if _default == np.float64 else np.asarray(array, dtype=_default)


def common(*arrays):
    """The arrays (None passes through) as C-contiguous arrays of one float dtype: the
    promoted one (float64 unless all are float32), like NumPy's promotion in the book's
    expressions, or float32 for all in float32 mode."""
    present = [np.asarray(a) for a in arrays if a is not None]
    if _default == np.float32:
        dt = _default
    else:
        dt = np.result_type(*present) if present else np.dtype(np.float64)
        if dt not in _FLOATS:
            dt = np.dtype(np.float64)
    out = []
    for a in arrays:
        out.append(None if a is None else np.ascontiguousarray(a, dtype=dt))
    return out if len(out) > 1 else out[0]


def as_float(x):
    """x as a C-contiguous float array: its own float dtype (other dtypes become float64), or
    float32 in float32 mode."""
    x = np.asarray(x)
    if _default == np.float32:
        return np.ascontiguousarray(x, dtype=_default)
    if x.dtype not in _FLOATS:
        x = x.astype(np.float64)
    return np.ascontiguousarray(x)


_from_environment()
