"""Checkpoints without pickle, and a safe reader for the book's pickled parameter files.

``save(path, model, optimizer=None)`` writes one ``.npz``: the parameters (``params/<name>``),
the batch-norm running statistics (``buffers/<name>``), the optimizer's state arrays
(``optimizer/<n>``) and a JSON header (``__meta__``) with the model class, the names and the
optimizer's non-array state. ``load(path, model, optimizer=None)`` reads it with
``allow_pickle=False`` and copies the values *into* the model's existing arrays (so layers and
optimizers keep their references), after checking that names and shapes match.

``load_pickle_params(path)`` reads the book's ``params.pkl`` / ``deep_convnet_params.pkl``
(a dict of NumPy arrays) through an unpickler that only resolves the handful of NumPy
callables needed to rebuild arrays and dtypes; any other global (``os.system``, a class,
...) raises :class:`UnsafePickleError` before it is called.
"""
import io
import json
import pickle

import numpy as np

FORMAT = "nnkern-checkpoint-1"


class CheckpointError(ValueError):
    """A checkpoint that does not fit the model (names, shapes) or is not an nnkern checkpoint."""


class UnsafePickleError(pickle.UnpicklingError):
    """A pickle that asks for something other than NumPy arrays, dtypes and dicts."""


# -- npz checkpoints ---------------------------------------------------------------------
def _state_of(model):
    params = dict(model.params)
    buffers = model.buffers() if hasattr(model, "buffers") else {}
    return params, buffers


def _encode(obj, arrays, path):
    if isinstance(obj, np.ndarray):
        key = f"optimizer/{len(arrays)}"
        arrays[key] = obj
        return {"__array__": key}
    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            if not isinstance(k, str):
                raise TypeError(f"optimizer state key {k!r} at {path} is not a string")
            out[k] = _encode(v, arrays, f"{path}/{k}")
        return {"__dict__": out}
    if isinstance(obj, (list, tuple)):
        return {"__list__": [_encode(v, arrays, f"{path}[{i}]") for i, v in enumerate(obj)]}
    if isinstance(obj, np.generic):
        return obj.item()
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f"optimizer state at {path} has unsupported type {type(obj).__name__}")


def _decode(obj, data):
    if isinstance(obj, dict):
        if "__array__" in obj:
            return np.array(data[obj["__array__"]])
        if "__dict__" in obj:
            return {k: _decode(v, data) for k, v in obj["__dict__"].items()}
        if "__list__" in obj:
            return [_decode(v, data) for v in obj["__list__"]]
    return obj


def save(path, model, optimizer=None):
    """Write model parameters, buffers and (optionally) the optimizer state to ``path`` (.npz)."""
    params, buffers = _state_of(model)
    arrays = {f"params/{k}": np.asarray(v) for k, v in params.items()}
    arrays.update({f"buffers/{k}": np.asarray(v) for k, v in buffers.items()})
    meta = {"format": FORMAT, "model": type(model).__name__, "params": list(params), "buffers": list(buffers)}
    if optimizer is not None:
        meta["optimizer"] = type(optimizer).__name__
        meta["optimizer_state"] = _encode(optimizer.state_dict(), arrays, "state")
    arrays["__meta__"] = np.array(json.dumps(meta))
    with open(path, "wb") as f:
        np.savez(f, **arrays)


def _read(path):
    try:
        with np.load(path, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
    except ValueError as e:  # object arrays need pickle: refused
        raise CheckpointError(f"{path}: not a pickle-free nnkern checkpoint ({e})") from None
    if "__meta__" not in data:
        raise CheckpointError(f"{path}: not an nnkern checkpoint (no __meta__ entry)")
    meta = json.loads(str(data.pop("__meta__")))
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"{path}: unknown checkpoint format {meta.get('format')!r}")
    return meta, data


def _check_shapes(kind, target, source, path):
    for k, dst in target.items():
        src = source[k]
        if src.shape != dst.shape:
            raise CheckpointError(f"{path}: {kind} {k!r} has shape {src.shape} in the file, "
                                  f"{dst.shape} in the model")


