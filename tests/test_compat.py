"""nnkern.compat: the book's classes on native kernels, checked against the published
formulas (written out here, not copied from the book's code), float64 and mixed dtypes,
attribute assignment, the book's optimizers, Trainer, and the pickled-params loader."""
import pickle

import numpy as np
import pytest
from conftest import assert_close
from nnkern.compat import functions, gradient, layers, optimizer, util
from nnkern.compat.deep_convnet import DeepConvNet
from nnkern.compat.multi_layer_net import MultiLayerNet
from nnkern.compat.multi_layer_net_extend import MultiLayerNetExtend
from nnkern.compat.simple_convnet import SimpleConvNet
from nnkern.compat.trainer import Trainer


def test_batch_normalization_is_per_activation_on_4d_input(rng):
    """Ioffe & Szegedy Alg. 1 over the batch for every activation (c, h, w) separately;
    running = 0.9 running + 0.1 batch (biased variance); eps 1e-6; inference uses running."""
    x = rng.standard_normal((6, 2, 3, 3)) * 3 + 1
    D = 2 * 3 * 3
    gamma, beta = rng.standard_normal(D), rng.standard_normal(D)
    bn = layers.BatchNormalization(gamma, beta)
    y = bn.forward(x, train_flg=True)
    x2 = x.reshape(6, D)
    mu, var = x2.mean(axis=0), ((x2 - x2.mean(axis=0)) ** 2).mean(axis=0)
    want = gamma * (x2 - mu) / np.sqrt(var + 1e-6) + beta
    assert y.shape == x.shape and y.dtype == np.float64
    assert_close(y.reshape(6, D), want, 1e-12, 1e-12, "train output")
    assert_close(bn.running_mean, 0.1 * mu, 1e-12, 1e-14, "running_mean")
    assert_close(bn.running_var, 0.1 * var, 1e-12, 1e-14, "running_var")
    y_test = bn.forward(x, train_flg=False)
    want_test = gamma * (x2 - 0.1 * mu) / np.sqrt(0.1 * var + 1e-6) + beta
    assert_close(y_test.reshape(6, D), want_test, 1e-12, 1e-12, "inference output")
    # backward: dgamma = sum(dout * xhat), dbeta = sum(dout); dx from the chain rule (checked numerically)
    bn.forward(x, train_flg=True)
    dout = rng.standard_normal(x.shape)
    dx = bn.backward(dout)
    xhat = (x2 - mu) / np.sqrt(var + 1e-6)
    assert_close(bn.dgamma, (dout.reshape(6, D) * xhat).sum(axis=0), 1e-10, 1e-12, "dgamma")
    assert_close(bn.dbeta, dout.reshape(6, D).sum(axis=0), 1e-12, 1e-12, "dbeta")

    def f(_):
        return float(np.sum(layers.BatchNormalization(gamma, beta).forward(x, True) * dout))

    assert_close(dx, gradient.numerical_gradient(f, x), 1e-5, 1e-7, "dx")


def test_dropout_is_not_inverted(rng):
    x = rng.standard_normal((40, 50)) + 5.0
    np.random.seed(0)
    d = layers.Dropout(0.3)
    y = d.forward(x, train_flg=True)
    assert d.mask.dtype == bool and d.mask.shape == x.shape
    assert_close(y, x * d.mask, 0, 0, "train: x * mask, no rescaling")
    assert 0.6 < d.mask.mean() < 0.8
    assert_close(d.forward(x, train_flg=False), x * 0.7, 1e-15, 0, "test: x * (1 - ratio)")
    dout = rng.standard_normal(x.shape)
    d.forward(x, True)
    assert_close(d.backward(dout), dout * d.mask, 0, 0, "backward")
    np.random.seed(0)
    m1 = layers.Dropout(0.3).forward(x).copy()
    np.random.seed(0)
    assert np.array_equal(layers.Dropout(0.3).forward(x), m1), "np.random.seed makes masks reproducible"


