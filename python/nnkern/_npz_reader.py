"""Checked reading of ``.npz`` files: sizes are checked before data is read.

An ``.npz`` is a zip archive of ``.npy`` members. :class:`NpzReader` opens it and, for a
member, first reads only its ``.npy`` header (shape, dtype): the caller compares it with the
shape it expects (a model's parameter) or with a size limit, and the reader checks that the
zip directory's declared size equals header + shape x itemsize and that a deflated member
can expand that far (deflate expands at most ~1032:1). So a small file that declares or
decompresses into gigabytes is refused before any memory is allocated for it. Every failure
of the zip, zlib or .npy layers (``BadZipFile``, ``EOFError``, ``zlib.error``, bad headers,
pickled object arrays) becomes the reader's error class (:class:`CheckpointError` for
checkpoints, ``DataError`` for datasets) naming the file and the member.
"""
import contextlib
import os
import struct
import zipfile
import zlib
from dataclasses import dataclass

import numpy as np
from numpy.lib import format as npy

from ._checkpoint_errors import CheckpointError

DEFLATE_MAX_RATIO = 1032  # the most deflate can expand: a 258-byte match per 2 bits of code
MAX_HEADER_BYTES = 10_000  # numpy's own default limit for an .npy header

# Failures of the layers below, reported as CheckpointError with the file's name.
READ_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, ValueError, NotImplementedError, struct.error,
               UnicodeDecodeError, KeyError, OverflowError)


@dataclass(frozen=True)
class Header:
    shape: tuple
    dtype: np.dtype
    fortran_order: bool

    @property
    def nbytes(self):
        n = self.dtype.itemsize
        for d in self.shape:
            n *= d
        return n


@contextlib.contextmanager
def reading(path, what="checkpoint", error=CheckpointError):
    """Re-raise the low-level errors of reading ``path`` as ``error`` naming it."""
    try:
        yield
    except error:
        raise
    except RecursionError:
        raise error(f"{path}: not a readable {what} (nested too deeply)") from None
    except READ_ERRORS as e:
        raise error(f"{path}: not a readable {what} ({type(e).__name__}: {e})") from None


class NpzReader:
    """``with NpzReader(path) as z: z.keys(); z.header(k); z.read(k)`` (see the module doc).
    ``path`` may also be an open binary file; ``what`` and ``error`` shape the messages."""

    def __init__(self, path, what="checkpoint", error=CheckpointError, name=None):
        self.path = name or os.fspath(path)
        self.what, self.error = what, error
        with reading(self.path, what, error):
            self._zip = zipfile.ZipFile(path)
        self._members = {i.filename[:-4]: i for i in self._zip.infolist() if i.filename.endswith(".npy")}
        self._headers = {}

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._zip.close()

    def keys(self):
        return list(self._members)

    def __contains__(self, key):
        return key in self._members

    def _fail(self, key, msg):
        raise self.error(f"{self.path}: member {key!r} {msg}")

    def header(self, key):
        """The member's .npy header, checked against the zip directory; no data is read."""
        if key in self._headers:
            return self._headers[key]
        info = self._members[key]
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            self._fail(key, f"uses zip compression method {info.compress_type} (np.savez writes stored or deflated)")
        with reading(self.path, self.what, self.error), self._zip.open(info) as f:
            version = npy.read_magic(f)
            if version == (1, 0):
                shape, fortran, dtype = npy.read_array_header_1_0(f, max_header_size=MAX_HEADER_BYTES)
            elif version == (2, 0):
                shape, fortran, dtype = npy.read_array_header_2_0(f, max_header_size=MAX_HEADER_BYTES)
            else:
                self._fail(key, f"has .npy format version {version[0]}.{version[1]} (1.0 and 2.0 are read)")
            offset = f.tell()
        h = Header(tuple(shape), np.dtype(dtype), bool(fortran))
        if h.dtype.hasobject:
            self._fail(key, "holds Python objects (reading it would need pickle, which is refused)")
        if info.file_size != offset + h.nbytes:
            self._fail(key, f"is corrupted: its .npy header declares shape {h.shape} {h.dtype} ({h.nbytes} bytes) "
                            f"but the zip directory {info.file_size - offset} data bytes")
        if info.compress_type == zipfile.ZIP_DEFLATED and info.file_size > DEFLATE_MAX_RATIO * info.compress_size + 64:
            self._fail(key, f"declares {info.file_size} bytes in {info.compress_size} compressed bytes, more than "
                            f"deflate can produce: truncated or forged")
        self._headers[key] = h
        return h

    def read(self, key, max_bytes=None):
        """The member as an array (header checked first; over ``max_bytes`` is refused)."""
        h = self.header(key)
        if max_bytes is not None and h.nbytes > max_bytes:
            self._fail(key, f"declares {h.nbytes} bytes (shape {h.shape} {h.dtype}), over the limit of {max_bytes}")
        with reading(self.path, self.what, self.error), self._zip.open(self._members[key]) as f:
            return npy.read_array(f, allow_pickle=False, max_header_size=MAX_HEADER_BYTES)
