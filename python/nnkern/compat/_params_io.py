"""save_params/load_params of the book's networks without pickle.

``load_params`` reads the book's pickled files (``params.pkl``, ``deep_convnet_params.pkl``)
through nnkern's allow-list unpickler (arrays and dicts only) and also nnkern's .npz files;
``save_params`` writes .npz (never pickle), whatever the file name says. This is the one
place where compat deliberately differs from the book's file format.
"""
from ..checkpoint import load_params as _load
from ..checkpoint import save_params as _save


def save_params(params, file_name):
    _save(file_name, params)


def load_params(file_name):
    return _load(file_name)
