"""The model protocol shared by MultiLayerNet, the ConvNets and AlexNet.

``model.params`` is a :class:`Params` dict (name -> ndarray) whose arrays are the very
arrays the layers compute with, so ``optimizer.update(model.params, grads)`` (in place)
trains the model. ``model.gradient(x, t)`` returns a dict with the same keys.
"""
from collections import OrderedDict

import numpy as np

_FLOATS = (np.float32, np.float64)


class Params(dict):
    """name -> parameter array. Assigning to an existing name copies the values *into* the
    existing array (shape checked, dtype cast), so the layers holding it see the change and
    ``params[k] -= step`` (what optimizers do) stays in place."""

    def __setitem__(self, key, value):
        if key in self:
            old = dict.__getitem__(self, key)
            if value is old:
                return
            value = np.asarray(value)
            if value.shape != old.shape:
                raise ValueError(f"parameter {key!r}: shape {value.shape} does not match the model's {old.shape}")
            if value.dtype.kind not in "fiu":
                raise TypeError(f"parameter {key!r}: numeric array expected, got {value.dtype}")
            np.copyto(old, value, casting="unsafe")
        else:
            dict.__setitem__(self, key, value)

    def update(self, *args, **kwargs):
        for k, v in dict(*args, **kwargs).items():
            self[k] = v


