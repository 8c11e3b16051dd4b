"""``DistributedOptimizer``: any optimizer with ``update(params, grads)``, data-parallel.

    opt = DistributedOptimizer(nnkern.optimizers.Adam(lr=1e-3))
    for x, t in loader:                          # this rank's shard of each batch
        grads = net.gradient(x, t)
        opt.update(net.params, grads, weight=len(x))   # mean over ranks, then Adam

``update`` averages the gradients over the ranks (bucketed, in place: see
:class:`~nnkern.distributed.GradientReducer`) and hands the mean to the wrapped optimizer, so
every rank applies the same step to the same parameters. On the first update it broadcasts
the parameters from rank 0 first (``broadcast=True``): ranks that built their models with
different seeds end up training one model. That first step's gradients were still taken at
each rank's own initial parameters; for an exactly data-parallel first step, build the
models with one seed or call :meth:`broadcast_parameters` before the first gradient.

Overlap with backward: nnkern's models call a hook as each layer's gradients are final, and
a bucket's non-blocking reduction starts as soon as it is full, while backward goes on:

    hook = opt.begin_step(net.params, weight=len(x))    # a callable hook(name, grad)
    grads = net.gradient(x, t, on_grad_ready=hook)
    opt.update(net.params, grads)                        # waits for the buckets in flight

or simply ``opt.step(net, x, t)``, which does that (and handles an empty part). A step is
overlapped or blocking on every rank alike (the collectives must match).

Anything else (``lr``, ``state_dict()``, the book's ``v``/``m``) is the wrapped optimizer's.
"""
import inspect

from .buckets import DEFAULT_BUCKET_BYTES
from .collectives import broadcast_parameters as _broadcast
from .reducer import GradientReducer


class DistributedOptimizer:
    """Wrap ``optimizer`` (``update(params, grads)``) so its updates use the mean gradient over ranks.

    bucket_bytes: gradient bucket capacity (default 25 MiB); algorithm: 'auto', 'fixed' or
    'mpi' (:mod:`nnkern.distributed.buckets`); broadcast: broadcast the parameters from rank
    0 on the first update (skipped if :meth:`broadcast_parameters` already ran).
    """

    def __init__(self, optimizer, bucket_bytes=DEFAULT_BUCKET_BYTES, algorithm="auto", broadcast=True):
        if not callable(getattr(optimizer, "update", None)):
            raise TypeError(f"DistributedOptimizer wraps an optimizer with update(params, grads), "
                            f"got {type(optimizer).__name__}")
        self.optimizer = optimizer
        self.bucket_bytes, self.algorithm = bucket_bytes, algorithm
        self._broadcast_pending = bool(broadcast)
        self._reducer = None
        self._step_open = False

    def __getattr__(self, name):
        if name == "optimizer":  # not set yet (unpickling, copy): no recursion
            raise AttributeError(name)
        return getattr(self.optimizer, name)

    def broadcast_parameters(self, params):
        """Broadcast ``params`` from rank 0 now (and not again on the first update)."""
        _broadcast(params)
        self._broadcast_pending = False
        return params

    def broadcast_once(self, params):
        """Broadcast ``params`` unless that was done already (or ``broadcast=False``)."""
        if self._broadcast_pending:
            self.broadcast_parameters(params)
        return params

    def reducer(self, params):
        """The :class:`GradientReducer` for ``params`` (built on first use, rebuilt if the names change)."""
        if self._reducer is None or self._reducer.keys != list(params):
            self._reducer = GradientReducer(params, self.bucket_bytes, self.algorithm)
        return self._reducer

    def begin_step(self, params, weight=None):
        """Open an overlapped step; returns ``hook(name, grad)`` to call as each gradient is final."""
        self.broadcast_once(params)
        reducer = self.reducer(params)
        reducer.begin(weight)
        self._step_open = True
        return reducer.ready

    def update(self, params, grads, weight=None):
        """Average ``grads`` over the ranks (weighted by ``weight`` if given; ``grads`` may be
        None with weight 0 on a rank whose shard is empty), then ``optimizer.update``."""
        if self._step_open:
            self._step_open = False
            mean = self._reducer.finish(grads)
        else:
            self.broadcast_once(params)
            mean = self.reducer(params).allreduce(grads, weight)
        self.optimizer.update(params, mean)
        return mean

    def step(self, model, x, t):
        """One data-parallel step of a model with the book's ``gradient(x, t)`` on this rank's
        part ``x, t`` of the batch (which may be empty): gradients, their weighted mean over
        the ranks (overlapped with backward when the model takes ``on_grad_ready``, as nnkern's
        ``Net`` models do), and the update. Every rank must call it, the same number of times."""
        overlap = "on_grad_ready" in inspect.signature(model.gradient).parameters
        if overlap:
            hook = self.begin_step(model.params, weight=len(x))
            grads = model.gradient(x, t, on_grad_ready=hook) if len(x) else None
        else:
            grads = model.gradient(x, t) if len(x) else None
        self.update(model.params, grads, weight=len(x))

    def __repr__(self):
        return f"DistributedOptimizer({self.optimizer!r})"
