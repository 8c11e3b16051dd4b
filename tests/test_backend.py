"""The backend switch (nnkern.backend): one module per backend name, one error, and a model,
a Keras model or a data loader in reference mode never reaches the native kernels."""
import numpy as np
import pytest
from nnkern import _core, backend, functional, reference
from nnkern import layers as L
from nnkern.data import Augment, BatchLoader
from nnkern.keras import layers as KL
from nnkern.keras import models as KM
from nnkern.models import MultiLayerNetExtend, SimpleConvNet


class NativeCalled(Exception):
    pass


@pytest.fixture
def no_core(monkeypatch):
    """Every function of nnkern._core replaced by one that raises NativeCalled."""
    def forbid(name):
        def call(*args, **kwargs):
            raise NativeCalled(f"nnkern._core.{name} was called")
        return call

    names = [n for n in dir(_core) if not n.startswith("__") and callable(getattr(_core, n))
             and not isinstance(getattr(_core, n), type)]
    assert "conv2d_forward" in names and "relu_forward" in names
    for name in names:
        monkeypatch.setattr(_core, name, forbid(name))


def test_backend_names_resolve_to_the_two_modules():
    assert backend.module("native") is functional and backend.module("reference") is reference
    assert backend.name_of(functional) == "native" and backend.name_of(reference) == "reference"
    assert backend.BACKENDS == ("native", "reference")
    for bad in ("cuda", "Native", None, 1):
        with pytest.raises(ValueError, match="backend must be 'native' or 'reference'"):
            backend.module(bad)


def test_every_backend_entry_point_uses_the_one_switch(rng):
    x = rng.standard_normal((4, 3)).astype(np.float32)
    for make in (lambda: L.ReLU(backend="gpu"), lambda: MultiLayerNetExtend(3, [2], 2, backend="gpu"),
                 lambda: KM.Sequential(backend="gpu"), lambda: BatchLoader(x, np.zeros(4), backend="gpu")):
        with pytest.raises(ValueError, match="^backend must be 'native' or 'reference', got 'gpu'$"):
            make()


def _mlp(be):
    return MultiLayerNetExtend(12, [7, 5], 3, activation="tanh", use_batchnorm=True, use_dropout=True,
                               weight_decay_lambda=0.1, dtype=np.float64, backend=be, seed=0)


def _cnn(be):
    return SimpleConvNet((2, 9, 9), {"filter_num": 3, "filter_size": 3, "pad": 1, "stride": 2}, hidden_size=6,
                         output_size=3, weight_init_std="he", dtype=np.float64, backend=be, seed=0)


def _model_inputs(model, rng):
    shape = model.input_dim if model.input_dim is not None else (model.input_size,)
    return rng.standard_normal((5,) + tuple(shape)), np.arange(5) % 3


@pytest.mark.parametrize("make", [_mlp, _cnn], ids=["mlp-bn-dropout", "simple-cnn"])
def test_reference_model_never_calls_the_native_kernels(no_core, rng, make):
    model = make("reference")
    x, t = _model_inputs(model, rng)
    grads = model.gradient(x, t)
    assert set(grads) == set(model.params)
    assert model.accuracy(x, t) == np.mean(np.argmax(model.predict(x), axis=1) == t)
    model.backend = "native"  # the same model switched to native reaches _core at once
    with pytest.raises(NativeCalled):
        model.gradient(x, t)


@pytest.mark.parametrize("make", [_mlp, _cnn], ids=["mlp-bn-dropout", "simple-cnn"])
def test_switched_model_computes_what_a_reference_model_computes(rng, make):
    native, ref = make("native"), make("reference")
    native.backend = "reference"
    x, t = _model_inputs(ref, rng)
    g1, g2 = native.gradient(x, t), ref.gradient(x, t)
    for k in g2:
        np.testing.assert_array_equal(g1[k], g2[k])


LAYERS = {
    "conv-groups": (lambda: L.Conv2D(np.ones((4, 1, 3, 3)), np.zeros(4), stride=2, pad=1, groups=2), (2, 2, 7, 7)),
    "max-pool": (lambda: L.MaxPool2D(3, 2, 1), (2, 2, 7, 7)),
    "avg-pool": (lambda: L.AvgPool2D(2, 2, 1, count_include_pad=False), (2, 2, 7, 7)),
    "lrn": (lambda: L.LRN(), (2, 6, 3, 3)),
    "batch-norm": (lambda: L.BatchNorm2D(np.ones(2), np.zeros(2)), (3, 2, 4, 4)),
    "affine": (lambda: L.Affine(np.ones((8, 3)), np.zeros(3)), (2, 2, 2, 2)),
    "relu": (L.ReLU, (3, 5)),
    "sigmoid": (L.Sigmoid, (3, 5)),
    "tanh": (L.Tanh, (3, 5)),
    "softmax": (L.Softmax, (3, 5)),
    "dropout": (lambda: L.Dropout(0.3, seed=1), (3, 5)),
    "book-dropout": (lambda: L.Dropout(0.3, seed=1, inverted=False), (3, 5)),
}


@pytest.mark.parametrize("name", LAYERS)
def test_reference_layers_never_call_the_native_kernels(no_core, rng, name):
    make, shape = LAYERS[name]
    layer = make()
    layer.backend = "reference"
    x = rng.standard_normal(shape)
    for train in (True, False):
        y = layer.forward(x, train)
        assert layer.backward(np.ones_like(y)).shape == x.shape
    layer.backend = "native"
    with pytest.raises(NativeCalled):
        layer.forward(x, True)


@pytest.mark.parametrize("loss,head", [("sparse_categorical_crossentropy", "softmax"),
                                       ("binary_crossentropy", "sigmoid"), ("mse", None)])
def test_reference_keras_model_never_calls_the_native_kernels(no_core, rng, loss, head):
    model = KM.Sequential(dtype=np.float64, backend="reference", seed=0)
    model.add(KL.Conv2D(3, 2, strides=2, padding="same", activation="relu", input_shape=(7, 7, 2)))
    model.add(KL.BatchNormalization())
    model.add(KL.AveragePooling2D(padding="same"))
    model.add(KL.Flatten())
    model.add(KL.Dropout(0.2))
    model.add(KL.Dense(1 if head == "sigmoid" else 3, activation=head))
    model.compile(optimizer=_ReferenceSGD(), loss=loss)
    x = rng.standard_normal((4, 7, 7, 2))
    y = (np.arange(4) % 2).astype(np.float64) if head != "softmax" else np.arange(4) % 3
    if head is None:
        y = rng.standard_normal((4, 3))
    model.fit(x, y, batch_size=2, epochs=1, verbose=0)
    assert np.isfinite(model.evaluate(x, y))
    model.backend = "native"
    with pytest.raises(NativeCalled):
        model.predict(x)


class _ReferenceSGD:
    """SGD on the NumPy reference rule (nnkern.optimizers always runs the native update)."""

    def update(self, params, grads):
        for k in params:
            reference.sgd_update(params[k], grads[k], 0.01)


def test_reference_batch_loader_never_calls_the_native_loops(no_core, rng):
    x = rng.integers(0, 256, (7, 1, 5, 5), dtype=np.uint8)
    loader = BatchLoader(x, np.arange(7), batch_size=3, augment=Augment(padding=1), backend="reference",
                         reuse_buffers=True)
    assert [len(tb) for _, tb in loader] == [3, 3, 1]
    loader.backend = "native"
    with pytest.raises(NativeCalled):
        next(iter(loader))
