"""The allow-list unpickler for the book's pickled parameter files (``params.pkl``).

Only the few NumPy callables that rebuild arrays, dtypes and scalars are resolved, and each
one through a wrapper that checks its arguments: ``_reconstruct`` only makes the empty
placeholder array that ``ndarray.__setstate__`` then fills from bytes of the file (so memory
is bounded by the file's size), ``numpy.ndarray`` itself cannot be called to allocate,
dtypes holding Python objects are refused, and ``_codecs.encode`` only does latin-1. Any other
global (``os.system``, a class, ...) raises :class:`UnsafePickleError` before it is called.
Before unpickling, the opcodes are scanned once, so no length field can make the unpickler
allocate more than the file holds. The loaded object graph is then walked once per object
(shared and cyclic references are visited once), to a bounded depth.
"""
import codecs
import collections
import io
import pickle
import pickletools

import numpy as np

from ._checkpoint_errors import CheckpointError, UnsafePickleError

MAX_DEPTH = 32  # nesting of dicts in a parameter file


class _NDArrayPlaceholder:
    """Stands for ``numpy.ndarray`` as an argument of ``_reconstruct``; calling it is refused."""

    def __new__(cls, *args, **kwargs):
        raise UnsafePickleError("refusing to call numpy.ndarray directly (it allocates arbitrary sizes); "
                                "arrays are rebuilt only through numpy's own pickle format")


def _reconstruct(subtype, shape, dtype_code):
    if subtype is not _NDArrayPlaceholder or tuple(shape) != (0,) or dtype_code != b"b":
        raise UnsafePickleError(f"refusing numpy _reconstruct{(subtype, shape, dtype_code)!r}: only the empty "
                                f"ndarray placeholder of numpy's pickle format is allowed")
    return np.ndarray((0,), np.uint8)


def _dtype(*args):
    dt = np.dtype(*args)
    if dt.hasobject:
        raise UnsafePickleError(f"refusing dtype {dt}: it holds Python objects")
    return dt


def _scalar(dtype, data=None):
    if not isinstance(dtype, np.dtype) or dtype.hasobject or not isinstance(data, bytes):
        raise UnsafePickleError("refusing a numpy scalar that is not plain bytes of a plain dtype")
    return np.frombuffer(data, dtype=dtype, count=1)[0] if len(data) == dtype.itemsize else _bad_scalar(dtype)


def _bad_scalar(dtype):
    raise UnsafePickleError(f"a numpy scalar of dtype {dtype} with the wrong number of bytes")


def _frombuffer(buf, dtype, shape, order):
    if not isinstance(dtype, np.dtype) or dtype.hasobject:
        raise UnsafePickleError("refusing an array of Python objects")
    return np.frombuffer(buf, dtype=dtype).reshape(shape, order=order)


def _encode(text, encoding="utf-8", errors="strict"):
    if not isinstance(text, str) or codecs.lookup(encoding).name != "iso8859-1":
        raise UnsafePickleError(f"refusing _codecs.encode(..., {encoding!r}): only latin-1 (protocol 2 bytes)")
    return codecs.encode(text, "latin-1", errors)


_SAFE = {"_reconstruct": _reconstruct, "scalar": _scalar, "_frombuffer": _frombuffer}
_ALLOWED = {
    **{(m, n): f for m in ("numpy.core.multiarray", "numpy._core.multiarray", "numpy.core.numeric",
                           "numpy._core.numeric") for n, f in _SAFE.items()},
    ("numpy", "ndarray"): _NDArrayPlaceholder, ("numpy", "dtype"): _dtype,
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("_codecs", "encode"): _encode,  # protocol-2 pickles spell bytes as _codecs.encode(str, 'latin1')
}


class SafeUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) in _ALLOWED:
            return _ALLOWED[(module, name)]
        raise UnsafePickleError(
            f"refusing to unpickle {module}.{name}: only NumPy arrays, dtypes and dicts are allowed in a "
            f"parameter file (this file may run code when loaded with plain pickle)")


def check_tree(obj, path="params"):
    """Arrays of plain dtypes, numbers, strings and dicts of them, nested at most MAX_DEPTH;
    each object visited once (the graph may share and even cycle through dicts)."""
    seen, stack = set(), [(obj, path, 0)]
    while stack:
        o, where, depth = stack.pop()
        if isinstance(o, np.ndarray):
            if o.dtype.hasobject:
                raise UnsafePickleError(f"{where}: object arrays are not allowed")
        elif isinstance(o, dict):
            if depth >= MAX_DEPTH:
                raise UnsafePickleError(f"{where}: dicts nested deeper than {MAX_DEPTH} levels")
            if id(o) in seen:
                continue
            seen.add(id(o))
            for k, v in o.items():
                if not isinstance(k, (str, int)):
                    raise UnsafePickleError(f"{where}: key {k!r} is not a string")
                stack.append((v, f"{where}[{k!r}]", depth + 1))
        elif not (isinstance(o, (int, float, str, bool, np.generic)) or o is None):
            raise UnsafePickleError(f"{where}: unexpected {type(o).__name__} in a parameter file")


def load(path_or_bytes):
    """The pickled object of a file or bytes, through SafeUnpickler; a corrupted pickle raises
    CheckpointError naming the file."""
    if isinstance(path_or_bytes, (bytes, bytearray)):
        name, data = "pickle data", bytes(path_or_bytes)
    else:
        name = str(path_or_bytes)
        with open(path_or_bytes, "rb") as f:  # in memory: a length field of the file cannot make a read
            data = f.read()                    # allocate more than the file holds
    try:
        for _ in pickletools.genops(data):  # every length field fits in the data: no oversized buffer
            pass
        return SafeUnpickler(io.BytesIO(data)).load()
    except UnsafePickleError:
        raise
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError, LookupError,
            OverflowError, RecursionError) as e:
        raise CheckpointError(f"{name}: not a readable parameter pickle ({type(e).__name__}: {e})") from None
