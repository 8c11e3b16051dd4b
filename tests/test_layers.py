"""nnkern.layers: every layer on the native and the reference backend (same outputs), the
reference layers against finite differences (float64), the aliasing contract with in-place
optimizer updates, the book's attribute names, and bad input."""
import numpy as np
import pytest
from conftest import assert_close, numerical_grad
from nnkern import layers as L


def _make(name, rng, dtype):
    """(layer factory, input) for one named case; factories take backend=."""
    f = lambda *s: rng.standard_normal(s).astype(dtype)  # noqa: E731
    cases = {
        "affine": (lambda W=f(12, 5), b=f(5): (lambda be: L.Affine(W, b, backend=be)), f(4, 12)),
        "affine-4d-input": (lambda W=f(2 * 3 * 2, 4), b=f(4): (lambda be: L.Affine(W, b, backend=be)), f(3, 2, 3, 2)),
        "affine-nobias": (lambda W=f(6, 3): (lambda be: L.Affine(W, None, backend=be)), f(2, 6)),
        "conv-pad1": (lambda W=f(4, 3, 3, 3), b=f(4): (lambda be: L.Conv2D(W, b, 1, 1, backend=be)), f(2, 3, 7, 6)),
        "conv-stride2-groups2": (lambda W=f(6, 2, 3, 3), b=f(6):
                                 (lambda be: L.Conv2D(W, b, 2, 1, groups=2, backend=be)),
                                 f(2, 4, 9, 8)),
        "maxpool-2x2": (lambda: (lambda be: L.MaxPool2D(2, 2, backend=be)), f(2, 3, 6, 8)),
        "maxpool-overlap-3s2": (lambda: (lambda be: L.MaxPool2D(3, 2, backend=be)), f(2, 2, 9, 7)),
        "avgpool-2x2": (lambda: (lambda be: L.AvgPool2D(2, backend=be)), f(2, 3, 6, 6)),
        "avgpool-3s2-pad1": (lambda: (lambda be: L.AvgPool2D(3, 2, 1, backend=be)), f(1, 2, 7, 7)),
        "lrn": (lambda: (lambda be: L.LRN(5, 1e-1, 0.75, 2.0, backend=be)), f(2, 7, 3, 4)),
        "relu": (lambda: (lambda be: L.ReLU(backend=be)), f(3, 11)),
        "sigmoid": (lambda: (lambda be: L.Sigmoid(backend=be)), f(3, 11)),
        "tanh": (lambda: (lambda be: L.Tanh(backend=be)), f(2, 3, 4, 5)),
        "flatten": (lambda: (lambda be: L.Flatten(backend=be)), f(2, 3, 4, 5)),
        "batchnorm-1d": (lambda g=f(6), b=f(6): (lambda be: L.BatchNorm(g.copy(), b.copy(), backend=be)), f(8, 6)),
        "batchnorm-2d": (lambda g=f(3), b=f(3): (lambda be: L.BatchNorm(g.copy(), b.copy(), backend=be)),
                         f(4, 3, 5, 4)),
    }
    maker, x = cases[name]
    return maker(), x


NAMES = ["affine", "affine-4d-input", "affine-nobias", "conv-pad1", "conv-stride2-groups2", "maxpool-2x2",
         "maxpool-overlap-3s2", "avgpool-2x2", "avgpool-3s2-pad1", "lrn", "relu", "sigmoid", "tanh", "flatten",
         "batchnorm-1d", "batchnorm-2d"]


def _upstream(layer, x, rng):
    """A random upstream gradient of the layer's output shape."""
    return rng.standard_normal(layer.forward(x, True).shape)


def _run(layer, x, gy, train=True):
    y = layer.forward(x, train)
    gx = layer.backward(gy)
    return y, gx, {k: v.copy() for k, v in layer.grads.items()}


