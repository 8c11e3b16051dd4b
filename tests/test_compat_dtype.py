"""nnkern.compat's opt-in float32 mode (set_default_dtype / NNKERN_COMPAT_DTYPE): the book's
networks compute in float32, close to the float64 default from the same draws, and the
book's own networks with float64 parameters keep training in it."""
import os
import subprocess
import sys

import numpy as np
import pytest
from conftest import assert_close
from nnkern import compat
from nnkern.compat import layers, optimizer
from nnkern.compat.multi_layer_net import MultiLayerNet
from nnkern.compat.multi_layer_net_extend import MultiLayerNetExtend
from nnkern.compat.simple_convnet import SimpleConvNet


@pytest.fixture
def float32_mode():
    compat.set_default_dtype(np.float32)
    yield
    compat.set_default_dtype(np.float64)


def _mlp():
    return MultiLayerNet(12, [10, 8], 4)


def _mlp_extend_bn():
    return MultiLayerNetExtend(12, [10, 8], 4, use_batchnorm=True, weight_decay_lambda=0.01)


def _convnet():
    return SimpleConvNet(input_dim=(1, 7, 7), conv_param={"filter_num": 3, "filter_size": 3, "pad": 1, "stride": 2},
                         hidden_size=6, output_size=4, weight_init_std=0.3)


NETS = [  # id, builder, input shape
    ("multi-layer-net", _mlp, (5, 12)),
    ("multi-layer-net-extend-batchnorm", _mlp_extend_bn, (5, 12)),
    ("simple-convnet-pad-stride", _convnet, (3, 1, 7, 7)),
]


def _run(build, x, t, dtype):
    compat.set_default_dtype(dtype)
    np.random.seed(7)
    net = build()
    return net, net.loss(x, t), net.gradient(x, t)


@pytest.mark.parametrize("build,shape", [n[1:] for n in NETS], ids=[n[0] for n in NETS])
def test_float32_mode_is_float32_and_close_to_float64(build, shape, rng, float32_mode):
    x = rng.standard_normal(shape).astype(np.float32)  # the book's loader gives float32 images
    t = rng.integers(0, 4, shape[0])
    net64, loss64, g64 = _run(build, x, t, np.float64)
    net32, loss32, g32 = _run(build, x, t, np.float32)
    assert all(p.dtype == np.float64 for p in net64.params.values())
    assert all(p.dtype == np.float32 for p in net32.params.values())
    for k in net64.params:  # the same np.random draws, rounded
        assert_close(net32.params[k], net64.params[k].astype(np.float32), 0, 0, k)
    assert net32.predict(x).dtype == np.float32 and set(g32) == set(g64)
    assert abs(float(loss32) - float(loss64)) <= 1e-5 * abs(float(loss64))
    for k in g64:
        assert g32[k].dtype == np.float32, k
        assert_close(g32[k], g64[k], 1e-3, 1e-5, k)  # float32 rounding through a few layers


def test_book_network_with_float64_params_trains_in_float32(rng, float32_mode):
    """ch05's TwoLayerNet creates its parameters with np.random.randn (float64): the layers
    compute in float32, the float64 parameters are updated with float32 gradients."""
    W1, b1 = 0.1 * rng.standard_normal((6, 5)), np.zeros(5)
    W2, b2 = 0.1 * rng.standard_normal((5, 3)), np.zeros(3)
    params = {"W1": W1, "b1": b1, "W2": W2, "b2": b2}
    a1, relu, a2, last = layers.Affine(W1, b1), layers.Relu(), layers.Affine(W2, b2), layers.SoftmaxWithLoss()
    x, t = rng.standard_normal((8, 6)).astype(np.float32), np.eye(3)[rng.integers(0, 3, 8)]
    losses = []
    for _ in range(30):
        losses.append(float(last.forward(a2.forward(relu.forward(a1.forward(x))), t)))
        a1.backward(relu.backward(a2.backward(last.backward(1))))
        grads = {"W1": a1.dW, "b1": a1.db, "W2": a2.dW, "b2": a2.db}
        assert all(g.dtype == np.float32 for g in grads.values())
        for k in params:
            params[k] -= 0.5 * grads[k]
    assert all(p.dtype == np.float64 for p in params.values()) and a1.W is W1
    assert losses[-1] < 0.5 * losses[0]


@pytest.mark.parametrize("opt", [optimizer.SGD(), optimizer.Momentum(), optimizer.AdaGrad(), optimizer.Adam()],
                         ids=lambda o: type(o).__name__)
def test_book_optimizers_keep_float32_params(opt, rng, float32_mode):
    np.random.seed(3)
    net = _mlp()
    x, t = rng.standard_normal((5, 12)).astype(np.float32), rng.integers(0, 4, 5)
    before = float(net.loss(x, t))
    for _ in range(20):
        opt.update(net.params, net.gradient(x, t))
    assert all(p.dtype == np.float32 for p in net.params.values())
    assert float(net.loss(x, t)) < before


def test_set_default_dtype_rejects_other_dtypes():
    for bad in (np.int32, np.float16, "complex64"):
        with pytest.raises(TypeError, match="float32 or float64"):
            compat.set_default_dtype(bad)
    assert compat.get_default_dtype() == np.float64


def _python(code, value):
    env = dict(os.environ, NNKERN_COMPAT_DTYPE=value)
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)


def test_environment_variable():
    r = _python("from nnkern import compat; from nnkern.compat.multi_layer_net import MultiLayerNet;"
                "print(compat.get_default_dtype(), MultiLayerNet(4, [3], 2).params['W1'].dtype)", "float32")
    assert r.returncode == 0 and r.stdout.split() == ["float32", "float32"], r.stderr
    r = _python("from nnkern import compat; print(compat.get_default_dtype())", "Float64")
    assert r.returncode == 0 and r.stdout.strip() == "float64", r.stderr
    r = _python("import nnkern.compat", "half")
    assert r.returncode != 0 and "NNKERN_COMPAT_DTYPE='half': use float32 or float64" in r.stderr
