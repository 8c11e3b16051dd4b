"""Type aliases of nnkern's public API (on :mod:`numpy.typing`), for annotating code that uses it::

    from nnkern.typing import FloatArray

    def predict(net: nnkern.models.Net, x: FloatArray) -> FloatArray:
        return net.predict(x)

nnkern ships ``py.typed`` and a stub of its native module (``nnkern/_core.pyi``), so mypy and
IDEs check calls into nnkern; ``nnkern.functional``, ``nnkern.layers``, ``nnkern.optimizers``
and ``nnkern.models`` pass ``mypy --strict``.
"""
from typing import Any, TypeAlias

import numpy as np
from numpy.typing import NDArray

FloatArray: TypeAlias = NDArray[np.floating[Any]]
"""An array of float32 or float64: nnkern computes in the dtype it is given (not mixed)."""

IndexArray: TypeAlias = NDArray[np.int64]
"""int64 indices: max-pooling argmax positions, class labels."""

MaskArray: TypeAlias = NDArray[np.uint8]
"""A dropout mask: 1 where the element was kept."""

Labels: TypeAlias = NDArray[Any]
"""Targets of a loss: integer class labels (N,) or one-hot / probability rows (N, K)."""

IntOrPair: TypeAlias = int | tuple[int, int]
"""A kernel size, stride, padding or dilation: one int for both axes, or (height, width)."""

Shape: TypeAlias = tuple[int, ...]
"""An array shape; the models' ``input_dim`` is (C, H, W) without the batch axis."""

__all__ = ["FloatArray", "IndexArray", "MaskArray", "Labels", "IntOrPair", "Shape"]
