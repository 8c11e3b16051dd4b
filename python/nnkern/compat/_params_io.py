"""save_params/load_params of the book's networks, in the book's file format.

``save_params`` writes what the book's ``save_params`` writes: ``pickle.dump(params, f)`` of a
plain dict name -> float64 NumPy array (float32 parameters of compat's float32 mode are
written as float64), so the book's own scripts (``ch07/visualize_filter.py``, ``ch08``'s
``deep_convnet_params.pkl`` users) read files that nnkern wrote, with plain ``pickle.load``.
A name ending in ``.npz`` or ``.safetensors`` writes that format instead (nnkern's
:func:`nnkern.checkpoint.save_params`).

``load_params`` never runs ``pickle.load``: the book's pickles go through nnkern's allow-list
unpickler (NumPy arrays and dicts only, see :func:`nnkern.checkpoint.load_pickle_params`),
and .npz / .safetensors files are read by their readers. In compat's float32 mode the loaded
arrays are float32.
"""
import os
import pickle

import numpy as np

from ..checkpoint import load_params as _load
from ..checkpoint import save_params as _save
from ._dtype import param

NNKERN_SUFFIXES = (".npz", ".safetensors")


def save_params(params, file_name):
    """Write ``params`` (name -> array) to ``file_name`` as the book does (a pickled dict of
    float64 arrays), or as .npz / .safetensors by the name's suffix."""
    if os.fspath(file_name).endswith(NNKERN_SUFFIXES):
        return _save(file_name, params)
    book = {key: np.array(val, dtype=np.float64) for key, val in params.items()}  # plain C-ordered ndarrays
    with open(file_name, "wb") as f:
        pickle.dump(book, f)


def load_params(file_name):
    """name -> array of a file written by :func:`save_params` or by the book's scripts."""
    return {key: param(val) for key, val in _load(file_name).items()}
