"""Hostile data files (nnkern.data.datasets): sizes declared by .gz IDX headers and .npz
dataset members are checked against limits and against what the compressed bytes can expand
to before data is read; absurd labels are a DataError, and a one-line error of `nnkern train`."""
import gzip
import struct
import subprocess
import sys
import tracemalloc

import numpy as np
import pytest
from hostile_files import forge_member, npy_header
from nnkern.data import datasets as D

MiB = 1 << 20


# ---------------------------------------------------------------- data files
def _idx_header(shape, code=0x08):
    return struct.pack(">HBB", 0, code, len(shape)) + struct.pack(f">{len(shape)}I", *shape)


def _peak_during(fn):
    tracemalloc.start()
    try:
        fn()
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak


IDX_BOMBS = {  # name: (gzip payload, message pattern)
    "declares 8 GiB": (_idx_header((1 << 16, 1 << 16, 2)), "over the limit of 4294967296 bytes"),
    "declares 1 GiB in a few bytes": (_idx_header((1 << 15, 1 << 15)) + b"\0" * 100,
                                      "more than the gzip data can expand to"),
    "64 MiB after 10 bytes": (_idx_header((10,)) + b"\0" * (64 * MiB), "unexpected bytes after the 10 data bytes"),
}


@pytest.mark.parametrize("name", IDX_BOMBS)
def test_gz_idx_sizes_are_checked_before_reading(tmp_path, name):
    payload, pattern = IDX_BOMBS[name]
    path = tmp_path / "train-labels-idx1-ubyte.gz"
    path.write_bytes(gzip.compress(payload, 1))

    def attempt():
        with pytest.raises(D.DataError, match=pattern):
            D.load_idx(path)
    peak = _peak_during(attempt)
    assert peak < 8 * MiB, f"{peak / MiB:.0f} MiB allocated reading a {path.stat().st_size}-byte file"


def test_npz_dataset_member_sizes_are_checked(tmp_path):
    head = npy_header((805306368,), "|u1")
    path = forge_member(tmp_path / "d.npz", "x_train.npy", head + b"\0" * 100, file_size=len(head) + 805306368)
    for k in ("t_train", "x_test", "t_test"):
        forge_member(path, f"{k}.npy", npy_header((0,), "|u1"))
    with pytest.raises(D.DataError, match=r"d.npz: member 'x_train' declares 805306\d+ bytes in \d+ compressed"):
        D.load_npz(path)


def test_huge_labels_are_a_data_error(tmp_path):
    x = np.zeros((4, 1, 8, 8), np.uint8)
    t = np.array([0, 1, 2, 2**31 - 1], np.int32)
    np.savez(tmp_path / "big.npz", x_train=x, t_train=t, x_test=x, t_test=t[:4])
    with pytest.raises(D.DataError, match=r"label 2147483647 means 2147483648 classes, more than the 65536"):
        D.load_npz(tmp_path / "big.npz")
    r = subprocess.run([sys.executable, "-m", "nnkern", "train", "--data", str(tmp_path / "big.npz"), "--epochs",
                        "1", "--no-progress", "--out", str(tmp_path / "run")], capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 2, r.stderr
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("nnkern: error: ") and "2147483648 classes" in r.stderr
