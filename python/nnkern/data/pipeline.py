"""The training data pipeline: shuffled, normalised, augmented mini-batches.

:class:`BatchLoader` iterates over ``(x_batch, t_batch)`` pairs of an in-memory dataset,
one epoch per ``for`` loop. Per batch it runs the Cython loops of ``nnkern._data``
(OpenMP over the samples, no GIL): gather the shuffled rows (converting uint8 pixels
to float with ``(x * scale - mean) / std`` on the way) and, optionally, AlexNet-style
augmentation, a random crop of the padded image plus a random horizontal flip
(Krizhevsky, Sutskever, Hinton, "ImageNet Classification with Deep Convolutional Neural
Networks", NIPS 2012, section 4.1).

Everything is seeded and reproducible: the epoch's order and each sample's crop and
flip are functions of (seed, epoch, dataset index) via splitmix64, whatever the thread
count. The functions below are thin wrappers that allocate ``out`` when it is not given;
``nnkern.reference.data`` has the NumPy version of each.

    (x, t), (x_test, t_test) = nnkern.data.load_digits(normalize=False)   # uint8 0..16
    loader = BatchLoader(x, t, batch_size=100, scale=1 / 16, seed=0,
                         augment=Augment(padding=1, flip=False))  # no mirror images of digits
    for epoch in range(10):
        for x_batch, t_batch in loader:      # (100, 1, 8, 8) float32, (100,) int64
            ...
"""
import numbers
import sys
from dataclasses import dataclass

import numpy as np

from .. import _core, _data, reference
from ..backend import BackendSwitch
from ..distributed.sharding import shard_bounds
from ..reference import data as _ref

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def _empty(shape, dtype):
    """A fresh output; NaN-filled under the test hook so unwritten elements show."""
    if _core._poison_outputs():
        return np.full(shape, np.nan, dtype=dtype)
    return np.empty(shape, dtype=dtype)


def _contig(a):
    """An input as a C-contiguous, aligned array (one copy when it is not)."""
    a = np.asarray(a)
    return a if a.flags.c_contiguous and a.flags.aligned else np.array(a, order="C")


def _index(idx):
    return _contig(np.asarray(idx).astype(np.int64, copy=False).reshape(-1))


def _float_dtype(dtype):
    dtype = np.dtype(dtype)
    if dtype not in _FLOATS:
        raise TypeError(f"dtype must be float32 or float64, got {dtype}")
    return dtype


def gather_batch(src, idx, out=None):
    """``src[idx]`` into ``out`` (allocated when None). src (N, ...) float32/float64."""
    src, idx = _contig(src), _index(idx)
    if out is None:
        out = _empty((len(idx),) + src.shape[1:], src.dtype)
    return _data.gather_batch(src, idx, out)


def normalize(src, scale=1.0 / 255.0, mean=0.0, std=1.0, dtype=np.float32, out=None):
    """``(src * scale - mean) / std`` of uint8 src as dtype; mean/std scalar or per channel."""
    src = _contig(src)
    if out is None:
        out = _empty(src.shape, _float_dtype(dtype))
    return _data.normalize(src, out, scale, mean, std)


def gather_normalize(src, idx, scale=1.0 / 255.0, mean=0.0, std=1.0, dtype=np.float32, out=None):
    """``normalize(src[idx], ...)`` in one pass over the batch."""
    src, idx = _contig(src), _index(idx)
    if out is None:
        out = _empty((len(idx),) + src.shape[1:], _float_dtype(dtype))
    return _data.gather_normalize(src, idx, out, scale, mean, std)