@pytest.mark.parametrize("name", NAMES)
def test_native_matches_reference(rng, name):
    """float64 on both backends: same values; float32 native vs float64 reference: close."""
    make64, x64 = _make(name, rng, np.float64)
    gy = _upstream(make64("reference"), x64, rng)
    y_ref, gx_ref, g_ref = _run(make64("reference"), x64, gy)
    y_nat, gx_nat, g_nat = _run(make64("native"), x64, gy)
    assert_close(y_nat, y_ref, 1e-10, 1e-12, f"{name} y f64")
    assert_close(gx_nat, gx_ref, 1e-10, 1e-12, f"{name} gx f64")
    for k in g_ref:
        assert_close(g_nat[k], g_ref[k], 1e-10, 1e-11, f"{name} d{k} f64")
    # float32 native with the same numbers, against the float64 reference
    layer32 = make64("native")
    for k in list(layer32.params):
        layer32.params[k] = layer32.params[k].astype(np.float32)
    for k in list(layer32.buffers):
        layer32.buffers[k] = layer32.buffers[k].astype(np.float32)
    y32, gx32, g32 = _run(layer32, x64.astype(np.float32), gy.astype(np.float32))
    assert y32.dtype == np.float32 and gx32.dtype == np.float32
    # short reductions (<= 27 terms, BN over <= 80): float32 rounding only; 1e-4 covers
    # the BN normalisation by a float32 std and sums of ~80 gradient terms
    assert_close(y32, y_ref, 1e-4, 1e-5, f"{name} y f32")
    assert_close(gx32, gx_ref, 1e-4, 1e-4, f"{name} gx f32")
    for k in g_ref:
        assert_close(g32[k], g_ref[k], 1e-4, 1e-4, f"{name} d{k} f32")


@pytest.mark.parametrize("name", NAMES)
def test_reference_backward_matches_finite_differences(rng, name):
    make, x = _make(name, rng, np.float64)
    layer = make("reference")
    gy = _upstream(layer, x, rng)
    _, gx, grads = _run(layer, x, gy)

    def f():  # BN's running statistics change on every call; training mode does not read them
        return float(np.sum(layer.forward(x, True) * gy))

    assert_close(gx, numerical_grad(f, x), 1e-6, 1e-7, f"{name} gx vs finite differences")
    for k, p in layer.params.items():
        assert_close(grads[k], numerical_grad(f, p), 1e-6, 1e-7, f"{name} d{k} vs finite differences")


def test_batch_norm_inference_uses_running_stats(rng):
    x = rng.standard_normal((16, 3, 2, 2)) * 2 + 1
    for be in ("native", "reference"):
        bn = L.BatchNorm(np.ones(3), np.zeros(3), momentum=0.1, backend=be)
        bn.forward(x, train=True)
        m = x.mean(axis=(0, 2, 3))
        v = x.var(axis=(0, 2, 3), ddof=1)  # torch's convention: unbiased running variance
        assert_close(bn.running_mean, 0.1 * m, 1e-12, 1e-12, "running_mean")
        assert_close(bn.running_var, 0.9 + 0.1 * v, 1e-12, 1e-12, "running_var")
        y = bn.forward(x, train=False)
        want = (x - bn.running_mean[:, None, None]) / np.sqrt(bn.running_var[:, None, None] + 1e-5)
        assert_close(y, want, 1e-12, 1e-12, "inference output")


def test_dropout_inverted_and_fixed_seed(rng):
    x = rng.standard_normal((50, 40)) + 3.0
    d = L.Dropout(0.3, seed=1)
    y = d.forward(x, train=True)
    kept = y != 0
    assert_close(y[kept], x[kept] / 0.7, 1e-12, 1e-12, "kept units scaled by 1/(1-p)")
    assert 0.6 < kept.mean() < 0.8
    assert np.array_equal(d.forward(x, train=False), x)
    d.fixed_seed = 5
    assert np.array_equal(d.forward(x), d.forward(x))
    gy = rng.standard_normal(x.shape)
    d.forward(x)
    assert_close(d.backward(gy), gy * (d.mask / 0.7), 1e-12, 1e-12, "dropout backward")