def load(path, model, optimizer=None):
    """Load a checkpoint written by :func:`save` into ``model`` (and ``optimizer``) in place.

    Raises CheckpointError naming the missing/unexpected names or the first shape mismatch;
    nothing is written unless everything fits. Returns the checkpoint's metadata dict.
    """
    meta, data = _read(path)
    params, buffers = _state_of(model)
    src_p = {k[len("params/"):]: v for k, v in data.items() if k.startswith("params/")}
    src_b = {k[len("buffers/"):]: v for k, v in data.items() if k.startswith("buffers/")}
    # check both before writing either
    for kind, tgt, src in (("parameters", params, src_p), ("buffers", buffers, src_b)):
        missing, unexpected = sorted(set(tgt) - set(src)), sorted(set(src) - set(tgt))
        if missing or unexpected:
            raise CheckpointError(f"{path}: {kind} do not match the model ({meta.get('model')} checkpoint into "
                                  f"{type(model).__name__}): missing {missing}, unexpected {unexpected}")
    _check_shapes("parameter", params, src_p, path)
    _check_shapes("buffer", buffers, src_b, path)
    for tgt, src in ((params, src_p), (buffers, src_b)):
        for k, dst in tgt.items():
            np.copyto(dst, src[k], casting="unsafe")
    if optimizer is not None:
        if "optimizer_state" not in meta:
            raise CheckpointError(f"{path}: the checkpoint holds no optimizer state")
        optimizer.load_state_dict(_decode(meta["optimizer_state"], data))
    return meta


def save_params(path, params):
    """Write a plain dict name -> array to ``path`` (.npz, no pickle)."""
    with open(path, "wb") as f:
        np.savez(f, **{k: np.asarray(v) for k, v in params.items()})


def _is_pickle(path):
    """True when the file starts like a pickle (protocol 2+ opcode, or protocol 0/1 dict/mark)."""
    with open(path, "rb") as f:
        head = f.read(1)
    return head in (b"\x80", b"(", b"}")


def load_params(path):
    """Read a dict name -> array: an .npz written by :func:`save_params` / :func:`save`
    (``params/`` entries) or, for files that start like a pickle, :func:`load_pickle_params`."""
    if _is_pickle(path):
        return load_pickle_params(path)
    with np.load(path, allow_pickle=False) as z:
        data = {k: np.array(z[k]) for k in z.files}
    if "__meta__" in data:
        return {k[len("params/"):]: v for k, v in data.items() if k.startswith("params/")}
    return data


# -- the allow-list unpickler ------------------------------------------------------------
_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer"),
    ("numpy", "ndarray"), ("numpy", "dtype"),
    ("collections", "OrderedDict"),
    ("_codecs", "encode"),  # protocol-2 pickles spell bytes as _codecs.encode(str, 'latin1')
}


class _SafeUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) in _ALLOWED:
            return super().find_class(module, name)
        raise UnsafePickleError(
            f"refusing to unpickle {module}.{name}: only NumPy arrays, dtypes and dicts are allowed in a "
            f"parameter file (this file may run code when loaded with plain pickle)")


def _check_tree(obj, path="params"):
    if isinstance(obj, np.ndarray):
        if obj.dtype.hasobject:
            raise UnsafePickleError(f"{path}: object arrays are not allowed")
        return
    if isinstance(obj, dict):
        for k, v in obj.items():
            if not isinstance(k, (str, int)):
                raise UnsafePickleError(f"{path}: key {k!r} is not a string")
            _check_tree(v, f"{path}[{k!r}]")
        return
    if isinstance(obj, (int, float, str, bool, np.generic)) or obj is None:
        return
    raise UnsafePickleError(f"{path}: unexpected {type(obj).__name__} in a parameter file")


def load_pickle_params(path_or_bytes):
    """The book's pickled parameter dict (``params.pkl``), read with an allow-list unpickler.

    Only ``numpy`` array/dtype reconstruction and dicts are accepted; anything else raises
    :class:`UnsafePickleError` *before* it could be called. Returns ``{name: ndarray}``.
    """
    if isinstance(path_or_bytes, (bytes, bytearray)):
        f = io.BytesIO(path_or_bytes)
        obj = _SafeUnpickler(f).load()
    else:
        with open(path_or_bytes, "rb") as f:
            obj = _SafeUnpickler(f).load()
    if not isinstance(obj, dict):
        raise UnsafePickleError(f"a parameter file must hold a dict, got {type(obj).__name__}")
    _check_tree(obj)
    return dict(obj)