def augment(x, keys, seed=0, epoch=0, padding=0, flip=True, fill=0.0, out_size=None, out=None):
    """Random crop of the ``fill``-padded image and random horizontal flip, per sample.

    x: (B, C, H, W) float32/float64; keys: (B,) ints, the per-sample RNG counters (the
    dataset indices in :class:`BatchLoader`); out_size: (OH, OW), default (H, W).
    """
    x, keys = _contig(x), _index(keys)
    if out is None:
        if x.ndim != 4:
            raise ValueError(f"augment: x must be 4-D (B, C, H, W), got shape {x.shape}")
        oh, ow = x.shape[2:] if out_size is None else out_size
        out = _empty(x.shape[:2] + (int(oh), int(ow)), x.dtype)
    return _data.augment(x, out, keys, seed, epoch, padding, flip, fill)


@dataclass(frozen=True)
class Augment:
    """Augmentation settings of :class:`BatchLoader`.

    padding: pixels of ``fill`` added on each side before cropping (int or (ph, pw));
    crop: (OH, OW) of the random crop, default the input size (CIFAR-style pad-and-crop,
    e.g. ``Augment(padding=4)`` for 32x32); AlexNet: ``Augment(crop=(224, 224))`` of
    256x256 images. flip: mirror half of the samples left-right.
    """
    padding: int | tuple[int, int] = 0
    crop: tuple[int, int] | None = None
    flip: bool = True
    fill: float = 0.0


def shuffle_indices(n, seed=0, epoch=0):
    """The epoch's sample order: a permutation of range(n) that depends only on (seed, epoch).

    Sorts splitmix64 keys of the indices (so it does not depend on NumPy's generators).
    """
    s = _ref.splitmix64(_ref.splitmix64(np.array([seed], dtype=np.uint64) ^ np.uint64(0x5348554646)) ^
                        np.array([epoch], dtype=np.uint64))
    keys = _ref.splitmix64(s ^ np.arange(n, dtype=np.uint64))
    return np.argsort(keys, kind="stable").astype(np.int64)