def test_softmax_with_loss_formula(rng):
    x = rng.standard_normal((5, 4))
    t = np.array([0, 3, 1, 1, 2])
    for be in ("native", "reference"):
        layer = L.SoftmaxWithLoss(backend=be)
        loss = layer.forward(x, t)
        p = np.exp(x) / np.exp(x).sum(axis=1, keepdims=True)
        assert abs(loss - (-np.mean(np.log(p[np.arange(5), t])))) < 1e-6
        assert_close(layer.backward(), (p - np.eye(4)[t]) / 5, 1e-10, 1e-12, "dx")
        assert abs(layer.forward(x, np.eye(4)[t]) - loss) < 1e-12


def test_sigmoid_with_loss_formula(rng):
    z = rng.standard_normal((6, 1)) * 3
    t = (rng.random((6, 1)) > 0.5).astype(np.float64)
    layer = L.SigmoidWithLoss()
    loss = layer.forward(z, t)
    s = 1 / (1 + np.exp(-z))
    assert abs(loss - np.mean(-(t * np.log(s) + (1 - t) * np.log(1 - s)))) < 1e-12
    assert_close(layer.backward(), (s - t) / 6, 1e-10, 1e-14, "dz")


def test_layers_alias_parameter_arrays(rng):
    """In-place updates of the arrays given to a layer are what the layer computes with."""
    W, b = rng.standard_normal((4, 3)), np.zeros(3)
    layer = L.Affine(W, b)
    assert layer.W is W and layer.params["b"] is b
    x = rng.standard_normal((2, 4))
    layer.forward(x)
    layer.backward(np.ones((2, 3)))
    assert layer.dW is layer.grads["W"]
    W -= 0.5 * layer.dW  # what optimizer.update(params, grads) does
    assert_close(layer.forward(x), x @ W, 1e-12, 1e-12, "after in-place update")
    W2 = rng.standard_normal((4, 3))
    layer.W = W2  # the book's load_params: rebinding is honoured
    assert layer.W is W2
    assert_close(layer.forward(x), x @ W2, 1e-12, 1e-12, "after rebinding")
    with pytest.raises(ValueError, match="shape"):
        layer.W = np.zeros((3, 3))


def test_backend_switch_and_bad_input(rng):
    layer = L.Conv2D(rng.standard_normal((2, 3, 3, 3)), np.zeros(2))
    assert layer.backend == "native"
    layer.backend = "reference"
    assert layer.backend == "reference"
    with pytest.raises(ValueError, match="backend must be 'native' or 'reference'"):
        layer.backend = "cuda"
    with pytest.raises(ValueError, match=r"Conv2D expects \(N, 3, H, W\)"):
        layer.forward(np.zeros((1, 4, 5, 5)))
    with pytest.raises(TypeError, match="float32 or float64"):
        layer.forward(np.zeros((1, 3, 5, 5), dtype=np.int64))
    with pytest.raises(ValueError, match="Affine expects"):
        L.Affine(np.zeros((4, 2))).forward(np.zeros((3, 5)))
    with pytest.raises(ValueError, match="dropout probability"):
        L.Dropout(1.0)
    with pytest.raises(ValueError, match="BatchNorm over 3 features"):
        L.BatchNorm(np.ones(3), np.zeros(3)).forward(np.zeros((2, 4)))


def test_batch_norm_1d_2d_variants_check_rank():
    with pytest.raises(ValueError, match=r"BatchNorm1D expects \(N, D\)"):
        L.BatchNorm1D(np.ones(3), np.zeros(3)).forward(np.zeros((2, 3, 4, 4)))
    with pytest.raises(ValueError, match=r"BatchNorm2D expects \(N, C, H, W\)"):
        L.BatchNorm2D(np.ones(3), np.zeros(3)).forward(np.zeros((2, 3)))
    assert L.BatchNorm2D(np.ones(3), np.zeros(3)).forward(np.ones((2, 3, 2, 2))).shape == (2, 3, 2, 2)
