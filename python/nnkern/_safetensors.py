"""safetensors checkpoints: ``nnkern.save("m.safetensors", model, optimizer)`` and
``nnkern.load(...)``, beside .npz (needs ``pip install "nnkern[safetensors]"``).

The file (https://huggingface.co/docs/safetensors) holds:

* the parameters under the names of ``model.params`` (``W1``, ``b1``, ``conv2d/kernel``, ...),
  so ``safetensors.numpy.load_file`` and ``safetensors.torch.load_file`` read the weights by
  the names nnkern uses;
* the batch-norm running statistics as ``buffers/<name>`` and the optimizer's state arrays as
  ``optimizer/<n>`` (tensors too, so they stay binary);
* the header's metadata (strings, as safetensors requires): ``format`` (the checkpoint format,
  the same as the .npz one's), ``model`` (the class name), ``config`` (JSON: the model's
  description, from which ``nnkern export-onnx`` rebuilds it), ``params`` and ``buffers``
  (JSON lists of names), ``optimizer`` (the class name) and ``optimizer_state`` (JSON: the
  non-array state, arrays referenced by their ``optimizer/<n>`` key).

Reading checks the whole header before any tensor is read, with :class:`CheckpointError` for
a fault: the 8-byte header length within the file and a size limit, JSON without duplicate
keys, every entry a known dtype, a shape of non-negative ints and data offsets whose length is
shape x itemsize, inside the file, not overlapping, and metadata of strings. So a file that
declares more data than it holds is refused before anything is allocated; then the tensors
come from ``safetensors.safe_open``. :class:`SafetensorsReader` offers what ``nnkern.checkpoint``
reads from an .npz (keys, headers, then data), so loading is the same validate-then-commit step.
"""
import json
import os

import numpy as np

from ._checkpoint_errors import CheckpointError
from ._npz_reader import Header

MAX_HEADER_BYTES = 16 << 20  # the JSON header (safetensors itself allows 100 MB)
MAX_TENSORS = 1 << 16
DTYPES = {"F64": np.float64, "F32": np.float32, "F16": np.float16, "I64": np.int64, "I32": np.int32,
          "I16": np.int16, "I8": np.int8, "U64": np.uint64, "U32": np.uint32, "U16": np.uint16, "U8": np.uint8,
          "BOOL": np.bool_}
PREFIXES = ("buffers/", "optimizer/")  # tensors that are not parameters
_JSON_META = ("config", "params", "buffers", "optimizer_state")


def _safetensors():
    try:
        import safetensors.numpy
    except ImportError as e:
        raise ImportError("safetensors checkpoints need the safetensors package: "
                          "pip install \"nnkern[safetensors]\"") from e
    return safetensors


# -- writing ------------------------------------------------------------------------------
def _tensor_name(member):
    """The npz-style member name ('params/W1') as the tensor's name ('W1')."""
    return member[len("params/"):] if member.startswith("params/") else member


def write(path, arrays, meta=None):
    """Write ``arrays`` (member name -> array: 'params/<name>', 'buffers/<name>', 'optimizer/<n>')
    and the checkpoint header ``meta`` to ``path`` with ``safetensors.numpy.save_file``."""
    st = _safetensors()
    tensors = {}
    for member, a in arrays.items():
        name = _tensor_name(member)
        if member.startswith("params/") and name.startswith(PREFIXES):
            raise ValueError(f"parameter name {name!r} starts like nnkern's {PREFIXES[0]!r} / {PREFIXES[1]!r} "
                             f"tensors; rename the layer to save it as safetensors")
        a = np.asarray(a)
        if a.dtype not in {np.dtype(d) for d in DTYPES.values()}:
            raise TypeError(f"{member}: dtype {a.dtype} cannot be stored in safetensors by nnkern")
        tensors[name] = np.ascontiguousarray(a)
    metadata = None
    if meta is not None:
        metadata = {k: v if isinstance(v, str) and k not in _JSON_META else json.dumps(v) for k, v in meta.items()}
    st.numpy.save_file(tensors, os.fspath(path), metadata=metadata)


# -- reading ------------------------------------------------------------------------------
def _no_duplicates(pairs):
    keys = [k for k, _ in pairs]
    if len(keys) != len(set(keys)):
        raise ValueError(f"duplicate keys in the header: {sorted({k for k in keys if keys.count(k) > 1})[:4]}")
    return dict(pairs)


