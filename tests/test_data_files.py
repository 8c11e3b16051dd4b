"""nnkern.data's files: the embedded digits, the IDX (MNIST) and .npz loaders and their errors
on damaged files. The Cython batch loops: tests/test_data_loops.py; the BatchLoader:
tests/test_data_loader.py."""
import gzip
import os
import struct
from importlib import resources

import numpy as np
import pytest
from nnkern import data as D

# ------------------------------------------------------------------ embedded digits


def test_digits_shapes_and_classes():
    (x, t), (xt, tt) = D.load_digits()
    assert x.shape == (1438, 1, 8, 8) and xt.shape == (359, 1, 8, 8)
    assert x.dtype == xt.dtype == np.float32
    assert t.shape == (1438,) and tt.shape == (359,) and t.dtype == tt.dtype == np.int64
    assert len(x) + len(xt) == 1797
    assert 0.0 <= x.min() and x.max() == 1.0 and xt.max() == 1.0
    # every class in both parts, the test part holds ~20% of each class (stratified split)
    train_counts, test_counts = np.bincount(t, minlength=10), np.bincount(tt, minlength=10)
    assert (train_counts > 0).all() and (test_counts > 0).all() and len(train_counts) == 10
    frac = test_counts / (train_counts + test_counts)
    assert np.all(np.abs(frac - 0.2) < 0.01), frac


def test_digits_options():
    (x, t), (xt, tt) = D.load_digits()
    (xr, tr), _ = D.load_digits(normalize=False)
    assert xr.dtype == np.uint8 and xr.max() == 16 and xr.shape == x.shape
    np.testing.assert_array_equal(x, xr.astype(np.float32) / 16)
    (xf, _), (xtf, _) = D.load_digits(flatten=True)
    assert xf.shape == (1438, 64) and xtf.shape == (359, 64)
    np.testing.assert_array_equal(xf, x.reshape(len(x), 64))
    (_, oh), (_, oht) = D.load_digits(one_hot=True)
    assert oh.shape == (1438, 10) and oht.shape == (359, 10) and oh.dtype == np.float32
    np.testing.assert_array_equal(oh.argmax(1), t)
    np.testing.assert_array_equal(oh.sum(1), 1)
    (x64, _), _ = D.load_digits(dtype=np.float64)
    assert x64.dtype == np.float64
    np.testing.assert_array_equal(x64, x)
    with pytest.raises(TypeError, match="float32 or float64"):
        D.load_digits(dtype=np.int32)


def test_digits_split_is_fixed():
    (a, ta), (b, tb) = D.load_digits()
    (c, tc), (d, td) = D.load_digits()
    for u, v in ((a, c), (ta, tc), (b, d), (tb, td)):
        np.testing.assert_array_equal(u, v)
    assert D.load_data(None)[0][0].shape == a.shape and D.load_data("digits")[1][0].shape == b.shape


def test_digits_attribution_is_shipped():
    text = (resources.files("nnkern.data") / "DIGITS_LICENSE.txt").read_text()
    assert "CC BY 4.0" in text and "Alpaydin" in text and "Kaynak" in text


# ------------------------------------------------------------------ IDX and .npz files

_IDX_CODE = {np.uint8: 0x08, np.int8: 0x09, np.int16: 0x0B, np.int32: 0x0C, np.float32: 0x0D, np.float64: 0x0E}


def idx_bytes(a):
    """IDX encoding written from the format description: magic, big-endian dims, big-endian data."""
    a = np.asarray(a)
    head = bytes([0, 0, _IDX_CODE[a.dtype.type], a.ndim]) + struct.pack(f">{a.ndim}I", *a.shape)
    return head + a.astype(a.dtype.newbyteorder(">")).tobytes()


def write(path, payload, gz=False):
    with open(path, "wb") as f:
        f.write(gzip.compress(payload) if gz else payload)
    return str(path)


def read(path):
    with open(path, "rb") as f:
        return f.read()


def tiny_mnist(rng, n_train=7, n_test=5, h=4, w=3):
    return (rng.integers(0, 256, (n_train, h, w), dtype=np.uint8), rng.integers(0, 10, n_train).astype(np.uint8),
            rng.integers(0, 256, (n_test, h, w), dtype=np.uint8), rng.integers(0, 10, n_test).astype(np.uint8))


