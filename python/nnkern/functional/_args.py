"""Argument normalisation shared by the functional wrappers (no math here)."""
import numbers
from typing import Any, overload

import numpy as np
from numpy.typing import ArrayLike, NDArray


def _int64(v: numbers.Integral, name: str) -> int:
    i = int(v)
    if not -2**63 <= i < 2**63:
        raise OverflowError(f"{name} {i} does not fit in a 64-bit integer")
    return i


def pair(value: object, name: str) -> tuple[int, int]:
    """``int`` or a pair of ints -> ``(int, int)``; TypeError for anything else, OverflowError
    beyond int64 (the kernels bound hyper-parameters further, to 2**31)."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return (_int64(value, name),) * 2
    if isinstance(value, (tuple, list)) and len(value) == 2 and all(
        isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in value
    ):
        return (_int64(value[0], name), _int64(value[1], name))
    raise TypeError(f"{name} must be an int or a pair of ints, got {value!r}")


@overload
def contiguous(a: None) -> None: ...
@overload
def contiguous(a: ArrayLike) -> NDArray[Any]: ...
def contiguous(a: ArrayLike | None) -> NDArray[Any] | None:
    """The array itself when C-contiguous and aligned, else one documented copy (never used for
    arrays that are updated in place)."""
    if a is None:
        return None
    if not isinstance(a, np.ndarray):
        a = np.asarray(a)
    return a if a.flags.c_contiguous and a.flags.aligned else np.array(a, order="C")
