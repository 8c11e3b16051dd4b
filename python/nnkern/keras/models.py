"""Keras-style ``Sequential`` model on nnkern layers (compile / fit / evaluate / predict / summary)."""
from collections import namedtuple

import numpy as np

from .. import layers as L
from ..models.base import Params
from .layers import KerasLayer, _unique_name, to_keras_shape

SummaryCounts = namedtuple("SummaryCounts", "total trainable non_trainable")

_LOSSES = {"binary_crossentropy": "bce", "categorical_crossentropy": "cce",
           "sparse_categorical_crossentropy": "scce", "mse": "mse", "mean_squared_error": "mse"}


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


class Sequential:
    """A linear stack of Keras-style layers (``nnkern.keras.layers``).

    >>> model = Sequential()
    >>> model.add(Conv2D(32, (3, 3), activation='relu', input_shape=(150, 150, 3)))
    >>> model.add(MaxPooling2D((2, 2)))
    >>> ...
    >>> model.summary()

    Data is channels-last (N, H, W, C) as in Keras; each batch is transposed once to NCHW on
    entry (outputs with spatial axes are transposed back). ``dtype`` float32 (default) or
    float64; ``backend`` 'native' or 'reference'. Parameters: ``model.params`` (names
    '<layer>/kernel', '<layer>/bias', ...) alias the layers' arrays.
    """

    def __init__(self, layers=None, name=None, dtype=np.float32, backend="native", seed=None):
        self.name = name or _unique_name("sequential")
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.float32, np.float64):
            raise TypeError(f"dtype must be float32 or float64, got {self.dtype}")
        self.rng = np.random.default_rng(seed)
        self.layers = []
        self._backend = backend
        L.get_ops(backend)
        self.input_shape_hwc = None
        self._shapes = []
        self._pipeline = []
        self._fused = None
        self.params = Params()
        self.optimizer = None
        self.loss_name = None
        self.metrics = []
        for layer in layers or []:
            self.add(layer)

    # -- building ----------------------------------------------------------------------
    def add(self, layer):
        if not isinstance(layer, KerasLayer):
            raise TypeError(f"Sequential.add expects an nnkern.keras layer, got {type(layer).__name__}")
        if not self.layers:
            if layer.input_shape_hwc is None:
                raise ValueError("the first layer needs input_shape=(H, W, C) (or (features,))")
            shape = layer.input_shape_hwc
            if len(shape) == 3:
                h, w, c = shape
                shape = (c, h, w)
            elif len(shape) != 1:
                raise ValueError(f"input_shape must be (H, W, C) or (features,), got {layer.input_shape_hwc}")
            self.input_shape_hwc = layer.input_shape_hwc
            self._in = tuple(shape)
        shape = self._shapes[-1] if self._shapes else self._in
        out = layer.build(shape, self.dtype, self.rng)
        for inner in layer.inner:
            inner.backend = self._backend
        for k, v in layer.weights.items():
            dict.__setitem__(self.params, f"{layer.name}/{k}", v)
        self.layers.append(layer)
        self._shapes.append(tuple(int(v) for v in out))
        self._pipeline = [m for lay in self.layers for m in lay.inner]
        if self._pipeline:
            self._pipeline[0].need_input_grad = False
            for m in self._pipeline[1:]:
                m.need_input_grad = True

    @property
    def backend(self):
        return self._backend

    @backend.setter
    def backend(self, name):
        L.get_ops(name)
        for m in self._pipeline:
            m.backend = name
        self._backend = name

    @property
    def output_shape(self):
        return to_keras_shape(self._shapes[-1])

    def buffers(self):
        return {f"{lay.name}/{k}": v for lay in self.layers for k, v in lay.state.items()}

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
            np.copyto(dst, src, casting="unsafe")

    def save_weights(self, path, optimizer=None):
        """Weights (and moving statistics, and optionally the optimizer state) to .npz."""
        from ..checkpoint import save
        save(path, self, optimizer)

    def load_weights(self, path, optimizer=None):
        from ..checkpoint import load
        return load(path, self, optimizer)

    # -- summary -----------------------------------------------------------------------
    def count_params(self):
        tr = sum(lay.count_params()[0] for lay in self.layers)
        nt = sum(lay.count_params()[1] for lay in self.layers)
        return SummaryCounts(tr + nt, tr, nt)

    def summary(self, line_length=65, print_fn=print):
        """Print the Keras-2 summary table (channels-last shapes) and return the counts
        ``SummaryCounts(total, trainable, non_trainable)``."""
        positions = [int(line_length * p) for p in (0.45, 0.85, 1.0)]

        def row(fields):
            left = [str(f) for f in fields]
            while any(left):
                line = ""
                for col, start in enumerate([0] + positions[:-1]):
                    space = 2 if col != len(positions) - 1 else 0
                    cut = positions[col] - start - space  # Keras 2's print_row, wrapping long cells
                    line += (" " if col == 0 else "") + left[col][:cut] + " " * space
                    left[col] = left[col][cut:]
                    line += " " * (positions[col] - len(line))
                print_fn(line.rstrip())

        print_fn(f'Model: "{self.name}"')
        print_fn("_" * line_length)
        row(["Layer (type)", "Output Shape", "Param #"])
        print_fn("=" * line_length)
        for i, (lay, shape) in enumerate(zip(self.layers, self._shapes)):
            row([f"{lay.name} ({type(lay).__name__})", to_keras_shape(shape), sum(lay.count_params())])
            print_fn("" if i < len(self.layers) - 1 else "=" * line_length)
        counts = self.count_params()
        print_fn(f"Total params: {counts.total:,}")
        print_fn(f"Trainable params: {counts.trainable:,}")
        print_fn(f"Non-trainable params: {counts.non_trainable:,}")
        print_fn("_" * line_length)
        return counts

    # -- compile / fit -----------------------------------------------------------------
    def compile(self, optimizer="rmsprop", loss=None, metrics=None):
        """optimizer: an object with ``update(params, grads)`` (nnkern.optimizers) or 'sgd',
        'rmsprop', 'adam' (Keras' default learning rates); loss: 'binary_crossentropy',
        'categorical_crossentropy', 'sparse_categorical_crossentropy' or 'mse';
        metrics: None or ['accuracy']."""
        if isinstance(optimizer, str):
            from .. import optimizers as O
            makers = {"sgd": lambda: O.SGD(lr=0.01), "rmsprop": lambda: O.RMSprop(lr=0.001, decay_rate=0.9),
                      "adam": lambda: O.Adam(lr=0.001)}
            if optimizer.lower() not in makers:
                raise ValueError(f"unknown optimizer {optimizer!r}; use 'sgd', 'rmsprop', 'adam' or an object")
            optimizer = makers[optimizer.lower()]()
        elif not callable(getattr(optimizer, "update", None)):
            raise TypeError("optimizer must be a name or an object with update(params, grads)")
        if loss not in _LOSSES:
            raise ValueError(f"unknown loss {loss!r}; use one of {sorted(_LOSSES)}")
        metrics = list(metrics or [])
        for m in metrics:
            if m not in ("accuracy", "acc"):
                raise ValueError(f"unknown metric {m!r}; only 'accuracy' is supported")
        self.optimizer, self.loss_name, self.metrics = optimizer, _LOSSES[loss], metrics
        last = self.layers[-1].activation if self.layers else None
        self._fused = None
        if self.loss_name == "bce" and isinstance(last, L.Sigmoid):
            self._fused = L.SigmoidWithLoss(backend=self._backend)
        elif self.loss_name in ("cce", "scce") and isinstance(last, L.Softmax):
            self._fused = L.SoftmaxWithLoss(backend=self._backend)

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

    def _forward(self, x, train, stop=None):
        for m in self._pipeline[:stop]:
            x = m.forward(x, train)
        return x

    def _backward(self, dout, stop=None):
        for m in reversed(self._pipeline[:stop]):
            dout = m.backward(dout)

    def _targets(self, y, n):
        y = np.asarray(y)
        if len(y) != n:
            raise ValueError(f"{n} inputs but {len(y)} targets")
        if self.loss_name == "scce":
            if y.ndim == 2 and y.shape[1] == 1:
                y = y[:, 0]
            return y.astype(np.int64)
        return y.astype(self.dtype)

    def _loss_and_grad(self, xb, yb, train=True, need_grad=True):
        """(loss, outputs) for one internal batch; with need_grad, backpropagates too."""
        if self._fused is not None:
            z = self._forward(xb, train, stop=-1)
            loss = self._fused.forward(z, yb)
            out = self._fused.y
            if need_grad:
                self._backward(self._fused.backward(1.0), stop=-1)
            return loss, out
        out = self._forward(xb, train)
        t = yb.reshape(out.shape) if yb.size == out.size else yb
        o = out.astype(np.float64)
        if self.loss_name == "mse":
            loss = float(np.mean((o - t) ** 2))
            g = 2.0 * (o - t) / o.size
        elif self.loss_name == "bce":
            p = np.clip(o, 1e-7, 1 - 1e-7)  # Keras' clipping; its gradient is 0 where it clips
            loss = float(-np.mean(t * np.log(p) + (1 - t) * np.log(1 - p)))
            g = (p - t) / (p * (1 - p)) / o.size * (p == o)
        else:
            if self.loss_name == "scce":
                t = np.eye(o.shape[1])[yb]
            p = np.clip(o, 1e-7, 1.0)
            loss = float(-np.sum(t * np.log(p)) / o.shape[0])
            g = -t / p / o.shape[0] * (p == o)
        if need_grad:
            self._backward(np.ascontiguousarray(g, dtype=self.dtype))
        return loss, out

    def _n_correct(self, out, yb):
        if self.loss_name == "bce" or out.shape[1] == 1:
            return int(np.sum((out.reshape(len(out), -1) > 0.5) == (yb.reshape(len(out), -1) > 0.5)))
        pred = np.argmax(out, axis=1)
        t = yb if yb.ndim == 1 else np.argmax(yb, axis=1)
        return int(np.sum(pred == t))

    def _acc_denominator(self, out):
        return out.size if (self.loss_name == "bce" or out.shape[1] == 1) else len(out)

    def _grads(self):
        grads = {}
        for lay in self.layers:
            for k in lay.weights:
                owner = lay.inner[0]
                grads[f"{lay.name}/{k}"] = owner.grads[{"kernel": "W", "bias": "b"}.get(k, k)]
        return grads

    def train_on_batch(self, x, y):
        xb = self._to_internal(x)
        loss, out = self._loss_and_grad(xb, self._targets(y, len(xb)))
        self.optimizer.update(self.params, self._grads())
        return loss

    def fit(self, x, y, batch_size=32, epochs=1, verbose=1, validation_data=None, shuffle=True):
        """Mini-batch training; a tqdm progress bar per epoch when verbose; returns History."""
        if self.optimizer is None:
            raise RuntimeError("call compile() before fit()")
        from tqdm.auto import tqdm
        x = np.asarray(x)
        n = len(x)
        self._to_internal(x[:1])  # shape check before any work
        yt = self._targets(y, n)
        hist = History()
        hist.params = {"epochs": epochs, "steps": -(-n // batch_size), "verbose": verbose}
        for epoch in range(epochs):
            order = self.rng.permutation(n) if shuffle else np.arange(n)
            tot_loss, correct, denom = 0.0, 0, 0
            bar = tqdm(total=n, desc=f"Epoch {epoch + 1}/{epochs}", unit="sample", disable=not verbose, leave=True)
            for i in range(0, n, batch_size):
                idx = order[i:i + batch_size]
                xb = self._to_internal(x[idx])
                yb = yt[idx]
                loss, out = self._loss_and_grad(xb, yb)
                self.optimizer.update(self.params, self._grads())
                tot_loss += loss * len(idx)
                logs = {"loss": tot_loss / (i + len(idx))}
                if self.metrics:
                    correct += self._n_correct(out, yb)
                    denom += self._acc_denominator(out)
                    logs["accuracy"] = correct / denom
                bar.update(len(idx))
                bar.set_postfix({k: f"{v:.4f}" for k, v in logs.items()}, refresh=False)
            if validation_data is not None:
                vals = self.evaluate(*validation_data, batch_size=batch_size)
                vals = vals if isinstance(vals, list) else [vals]
                logs["val_loss"] = vals[0]
                if self.metrics:
                    logs["val_accuracy"] = vals[1]
                bar.set_postfix({k: f"{v:.4f}" for k, v in logs.items()}, refresh=False)
            bar.close()
            hist.epoch.append(epoch)
            hist._append(logs)
        self.history = hist
        return hist

    def evaluate(self, x, y, batch_size=32, verbose=0):
        """Loss (and accuracy if compiled with it) in inference mode: ``loss`` or ``[loss, acc]``."""
        if self.loss_name is None:
            raise RuntimeError("call compile() before evaluate()")
        x = np.asarray(x)
        n = len(x)
        yt = self._targets(y, n)
        tot, correct, denom = 0.0, 0, 0
        for i in range(0, n, batch_size):
            xb = self._to_internal(x[i:i + batch_size])
            loss, out = self._loss_and_grad(xb, yt[i:i + batch_size], train=False, need_grad=False)
            tot += loss * len(xb)
            correct += self._n_correct(out, yt[i:i + batch_size])
            denom += self._acc_denominator(out)
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