class SafetensorsReader:
    """``with SafetensorsReader(path) as z: z.keys(); z.header(k); z.read(k); z.meta()``: the
    members named as in an nnkern .npz ('params/W1', 'buffers/...', 'optimizer/<n>')."""

    def __init__(self, path):
        self.path = os.fspath(path)
        self._headers, self._names, self._metadata = self._parse()
        self._file = None

    def _fail(self, msg):
        raise CheckpointError(f"{self.path}: not a readable safetensors checkpoint ({msg})")

    def _parse(self):
        """Check the whole header against the file's size: {member: Header}, {member: tensor name},
        the metadata."""
        size = os.path.getsize(self.path)
        with open(self.path, "rb") as f:
            head = f.read(8)
            if len(head) < 8:
                self._fail(f"{size} bytes, shorter than the 8-byte header length")
            n = int.from_bytes(head, "little")
            if n > min(MAX_HEADER_BYTES, size - 8):
                self._fail(f"the header declares {n} bytes; the file has {size - 8} after the length, "
                           f"the limit is {MAX_HEADER_BYTES}")
            raw = f.read(n)
        try:
            header = json.loads(raw.decode("utf-8"), object_pairs_hook=_no_duplicates)
        except (UnicodeDecodeError, ValueError, RecursionError) as e:
            self._fail(f"the header is not JSON: {type(e).__name__}: {str(e)[:80]}")
        if not isinstance(header, dict):
            self._fail("the header is not a JSON object")
        metadata = header.pop("__metadata__", None)
        if metadata is not None and not (isinstance(metadata, dict)
                                         and all(isinstance(v, str) for v in metadata.values())):
            self._fail("__metadata__ must map strings to strings")
        if len(header) > MAX_TENSORS:
            self._fail(f"{len(header)} tensors, more than {MAX_TENSORS}")
        headers = {self._member(name): self._entry(name, e, size - 8 - n) for name, e in header.items()}
        spans = sorted((e["data_offsets"], name) for name, e in header.items())
        for (a, name_a), (b, name_b) in zip(spans, spans[1:]):
            if b[0] < a[1]:
                self._fail(f"the data of tensors {name_a!r} and {name_b!r} overlap")
        return headers, {self._member(name): name for name in header}, metadata or {}

    @staticmethod
    def _member(name):
        return name if name.startswith(PREFIXES) else "params/" + name

    def _entry(self, name, e, data_bytes):
        """The Header of tensor ``name`` after checking its entry against the data's size."""
        if not isinstance(e, dict) or set(e) != {"dtype", "shape", "data_offsets"}:
            self._fail(f"tensor {name!r} has a malformed entry {str(e)[:80]}")
        dtype, shape, offsets = e["dtype"], e["shape"], e["data_offsets"]
        if dtype not in DTYPES:
            self._fail(f"tensor {name!r} has dtype {str(dtype)[:16]!r}; nnkern reads {', '.join(DTYPES)}")
        if not (isinstance(shape, list) and len(shape) <= 32
                and all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape)):
            self._fail(f"tensor {name!r} has a malformed shape {str(shape)[:80]}")
        if not (isinstance(offsets, list) and len(offsets) == 2
                and all(isinstance(o, int) and not isinstance(o, bool) for o in offsets)):
            self._fail(f"tensor {name!r} has malformed data offsets {str(offsets)[:80]}")
        header = Header(tuple(shape), np.dtype(DTYPES[dtype]), False)
        begin, end = offsets
        if not 0 <= begin <= end <= data_bytes:
            self._fail(f"tensor {name!r} declares bytes {begin}..{end}, the file holds {data_bytes} bytes of data")
        if end - begin != header.nbytes:
            self._fail(f"tensor {name!r} declares shape {tuple(shape)} {dtype} ({header.nbytes} bytes) in "
                       f"{end - begin} bytes of data")
        return header

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self._file is not None:
            self._file.__exit__(*exc)
            self._file = None

    def keys(self):
        return list(self._headers)

    def __contains__(self, key):
        return key in self._headers

    def header(self, key):
        return self._headers[key]

    def tensor_name(self, key):
        """The name in the file of member ``key`` ('params/W1' -> 'W1')."""
        return self._names[key]

    def read(self, key, max_bytes=None):
        """The tensor of member ``key`` (its header was checked; over ``max_bytes`` is refused)."""
        h = self.header(key)
        if max_bytes is not None and h.nbytes > max_bytes:
            raise CheckpointError(f"{self.path}: tensor {key!r} declares {h.nbytes} bytes, over the limit of "
                                  f"{max_bytes}")
        st = _safetensors()
        try:
            if self._file is None:
                self._file = st.safe_open(self.path, framework="numpy")
                self._file.__enter__()
            return np.asarray(self._file.get_tensor(self._names[key]))
        except st.SafetensorError as e:
            raise CheckpointError(f"{self.path}: not a readable safetensors checkpoint ({e})") from None

    def meta(self):
        """The checkpoint header (the metadata, JSON entries decoded); {} for a plain safetensors file."""
        meta = dict(self._metadata)
        for k in _JSON_META:
            if k in meta:
                if len(meta[k]) > MAX_HEADER_BYTES:
                    self._fail(f"metadata {k!r} is over {MAX_HEADER_BYTES} bytes")
                try:
                    meta[k] = json.loads(meta[k])
                except (ValueError, RecursionError) as e:
                    self._fail(f"metadata {k!r} is not JSON: {type(e).__name__}")
        return meta


def load_params(path, max_bytes=None):
    """name -> array of a safetensors file: the parameters of an nnkern checkpoint (its
    ``params`` entries, by name), or every tensor of another program's file; each at most
    ``max_bytes``."""
    with SafetensorsReader(path) as z:
        ours = "format" in z.meta()
        keys = [k for k in z.keys() if k.startswith("params/")] if ours else z.keys()
        return {z.tensor_name(k): z.read(k, max_bytes) for k in keys}


def save_params(path, params):
    """A plain dict name -> array as a safetensors file (no nnkern header)."""
    write(path, {f"params/{k}": v for k, v in params.items()})
