"""Checkpoints without pickle, and a safe reader for the book's pickled parameter files.

``save(path, model, optimizer=None)`` writes one ``.npz``: the parameters (``params/<name>``),
the batch-norm running statistics (``buffers/<name>``), the optimizer's state arrays
(``optimizer/<n>``) and a JSON header (``__meta__``) with the model class, the names and the
optimizer's non-array state. ``load(path, model, optimizer=None)`` reads it without pickle and
copies the values *into* the model's existing arrays (so layers and optimizers keep their
references), all or nothing: names, shapes and dtypes are checked from the members' headers
before any data is read (so a forged size cannot allocate more than the model holds), and
the optimizer state is loaded into a copy of the optimizer before anything is written.

``load_pickle_params(path)`` reads the book's ``params.pkl`` / ``deep_convnet_params.pkl``
(a dict of NumPy arrays) through an unpickler that only resolves the handful of NumPy
callables needed to rebuild arrays and dtypes; any other global (``os.system``, a class,
...) raises :class:`UnsafePickleError` before it is called (see ``nnkern._safe_pickle``).

Every unreadable file (not a zip, truncated, corrupted, bad JSON, nested too deeply, over a
size limit) raises :class:`CheckpointError` (a ``ValueError``) naming the file.

A path ending in ``.safetensors`` is written and read as safetensors instead (the same
members and header, see ``nnkern._safetensors``), through the same checks. The header also
describes the model (``config``, see ``nnkern._model_config``), so ``nnkern export-onnx``
rebuilds it from the file alone.
"""
import copy
import json
import os

import numpy as np

from . import _safe_pickle
from ._checkpoint_errors import CheckpointError, UnsafePickleError
from ._npz_reader import NpzReader, reading

FORMAT = "nnkern-checkpoint-1"
MAX_META_BYTES = 16 << 20  # the JSON header of a checkpoint
MAX_STATE_DEPTH = 32       # nesting of the optimizer state in that header
MAX_ARRAY_BYTES = 1 << 32  # one array of a parameter file read without a model to size it (load_params)
_NUMERIC = "biuf"          # dtype kinds a parameter or buffer may be loaded from

__all__ = ["save", "load", "save_params", "load_params", "load_pickle_params", "CheckpointError",
           "UnsafePickleError", "FORMAT"]


# -- npz checkpoints ---------------------------------------------------------------------
def _is_safetensors(path):
    return isinstance(path, (str, os.PathLike)) and os.fspath(path).endswith(".safetensors")


def _open(path):
    """The reader of a checkpoint file: safetensors by its suffix, else .npz."""
    if _is_safetensors(path):
        from ._safetensors import SafetensorsReader
        return SafetensorsReader(path)
    return NpzReader(path)


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


def save(path, model, optimizer=None):
    """Write model parameters, buffers and (optionally) the optimizer state to ``path`` (.npz,
    or safetensors when the name ends in ``.safetensors``)."""
    from ._model_config import describe
    params, buffers = _state_of(model)
    arrays = {f"params/{k}": np.asarray(v) for k, v in params.items()}
    arrays.update({f"buffers/{k}": np.asarray(v) for k, v in buffers.items()})
    meta = {"format": FORMAT, "model": type(model).__name__, "params": list(params), "buffers": list(buffers)}
    config = describe(model)
    if config is not None:
        meta["config"] = config
    if optimizer is not None:
        meta["optimizer"] = type(optimizer).__name__
        meta["optimizer_state"] = _encode(optimizer.state_dict(), arrays, "state")
    if _is_safetensors(path):
        from ._safetensors import write
        return write(path, arrays, meta)
    arrays["__meta__"] = np.array(json.dumps(meta))
    with open(path, "wb") as f:
        np.savez(f, **arrays)


def _read_meta(z):
    if not isinstance(z, NpzReader):  # safetensors: the metadata of the file's header
        meta = z.meta()
    elif "__meta__" not in z:
        raise CheckpointError(f"{z.path}: not an nnkern checkpoint (no __meta__ entry)")
    else:
        h = z.header("__meta__")
        if h.dtype.kind != "U" or h.shape != ():
            raise CheckpointError(f"{z.path}: not an nnkern checkpoint (__meta__ is {h.dtype}{h.shape}, not a string)")
        with reading(z.path):
            meta = json.loads(str(z.read("__meta__", MAX_META_BYTES)))
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(f"{z.path}: unknown checkpoint format "
                              f"{meta.get('format') if isinstance(meta, dict) else meta!r}")
    return meta


