"""Forged files for the file-safety tests (tests/test_checkpoint_load_safety.py,
tests/test_data_file_safety.py): zip members whose declared sizes lie, and .npy headers."""
import struct
import zipfile


def forge_member(path, name, npy_bytes, file_size=None, compress=zipfile.ZIP_DEFLATED):
    """Add a member to the zip at path (created if absent) and optionally forge the
    uncompressed size that the zip's local header and central directory declare for it."""
    with zipfile.ZipFile(path, "a", compress) as z:
        z.writestr(name, npy_bytes)
    if file_size is not None:
        raw, key = bytearray(path.read_bytes()), name.encode()
        for sig, name_at, size_at in ((b"PK\x03\x04", 30, 22), (b"PK\x01\x02", 46, 24)):
            i = raw.index(sig)
            while raw[i + name_at:i + name_at + len(key)] != key:
                i = raw.index(sig, i + 1)
            assert struct.unpack_from("<I", raw, i + size_at)[0] == len(npy_bytes)
            struct.pack_into("<I", raw, i + size_at, file_size)
        path.write_bytes(bytes(raw))
    return path


def npy_header(shape, dtype="<f4"):
    h = repr({"descr": dtype, "fortran_order": False, "shape": tuple(shape)}).encode()
    h += b" " * (63 - (10 + len(h)) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(h)) + h
