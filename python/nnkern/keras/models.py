"""Keras-style ``Sequential`` model on nnkern layers (compile / fit / evaluate / predict / summary),
built on the same :class:`~nnkern.models.base.Model` base as nnkern's own networks."""
import numpy as np

from ..models.base import Model
from .base import KerasLayer, to_keras_shape, unique_name
from .losses import Loss
from .summary import SummaryCounts, count_params, print_summary

__all__ = ["History", "Sequential", "SummaryCounts"]


class History:
    """What ``fit`` returns: ``history`` maps 'loss', 'accuracy', 'val_loss', ... to per-epoch lists."""

    def __init__(self):
        self.history = {}
        self.epoch = []
        self.params = {}

    def _append(self, logs):
        for k, v in logs.items():
            self.history.setdefault(k, []).append(v)

    def __repr__(self):
        return f"History(epochs={len(self.epoch)}, keys={list(self.history)})"


def _make_optimizer(optimizer):
    """An object with update(params, grads), or Keras' name with its default learning rate."""
    if isinstance(optimizer, str):
        from .. import optimizers as O
        makers = {"sgd": lambda: O.SGD(lr=0.01), "rmsprop": lambda: O.RMSprop(lr=0.001, decay_rate=0.9),
                  "adam": lambda: O.Adam(lr=0.001)}
        if optimizer.lower() not in makers:
            raise ValueError(f"unknown optimizer {optimizer!r}; use 'sgd', 'rmsprop', 'adam' or an object")
        return makers[optimizer.lower()]()
    if not callable(getattr(optimizer, "update", None)):
        raise TypeError("optimizer must be a name or an object with update(params, grads)")
    return optimizer


