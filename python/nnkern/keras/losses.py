"""The losses of :meth:`nnkern.keras.Sequential.compile` and their accuracy metric.

A sigmoid output with ``binary_crossentropy`` and a softmax output with the categorical
cross-entropies are fused into one loss layer (SigmoidWithLoss, SoftmaxWithLoss: the stable
formulas, gradient with respect to the scores). Otherwise the loss is computed on the model's
output in float64, with Keras' clipping of probabilities to [1e-7, 1 - 1e-7] (its gradient
is 0 where it clips).
"""
import numpy as np

from .. import layers as L

NAMES = {"binary_crossentropy": "bce", "categorical_crossentropy": "cce",
         "sparse_categorical_crossentropy": "scce", "mse": "mse", "mean_squared_error": "mse"}


class Loss:
    """A compiled loss: ``kind`` 'bce' | 'cce' | 'scce' | 'mse'; ``fused`` the loss layer that
    replaces the model's last activation, or None."""

    def __init__(self, loss, last_activation):
        if loss not in NAMES:
            raise ValueError(f"unknown loss {loss!r}; use one of {sorted(NAMES)}")
        self.kind = NAMES[loss]
        self.fused = None
        if self.kind == "bce" and isinstance(last_activation, L.Sigmoid):
            self.fused = L.SigmoidWithLoss()
        elif self.kind in ("cce", "scce") and isinstance(last_activation, L.Softmax):
            self.fused = L.SoftmaxWithLoss()

    def targets(self, y, n, dtype):
        """y as the loss wants it: int64 labels for sparse categorical, else ``dtype``."""
        y = np.asarray(y)
        if len(y) != n:
            raise ValueError(f"{n} inputs but {len(y)} targets")
        if self.kind == "scce":
            if y.ndim == 2 and y.shape[1] == 1:
                y = y[:, 0]
            return y.astype(np.int64)
        return y.astype(dtype)

    def value_and_grad(self, out, yb):
        """(mean loss, float64 gradient with respect to ``out``) of the unfused loss."""
        t = yb.reshape(out.shape) if yb.size == out.size else yb
        o = out.astype(np.float64)
        if self.kind == "mse":
            return float(np.mean((o - t) ** 2)), 2.0 * (o - t) / o.size
        if self.kind == "bce":
            p = np.clip(o, 1e-7, 1 - 1e-7)
            loss = float(-np.mean(t * np.log(p) + (1 - t) * np.log(1 - p)))
            return loss, (p - t) / (p * (1 - p)) / o.size * (p == o)
        if self.kind == "scce":
            t = np.eye(o.shape[1])[yb]
        p = np.clip(o, 1e-7, 1.0)
        return float(-np.sum(t * np.log(p)) / o.shape[0]), -t / p / o.shape[0] * (p == o)

    def _binary(self, out):
        return self.kind == "bce" or out.shape[1] == 1

    def n_correct(self, out, yb):
        """Correct predictions in a batch: thresholded at 0.5 (binary) or argmax (categorical)."""
        if self._binary(out):
            return int(np.sum((out.reshape(len(out), -1) > 0.5) == (yb.reshape(len(out), -1) > 0.5)))
        t = yb if yb.ndim == 1 else np.argmax(yb, axis=1)
        return int(np.sum(np.argmax(out, axis=1) == t))

    def n_predictions(self, out):
        """How many predictions ``n_correct`` judged: every output (binary) or every sample."""
        return out.size if self._binary(out) else len(out)
