"""Dataset loaders: the embedded UCI digits, local MNIST / Fashion-MNIST IDX files, .npz files.

Nothing here downloads anything. Every loader returns the book's layout
``(x_train, t_train), (x_test, t_test)`` with images shaped (N, C, H, W) (or (N, C*H*W)
with ``flatten=True``) and integer labels (N,) int64 (or one-hot (N, K) with ``one_hot=True``).
A missing, truncated or corrupted file raises :class:`DataError` (a ``ValueError``; the
missing-file case is also a ``FileNotFoundError``) whose message names the file and the fault.
"""
import os
from importlib import resources

import numpy as np

from .._npz_reader import NpzReader
from . import idx
from .errors import DataError, DataFileNotFoundError
from .idx import load_idx

# Limits checked before anything is allocated (module attributes: raise them for larger data
# sets): the classes a label array may imply (the largest label + 1: a model gets one output
# per class); one one-hot label array. One array's bytes: nnkern.data.idx.MAX_ARRAY_BYTES.
MAX_CLASSES = 1 << 16
MAX_ONE_HOT_BYTES = 1 << 32

# The four files of MNIST and Fashion-MNIST (same names, same format).
MNIST_FILES = {"x_train": "train-images-idx3-ubyte", "t_train": "train-labels-idx1-ubyte",
               "x_test": "t10k-images-idx3-ubyte", "t_test": "t10k-labels-idx1-ubyte"}


def _find(folder, stem):
    for name in (stem, stem + ".gz"):
        p = os.path.join(folder, name)
        if os.path.exists(p):
            return p
    # Some mirrors use a dot before "idx": train-images.idx3-ubyte.
    alt = stem.replace("-idx", ".idx")
    for name in (alt, alt + ".gz"):
        p = os.path.join(folder, name)
        if os.path.exists(p):
            return p
    raise DataFileNotFoundError(f"{os.path.join(folder, stem)}[.gz]: no such file (an MNIST/Fashion-MNIST "
                                f"folder holds {', '.join(v + '[.gz]' for v in MNIST_FILES.values())})")


def _check_pair(x, t, xname, tname):
    if x.ndim not in (2, 3, 4):
        raise DataError(f"{xname}: images must have 2 to 4 dimensions (N, ...), got shape {x.shape}")
    if t.ndim != 1:
        raise DataError(f"{tname}: labels must have 1 dimension (N,), got shape {t.shape}")
    if len(x) != len(t):
        raise DataError(f"{tname}: {len(t)} labels for the {len(x)} images of {xname}")
    if t.size and (not np.issubdtype(t.dtype, np.integer) or t.min() < 0):
        raise DataError(f"{tname}: labels must be non-negative integers, got dtype {t.dtype}"
                        + (f" and minimum {t.min()}" if np.issubdtype(t.dtype, np.integer) else ""))
    if t.size and int(t.max()) >= MAX_CLASSES:
        raise DataError(f"{tname}: label {int(t.max())} means {int(t.max()) + 1} classes, more than the "
                        f"{MAX_CLASSES} nnkern supports (labels are class indices 0 .. classes - 1)")


def _images(x, normalize, flatten, dtype, scale):
    """uint8 (N, H, W) / (N, C, H, W) -> (N, C, H, W) or (N, D); scaled to [0, 1] when normalize."""
    if x.ndim == 3:
        x = x[:, None]
    if flatten:
        x = x.reshape(len(x), -1)
    if not normalize:
        return np.ascontiguousarray(x)
    if x.dtype == np.uint8:
        return x.astype(dtype) / dtype.type(scale)
    return x.astype(dtype)  # already real-valued: kept as is


def _labels(t, one_hot, num_classes, dtype):
    t = t.astype(np.int64)
    if not one_hot:
        return t
    if len(t) * num_classes * dtype.itemsize > MAX_ONE_HOT_BYTES:
        raise DataError(f"one-hot labels ({len(t)}, {num_classes}) would take {len(t) * num_classes * dtype.itemsize} "
                        f"bytes, over the limit of {MAX_ONE_HOT_BYTES} (use one_hot=False)")
    out = np.zeros((len(t), num_classes), dtype=dtype)
    out[np.arange(len(t)), t] = 1
    return out


def _finish(arrays, names, normalize, flatten, one_hot, dtype, scale, min_classes=0):
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise TypeError(f"dtype must be float32 or float64, got {dtype}")
    x_tr, t_tr, x_te, t_te = arrays
    _check_pair(x_tr, t_tr, names[0], names[1])
    _check_pair(x_te, t_te, names[2], names[3])
    if x_tr.shape[1:] != x_te.shape[1:]:
        raise DataError(f"{names[2]}: test images of shape {x_te.shape[1:]} but training images of "
                        f"shape {x_tr.shape[1:]}")
    k = max(int(max(t_tr.max(initial=0), t_te.max(initial=0))) + 1, min_classes)
    return ((_images(x_tr, normalize, flatten, dtype, scale), _labels(t_tr, one_hot, k, dtype)),
            (_images(x_te, normalize, flatten, dtype, scale), _labels(t_te, one_hot, k, dtype)))


