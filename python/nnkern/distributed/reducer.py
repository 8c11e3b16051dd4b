"""Averaging gradients across ranks: :class:`GradientReducer` and :func:`allreduce_gradients`.

    reducer = GradientReducer(model.params)          # bucket plan, built once
    grads = reducer.allreduce(model.gradient(x, t))  # blocking: fill, reduce, average, scatter back

    reducer.begin()                                  # overlapped with backward:
    ... reducer.ready(name, grad) as each layer's gradients appear (a bucket starts once full) ...
    grads = reducer.finish(grads)                    # waits for the buckets in flight

Every rank must call these in the same order with the same parameter names, shapes and
dtypes (checked once, at construction: a mismatch raises on every rank instead of hanging).

``weight`` (e.g. the number of samples behind this rank's gradient) gives the weighted mean
``sum_r w_r g_r / sum_r w_r``: rank r scales its gradient by ``n w_r / sum w`` before the
plain mean, which leaves it untouched (bit for bit) when the weights are equal. A rank with
weight 0 contributes zeros (its gradients may be None: an empty shard has none).
"""
import math
import zlib

import numpy as np

from .buckets import ALGORITHMS, DEFAULT_BUCKET_BYTES, choose_algorithm, plan_buckets
from .group import mpi, world


def check_same_on_all_ranks(comm, signature, what):
    """Raise ValueError on every rank when ``signature`` (a str) differs between ranks."""
    if comm is None or comm.Get_size() == 1:
        return
    sigs = comm.allgather(zlib.crc32(signature.encode()))
    if len(set(sigs)) == 1:
        return
    full = comm.allgather(signature)
    bad = [r for r, s in enumerate(full) if s != full[0]]
    raise ValueError(f"{what} differ between ranks: rank 0 has {full[0][:300]!r}, rank {bad[0]} has "
                     f"{full[bad[0]][:300]!r}")


def signature_of(arrays):
    return ";".join(f"{k}:{np.dtype(a.dtype).str}{tuple(a.shape)}" for k, a in arrays.items())


def _as_weight(weight):
    if weight is None:
        return None
    if isinstance(weight, bool) or not isinstance(weight, (int, float, np.integer, np.floating)):
        raise TypeError(f"weight must be a number (e.g. the local batch size), got {type(weight).__name__}")
    w = float(weight)
    if not (math.isfinite(w) and w >= 0):
        raise ValueError(f"weight must be finite and >= 0, got {weight!r}")
    return w


