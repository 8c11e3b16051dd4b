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

Overlap with backward (models that report each layer's gradients as they appear):

    hook = opt.begin_step(net.params, weight=len(x))   # a callable hook(name, grad)
    grads = net.gradient(x, t, <the model's gradient-ready callback>=hook)
    opt.update(net.params, grads)                       # waits for the buckets in flight

Anything else (``lr``, ``state_dict()``, the book's ``v``/``m``) is the wrapped optimizer's.
"""
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

    def reducer(self, params):
        """The :class:`GradientReducer` for ``params`` (built on first use, rebuilt if the names change)."""
        if self._reducer is None or self._reducer.keys != list(params):
            self._reducer = GradientReducer(params, self.bucket_bytes, self.algorithm)
        return self._reducer

    def begin_step(self, params, weight=None):
        """Open an overlapped step; returns ``hook(name, grad)`` to call as each gradient is final."""
        if self._broadcast_pending:
            self.broadcast_parameters(params)
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
            if self._broadcast_pending:
                self.broadcast_parameters(params)
            mean = self.reducer(params).allreduce(grads, weight)
        self.optimizer.update(params, mean)
        return mean

    def __repr__(self):
        return f"DistributedOptimizer({self.optimizer!r})"
