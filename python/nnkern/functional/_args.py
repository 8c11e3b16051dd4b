"""Argument normalisation shared by the functional wrappers (no math here)."""
import numbers

import numpy as np


def pair(value, name):
    """``int`` or a pair of ints -> ``(int, int)``; TypeError for anything else."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return (int(value), int(value))
    if isinstance(value, (tuple, list)) and len(value) == 2 and all(
        isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in value
    ):
        return (int(value[0]), int(value[1]))
    raise TypeError(f"{name} must be an int or a pair of ints, got {value!r}")


def contiguous(a):
    """The array itself when C-contiguous, else one documented copy."""
    if a is None:
        return None
    if not isinstance(a, np.ndarray):
        a = np.asarray(a)
    return a if a.flags.c_contiguous else np.ascontiguousarray(a)