def write_mnist(folder, arrays, gz=(False, True, False, True)):
    names = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]
    for name, a, z in zip(names, arrays, gz):
        write(folder / (name + (".gz" if z else "")), idx_bytes(a), z)
    return [str(folder / (n + (".gz" if z else ""))) for n, z in zip(names, gz)]


@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gz"])
@pytest.mark.parametrize("dtype,shape", [(np.uint8, (3, 4, 5)), (np.uint8, (6,)), (np.int8, (2, 3)),
                                         (np.int16, (4, 2)), (np.int32, (3,)), (np.float32, (2, 2, 2)),
                                         (np.float64, (5, 1))])
def test_load_idx(tmp_path, rng, gz, dtype, shape):
    a = (rng.standard_normal(shape) * 100).astype(dtype)
    p = write(tmp_path / ("a.idx" + (".gz" if gz else "")), idx_bytes(a), gz)
    b = D.load_idx(p)
    assert b.dtype.isnative and b.dtype == np.dtype(dtype) and b.shape == shape
    np.testing.assert_array_equal(b, a)


def test_load_mnist_folder(tmp_path, rng):
    arrays = tiny_mnist(rng)
    write_mnist(tmp_path, arrays)
    (x, t), (xt, tt) = D.load_mnist(tmp_path)
    assert x.shape == (7, 1, 4, 3) and xt.shape == (5, 1, 4, 3) and x.dtype == np.float32
    np.testing.assert_array_equal(x[:, 0], arrays[0].astype(np.float32) / 255)
    np.testing.assert_array_equal(xt[:, 0], arrays[2].astype(np.float32) / 255)
    np.testing.assert_array_equal(t, arrays[1]) and np.testing.assert_array_equal(tt, arrays[3])
    assert t.dtype == np.int64
    (xf, oh), _ = D.load_mnist(str(tmp_path), normalize=False, flatten=True, one_hot=True, dtype=np.float64)
    assert xf.dtype == np.uint8 and xf.shape == (7, 12)
    np.testing.assert_array_equal(xf, arrays[0].reshape(7, 12))
    assert oh.shape == (7, 10) and oh.dtype == np.float64
    np.testing.assert_array_equal(oh.argmax(1), arrays[1])


@pytest.mark.parametrize("loader", ["load_npz", "load_mnist", "load_data"])
@pytest.mark.parametrize("style", ["keras", "book"])
def test_load_npz(tmp_path, rng, style, loader):
    xa, ta, xb, tb = tiny_mnist(rng)
    p = tmp_path / "mnist.npz"
    if style == "keras":  # y_*, plain
        np.savez(p, x_train=xa, y_train=ta, x_test=xb, y_test=tb)
    else:  # t_*, compressed
        np.savez_compressed(p, x_train=xa, t_train=ta, x_test=xb, t_test=tb)
    (x, t), (xt, tt) = getattr(D, loader)(str(p) if loader == "load_data" else p)
    np.testing.assert_array_equal(x[:, 0], xa / np.float32(255))
    np.testing.assert_array_equal(t, ta)
    np.testing.assert_array_equal(tt, tb)
    assert xt.shape == (5, 1, 4, 3)


