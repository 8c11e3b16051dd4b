"""nnkern.data: the embedded digits, IDX/.npz loaders and their errors, and the Cython
batch loops (gather_batch, normalize, gather_normalize, augment) against the NumPy
reference; seeding, thread-count independence, the BatchLoader and bad input."""
import gzip
import os
import struct
from importlib import resources

import nnkern
import numpy as np
import pytest
from conftest import TOL, assert_close
from nnkern import _data
from nnkern import data as D
from nnkern import reference as R

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


def _mnist_fault(tmp_path, rng, fault):
    """Write a tiny MNIST folder with one fault; return (path to load, file the error must name)."""
    files = write_mnist(tmp_path, tiny_mnist(rng))
    img, lab = files[0], files[1]
    raw = read(img)
    if fault == "missing-file":
        os.remove(img)
        return tmp_path, "train-images-idx3-ubyte"
    if fault == "bad-magic":
        write(img, b"\x00\x01" + raw[2:])
    elif fault == "bad-type":
        write(img, raw[:2] + b"\x07" + raw[3:])
    elif fault == "short-magic":
        write(img, raw[:3])
    elif fault == "truncated-header":
        write(img, raw[:9])
    elif fault == "truncated-data":
        write(img, raw[:-5])
    elif fault == "trailing-bytes":
        write(img, raw + b"\x00\x00")
    elif fault == "empty":
        write(img, b"")
    elif fault == "bad-gzip":
        z = bytearray(read(lab))
        z[12:20] = b"\xff" * 8
        write(lab, bytes(z))
        return tmp_path, os.path.basename(lab)
    elif fault == "truncated-gzip":
        z = read(lab)
        write(lab, z[: len(z) // 2])
        return tmp_path, os.path.basename(lab)
    elif fault == "gz-name-not-gzip":
        write(lab, idx_bytes(np.zeros(7, np.uint8)))
        return tmp_path, os.path.basename(lab)
    elif fault == "label-count":
        write(lab, gzip.compress(idx_bytes(np.zeros(6, np.uint8))))
        return tmp_path, os.path.basename(lab)
    elif fault == "labels-not-1d":
        write(lab, gzip.compress(idx_bytes(np.zeros((7, 1), np.uint8))))
        return tmp_path, os.path.basename(lab)
    elif fault == "missing-folder":
        return tmp_path / "nowhere", "nowhere"
    return tmp_path, os.path.basename(img)


FAULTS = {  # fault: (exception, message pattern)
    "missing-file": (D.DataFileNotFoundError, "no such file"),
    "missing-folder": (D.DataFileNotFoundError, "no such file or folder"),
    "bad-magic": (D.DataError, "bad magic number 0x0001"),
    "bad-type": (D.DataError, "bad magic number"),
    "short-magic": (D.DataError, "truncated IDX file: 3 bytes"),
    "empty": (D.DataError, "truncated IDX file: 0 bytes"),
    "truncated-header": (D.DataError, "truncated IDX file: 9 bytes, the header alone needs 16"),
    "truncated-data": (D.DataError, r"truncated IDX file: shape \(7, 4, 3\) needs 84 data bytes, found 79"),
    "trailing-bytes": (D.DataError, "2 unexpected bytes after"),
    "bad-gzip": (D.DataError, "corrupted gzip data"),
    "truncated-gzip": (D.DataError, "corrupted gzip data"),
    "gz-name-not-gzip": (D.DataError, "not a gzip file"),
    "label-count": (D.DataError, "6 labels for the 7 images"),
    "labels-not-1d": (D.DataError, r"expected a 1-D IDX array \(labels\), got shape \(7, 1\)"),
}


@pytest.mark.parametrize("fault", FAULTS)
def test_bad_mnist_files_raise_clear_errors(tmp_path, rng, fault):
    path, name = _mnist_fault(tmp_path, rng, fault)
    exc, pattern = FAULTS[fault]
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


# ------------------------------------------------------------------ Cython loops vs the NumPy reference

GATHER_CASES = {  # name: src shape (N, ...), batch size
    "flat-784": ((300, 784), 100),
    "mnist-nchw": ((50, 1, 28, 28), 17),
    "rgb-odd": ((20, 3, 5, 7), 9),
    "digits": ((40, 1, 8, 8), 40),
    "b1": ((5, 2, 3, 3), 1),
    "d1": ((9, 1), 4),
    "empty-batch": ((6, 3, 2, 2), 0),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", GATHER_CASES)
def test_gather_batch_matches_reference(rng, name, dtype):
    shape, b = GATHER_CASES[name]
    src = rng.standard_normal(shape).astype(dtype)
    idx = rng.integers(0, shape[0], b)  # with repeats
    out = D.gather_batch(src, idx)
    assert out.dtype == dtype and out.shape == (b,) + shape[1:]
    np.testing.assert_array_equal(out, R.gather_batch(src, idx))  # a copy: exact


NORM_CASES = {  # name: src shape, scale, mean, std
    "flat-unit": ((60, 784), 1 / 255, 0.0, 1.0),
    "mnist-meanstd": ((30, 1, 28, 28), 1 / 255, 0.1307, 0.3081),
    "rgb-per-channel": ((12, 3, 9, 7), 1 / 255, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
    "rgb-raw-mean": ((10, 3, 4, 4), 1.0, (123.7, 116.3, 103.5), 1.0),
    "digits-16": ((25, 1, 8, 8), 1 / 16, 0.0, 1.0),
    "c17-channel-std": ((4, 17, 3, 2), 0.5, 3.0, np.linspace(0.5, 2.0, 17)),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", NORM_CASES)
def test_normalize_and_gather_normalize_match_reference(rng, name, dtype):
    shape, scale, mean, std = NORM_CASES[name]
    src = rng.integers(0, 256, shape, dtype=np.uint8)
    idx = rng.integers(0, shape[0], max(1, shape[0] // 2))
    want = R.normalize(src, scale, mean, std, dtype=np.float64)
    got = D.normalize(src, scale, mean, std, dtype=dtype)
    assert got.dtype == dtype
    # one multiply-add (src * a + b) against the float64 formula: elementwise tolerance
    assert_close(got, want, **TOL[dtype], what=f"{name} normalize")
    got = D.gather_normalize(src, idx, scale, mean, std, dtype=dtype)
    assert_close(got, R.gather_normalize(src, idx, scale, mean, std, dtype=np.float64), **TOL[dtype],
                 what=f"{name} gather_normalize")
    assert_close(got, want[idx], **TOL[dtype], what=f"{name} gather_normalize vs normalize[idx]")


AUG_CASES = {  # name: x shape (B, C, H, W), padding, out size (None: input size), flip, fill
    "cifar-pad4": ((32, 3, 32, 32), 4, None, True, 0.0),
    "alexnet-crop": ((6, 3, 40, 40), 0, (32, 32), True, 0.0),
    "mnist-pad2": ((20, 1, 28, 28), 2, None, True, 0.0),
    "digits-pad1": ((50, 1, 8, 8), 1, None, True, 0.0),
    "pad-hw-crop-hw": ((9, 2, 7, 11), (1, 3), (6, 13), True, -1.5),
    "pad-exceeds-image": ((16, 2, 3, 3), 5, (8, 8), True, 0.25),
    "crop-wider-than-image": ((8, 1, 4, 2), 3, (4, 7), True, 0.0),
    "no-flip": ((12, 3, 10, 10), 2, None, False, 0.0),
    "no-pad-no-crop": ((5, 4, 6, 5), 0, None, True, 0.0),
    "b1-w1": ((1, 1, 5, 1), 1, None, True, 2.0),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", AUG_CASES)
def test_augment_matches_reference(rng, name, dtype):
    shape, pad, size, flip, fill = AUG_CASES[name]
    x = rng.standard_normal(shape).astype(dtype)
    keys = rng.integers(0, 10**6, shape[0])
    kw = dict(seed=12345, epoch=3, padding=pad, flip=flip, fill=fill, out_size=size)
    got = D.augment(x, keys, **kw)
    want = R.augment(x, keys, **kw)
    assert got.dtype == dtype and got.shape == want.shape
    np.testing.assert_array_equal(got, want)  # pure copies and fills: exact


def test_augment_identity_cases(rng):
    x = rng.standard_normal((10, 3, 6, 5)).astype(np.float32)
    keys = np.arange(10)
    # no padding, full-size crop, no flip: the input itself
    np.testing.assert_array_equal(D.augment(x, keys, padding=0, flip=False), x)
    # no padding, full size, flip: each sample is either itself or its mirror image
    y = D.augment(x, keys, seed=1, padding=0, flip=True)
    _, _, flipped = R.augment_params(keys, 1, 0, 1, 1, True)
    for i in range(10):
        np.testing.assert_array_equal(y[i], x[i, :, :, ::-1] if flipped[i] else x[i])
    # a padded crop keeps the image content: the sample's pixels sit at (dy - p, dx - p)
    p = 2
    y = D.augment(x, keys, seed=7, epoch=1, padding=p, flip=False)
    dy, dx, _ = R.augment_params(keys, 7, 1, 2 * p + 1, 2 * p + 1, False)
    for i in range(10):
        padded = np.zeros((3, 6 + 2 * p, 5 + 2 * p), np.float32)
        padded[:, p:p + 6, p:p + 5] = x[i]
        np.testing.assert_array_equal(y[i], padded[:, dy[i]:dy[i] + 6, dx[i]:dx[i] + 5])


def test_splitmix64_known_values():
    # The first outputs of Vigna's splitmix64.c with state 0 (next(): state += gamma; mix(state)).
    gamma = 0x9E3779B97F4A7C15
    want = [0xE220A8397B1DCDAF, 0x6E789E6AA1B965F4, 0x06C45D188009454F]
    assert [_data.splitmix64((k * gamma) % 2**64) for k in range(3)] == want
    got = R.splitmix64(np.array([(k * gamma) % 2**64 for k in range(3)], dtype=np.uint64))
    assert [int(v) for v in got] == want


def test_augment_params_cover_all_offsets():
    keys = np.arange(4000)
    dy, dx, flipped = R.augment_params(keys, seed=0, epoch=0, n_dy=9, n_dx=5)
    assert set(dy.tolist()) == set(range(9)) and set(dx.tolist()) == set(range(5))
    assert 0.45 < flipped.mean() < 0.55
    # another epoch or seed gives other draws; no flip when disabled
    dy2, _, _ = R.augment_params(keys, seed=0, epoch=1, n_dy=9, n_dx=5)
    dy3, _, _ = R.augment_params(keys, seed=1, epoch=0, n_dy=9, n_dx=5)
    assert (dy2 != dy).mean() > 0.8 and (dy3 != dy).mean() > 0.8
    assert not R.augment_params(keys, 0, 0, 9, 5, flip=False)[2].any()


# ------------------------------------------------------------------ determinism and threads


def test_thread_count_does_not_change_results(rng, threads):
    # Sizes above twice the kernels' per-thread grain (65536 elements), so 2 threads really run.
    src = rng.integers(0, 256, (500, 3, 24, 24), dtype=np.uint8)
    idx = rng.integers(0, 500, 129)
    outs = []
    for n in (1, 2):
        threads(n)
        g = D.gather_normalize(src, idx, 1 / 255, (0.5, 0.4, 0.3), (0.2, 0.25, 0.3))
        assert _data._nthreads(g.size) == n
        b = D.gather_batch(g, np.arange(len(g))[::-1].copy())
        a = D.augment(g, idx, seed=5, epoch=2, padding=3, out_size=(22, 23))
        assert _data._nthreads(a.size) == n
        loader = D.BatchLoader(src, np.arange(500), batch_size=100, seed=9, augment=D.Augment(padding=2))
        batches = [xb.copy() for xb, _ in loader]
        outs.append((g, b, a, batches))
    for u, v in zip(outs[0][:3], outs[1][:3]):
        np.testing.assert_array_equal(u, v)
    for u, v in zip(outs[0][3], outs[1][3]):
        np.testing.assert_array_equal(u, v)


def _epochs(loader, k):
    return [[(xb.copy(), tb.copy()) for xb, tb in loader] for _ in range(k)]


def test_batchloader_same_seed_same_batches(rng):
    x = rng.integers(0, 256, (103, 1, 6, 6), dtype=np.uint8)
    t = np.arange(103)
    make = lambda seed: D.BatchLoader(x, t, batch_size=10, seed=seed, augment=D.Augment(padding=1))  # noqa: E731
    a, b, c = _epochs(make(4), 2), _epochs(make(4), 2), _epochs(make(5), 2)
    for ea, eb in zip(a, b):
        for (xa, ta), (xb, tb) in zip(ea, eb):
            np.testing.assert_array_equal(xa, xb)
            np.testing.assert_array_equal(ta, tb)
    order = lambda e: np.concatenate([tb for _, tb in e])  # noqa: E731
    # every sample exactly once per epoch; epochs and seeds differ in order
    assert sorted(order(a[0]).tolist()) == list(range(103)) == sorted(order(a[1]).tolist())
    assert not np.array_equal(order(a[0]), order(a[1]))
    assert not np.array_equal(order(a[0]), order(c[0]))
    # batches() replays any epoch without touching the counter
    loader = make(4)
    replay = [tb for _, tb in loader.batches(1)]
    assert loader.epoch == 0 and np.array_equal(np.concatenate(replay), order(a[1]))


def test_batchloader_matches_reference_backend(rng):
    x = rng.integers(0, 256, (70, 3, 8, 8), dtype=np.uint8)
    t = rng.integers(0, 10, 70)
    kw = dict(batch_size=16, seed=2, augment=D.Augment(padding=2, crop=(7, 9)), mean=(0.5, 0.5, 0.4), std=0.25)
    nat = D.BatchLoader(x, t, backend="native", **kw)
    ref = D.BatchLoader(x, t, backend="reference", dtype=np.float64, **kw)
    for (xn, tn), (xr, tr) in zip(nat, ref):
        assert xn.dtype == np.float32 and xn.shape[1:] == (3, 7, 9)
        assert_close(xn, xr, **TOL[np.float32], what="native vs reference batch")
        np.testing.assert_array_equal(tn, tr)


def test_batchloader_options(rng):
    x = rng.standard_normal((25, 2, 4, 4)).astype(np.float64)
    t = np.eye(5)[np.arange(25) % 5]
    plain = D.BatchLoader(x, t, batch_size=10, shuffle=False, dtype=np.float64)
    assert len(plain) == 3
    got = [(xb, tb) for xb, tb in plain]
    assert [len(xb) for xb, _ in got] == [10, 10, 5]
    np.testing.assert_array_equal(np.concatenate([xb for xb, _ in got]), x)
    np.testing.assert_array_equal(np.concatenate([tb for _, tb in got]), t)
    dropped = D.BatchLoader(x, t, batch_size=10, drop_last=True)
    assert len(dropped) == 2 and [len(xb) for xb, _ in dropped] == [10, 10]
    assert next(iter(dropped))[0].dtype == np.float32  # float data cast once to dtype
    # reused buffers: same values, and the batches share memory
    reuse = D.BatchLoader(x, t, batch_size=10, seed=3, dtype=np.float64, reuse_buffers=True)
    fresh = D.BatchLoader(x, t, batch_size=10, seed=3, dtype=np.float64)
    kept = []
    for (xr, _), (xf, _) in zip(reuse, fresh):
        np.testing.assert_array_equal(xr, xf)
        kept.append(xr)
    assert np.shares_memory(kept[0], kept[1])
    # digits straight from the loader
    (xd, td), _ = D.load_digits(normalize=False)
    xb, tb = next(iter(D.BatchLoader(xd, td, batch_size=32, scale=1 / 16)))
    assert xb.shape == (32, 1, 8, 8) and 0 <= xb.min() and xb.max() <= 1


def test_read_only_and_strided_inputs(rng):
    src = rng.integers(0, 256, (20, 1, 5, 5), dtype=np.uint8)
    src.flags.writeable = False
    idx = np.arange(0, 20, 3)
    np.testing.assert_array_equal(D.gather_normalize(src, idx, 1.0), src[idx].astype(np.float32))
    xs = rng.standard_normal((10, 3, 6, 8))[:, :, :, ::2]  # not contiguous: the wrapper copies once
    np.testing.assert_array_equal(D.gather_batch(xs, idx[:3]), xs[idx[:3]])
    xs = np.ascontiguousarray(xs)
    xs.flags.writeable = False
    np.testing.assert_array_equal(D.augment(xs, np.zeros(len(xs), np.int64), flip=False), xs)


# ------------------------------------------------------------------ bad input


def _nan(shape, dtype=np.float32):
    return np.full(shape, np.nan, dtype=dtype)


BAD = {  # name: (callable, exception, message)
    "gather-src-int": (lambda: _data.gather_batch(np.zeros((4, 3), np.int64), np.arange(2), _nan((2, 3))),
                       TypeError, "gather_batch: src must be float32 or float64, got int64"),
    "gather-mixed": (lambda: _data.gather_batch(np.zeros((4, 3), np.float64), np.arange(2), _nan((2, 3))),
                     TypeError, "mixed dtypes are not supported"),
    "gather-idx-range": (lambda: _data.gather_batch(np.zeros((4, 3), np.float32), np.array([0, 4]), _nan((2, 3))),
                         IndexError, "idx contains 4, out of range for src with 4 samples"),
    "gather-idx-negative": (lambda: _data.gather_batch(np.zeros((4, 3), np.float32), np.array([-1, 0]),
                                                       _nan((2, 3))), IndexError, "idx contains -1"),
    "gather-idx-int32": (lambda: _data.gather_batch(np.zeros((4, 3), np.float32), np.arange(2, dtype=np.int32),
                                                    _nan((2, 3))), TypeError, "idx must be int64"),
    "gather-out-shape": (lambda: _data.gather_batch(np.zeros((4, 3), np.float32), np.arange(2), _nan((2, 4))),
                         ValueError, r"out must have shape \(2, 3\), got \(2, 4\)"),
    "gather-out-strided": (lambda: _data.gather_batch(np.zeros((4, 3), np.float32), np.arange(2),
                                                      _nan((2, 6))[:, ::2]), ValueError, "out must be C-contiguous"),
    "normalize-src-float": (lambda: _data.normalize(np.zeros((2, 3), np.float32), _nan((2, 3))),
                            TypeError, "normalize: src must be uint8, got float32"),
    "normalize-std-zero": (lambda: _data.normalize(np.zeros((2, 3), np.uint8), _nan((2, 3)), 1.0, 0.0, 0.0),
                           ValueError, "std must be finite and > 0"),
    "normalize-mean-len": (lambda: _data.normalize(np.zeros((2, 3, 2, 2), np.uint8), _nan((2, 3, 2, 2)), 1.0,
                                                   (0.1, 0.2), 1.0), ValueError, r"one value per channel \(3\)"),
    "normalize-out-int": (lambda: _data.normalize(np.zeros((2, 3), np.uint8), np.zeros((2, 3), np.int32)),
                          TypeError, "out must be float32 or float64, got int32"),
    "gnorm-idx-range": (lambda: _data.gather_normalize(np.zeros((3, 2), np.uint8), np.array([3]), _nan((1, 2))),
                        IndexError, "out of range for src with 3 samples"),
    "augment-3d": (lambda: _data.augment(np.zeros((2, 3, 3), np.float32), _nan((2, 3, 3)), np.arange(2)),
                   ValueError, r"augment: x must be 4-D, got shape \(2, 3, 3\)"),
    "augment-crop-too-big": (lambda: _data.augment(np.zeros((2, 1, 4, 4), np.float32), _nan((2, 1, 7, 4)),
                                                   np.arange(2), padding=1),
                             ValueError, "crop 7x4 is larger than the padded image 6x6"),
    "augment-keys-len": (lambda: _data.augment(np.zeros((2, 1, 4, 4), np.float32), _nan((2, 1, 4, 4)),
                                               np.arange(3)), ValueError, r"keys must have shape \(2,\)"),
    "augment-out-channels": (lambda: _data.augment(np.zeros((2, 1, 4, 4), np.float32), _nan((2, 2, 4, 4)),
                                                   np.arange(2)), ValueError, r"out must have shape \(2, 1, OH, OW\)"),
    "augment-neg-pad": (lambda: _data.augment(np.zeros((2, 1, 4, 4), np.float32), _nan((2, 1, 4, 4)),
                                              np.arange(2), padding=-1), ValueError, "padding must be >= 0"),
    "augment-neg-seed": (lambda: _data.augment(np.zeros((2, 1, 4, 4), np.float32), _nan((2, 1, 4, 4)),
                                               np.arange(2), seed=-1), ValueError, r"seed must be an integer in \[0"),
    "augment-mixed": (lambda: _data.augment(np.zeros((2, 1, 4, 4), np.float32), _nan((2, 1, 4, 4), np.float64),
                                            np.arange(2)), TypeError, "mixed dtypes are not supported"),
    "loader-lengths": (lambda: D.BatchLoader(np.zeros((4, 2)), np.zeros(3)), ValueError, "3 labels for 4 samples"),
    "loader-batch": (lambda: D.BatchLoader(np.zeros((4, 2)), np.zeros(4), batch_size=0), ValueError,
                     "batch_size must be a positive integer"),
    "loader-backend": (lambda: D.BatchLoader(np.zeros((4, 2)), np.zeros(4), backend="gpu"), ValueError,
                       "backend must be 'native' or 'reference'"),
    "loader-augment-flat": (lambda: D.BatchLoader(np.zeros((4, 2)), np.zeros(4), augment=D.Augment()), ValueError,
                            r"augmentation needs images \(N, C, H, W\)"),
    "loader-float-mean": (lambda: D.BatchLoader(np.zeros((4, 2)), np.zeros(4), mean=0.5), ValueError,
                          "normalise float data beforehand"),
}


@pytest.mark.parametrize("name", BAD)
def test_bad_input_raises(name):
    fn, exc, pattern = BAD[name]
    with pytest.raises(exc, match=pattern):
        fn()


def test_errors_leave_out_untouched():
    out = _nan((2, 3))
    with pytest.raises(IndexError):
        _data.gather_normalize(np.ones((3, 3), np.uint8), np.array([0, 5]), out)
    with pytest.raises(ValueError):
        _data.normalize(np.ones((2, 3), np.uint8), out, 1.0, 0.0, -1.0)
    assert np.isnan(out).all()
    out = _nan((2, 1, 4, 4))
    with pytest.raises(ValueError):
        _data.augment(np.ones((2, 1, 4, 4), np.float32), out, np.arange(2), seed=2**64)
    assert np.isnan(out).all()


def test_read_only_out_is_rejected():
    out = _nan((2, 3))
    out.flags.writeable = False
    with pytest.raises(ValueError, match="out is read-only"):
        _data.gather_batch(np.zeros((4, 3), np.float32), np.arange(2), out)


def test_package_exports():
    assert nnkern.data.load_digits is D.load_digits
    for name in ("gather_batch", "normalize", "gather_normalize", "augment"):
        assert callable(getattr(_data, name)) and callable(getattr(R, name)) and callable(getattr(D, name))


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
