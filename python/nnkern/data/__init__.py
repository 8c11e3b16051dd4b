"""Datasets and the training data pipeline.

Loaders (never download): :func:`load_digits` (the embedded UCI handwritten digits),
:func:`load_mnist` (local MNIST / Fashion-MNIST IDX files or an .npz), :func:`load_npz`,
:func:`load_idx`, :func:`load_data`. Bad files raise :class:`DataError`.
Pipeline: :class:`BatchLoader` with :class:`Augment`, on the Cython loops of ``nnkern._data``
(:func:`gather_batch`, :func:`normalize`, :func:`gather_normalize`, :func:`augment`).
"""
from .datasets import load_data, load_digits, load_mnist, load_npz
from .errors import DataError, DataFileNotFoundError
from .idx import load_idx
from .pipeline import Augment, BatchLoader, augment, gather_batch, gather_normalize, normalize, shuffle_indices

__all__ = ["DataError", "DataFileNotFoundError", "load_data", "load_digits", "load_idx", "load_mnist",
           "load_npz", "Augment", "BatchLoader", "augment", "gather_batch", "gather_normalize", "normalize",
           "shuffle_indices"]
