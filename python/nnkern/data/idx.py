"""The IDX file format (MNIST, Fashion-MNIST): :func:`load_idx`, plain or gzipped, read with
every size checked before anything is allocated."""
import contextlib
import gzip
import os
import struct
import zlib

import numpy as np

from .._npz_reader import DEFLATE_MAX_RATIO
from .errors import DataError, DataFileNotFoundError, brief_int, brief_shape

# IDX element types (http://yann.lecun.com/exdb/mnist/, "THE IDX FILE FORMAT"); big-endian.
_IDX_TYPES = {0x08: np.dtype(np.uint8), 0x09: np.dtype(np.int8), 0x0B: np.dtype(">i2"),
              0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}
_GZIP_MAGIC = b"\x1f\x8b"

# One array of a data file may take at most this many bytes, checked before anything is read or
# allocated (a module attribute: raise it for larger data sets; the .npz loader reads it too).
MAX_ARRAY_BYTES = 1 << 32


def _open_idx(file):
    """(file, binary stream of its IDX bytes, most bytes it can hold, whether that is exact): gunzipped
    on the fly when the file starts with the gzip magic (whatever its name); the bound is the
    file size (exact), or for gzip the most deflate can expand the compressed bytes to."""
    file = os.fspath(file)
    if not os.path.exists(file):
        raise DataFileNotFoundError(f"{file}: no such file")
    if os.path.isdir(file):
        raise DataError(f"{file}: is a folder, expected a file")
    f = open(file, "rb")
    size = os.fstat(f.fileno()).st_size
    if f.read(2) != _GZIP_MAGIC:
        f.seek(0)
        if file.endswith(".gz"):
            f.close()
            raise DataError(f"{file}: not a gzip file (no gzip header), although its name ends in .gz")
        return f, f, size, True
    f.seek(0)
    return f, gzip.GzipFile(fileobj=f, mode="rb"), DEFLATE_MAX_RATIO * size, False


def _read_upto(stream, n):
    """Up to n bytes (fewer only at the end of the stream), in chunks."""
    out = bytearray()
    while len(out) < n:
        chunk = stream.read(min(n - len(out), 1 << 24))
        if not chunk:
            break
        out += chunk
    return bytes(out)


def _count_rest(stream, cap=1 << 26):
    """Bytes left in the stream, counted (not kept) up to cap."""
    n = 0
    while n < cap:
        chunk = stream.read(min(cap - n, 1 << 20))
        if not chunk:
            break
        n += len(chunk)
    return n


@contextlib.contextmanager
def _gzip_errors(name):
    try:
        yield
    except EOFError:
        raise DataError(
            f"{name}: corrupted gzip data (the compressed stream ends early; truncated download?)") from None
    except (OSError, zlib.error) as e:
        raise DataError(f"{name}: corrupted gzip data ({e})") from None


def load_idx(file):
    """One IDX file (``.gz`` or plain) as a NumPy array in native byte order.

    IDX: two zero bytes, a type byte (0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32,
    0x0D float32, 0x0E float64), a byte with the number of dimensions, one big-endian
    uint32 per dimension, then the data, big-endian, in C order. Raises :class:`DataError`
    for a bad magic number, a truncated file or trailing bytes. The size the header declares
    is checked against MAX_ARRAY_BYTES and against what the file can hold (for gzip, what
    deflate can expand it to) before the data is read, and gzip data is decompressed as it
    is read, so memory stays at the declared size.
    """
    name = os.fspath(file)
    f, stream, can_hold, exact = _open_idx(file)
    with f, stream, _gzip_errors(name):
        raw = _read_upto(stream, 4)
        if len(raw) < 4:
            raise DataError(f"{name}: truncated IDX file: {len(raw)} bytes, shorter than the 4-byte magic number")
        zero, code, ndim = struct.unpack(">HBB", raw)
        if zero != 0 or code not in _IDX_TYPES:
            raise DataError(f"{name}: not an IDX file: bad magic number 0x{raw.hex()} "
                            f"(want 0x0000TTDD with type TT in 08, 09, 0b, 0c, 0d, 0e)")
        if ndim == 0:
            raise DataError(f"{name}: bad IDX header: 0 dimensions")
        header = 4 + 4 * ndim
        dims = _read_upto(stream, 4 * ndim)
        if len(dims) < 4 * ndim:
            raise DataError(f"{name}: truncated IDX file: {4 + len(dims)} bytes, the header alone needs {header}")
        shape = struct.unpack(f">{ndim}I", dims)
        dtype = _IDX_TYPES[code]
        want = int(np.prod(shape, dtype=object)) * dtype.itemsize
        shown, nbytes = brief_shape(shape), brief_int(want)  # as messages show them (a forged header is long)
        if want > MAX_ARRAY_BYTES:
            raise DataError(f"{name}: IDX header declares shape {shown} ({nbytes} bytes), over the limit of "
                            f"{MAX_ARRAY_BYTES} bytes (nnkern.data.idx.MAX_ARRAY_BYTES)")
        if exact and header + want < can_hold:
            raise DataError(f"{name}: corrupted IDX file: {brief_int(can_hold - header - want)} unexpected bytes "
                            f"after the {nbytes} data bytes of shape {shown}")
        if header + want > can_hold:
            found = f"found {can_hold - header}" if exact else "more than the gzip data can expand to"
            raise DataError(f"{name}: truncated IDX file: shape {shown} needs {nbytes} data bytes, {found}")
        data = _read_upto(stream, want)
        if len(data) < want:
            raise DataError(f"{name}: truncated IDX file: shape {shown} needs {nbytes} data bytes, found {len(data)}")
        extra = _count_rest(stream)
        if extra:
            raise DataError(f"{name}: corrupted IDX file: {extra} unexpected bytes after the "
                            f"{nbytes} data bytes of shape {shown}")
    a = np.frombuffer(data, dtype=dtype).reshape(shape)
    return a.astype(dtype.newbyteorder("="), copy=True)
