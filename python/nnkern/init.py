"""Weight initialisers: n is the fan-in of the layer.

* a float: N(0, std^2) with that std (the book's ``weight_init_std=0.01``);
* ``'xavier'`` / ``'sigmoid'``: std 1/sqrt(n) (Glorot & Bengio 2010, as the book uses it);
* ``'he'`` / ``'relu'``: std sqrt(2/n) (He et al. 2015).

Also Keras' default ``glorot_uniform``: U(-l, l), l = sqrt(6 / (fan_in + fan_out)).
"""
import numbers
from typing import Any

import numpy as np
from numpy.typing import DTypeLike

from .typing import FloatArray, Shape


def xavier_std(fan_in: int) -> float:
    return float(np.sqrt(1.0 / fan_in))


def he_std(fan_in: int) -> float:
    return float(np.sqrt(2.0 / fan_in))


def init_std(weight_init_std: float | str, fan_in: int) -> float:
    """The standard deviation meant by ``weight_init_std`` for a layer of fan-in ``fan_in``."""
    if isinstance(weight_init_std, str):
        key = weight_init_std.lower()
        if key in ("relu", "he"):
            return he_std(fan_in)
        if key in ("sigmoid", "xavier"):
            return xavier_std(fan_in)
        raise ValueError(f"weight_init_std must be a float, 'relu'/'he' or 'sigmoid'/'xavier', got {weight_init_std!r}")
    if isinstance(weight_init_std, numbers.Real) and not isinstance(weight_init_std, bool):
        return float(weight_init_std)
    raise TypeError(f"weight_init_std must be a float or a string, got {weight_init_std!r}")


def normal(shape: Shape, std: float, rng: np.random.Generator | None = None, dtype: DTypeLike = np.float32,
           ) -> FloatArray:
    """std * N(0, 1) samples of ``shape`` in ``dtype`` (drawn in that dtype: no float64 copy)."""
    rng = np.random.default_rng() if rng is None else rng
    dt: np.dtype[np.floating[Any]] = np.dtype(dtype)  # type: ignore[assignment]  # numpy raises unless float32/64
    a = rng.standard_normal(shape, dtype=dt)
    a *= dt.type(std)
    return a


def weight(shape: Shape, weight_init_std: float | str, fan_in: int | None = None,
           rng: np.random.Generator | None = None, dtype: DTypeLike = np.float32) -> FloatArray:
    """A weight array: ``init_std(weight_init_std, fan_in) * N(0, 1)``; fan_in defaults to
    shape[0] for (in, out) matrices and C*KH*KW for (OC, C, KH, KW) filters."""
    if fan_in is None:
        fan_in = shape[0] if len(shape) == 2 else int(np.prod(shape[1:]))
    return normal(shape, init_std(weight_init_std, fan_in), rng, dtype)


def glorot_uniform(shape: Shape, fan_in: int, fan_out: int, rng: np.random.Generator | None = None,
                   dtype: DTypeLike = np.float32) -> FloatArray:
    rng = np.random.default_rng() if rng is None else rng
    lim = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-lim, lim, size=shape).astype(dtype)


def he_normal(shape: Shape, fan_in: int, rng: np.random.Generator | None = None, dtype: DTypeLike = np.float32,
              ) -> FloatArray:
    return normal(shape, he_std(fan_in), rng, dtype)


def xavier_normal(shape: Shape, fan_in: int, rng: np.random.Generator | None = None, dtype: DTypeLike = np.float32,
                  ) -> FloatArray:
    return normal(shape, xavier_std(fan_in), rng, dtype)