class Net:
    """Base of the nnkern models: an ordered dict of layers, a loss layer, named parameters."""

    #: input shape without the batch axis; None means "(N, input_size) or anything with that many features"
    input_dim = None

    def __init__(self, dtype=np.float32, backend="native", seed=None):
        self.dtype = np.dtype(dtype)
        if self.dtype not in _FLOATS:
            raise TypeError(f"dtype must be float32 or float64, got {self.dtype}")
        self.rng = np.random.default_rng(seed)
        self.params = Params()
        self.layers = OrderedDict()
        self.last_layer = None
        self._owners = {}
        self._backend = backend

    # -- construction helpers ------------------------------------------------------------
    def _add(self, name, layer, **param_names):
        """Append a layer; ``param_names`` maps the layer's param keys to model names (W='W1')."""
        layer.backend = self._backend
        self.layers[name] = layer
        for key, pname in param_names.items():
            dict.__setitem__(self.params, pname, layer.params[key])
            self._owners[pname] = (layer, key)
        return layer

    def _finish(self, last_layer):
        last_layer.backend = self._backend
        self.last_layer = last_layer
        first = next(iter(self.layers.values()))
        first.need_input_grad = False  # the data's gradient is never used

    # -- backend switch ------------------------------------------------------------------
    @property
    def backend(self):
        return self._backend

    @backend.setter
    def backend(self, name):
        for layer in self._all_layers():
            layer.backend = name  # validates
        self._backend = name

    def _all_layers(self):
        return list(self.layers.values()) + ([self.last_layer] if self.last_layer is not None else [])

    # -- buffers (batch-norm running statistics) ---------------------------------------
    def buffers(self):
        """name -> array of the non-trainable state (``'<layer>.running_mean'`` ...), live references."""
        return {f"{lname}.{k}": v for lname, layer in self.layers.items() for k, v in layer.buffers.items()}

    def param_count(self):
        return int(sum(p.size for p in self.params.values()))

    # -- the book's API ------------------------------------------------------------------
    def _prepare(self, x):
        """x as a C-contiguous array of the model's dtype, shape-checked against input_dim."""
        x = np.asarray(x)
        if x.dtype.kind not in "fiu":
            raise TypeError(f"{type(self).__name__}: numeric input expected, got {x.dtype}")
        if self.input_dim is not None:
            if x.ndim != len(self.input_dim) + 1 or tuple(x.shape[1:]) != tuple(self.input_dim):
                raise ValueError(f"{type(self).__name__} expects input of shape (N, "
                                 f"{', '.join(map(str, self.input_dim))}), got {x.shape}")
        else:
            if x.ndim < 2 or int(np.prod(x.shape[1:])) != self.input_size:
                raise ValueError(f"{type(self).__name__} expects input of shape (N, {self.input_size}), got {x.shape}")
            x = x.reshape(x.shape[0], -1)
        return np.ascontiguousarray(x, dtype=self.dtype)

    def predict(self, x, train=False):
        """Scores (before softmax) for x; ``train`` switches dropout/batch norm to training mode."""
        x = self._prepare(x)
        for layer in self.layers.values():
            x = layer.forward(x, train)
        return x

    def weight_decay(self):
        lam = getattr(self, "weight_decay_lambda", 0)
        if not lam:
            return 0.0
        return float(sum(0.5 * lam * np.sum(np.square(p, dtype=np.float64))
                         for k, p in self.params.items() if k.startswith("W")))

    def loss(self, x, t, train=True):
        """Mean cross-entropy of softmax(predict(x)) against t, plus the L2 term
        0.5 * lambda * sum ||W||^2 over the weight matrices (not biases, not BN)."""
        y = self.predict(x, train)
        return self.last_layer.forward(y, t) + self.weight_decay()

    def accuracy(self, x, t, batch_size=100):
        """Fraction of argmax(predict(x)) == t (t labels or one-hot), evaluated in inference mode."""
        t = np.asarray(t)
        if t.ndim != 1:
            t = np.argmax(t, axis=1)
        if len(t) != len(x):
            raise ValueError(f"{len(x)} inputs but {len(t)} labels")
        correct = 0
        for i in range(0, len(x), batch_size):
            y = self.predict(x[i:i + batch_size], train=False)
            correct += int(np.sum(np.argmax(y, axis=1) == t[i:i + batch_size]))
        return correct / float(len(x))

    def gradient(self, x, t):
        """Gradients of :meth:`loss` (training mode) by backpropagation: dict like ``params``."""
        self.loss(x, t, train=True)
        dout = self.last_layer.backward(1.0)
        for layer in reversed(self.layers.values()):
            dout = layer.backward(dout)
        lam = getattr(self, "weight_decay_lambda", 0)
        grads = {}
        for name, (layer, key) in self._owners.items():
            g = layer.grads[key]
            if lam and name.startswith("W"):
                g = g + lam * self.params[name]
            grads[name] = g
        return grads

    def numerical_gradient(self, x, t, eps=1e-4):
        """Central differences of :meth:`loss` for every parameter (the book's check; use
        float64 models). Dropout layers should have ``fixed_seed`` set for this to be meaningful."""
        x = self._prepare(x)
        grads = {}
        for name, p in self.params.items():
            g = np.zeros_like(p)
            flat, gflat = p.reshape(-1), g.reshape(-1)
            for i in range(flat.size):
                old = flat[i]
                flat[i] = old + eps
                fp = self.loss(x, t, train=True)
                flat[i] = old - eps
                fm = self.loss(x, t, train=True)
                flat[i] = old
                gflat[i] = (fp - fm) / (2 * eps)
            grads[name] = g
        return grads

    # -- checkpoints ---------------------------------------------------------------------
    def save_params(self, file_name, optimizer=None):
        """Parameters, BN statistics and optionally the optimizer state to an .npz (no pickle)."""
        from ..checkpoint import save
        save(file_name, self, optimizer)

    def load_params(self, file_name, optimizer=None):
        """Load an nnkern checkpoint, or the book's pickled params dict (``params.pkl``, read by the
        allow-list unpickler), copying into the model's arrays; names and shapes must match."""
        from ..checkpoint import CheckpointError, _is_pickle, load, load_pickle_params
        if not _is_pickle(file_name):
            return load(file_name, self, optimizer)
        params = load_pickle_params(file_name)
        missing, unexpected = sorted(set(self.params) - set(params)), sorted(set(params) - set(self.params))
        if missing or unexpected:
            raise CheckpointError(f"{file_name}: parameters do not match {type(self).__name__}: "
                                  f"missing {missing}, unexpected {unexpected}")
        for k, v in params.items():
            if np.shape(v) != self.params[k].shape:
                raise CheckpointError(f"{file_name}: parameter {k!r} has shape {np.shape(v)} in the file, "
                                      f"{self.params[k].shape} in the model")
        for k, v in params.items():
            self.params[k] = v

    def __repr__(self):
        return (f"{type(self).__name__}({len(self.layers)} layers, {self.param_count():,} params, "
                f"dtype={self.dtype.name}, backend={self.backend!r})")