_NPZ_KEYS = (("x_train", "t_train", "x_test", "t_test"),   # this package, the book's names
             ("x_train", "y_train", "x_test", "y_test"))   # keras mnist.npz / fashion_mnist


def _npz_arrays(file):
    name = os.fspath(file)
    if not os.path.exists(name):
        raise DataFileNotFoundError(f"{name}: no such file")
    if os.path.isdir(name):
        raise DataError(f"{name}: is a folder, expected an .npz file")
    with open(name, "rb") as f:
        if f.read(4) != b"PK\x03\x04":
            raise DataError(f"{name}: not a readable .npz file (no zip header; .npz files are zip "
                            f"archives; for MNIST IDX files give the folder that holds them)")
        f.seek(0)
        with NpzReader(f, ".npz file", DataError, name) as z:  # sizes checked before data is read
            for ks in _NPZ_KEYS:
                if all(k in z for k in ks):
                    for k in ks:
                        if z.header(k).nbytes > idx.MAX_ARRAY_BYTES:
                            raise DataError(f"{name}[{k}]: declares {z.header(k).nbytes} bytes, over the limit of "
                                            f"{idx.MAX_ARRAY_BYTES} (nnkern.data.idx.MAX_ARRAY_BYTES)")
                    return [z.read(k) for k in ks], [f"{name}[{k}]" for k in ks]
            keys = z.keys()
    raise DataError(f"{name}: .npz file lacks the arrays x_train, t_train (or y_train), x_test, "
                    f"t_test (or y_test); it has {sorted(keys)}")


def load_npz(file, normalize=True, flatten=False, one_hot=False, dtype=np.float32):
    """A dataset stored in an .npz file with arrays x_train, t_train, x_test, t_test
    (or Keras's y_train/y_test). uint8 images are scaled by 1/255 when ``normalize``.
    See :func:`load_mnist` for the arguments and the result."""
    arrays, names = _npz_arrays(file)
    return _finish(arrays, names, normalize, flatten, one_hot, dtype, 255.0)


def load_mnist(path, normalize=True, flatten=False, one_hot=False, dtype=np.float32):
    """MNIST or Fashion-MNIST from local files; never downloads.

    path: a folder holding train-images-idx3-ubyte, train-labels-idx1-ubyte,
    t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte (each optionally ``.gz``), or an
    ``.npz`` file (see :func:`load_npz`).
    normalize: uint8 pixels -> dtype in [0, 1] (x / 255); otherwise the uint8 values.
    flatten: images (N, 784) instead of (N, 1, 28, 28).
    one_hot: labels (N, 10) of dtype instead of int64 (N,).
    Returns ``(x_train, t_train), (x_test, t_test)``, as the book's ``load_mnist``.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise DataFileNotFoundError(f"{path}: no such file or folder")
    if not os.path.isdir(path):
        return load_npz(path, normalize, flatten, one_hot, dtype)
    files = [_find(path, MNIST_FILES[k]) for k in ("x_train", "t_train", "x_test", "t_test")]
    arrays = [load_idx(f) for f in files]
    for f, a, nd in zip(files, arrays, (3, 1, 3, 1)):
        if a.ndim != nd:
            raise DataError(f"{f}: expected a {nd}-D IDX array ({'images' if nd == 3 else 'labels'}), "
                            f"got shape {a.shape}")
    return _finish(arrays, files, normalize, flatten, one_hot, dtype, 255.0, min_classes=10)


DIGITS_SHAPE = (1, 8, 8)


def load_digits(normalize=True, flatten=False, one_hot=False, dtype=np.float32):
    """The embedded UCI handwritten digits: 1,797 grey 8x8 images of the digits 0-9.

    E. Alpaydin, C. Kaynak, "Optical Recognition of Handwritten Digits", UCI Machine
    Learning Repository (1998), CC BY 4.0 (see ``nnkern/data/DIGITS_LICENSE.txt``).
    The train/test split is fixed (stratified, seeded once when the file was made):
    1,438 training and 359 test images.

    normalize: pixels 0..16 -> dtype in [0, 1] (x / 16); otherwise uint8 0..16.
    flatten: images (N, 64) instead of (N, 1, 8, 8).
    one_hot: labels (N, 10) of dtype instead of int64 (N,).
    Returns ``(x_train, t_train), (x_test, t_test)``.
    """
    with resources.as_file(resources.files(__package__) / "digits.npz") as p:
        arrays, names = _npz_arrays(p)
    return _finish(arrays, names, normalize, flatten, one_hot, dtype, 16.0, min_classes=10)


def load_data(source=None, normalize=True, flatten=False, one_hot=False, dtype=np.float32):
    """``None`` or ``"digits"``: :func:`load_digits`; anything else: a path for :func:`load_mnist`."""
    if source is None or source == "digits":
        return load_digits(normalize, flatten, one_hot, dtype)
    return load_mnist(source, normalize, flatten, one_hot, dtype)