def test_softmax_with_loss_and_functions(rng):
    x = rng.standard_normal((4, 5))
    t = np.array([1, 0, 4, 2])
    p = np.exp(x - x.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    layer = layers.SoftmaxWithLoss()
    loss = layer.forward(x, t)
    assert loss == pytest.approx(-np.mean(np.log(p[np.arange(4), t] + 1e-7)), rel=1e-12)
    assert_close(layer.backward(1), (p - np.eye(5)[t]) / 4, 1e-12, 1e-15, "dx labels")
    layer.forward(x, np.eye(5)[t])
    assert_close(layer.backward(1), (p - np.eye(5)[t]) / 4, 1e-12, 1e-15, "dx one-hot")
    assert_close(functions.softmax(x), p, 1e-12, 1e-15, "softmax")
    assert_close(functions.sigmoid(x), 1 / (1 + np.exp(-x)), 1e-12, 1e-15, "sigmoid")
    assert_close(functions.relu_grad(np.array([-1.0, 0.0, 2.0])), np.array([0.0, 1.0, 1.0]), 0, 0, "relu_grad")
    assert functions.cross_entropy_error(p[0], np.eye(5)[1]) == pytest.approx(-np.log(p[0, 1] + 1e-7))
    assert functions.sum_squared_error(np.array([1.0, 2.0]), np.array([0.0, 0.0])) == 2.5


def test_layers_accept_float64_params_mixed_data_and_reassignment(rng):
    W, b = rng.standard_normal((6, 3)), rng.standard_normal(3)
    aff = layers.Affine(W, b)
    x32 = rng.standard_normal((2, 2, 3)).astype(np.float32)  # the book's loader gives float32 data
    y = aff.forward(x32)
    assert y.dtype == np.float64
    assert_close(y, x32.reshape(2, 6).astype(np.float64) @ W + b, 1e-12, 1e-12, "promoted like NumPy")
    dx = aff.backward(np.ones((2, 3)))
    assert dx.shape == (2, 2, 3) and aff.dW.shape == W.shape and aff.db.shape == b.shape
    W2 = rng.standard_normal((6, 3))
    aff.W = W2  # the book's load_params
    assert aff.W is W2
    assert_close(aff.forward(x32), x32.reshape(2, 6) @ W2 + b, 1e-12, 1e-12, "after layer.W = ...")
    conv = layers.Convolution(rng.standard_normal((4, 3, 3, 3)), np.zeros(4), stride=1, pad=1)
    xc = rng.standard_normal((2, 3, 5, 5))
    out = conv.forward(xc)
    assert out.shape == (2, 4, 5, 5)
    pool = layers.Pooling(2, 2, stride=2)
    po = pool.forward(out)
    windows = out[:, :, :4, :4].reshape(2, 4, 2, 2, 2, 2)  # (n, c, oh, kh, ow, kw)
    assert_close(po, windows.max(axis=(3, 5)), 0, 0, "2x2 max pooling")
    dpo = pool.backward(np.ones_like(po))
    assert dpo.shape == out.shape and dpo.sum() == po.size


def test_util_im2col_layout(rng):
    """One row per output pixel (n, oh, ow); columns (c, kh, kw)."""
    x = rng.standard_normal((2, 3, 4, 5))
    col = util.im2col(x, 2, 3, stride=1, pad=0)
    assert col.shape == (2 * 3 * 3, 3 * 2 * 3)
    n, i, j = 1, 2, 1
    row = col[n * 9 + i * 3 + j]
    assert_close(row, x[n, :, i:i + 2, j:j + 3].reshape(-1), 0, 0, "a row is one receptive field")
    back = util.col2im(np.ones_like(col), x.shape, 2, 3)
    assert back[0, 0, 0, 0] == 1 and back[0, 0, 1, 2] == 2 * 3  # counts of windows covering each pixel
    assert util.conv_output_size(28, 5) == 24


def _book_adam(steps, p, g_seq, lr=0.001, b1=0.9, b2=0.999):
    """The study notes' Adam (example 2.4) written from its formulas."""
    m, v = np.zeros_like(p), np.zeros_like(p)
    p = p.copy()
    for t, g in enumerate(g_seq[:steps], start=1):
        lr_t = lr * np.sqrt(1 - b2 ** t) / (1 - b1 ** t)
        m = m + (1 - b1) * (g - m)
        v = v + (1 - b2) * (g * g - v)
        p = p - lr_t * m / (np.sqrt(v) + 1e-7)
    return p


def test_optimizers_follow_the_study_notes_formulas(rng):
    p0 = rng.standard_normal((3, 4))
    gs = [rng.standard_normal((3, 4)) for _ in range(3)]

    def run(opt):
        params = {"W": p0.copy()}
        W = params["W"]
        for g in gs:
            opt.update(params, {"W": g})
        assert params["W"] is W  # in place
        return W

    assert_close(run(optimizer.Adam()), _book_adam(3, p0, gs), 1e-12, 1e-15, "Adam (book)")
    v, w = np.zeros_like(p0), p0.copy()
    for g in gs:
        v = 0.9 * v - 0.01 * g
        w = w + v
    assert_close(run(optimizer.Momentum()), w, 1e-12, 1e-15, "Momentum")
    h, w = np.zeros_like(p0), p0.copy()
    for g in gs:
        h = h + g * g
        w = w - 0.01 * g / (np.sqrt(h) + 1e-7)
    assert_close(run(optimizer.AdaGrad()), w, 1e-12, 1e-15, "AdaGrad")
    h, w = np.zeros_like(p0), p0.copy()
    for g in gs:
        h = 0.99 * h + 0.01 * g * g
        w = w - 0.01 * g / (np.sqrt(h) + 1e-7)
    assert_close(run(optimizer.RMSprop()), w, 1e-12, 1e-15, "RMSprop")
    assert_close(run(optimizer.SGD(lr=0.1)), p0 - 0.1 * sum(gs), 1e-12, 1e-15, "SGD")
    opt = optimizer.Adam()
    run(opt)
    assert opt.iter == 3 and set(opt.m) == {"W"}


def test_multilayernet_gradient_matches_book_numerical_gradient():
    rng = np.random.default_rng(3)  # fixed: h = 1e-4 differences are wrong across ReLU/max-pool switches
    np.random.seed(1)
    net = MultiLayerNet(5, [4, 3], 3, weight_decay_lambda=0.1)
    assert net.params["W1"].dtype == np.float64
    x, t = rng.standard_normal((4, 5)), np.array([0, 2, 1, 1])
    g, ng = net.gradient(x, t), net.numerical_gradient(x, t)
    for k in g:
        assert_close(g[k], ng[k], 1e-5, 1e-7, k)


def test_multilayernet_extend_batch_norm_gradient():
    rng = np.random.default_rng(3)  # fixed: h = 1e-4 differences are wrong across ReLU/max-pool switches
    np.random.seed(2)
    net = MultiLayerNetExtend(5, [4, 4], 3, use_batchnorm=True, weight_decay_lambda=0.05)
    x, t = rng.standard_normal((6, 5)), np.eye(3)[[0, 2, 1, 1, 0, 2]]
    g, ng = net.gradient(x, t), net.numerical_gradient(x, t)
    assert set(g) == {"W1", "b1", "W2", "b2", "W3", "b3", "gamma1", "beta1", "gamma2", "beta2"}
    for k in g:
        assert_close(g[k], ng[k], 1e-4, 1e-6, k)


def test_trainer_runs_the_book_loop():
    rng = np.random.default_rng(12345)  # fixed task and batches: a learning test must not depend on luck
    np.random.seed(3)
    centers = rng.standard_normal((3, 6)) * 4
    t = rng.integers(0, 3, 300)
    x = (centers[t] + rng.standard_normal((300, 6))).astype(np.float32)
    net = MultiLayerNetExtend(6, [16], 3, use_dropout=True, dropout_ration=0.1)
    tr = Trainer(net, x[:200], t[:200], x[200:], t[200:], epochs=5, mini_batch_size=20, optimizer="Adam",
                 optimizer_param={"lr": 0.01}, verbose=False)
    tr.train()
    assert len(tr.train_loss_list) == tr.max_iter == 50
    assert len(tr.test_acc_list) == 5
    assert tr.test_acc_list[-1] >= 0.9


def test_simple_convnet_gradient_and_pickled_params(tmp_path):
    rng = np.random.default_rng(5)  # fixed: h = 1e-4 differences are wrong across ReLU/max-pool switches
    np.random.seed(4)
    net = SimpleConvNet(input_dim=(1, 6, 6), conv_param={"filter_num": 2, "filter_size": 3, "pad": 0, "stride": 1},
                        hidden_size=4, output_size=3, weight_init_std=0.5)
    x, t = rng.standard_normal((2, 1, 6, 6)), np.array([0, 2])
    g, ng = net.gradient(x, t), net.numerical_gradient(x, t)
    for k in g:  # the book's h = 1e-4 leaves a truncation error h^2 f'''/6, ~1e-5 with these weights
        assert_close(g[k], ng[k], 1e-3, 2e-5, k)
    # the book's params.pkl: a pickled dict of arrays
    params = {k: rng.standard_normal(v.shape) for k, v in net.params.items()}
    path = tmp_path / "params.pkl"
    with open(path, "wb") as f:
        pickle.dump(params, f)
    net.load_params(str(path))
    assert net.layers["Conv1"].W is net.params["W1"]
    assert_close(net.params["W2"], params["W2"], 0, 0, "loaded")
    y = net.predict(x)
    net.save_params(str(tmp_path / "again.npz"))
    net2 = SimpleConvNet(input_dim=(1, 6, 6), conv_param={"filter_num": 2, "filter_size": 3, "pad": 0,
                                                          "stride": 1}, hidden_size=4, output_size=3)
    net2.load_params(str(tmp_path / "again.npz"))
    assert_close(net2.predict(x), y, 0, 0, "npz round trip")


def test_deep_convnet_structure(rng):
    np.random.seed(5)
    net = DeepConvNet()
    assert sum(v.size for v in net.params.values()) == 123_552
    x = rng.standard_normal((2, 1, 28, 28)).astype(np.float32)
    grads = net.gradient(x, np.array([1, 7]))
    assert all(grads[k].shape == net.params[k].shape and grads[k].dtype == np.float64 for k in grads)
    assert net.predict(x).shape == (2, 10)


def test_book_optimizers_cast_gradients_to_the_parameter_dtype(rng):
    # float32 gradients of float64 parameters (the book's update promotes them in NumPy) are
    # cast once: the result is the float64 update of the cast gradients, bit for bit.
    from test_optim_book import BookAdam
    params = {"W": rng.standard_normal((5, 4)), "b": rng.standard_normal(4)}
    cast_params = {k: p.copy() for k, p in params.items()}
    opt, cast_opt, seed = optimizer.Adam(), optimizer.Adam(), BookAdam()
    seed_params = {k: p.copy() for k, p in params.items()}
    for _ in range(5):
        grads = {k: rng.standard_normal(p.shape).astype(np.float32) for k, p in params.items()}
        opt.update(params, grads)
        cast_opt.update(cast_params, {k: g.astype(np.float64) for k, g in grads.items()})
        seed.update(seed_params, {k: g.astype(np.float64) for k, g in grads.items()})
    for k in params:
        np.testing.assert_array_equal(params[k], cast_params[k], strict=True)
        np.testing.assert_array_equal(params[k], seed_params[k], strict=True)
    assert opt.iter == 5 and opt.m["W"].dtype == np.float64