class Sequential(Model):
    """A linear stack of Keras-style layers (``nnkern.keras.layers``).

    >>> model = Sequential()
    >>> model.add(Conv2D(32, (3, 3), activation='relu', input_shape=(150, 150, 3)))
    >>> model.add(MaxPooling2D((2, 2)))
    >>> ...
    >>> model.summary()

    Data is channels-last (N, H, W, C) as in Keras; each batch is transposed once to NCHW on
    entry (outputs with spatial axes are transposed back). ``dtype`` float32 (default) or
    float64; ``backend`` 'native' or 'reference'. Parameters: ``model.params`` (names
    '<layer>/kernel', '<layer>/bias', ...) alias the layers' arrays; buffers are
    '<layer>/moving_mean', '<layer>/moving_variance'.
    """

    def __init__(self, layers=None, name=None, dtype=np.float32, backend="native", seed=None):
        super().__init__(dtype, backend, seed)
        self.name = name or unique_name("sequential")
        self.layers = []
        self.input_shape_hwc = None
        self._shapes = []
        self.optimizer = None
        self.compiled_loss = None
        self.metrics = []
        for layer in layers or []:
            self.add(layer)

    # -- building ----------------------------------------------------------------------
    def add(self, layer):
        if not isinstance(layer, KerasLayer):
            raise TypeError(f"Sequential.add expects an nnkern.keras layer, got {type(layer).__name__}")
        if not self.layers:
            self._set_input(layer.input_shape_hwc)
        out = layer.build(self._shapes[-1] if self._shapes else self._in, self.dtype, self.rng)
        for inner in layer.inner:
            names = {key: f"{layer.name}/{k}" for k, (owner, key) in layer._weights.items() if owner is inner}
            state = {key: f"{layer.name}/{k}" for k, (owner, key) in layer._state.items() if owner is inner}
            self._register(inner, names, state)
        self.layers.append(layer)
        self._shapes.append(tuple(int(v) for v in out))

    def _set_input(self, shape):
        if shape is None:
            raise ValueError("the first layer needs input_shape=(H, W, C) (or (features,))")
        if len(shape) not in (1, 3):
            raise ValueError(f"input_shape must be (H, W, C) or (features,), got {shape}")
        self.input_shape_hwc = shape
        self._in = (shape[2], shape[0], shape[1]) if len(shape) == 3 else tuple(shape)

    @property
    def output_shape(self):
        return to_keras_shape(self._shapes[-1])

    # -- weights -----------------------------------------------------------------------
    def get_weights(self):
        """Arrays in Keras order (per layer: kernel, bias / gamma, beta, moving_mean, moving_variance)."""
        return [a for lay in self.layers for a in list(lay.weights.values()) + list(lay.state.values())]

    def set_weights(self, weights):
        mine = self.get_weights()
        if len(weights) != len(mine):
            raise ValueError(f"set_weights: expected {len(mine)} arrays, got {len(weights)}")
        for i, (dst, src) in enumerate(zip(mine, weights)):
            src = np.asarray(src)
            if src.shape != dst.shape:
                raise ValueError(f"set_weights: array {i} has shape {src.shape}, expected {dst.shape}")
        for dst, src in zip(mine, weights):
            np.copyto(dst, np.asarray(src), casting="unsafe")

    def save_weights(self, path, optimizer=None):
        """Weights (and moving statistics, and optionally the optimizer state) to .npz."""
        self.save_params(path, optimizer)

    def load_weights(self, path, optimizer=None):
        return self.load_params(path, optimizer)

    # -- summary -----------------------------------------------------------------------
    def count_params(self):
        return count_params(self.layers)

    def summary(self, line_length=65, print_fn=print):
        """Print the Keras-2 summary table (channels-last shapes) and return the counts
        ``SummaryCounts(total, trainable, non_trainable)``."""
        return print_summary(self.name, self.layers, self._shapes, line_length, print_fn)

    # -- compile / fit -----------------------------------------------------------------
    def compile(self, optimizer="rmsprop", loss=None, metrics=None):
        """optimizer: an object with ``update(params, grads)`` (nnkern.optimizers) or 'sgd',
        'rmsprop', 'adam' (Keras' default learning rates); loss: 'binary_crossentropy',
        'categorical_crossentropy', 'sparse_categorical_crossentropy' or 'mse';
        metrics: None or ['accuracy']."""
        optimizer = _make_optimizer(optimizer)
        compiled = Loss(loss, self.layers[-1].activation if self.layers else None)
        metrics = list(metrics or [])
        for m in metrics:
            if m not in ("accuracy", "acc"):
                raise ValueError(f"unknown metric {m!r}; only 'accuracy' is supported")
        self.optimizer, self.compiled_loss, self.metrics = optimizer, compiled, metrics
        self.last_layer = compiled.fused
        if compiled.fused is not None:
            compiled.fused.backend = self.backend

    def _to_internal(self, x):
        x = np.asarray(x)
        if x.dtype.kind not in "fiu":
            raise TypeError(f"numeric input expected, got {x.dtype}")
        want = tuple(self.input_shape_hwc)
        if tuple(x.shape[1:]) != want:
            raise ValueError(f"model {self.name!r} expects input (N, {', '.join(map(str, want))}), got {x.shape}")
        if x.ndim == 4:
            x = x.transpose(0, 3, 1, 2)
        return np.ascontiguousarray(x, dtype=self.dtype)

    def _targets(self, y, n):
        return self.compiled_loss.targets(y, n, self.dtype)

    def _loss_and_grad(self, xb, yb, train=True, need_grad=True, on_grad_ready=None):
        """(loss, outputs) for one internal batch; with need_grad, backpropagates too."""
        fused = self.last_layer
        if fused is not None:  # the last activation is part of the loss layer
            loss = fused.forward(self._forward(xb, train, stop=-1), yb)
            if need_grad:
                self._backward(fused.backward(1.0), stop=-1, on_grad_ready=on_grad_ready)
            return loss, fused.y
        out = self._forward(xb, train)
        loss, g = self.compiled_loss.value_and_grad(out, yb)
        if need_grad:
            self._backward(np.ascontiguousarray(g, dtype=self.dtype), on_grad_ready=on_grad_ready)
        return loss, out

    def _step(self, xb, yb):
        begin_step = getattr(self.optimizer, "begin_step", None)  # nnkern.distributed.DistributedOptimizer
        if begin_step is None:
            loss, out = self._loss_and_grad(xb, yb)
            self.optimizer.update(self.params, self._grads())
            return loss, out
        hook = begin_step(self.params, weight=len(xb))  # averaging overlaps the backward pass
        if len(xb) == 0:  # this rank's part of a small final batch is empty
            self.optimizer.update(self.params, None)
            return 0.0, None
        loss, out = self._loss_and_grad(xb, yb, on_grad_ready=hook)
        self.optimizer.update(self.params, self._grads())
        return loss, out

    def train_on_batch(self, x, y):
        xb = self._to_internal(x)
        return self._step(xb, self._targets(y, len(xb)))[0]

    def fit(self, x, y, batch_size=32, epochs=1, verbose=1, validation_data=None, shuffle=True):
        """Mini-batch training; a tqdm progress bar per epoch when verbose; returns History.

        Compiled with an ``nnkern.distributed.DistributedOptimizer``, every rank calls fit with
        the same data: ``batch_size`` is the global batch, each rank trains on its part of
        rank 0's permutation, the logs are over all ranks, batch-norm moving statistics are
        averaged at the end of each epoch, and only rank 0 shows the progress bar."""
        if self.optimizer is None:
            raise RuntimeError("call compile() before fit()")
        from tqdm.auto import tqdm

        from .. import distributed as dist
        x = np.asarray(x)
        n = len(x)
        self._to_internal(x[:1])  # shape check before any work
        yt = self._targets(y, n)
        hist = History()
        hist.params = {"epochs": epochs, "steps": -(-n // batch_size), "verbose": verbose}
        parallel = isinstance(self.optimizer, dist.DistributedOptimizer)
        if parallel:
            self.optimizer.broadcast_once(self.params)
            verbose = verbose and dist.is_main()
        for epoch in range(epochs):
            order = self.rng.permutation(n) if shuffle else np.arange(n)
            if parallel:
                order = dist.broadcast_object(order)  # rank 0's permutation
            tot_loss, seen, correct, denom = 0.0, 0, 0, 0
            bar = tqdm(total=n, desc=f"Epoch {epoch + 1}/{epochs}", unit="sample", disable=not verbose, leave=True)
            for i in range(0, n, batch_size):
                idx = order[i:i + batch_size]
                bar.update(len(idx))
                if parallel:
                    idx = dist.shard(idx, dist.rank(), dist.world_size())
                yb = yt[idx]
                loss, out = self._step(self._to_internal(x[idx]), yb)
                tot_loss, seen = tot_loss + loss * len(idx), seen + len(idx)
                logs = {"loss": tot_loss / max(seen, 1)}
                if self.metrics and len(idx):
                    correct += self.compiled_loss.n_correct(out, yb)
                    denom += self.compiled_loss.n_predictions(out)
                if self.metrics:
                    logs["accuracy"] = correct / max(denom, 1)
                bar.set_postfix({k: f"{v:.4f}" for k, v in logs.items()}, refresh=False)
            if parallel:  # the epoch's logs over every rank; one set of moving statistics
                tot_loss, seen, correct, denom = dist.allreduce_sum([tot_loss, seen, correct, denom])
                logs = {"loss": tot_loss / seen, **({"accuracy": correct / denom} if self.metrics else {})}
                dist.average_buffers(self.buffers())
            if validation_data is not None:
                vals = self.evaluate(*validation_data, batch_size=batch_size)
                vals = vals if isinstance(vals, list) else [vals]
                logs["val_loss"] = vals[0]
                if self.metrics:
                    logs["val_accuracy"] = vals[1]
            # the bar ends on the epoch's values, as History records them (the running average
            # over the epoch's batches, over every rank when distributed)
            bar.set_postfix({k: f"{v:.4f}" for k, v in logs.items()}, refresh=False)
            bar.close()
            hist.epoch.append(epoch)
            hist._append(logs)
        self.history = hist
        return hist

    def evaluate(self, x, y, batch_size=32, verbose=0):
        """Loss (and accuracy if compiled with it) in inference mode: ``loss`` or ``[loss, acc]``."""
        if self.compiled_loss is None:
            raise RuntimeError("call compile() before evaluate()")
        x = np.asarray(x)
        n = len(x)
        yt = self._targets(y, n)
        tot, correct, denom = 0.0, 0, 0
        for i in range(0, n, batch_size):
            xb, yb = self._to_internal(x[i:i + batch_size]), yt[i:i + batch_size]
            loss, out = self._loss_and_grad(xb, yb, train=False, need_grad=False)
            tot += loss * len(xb)
            correct += self.compiled_loss.n_correct(out, yb)
            denom += self.compiled_loss.n_predictions(out)
        return [tot / n, correct / denom] if self.metrics else tot / n

    def predict(self, x, batch_size=32, verbose=0):
        """Outputs for x in inference mode (channels-last if they have spatial axes)."""
        x = np.asarray(x)
        outs = []
        for i in range(0, len(x), batch_size):
            out = self._forward(self._to_internal(x[i:i + batch_size]), False)
            outs.append(out.transpose(0, 2, 3, 1) if out.ndim == 4 else out)
        return np.concatenate(outs) if outs else np.zeros((0,) + self.output_shape[1:], self.dtype)

    def __call__(self, x):
        return self.predict(x)