def _state_refs(tree, path):
    """Check the encoded optimizer state (bounded depth, known node kinds) and return
    {member: state key} of its arrays (the key is the top-level entry, e.g. 'm.W1')."""
    refs, stack = {}, [(tree, None, 0)]
    while stack:
        node, key, depth = stack.pop()
        if depth > MAX_STATE_DEPTH:
            raise CheckpointError(f"{path}: optimizer state nested deeper than {MAX_STATE_DEPTH} levels")
        if isinstance(node, dict):
            if len(node) != 1 or not ({"__array__", "__dict__", "__list__"} & set(node)):
                raise CheckpointError(f"{path}: malformed optimizer state node {str(node)[:80]}")
            kind, v = next(iter(node.items()))
            if kind == "__array__":
                if not isinstance(v, str) or not v.startswith("optimizer/"):
                    raise CheckpointError(f"{path}: malformed optimizer array reference {v!r}")
                refs[v] = key
            elif kind == "__dict__" and isinstance(v, dict):
                stack.extend((c, k if depth == 0 else key, depth + 1) for k, c in v.items())
            elif kind == "__list__" and isinstance(v, list):
                stack.extend((c, key, depth + 1) for c in v)
            else:
                raise CheckpointError(f"{path}: malformed optimizer state node {kind!r}")
        elif isinstance(node, list):
            raise CheckpointError(f"{path}: malformed optimizer state (a bare list)")
    return refs


def _decode(obj, arrays):
    if isinstance(obj, dict):
        kind, v = next(iter(obj.items()))
        if kind == "__array__":
            return arrays[v]
        if kind == "__dict__":
            return {k: _decode(c, arrays) for k, c in v.items()}
        return [_decode(c, arrays) for c in v]
    return obj


def _expected_shapes(z, meta, model_type, params, buffers, optimizer):
    """member -> (what, shape or None): every member to read, with its shape from the model
    (optimizer arrays '<state>.<param>' take the parameter's shape); checks names first."""
    model_name = meta.get("model")
    want = {}
    for kind, prefix, tgt in (("parameters", "params/", params), ("buffers", "buffers/", buffers)):
        src = {k[len(prefix):] for k in z.keys() if k.startswith(prefix)}
        missing, unexpected = sorted(set(tgt) - src), sorted(src - set(tgt))
        if missing or unexpected:
            raise CheckpointError(f"{z.path}: {kind} do not match the model ({model_name} checkpoint into "
                                  f"{model_type}): missing {missing}, unexpected {unexpected}")
        want.update({prefix + k: (f"{kind[:-1]} {k!r}", tgt[k].shape) for k in tgt})
    if optimizer is not None:
        if "optimizer_state" not in meta:
            raise CheckpointError(f"{z.path}: the checkpoint holds no optimizer state")
        for member, key in _state_refs(meta["optimizer_state"], z.path).items():
            if member not in z:
                raise CheckpointError(f"{z.path}: optimizer state refers to a missing array {member!r}")
            _, dot, pname = (key or "").partition(".")
            if dot and pname not in params:
                raise CheckpointError(f"{z.path}: optimizer state {key!r} belongs to a parameter {pname!r} that "
                                      f"{model_type} does not have")
            want[member] = (f"optimizer state {key!r}", params[pname].shape if dot else None)
    return want


def _read_checked(z, want, params):
    """Headers of every member first (shape, dtype, declared size), then the data."""
    limit = 2 * max([a.nbytes for a in params.values()] + [8])  # arrays not sized by a parameter
    for member, (what, shape) in want.items():
        h = z.header(member)
        if h.dtype.kind not in _NUMERIC:
            raise CheckpointError(f"{z.path}: {what} has dtype {h.dtype} in the file; numbers are needed")
        if shape is not None and h.shape != shape:
            raise CheckpointError(f"{z.path}: {what} has shape {h.shape} in the file, {shape} in the model")
        if shape is None and h.nbytes > limit:
            raise CheckpointError(f"{z.path}: {what} declares {h.nbytes} bytes, more than the model's largest "
                                  f"parameter")
    return {member: z.read(member) for member in want}


