"""Argument normalisation shared by the functional wrappers (no math here)."""
import numbers
from typing import Any, overload

import numpy as np
from numpy.typing import ArrayLike, NDArray


def pair(value: object, name: str) -> tuple[int, int]:
    """``int`` or a pair of ints -> ``(int, int)``; TypeError for anything else."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return (int(value), int(value))
    if isinstance(value, (tuple, list)) and len(value) == 2 and all(
        isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in value
    ):
        return (int(value[0]), int(value[1]))
    raise TypeError(f"{name} must be an int or a pair of ints, got {value!r}")


@overload
def contiguous(a: None) -> None: ...
@overload
def contiguous(a: ArrayLike) -> NDArray[Any]: ...
def contiguous(a: ArrayLike | None) -> NDArray[Any] | None:
    """The array itself when C-contiguous, else one documented copy."""
    if a is None:
        return None
    if not isinstance(a, np.ndarray):
        a = np.asarray(a)
    return a if a.flags.c_contiguous else np.ascontiguousarray(a)