FAULTS = {  # fault: (file: 0 images, 1 labels (gzipped), its new bytes from the old (None: removed), error, message)
    "missing-file": (0, None, D.DataFileNotFoundError, "no such file"),
    "missing-folder": (None, None, D.DataFileNotFoundError, "no such file or folder"),
    "bad-magic": (0, lambda raw: b"\x00\x01" + raw[2:], D.DataError, "bad magic number 0x0001"),
    "bad-type": (0, lambda raw: raw[:2] + b"\x07" + raw[3:], D.DataError, "bad magic number"),
    "short-magic": (0, lambda raw: raw[:3], D.DataError, "truncated IDX file: 3 bytes"),
    "empty": (0, lambda raw: b"", D.DataError, "truncated IDX file: 0 bytes"),
    "truncated-header": (0, lambda raw: raw[:9], D.DataError, "truncated IDX file: 9 bytes, the header alone needs 16"),
    "truncated-data": (0, lambda raw: raw[:-5], D.DataError,
                       r"truncated IDX file: shape \(7, 4, 3\) needs 84 data bytes, found 79"),
    "trailing-bytes": (0, lambda raw: raw + b"\x00\x00", D.DataError, "2 unexpected bytes after"),
    "bad-gzip": (1, lambda raw: raw[:-8] + bytes(b ^ 0xFF for b in raw[-8:-4]) + raw[-4:], D.DataError,
                 "corrupted gzip data"),  # a wrong CRC-32 (any damage to the stream may parse first)
    "truncated-gzip": (1, lambda raw: raw[: len(raw) // 2], D.DataError, "corrupted gzip data"),
    "gz-name-not-gzip": (1, lambda raw: idx_bytes(np.zeros(7, np.uint8)), D.DataError, "not a gzip file"),
    "label-count": (1, lambda raw: gzip.compress(idx_bytes(np.zeros(6, np.uint8))), D.DataError,
                    "6 labels for the 7 images"),
    "labels-not-1d": (1, lambda raw: gzip.compress(idx_bytes(np.zeros((7, 1), np.uint8))), D.DataError,
                      r"expected a 1-D IDX array \(labels\), got shape \(7, 1\)"),
}


@pytest.mark.parametrize("fault", FAULTS)
def test_bad_mnist_files_raise_clear_errors(tmp_path, rng, fault):
    which, edit, exc, pattern = FAULTS[fault]
    files = write_mnist(tmp_path, tiny_mnist(rng))
    if which is None:
        path, name = tmp_path / "nowhere", "nowhere"
    else:
        path, name = tmp_path, os.path.basename(files[which])  # the file the error must name
        if edit is None:
            os.remove(files[which])
        else:
            write(files[which], edit(read(files[which])))
    with pytest.raises(exc, match=pattern) as info:
        D.load_mnist(path)
    assert name in str(info.value)
    assert isinstance(info.value, ValueError)  # DataError is a ValueError (one except clause in CLIs)
    if exc is D.DataFileNotFoundError:
        assert isinstance(info.value, FileNotFoundError)


def test_bad_npz_files(tmp_path, rng):
    junk = write(tmp_path / "junk.npz", b"this is not a zip file")
    with pytest.raises(D.DataError, match="junk.npz: not a readable .npz file"):
        D.load_npz(junk)
    cut = tmp_path / "cut.npz"
    np.savez(cut, x_train=np.zeros((4, 3, 3), np.uint8), t_train=np.zeros(4, np.uint8),
             x_test=np.zeros((2, 3, 3), np.uint8), t_test=np.zeros(2, np.uint8))
    write(cut, read(cut)[:-40])
    with pytest.raises(D.DataError, match="cut.npz"):
        D.load_mnist(cut)
    keys = tmp_path / "keys.npz"
    np.savez(keys, images=np.zeros((2, 3, 3), np.uint8))
    with pytest.raises(D.DataError, match=r"keys.npz: .npz file lacks .*it has \['images'\]"):
        D.load_npz(keys)
    mism = tmp_path / "mism.npz"
    np.savez(mism, x_train=np.zeros((4, 3, 3), np.uint8), t_train=np.zeros(4, np.uint8),
             x_test=np.zeros((2, 3, 4), np.uint8), t_test=np.zeros(2, np.uint8))
    with pytest.raises(D.DataError, match=r"mism.npz\[x_test\]: test images of shape"):
        D.load_npz(mism)
    neg = tmp_path / "neg.npz"
    np.savez(neg, x_train=np.zeros((2, 3, 3), np.uint8), t_train=np.array([0, -1]),
             x_test=np.zeros((2, 3, 3), np.uint8), t_test=np.zeros(2, np.uint8))
    with pytest.raises(D.DataError, match=r"neg.npz\[t_train\]: labels must be non-negative"):
        D.load_npz(neg)
    with pytest.raises(D.DataFileNotFoundError, match="absent.npz: no such file"):
        D.load_npz(tmp_path / "absent.npz")


def test_mnist_dot_names_and_folder_errors(tmp_path, rng):
    arrays = tiny_mnist(rng)
    names = ["train-images.idx3-ubyte", "train-labels.idx1-ubyte", "t10k-images.idx3-ubyte", "t10k-labels.idx1-ubyte"]
    for name, a in zip(names, arrays):
        write(tmp_path / name, idx_bytes(a))
    (x, t), _ = D.load_mnist(tmp_path)
    np.testing.assert_array_equal(t, arrays[1])
    with pytest.raises(D.DataError, match="is a folder, expected a file"):
        D.load_idx(tmp_path)
    with pytest.raises(D.DataError, match="for MNIST IDX files give the folder"):
        D.load_mnist(tmp_path / names[0])