class BatchLoader(BackendSwitch):
    """Mini-batches ``(x_batch, t_batch)`` of an in-memory dataset, one epoch per iteration.

    x: (N, ...) uint8 pixels (converted to ``dtype`` as ``(x * scale - mean) / std``,
    scale default 1/255) or float32/float64 data (gathered as is; cast once to ``dtype``).
    t: (N,) labels or (N, K) one-hot, gathered alongside.
    shuffle: a fresh permutation per epoch (:func:`shuffle_indices`), else in order.
    augment: None or an :class:`Augment` (x must then be (N, C, H, W)).
    drop_last: skip a final batch smaller than batch_size.
    backend: "native" (Cython loops) or "reference" (NumPy).
    reuse_buffers: return views of two preallocated batch buffers that the next batch
    overwrites (saves allocation; keep copies of batches you want to hold on to); native only.
    rank, world_size: data-parallel training (:mod:`nnkern.distributed`): ``batch_size`` stays
    the global batch and this rank gets the rank-th of world_size near-equal contiguous parts
    of every batch (:func:`nnkern.distributed.shard`; empty when a batch has fewer samples than
    ranks), so the ranks' batches are disjoint and together are the single-process batches.

    Each ``for`` loop runs the epoch ``self.epoch`` and then advances it; two loaders with
    the same arguments yield the same batches. ``len(loader)`` is the number of batches.
    """

    def __init__(self, x, t, batch_size=100, shuffle=True, seed=0, augment=None, drop_last=False,
                 scale=None, mean=0.0, std=1.0, dtype=np.float32, backend="native", reuse_buffers=False,
                 rank=0, world_size=1):
        x, t = np.asarray(x), np.asarray(t)
        shard_bounds(0, rank, world_size)  # TypeError / ValueError for a bad rank or world size
        if x.ndim < 2:
            raise ValueError(f"BatchLoader: x must be (N, ...) with at least 2 dimensions, got shape {x.shape}")
        if len(t) != len(x):
            raise ValueError(f"BatchLoader: {len(t)} labels for {len(x)} samples")
        if not isinstance(batch_size, numbers.Integral) or batch_size < 1:
            raise ValueError(f"BatchLoader: batch_size must be a positive integer, got {batch_size!r}")
        self.backend = backend
        if augment is not None and not isinstance(augment, Augment):
            raise TypeError(f"BatchLoader: augment must be None or an Augment, got {type(augment).__name__}")
        if augment is not None and x.ndim != 4:
            raise ValueError(f"BatchLoader: augmentation needs images (N, C, H, W), got shape {x.shape}")
        self.dtype = _float_dtype(dtype)
        self.uint8 = x.dtype == np.uint8
        if self.uint8:
            self.scale = 1.0 / 255.0 if scale is None else float(scale)
        else:
            if scale is not None or np.any(np.asarray(mean) != 0) or np.any(np.asarray(std) != 1):
                raise ValueError("BatchLoader: scale/mean/std apply to uint8 data; normalise float data beforehand")
            if not np.issubdtype(x.dtype, np.floating):
                raise TypeError(f"BatchLoader: x must be uint8 or floating point, got {x.dtype}")
            self.scale = None
            x = x.astype(self.dtype, copy=False)
        self.x, self.t = _contig(x), _contig(t)
        self.mean, self.std = mean, std
        self.batch_size, self.shuffle, self.seed = int(batch_size), bool(shuffle), int(seed)
        self.augment, self.drop_last = augment, bool(drop_last)
        self.reuse_buffers = bool(reuse_buffers)
        self.rank, self.world_size = int(rank), int(world_size)
        self.epoch = 0
        self._buffers = None

    def _on_backend_switch(self, name):
        # the per-batch loops: nnkern.reference's (NumPy), or this module's wrappers of the
        # Cython loops (the same names and arguments, plus ``out``)
        self._loops = self.F if self.F is reference else sys.modules[__name__]

    def __len__(self):
        n, b = len(self.x), self.batch_size
        return n // b if self.drop_last else -(-n // b)

    @property
    def batch_shape(self):
        """Shape of a full x batch after augmentation."""
        shape = self.x.shape[1:]
        if self.augment is not None and self.augment.crop is not None:
            shape = shape[:1] + tuple(self.augment.crop)
        return (self.batch_size,) + shape

    def indices(self, epoch):
        """The dataset indices of the epoch, in batch order."""
        n = len(self.x)
        return shuffle_indices(n, self.seed, epoch) if self.shuffle else np.arange(n, dtype=np.int64)

    def __iter__(self):
        epoch = self.epoch
        self.epoch += 1
        return self.batches(epoch)

    def batches(self, epoch):
        """Generator of the batches of one given epoch (does not touch ``self.epoch``)."""
        order = self.indices(epoch)
        n, b = len(order), self.batch_size
        stop = n - n % b if self.drop_last else n
        for start in range(0, stop, b):
            idx = order[start:start + b]
            if self.world_size > 1:
                idx = idx[slice(*shard_bounds(len(idx), self.rank, self.world_size))]
            yield self._x_batch(idx, epoch), self.t[idx]

    def _out(self, k, shape, m):
        """``{"out": a view of reused buffer k}`` with reuse_buffers on the native loops, else {}."""
        if not self.reuse_buffers or self._loops is reference:
            return {}
        if self._buffers is None:
            self._buffers = [None, None]
        if self._buffers[k] is None or self._buffers[k].shape != shape:
            self._buffers[k] = _empty(shape, self.dtype)
        return {"out": self._buffers[k][:m]}

    def _x_batch(self, idx, epoch):
        loops, m, a = self._loops, len(idx), self.augment
        full = (self.batch_size,) + self.x.shape[1:]
        if self.uint8:
            xb = loops.gather_normalize(self.x, idx, self.scale, self.mean, self.std, self.dtype,
                                        **self._out(0, full, m))
        else:
            xb = loops.gather_batch(self.x, idx, **self._out(0, full, m))
        if a is None:
            return xb
        return loops.augment(xb, idx, self.seed, epoch, a.padding, a.flip, a.fill, a.crop,
                             **self._out(1, self.batch_shape, m))
