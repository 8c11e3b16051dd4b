"""Checkpoints: .npz round trips (params, BN statistics, optimizer state) without pickle,
clear errors for mismatched checkpoints, and the allow-list unpickler for the book's files."""
import os
import pickle

import nnkern
import numpy as np
import pytest
from conftest import assert_close
from nnkern.checkpoint import CheckpointError, UnsafePickleError, load, load_pickle_params, save
from nnkern.keras import layers, models
from nnkern.models import MultiLayerNet, MultiLayerNetExtend, SimpleConvNet


def _train(model, opt, x, t, steps=3):
    for _ in range(steps):
        opt.update(model.params, model.gradient(x, t))


def test_round_trip_with_optimizer_state_continues_identically(rng, tmp_path):
    x, t = rng.standard_normal((8, 6)).astype(np.float32), rng.integers(0, 3, 8)
    a = MultiLayerNetExtend(6, [5], 3, use_batchnorm=True, seed=0)
    opt_a = nnkern.optimizers.Adam(lr=0.01)
    _train(a, opt_a, x, t)
    path = tmp_path / "ck.npz"
    save(path, a, opt_a)
    with np.load(path, allow_pickle=False) as z:  # readable without pickle
        assert "params/W1" in z.files and "buffers/BatchNorm1.running_mean" in z.files
    b = MultiLayerNetExtend(6, [5], 3, use_batchnorm=True, seed=1)
    opt_b = nnkern.optimizers.Adam(lr=0.01)
    W1 = b.params["W1"]
    meta = load(path, b, opt_b)
    assert meta["model"] == "MultiLayerNetExtend" and b.params["W1"] is W1  # loaded in place
    for k in a.params:
        assert_close(b.params[k], a.params[k], 0, 0, k)
    for k, v in a.buffers().items():
        assert_close(b.buffers()[k], v, 0, 0, k)
    _train(a, opt_a, x, t, 2)
    _train(b, opt_b, x, t, 2)
    for k in a.params:
        assert np.array_equal(a.params[k], b.params[k]), f"{k} diverged after resuming"


def test_model_methods_and_sequential(rng, tmp_path):
    m = SimpleConvNet((1, 8, 8), {"filter_num": 2, "filter_size": 3, "pad": 0, "stride": 1}, 4, 3, seed=0)
    m.save_params(tmp_path / "s.npz")
    m2 = SimpleConvNet((1, 8, 8), {"filter_num": 2, "filter_size": 3, "pad": 0, "stride": 1}, 4, 3, seed=1)
    m2.load_params(tmp_path / "s.npz")
    x = rng.standard_normal((2, 1, 8, 8))
    assert_close(m2.predict(x), m.predict(x), 0, 0, "same predictions")
    seq = models.Sequential(seed=0)
    seq.add(layers.Conv2D(2, 3, input_shape=(5, 5, 1)))
    seq.add(layers.BatchNormalization())
    seq.add(layers.Flatten())
    seq.add(layers.Dense(2))
    seq.save_weights(tmp_path / "k.npz")
    xs = rng.standard_normal((3, 5, 5, 1))
    want = seq.predict(xs)
    kept = {k: v.copy() for k, v in seq.buffers().items()}
    for a in seq.get_weights():
        a[...] = 0.5
    seq.load_weights(tmp_path / "k.npz")  # names with '/' survive the .npz round trip
    assert_close(seq.predict(xs), want, 0, 0, "Sequential weights restored")
    for k, v in seq.buffers().items():
        assert_close(v, kept[k], 0, 0, k)
    seq2 = models.Sequential(seed=1)
    for lay in (layers.Conv2D(2, 3, input_shape=(5, 5, 1)), layers.BatchNormalization(), layers.Flatten(),
                layers.Dense(2)):
        seq2.add(lay)
    with pytest.raises(CheckpointError, match="missing"):  # layer names differ (conv2d_1 vs conv2d)
        seq2.load_weights(tmp_path / "k.npz")
    seq2.set_weights(seq.get_weights())
    assert_close(seq2.predict(xs), seq.predict(xs), 0, 0, "set_weights")


def test_mismatched_checkpoints_raise_and_write_nothing(rng, tmp_path):
    a = MultiLayerNet(6, [5], 3, seed=0)
    save(tmp_path / "a.npz", a)
    other = MultiLayerNet(6, [7], 3, seed=1)
    before = {k: v.copy() for k, v in other.params.items()}
    with pytest.raises(CheckpointError, match=r"parameter 'W1' has shape \(6, 5\) in the file, \(6, 7\) in the model"):
        load(tmp_path / "a.npz", other)
    for k in before:
        assert np.array_equal(other.params[k], before[k]), "nothing written on mismatch"
    with pytest.raises(CheckpointError, match=r"missing \['W3', 'b3'\]"):
        load(tmp_path / "a.npz", MultiLayerNet(6, [5, 5], 3))
    with pytest.raises(CheckpointError, match="holds no optimizer state"):
        load(tmp_path / "a.npz", a, nnkern.optimizers.SGD())
    np.savez(tmp_path / "plain.npz", W1=np.zeros(3))
    with pytest.raises(CheckpointError, match="not an nnkern checkpoint"):
        load(tmp_path / "plain.npz", a)


def test_book_pickle_is_loaded(rng, tmp_path):
    params = {"W1": rng.standard_normal((6, 5)), "b1": np.zeros(5), "W2": rng.standard_normal((5, 3)),
              "b2": np.zeros(3)}
    for proto in (2, 4, 5):
        path = tmp_path / f"params{proto}.pkl"
        with open(path, "wb") as f:
            pickle.dump(params, f, protocol=proto)
        got = load_pickle_params(path)
        assert set(got) == set(params) and all(np.array_equal(got[k], params[k]) for k in params)
    m = MultiLayerNet(6, [5], 3, dtype=np.float64)
    m.load_params(tmp_path / "params4.pkl")
    assert_close(m.params["W1"], params["W1"], 0, 0, "book pickle into a model")
    with pytest.raises(CheckpointError, match=r"missing \['W3', 'b3'\]"):
        MultiLayerNet(6, [5, 4], 3).load_params(tmp_path / "params4.pkl")


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_malicious_pickle_is_refused_without_running_code(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "params.pkl"
    with open(path, "wb") as f:
        pickle.dump({"W1": np.zeros(2), "evil": _Evil(marker)}, f)
    with pytest.raises(UnsafePickleError, match=r"refusing to unpickle (posix|os)\.system"):
        load_pickle_params(path)
    assert not marker.exists()
    with pytest.raises(UnsafePickleError, match="refusing to unpickle"):
        MultiLayerNet(2, [2], 2).load_params(path)
    assert not marker.exists()
    # an object array would need builtins to rebuild its elements: refused as well
    with pytest.raises(UnsafePickleError):
        load_pickle_params(pickle.dumps({"W": np.array([{"a": 1}], dtype=object)}))
    with pytest.raises(UnsafePickleError, match="must hold a dict"):
        load_pickle_params(pickle.dumps([np.zeros(2)]))