def load(path, model, optimizer=None):
    """Load a checkpoint written by :func:`save` into ``model`` (and ``optimizer``) in place.

    All or nothing: names, shapes and dtypes of every array (read from the member headers, so a
    file that does not fit is refused before its data is read) and the optimizer state (loaded
    into a copy first) are checked before anything is written. Raises CheckpointError naming
    the file and the fault (mismatch, corruption, a size over a limit). Returns the metadata.
    """
    params, buffers = _state_of(model)
    with _open(path) as z:
        meta = _read_meta(z)
        want = _expected_shapes(z, meta, type(model).__name__, params, buffers, optimizer)
        arrays = _read_checked(z, want, params)
    staged = None
    if optimizer is not None:
        staged = copy.copy(optimizer)
        try:
            staged.load_state_dict(_decode(meta["optimizer_state"], arrays))
        except (TypeError, ValueError, KeyError, AttributeError) as e:
            raise CheckpointError(f"{path}: the optimizer state does not fit {type(optimizer).__name__}: {e}") from None
    for prefix, tgt in (("params/", params), ("buffers/", buffers)):
        for k, dst in tgt.items():
            np.copyto(dst, arrays[prefix + k], casting="unsafe")
    if staged is not None:
        vars(optimizer).update(vars(staged))
    return meta


def save_params(path, params):
    """Write a plain dict name -> array to ``path`` (.npz, no pickle; safetensors by the suffix)."""
    if _is_safetensors(path):
        from ._safetensors import save_params
        return save_params(path, params)
    with open(path, "wb") as f:
        np.savez(f, **{k: np.asarray(v) for k, v in params.items()})


def _is_pickle(path):
    """True when the file starts like a pickle (protocol 2+ opcode, or protocol 0/1 dict/mark)."""
    if _is_safetensors(path):  # its first byte is a length's, which may look like one
        return False
    with open(path, "rb") as f:
        head = f.read(1)
    return head in (b"\x80", b"(", b"}")


def load_params(path):
    """Read a dict name -> array: an .npz written by :func:`save_params` / :func:`save`
    (``params/`` entries) or, for files that start like a pickle, :func:`load_pickle_params`.
    Each array's declared size is checked (at most MAX_ARRAY_BYTES) before it is read.
    A ``.safetensors`` file gives its parameters (any tensor of another program's file)."""
    if _is_safetensors(path):
        from ._safetensors import load_params
        return load_params(path, MAX_ARRAY_BYTES)
    if _is_pickle(path):
        return load_pickle_params(path)
    with NpzReader(path) as z:
        checkpoint = "__meta__" in z
        keys = [k for k in z.keys() if k.startswith("params/")] if checkpoint else z.keys()
        for k in keys:
            z.header(k)  # every member's header checked before any data is read
        data = {k: z.read(k, MAX_ARRAY_BYTES) for k in keys}
    return {k[len("params/"):]: v for k, v in data.items()} if checkpoint else data


def load_pickle_params(path_or_bytes):
    """The book's pickled parameter dict (``params.pkl``), read with an allow-list unpickler.

    Only ``numpy`` array/dtype reconstruction and dicts are accepted; anything else raises
    :class:`UnsafePickleError` *before* it could be called, as does nesting deeper than 32
    dicts; a truncated or corrupted pickle raises CheckpointError. Returns ``{name: ndarray}``.
    """
    obj = _safe_pickle.load(path_or_bytes)
    if not isinstance(obj, dict):
        raise UnsafePickleError(f"a parameter file must hold a dict, got {type(obj).__name__}")
    _safe_pickle.check_tree(obj)
    return dict(obj)


def assign_params(path, model, params):
    """Rebind ``model.params`` to the arrays of ``params`` (a loaded parameter dict), all or
    nothing: the names must match and every array must be a number array of the model's shape."""
    missing, unexpected = sorted(set(model.params) - set(params)), sorted(set(params) - set(model.params))
    if missing or unexpected:
        raise CheckpointError(f"{path}: parameters do not match {type(model).__name__}: "
                              f"missing {missing}, unexpected {unexpected}")
    for k, v in params.items():
        if not isinstance(v, np.ndarray) or v.dtype.kind not in _NUMERIC:
            raise CheckpointError(f"{path}: parameter {k!r} is {getattr(v, 'dtype', type(v).__name__)} in the file; "
                                  f"a number array is needed")
        if v.shape != model.params[k].shape:
            raise CheckpointError(f"{path}: parameter {k!r} has shape {v.shape} in the file, "
                                  f"{model.params[k].shape} in the model")
    for k, v in params.items():
        model.params[k] = v