class GradientReducer:
    """Bucketed, in-place mean of gradient dicts over the ranks of ``comm`` (default: the world).

    params: name -> array (the model's parameters, for names, shapes and dtypes; read only).
    bucket_bytes: bucket capacity (default 25 MiB). algorithm: 'auto', 'fixed' or 'mpi'
    (:mod:`nnkern.distributed.buckets`). With one rank every method returns its input unchanged.
    """

    def __init__(self, params, bucket_bytes=DEFAULT_BUCKET_BYTES, algorithm="auto", comm=None):
        self.comm = comm if comm is not None else world().comm
        self.size = 1 if self.comm is None else self.comm.Get_size()
        self.algorithm = choose_algorithm(algorithm, self.size)
        self.keys = list(params)
        arrays = {k: np.asarray(params[k]) for k in self.keys}
        for k, a in arrays.items():
            if a.dtype not in (np.float32, np.float64):
                raise TypeError(f"GradientReducer: params[{k!r}] must be float32 or float64, got {a.dtype}")
        check_same_on_all_ranks(self.comm, signature_of(arrays), "parameter names, shapes or dtypes")
        specs = [(k, arrays[k].shape, arrays[k].dtype) for k in reversed(self.keys)]  # backward order
        self.buckets = plan_buckets(specs, bucket_bytes, self.size) if self.size > 1 else []
        self._where = {k: (b, i) for b in self.buckets for i, k in enumerate(b.keys)}
        self._blocking = ALGORITHMS[self.algorithm](self.comm) if self.size > 1 else None
        self._async = None  # the non-blocking algorithm on duplicated communicators, made on first begin()
        self._active = False

    # -- blocking -------------------------------------------------------------------------
    def allreduce(self, grads, weight=None):
        """The mean of ``grads`` over ranks; writable arrays of ``grads`` are overwritten in place.
        Returns a dict in ``params`` order (the same array objects where written in place)."""
        if self.size == 1:
            return self._identity(grads, weight)
        factor = self._factor(weight)
        out = {}
        for b in self.buckets:
            self._fill(b, grads, factor)
            self._blocking.run(b)
            self._scatter(b, grads, out)
        return {k: out[k] for k in self.keys}

    # -- overlapped with backward ----------------------------------------------------------
    def begin(self, weight=None):
        """Start a step whose gradients arrive one by one through :meth:`ready`."""
        if self._active:
            raise RuntimeError("GradientReducer.begin: the previous step was not finished")
        self._grads = {}
        if self.size == 1:
            self._active = True
            return
        if self._async is None:
            self._async = ALGORITHMS[self.algorithm](self.comm.Dup(), self.comm.Dup())
        self._factor_now = self._factor(weight)
        for b in self.buckets:
            b.filled = 0
        self._next = 0  # the first bucket not yet started
        self._inflight = []
        self._active = True

    def ready(self, key, grad):
        """``grad`` (the final gradient of ``key``) is ready: copy it into its bucket and start
        every bucket that is complete, in plan order; drive the buckets in flight."""
        if not self._active:
            raise RuntimeError("GradientReducer.ready: call begin() first")
        self._grads[key] = grad
        if self.size == 1:
            return
        if key not in self._where:
            raise KeyError(f"GradientReducer.ready: {key!r} is not a parameter name")
        b, i = self._where[key]
        self._fill_one(b, i, grad, self._factor_now)
        b.filled += 1
        self._launch_full()
        self.progress()

    def progress(self):
        """Let MPI advance the buckets in flight (without blocking)."""
        for b in self._inflight:
            if not self._async.advance(b):
                break  # later buckets must not issue their next collective before this one

    def finish(self, grads=None):
        """Wait for every bucket (filling the ones not reported by :meth:`ready` from ``grads``)
        and return the averaged gradients, as :meth:`allreduce` does."""
        if not self._active:
            raise RuntimeError("GradientReducer.finish: call begin() first")
        self._active = False
        got = dict(self._grads)
        for k, g in (grads or {}).items():
            got.setdefault(k, g)
        if self.size == 1:
            return self._identity(got, None)
        for b in self.buckets:
            for i, k in enumerate(b.keys):
                if k not in self._grads:
                    self._fill_one(b, i, got.get(k), self._factor_now)
            b.filled = len(b.keys)
        self._launch_full()
        out = {}
        for b in self._inflight:
            self._async.finish(b)
            self._scatter(b, got, out)
        self._inflight = []
        return {k: out[k] for k in self.keys}

    # -- helpers --------------------------------------------------------------------------
    def _launch_full(self):
        while self._next < len(self.buckets) and self.buckets[self._next].filled == len(self.buckets[self._next].keys):
            b = self.buckets[self._next]
            self._async.start(b)
            self._inflight.append(b)
            self._next += 1

    def _factor(self, weight):
        """n w_r / sum_r w_r (1.0 without weights); 0.0 means: contribute zeros."""
        w = _as_weight(weight)
        if w is None:
            return 1.0
        total = np.array([w], np.float64)
        self.comm.Allreduce(mpi().IN_PLACE, total, op=mpi().SUM)
        if total[0] == 0:
            raise ValueError("allreduce of gradients: every rank passed weight 0 (no samples anywhere)")
        return self.size * w / float(total[0])

    def _identity(self, grads, weight):
        w = _as_weight(weight)
        if w == 0:
            raise ValueError("allreduce of gradients: weight 0 on the only rank (no samples)")
        missing = [k for k in self.keys if grads.get(k) is None]
        if missing:
            raise KeyError(f"allreduce of gradients: no gradient for {missing}")
        return {k: grads[k] for k in self.keys}

    def _fill(self, b, grads, factor):
        for i, k in enumerate(b.keys):
            self._fill_one(b, i, None if grads is None else grads.get(k), factor)

    def _fill_one(self, b, i, g, factor):
        slot, key = b.slot(i), b.keys[i]
        if factor == 0.0:
            slot.fill(0)
            return
        if g is None:
            raise KeyError(f"allreduce of gradients: no gradient for {key!r}")
        g = np.asarray(g)
        if g.shape != b.shapes[i]:
            raise ValueError(f"allreduce of gradients: {key!r} has shape {g.shape}, the parameter {b.shapes[i]}")
        if g.dtype != b.dtype:
            raise TypeError(f"allreduce of gradients: {key!r} has dtype {g.dtype}, the parameter {b.dtype}")
        if factor == 1.0:
            np.copyto(slot, g.reshape(-1))
        else:
            np.multiply(g.reshape(-1), b.dtype.type(factor), out=slot)

    def _scatter(self, b, grads, out):
        for i, k in enumerate(b.keys):
            avg = b.slot(i).reshape(b.shapes[i])
            g = None if grads is None else grads.get(k)
            if isinstance(g, np.ndarray) and g.flags.writeable and g.shape == avg.shape and g.dtype == b.dtype:
                np.copyto(g, avg)
                out[k] = g
            else:
                out[k] = avg.copy()


def allreduce_gradients(grads, weight=None, bucket_bytes=DEFAULT_BUCKET_BYTES, algorithm="auto"):
    """One-shot mean of a gradient dict over all ranks (see :class:`GradientReducer`; keep a
    reducer, or a :class:`~nnkern.distributed.DistributedOptimizer`, to reuse its buffers)."""
    return GradientReducer(grads, bucket_bytes, algorithm).allreduce(grads, weight)
