"""The book's files, both ways: compat's save_params writes the book's params.pkl (a plain
pickled dict of float64 arrays) that plain ``pickle.load`` reads without nnkern, loading stays
the allow-list unpickler, and the star imports of compat's layers/functions/util bind exactly
the names that the book's common/ modules bind."""
import os
import pickle
import subprocess
import sys

import numpy as np
import pytest
from conftest import assert_close
from extras import importorskip
from nnkern import compat
from nnkern.checkpoint import UnsafePickleError
from nnkern.compat.deep_convnet import DeepConvNet
from nnkern.compat.simple_convnet import SimpleConvNet

# What ``from common.<module> import *`` binds in the book's repository (its modules have no
# __all__: every public top-level name, numpy's ``np`` included).
BOOK_FUNCTIONS = {"np", "identity_function", "step_function", "sigmoid", "sigmoid_grad", "relu", "relu_grad",
                  "softmax", "sum_squared_error", "cross_entropy_error", "softmax_loss"}
BOOK_UTIL = {"np", "smooth_curve", "shuffle_dataset", "conv_output_size", "im2col", "col2im"}
BOOK_LAYERS = BOOK_FUNCTIONS | {"im2col", "col2im", "Relu", "Sigmoid", "Affine", "SoftmaxWithLoss", "Dropout",
                                "BatchNormalization", "Convolution", "Pooling"}

# The book's SimpleConvNet.load_params and ch07/visualize_filter.py's use of it, with numpy only.
BOOK_READER = """
import pickle, sys
import numpy as np
with open(sys.argv[1], "rb") as f:
    params = pickle.load(f)
assert type(params) is dict, type(params)
assert not [m for m in sys.modules if m.split(".")[0] == "nnkern"], "nnkern was imported"
for key, val in params.items():
    assert type(val) is np.ndarray and val.dtype == np.float64, (key, type(val), val.dtype)
np.savez(sys.argv[2], **params)
"""


def _small_convnet():
    return SimpleConvNet(input_dim=(1, 8, 8), conv_param={"filter_num": 4, "filter_size": 3, "pad": 1, "stride": 1},
                         hidden_size=10, output_size=10)


def _read_as_the_book(path, tmp_path):
    """The parameters as the book's scripts see them: plain pickle.load in a fresh Python that
    never imports nnkern (-I: no user site, no PYTHONPATH; the cwd is not the repository)."""
    r = subprocess.run([sys.executable, "-I", "-c", BOOK_READER, str(path), str(tmp_path / "seen.npz")],
                       cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    with np.load(tmp_path / "seen.npz") as z:
        return {k: z[k] for k in z.files}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_save_params_writes_the_books_pickle(dtype, rng, tmp_path):
    compat.set_default_dtype(dtype)
    try:
        np.random.seed(0)
        net = _small_convnet()
        x, t = rng.standard_normal((6, 1, 8, 8)).astype(np.float32), rng.integers(0, 10, 6)
        for _ in range(3):  # trained a little: the file holds the trained values
            grads = net.gradient(x, t)
            for k in net.params:
                net.params[k] -= 0.1 * grads[k]
        net.save_params(str(tmp_path / "params.pkl"))
        seen = _read_as_the_book(tmp_path / "params.pkl", tmp_path)
        assert set(seen) == set(net.params)
        for k, v in net.params.items():
            assert_close(seen[k], v.astype(np.float64), 0, 0, k)
        again = _small_convnet()
        again.load_params(str(tmp_path / "params.pkl"))  # through the allow-list unpickler
        assert all(again.params[k].dtype == dtype for k in again.params)
        assert again.layers["Conv1"].W is again.params["W1"]
        assert_close(again.predict(x), net.predict(x), 0, 0, "reloaded")
    finally:
        compat.set_default_dtype(np.float64)


def test_deep_convnet_file_and_nnkern_suffixes(rng, tmp_path):
    np.random.seed(1)
    net = DeepConvNet()
    net.save_params(str(tmp_path / "deep_convnet_params.pkl"))
    seen = _read_as_the_book(tmp_path / "deep_convnet_params.pkl", tmp_path)
    assert set(seen) == {f"{p}{i}" for p in "Wb" for i in range(1, 9)}
    for suffix in (".npz", ".safetensors"):  # nnkern's formats by the name
        if suffix == ".safetensors":
            importorskip("safetensors")
        net.save_params(str(tmp_path / f"p{suffix}"))
        with open(tmp_path / f"p{suffix}", "rb") as f:
            assert f.read(1) not in (b"\x80", b"(", b"}"), suffix  # not a pickle
        other = DeepConvNet()
        other.load_params(str(tmp_path / f"p{suffix}"))
        for k in net.params:
            assert_close(other.params[k], net.params[k], 0, 0, k + suffix)


class Exploit:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_loading_stays_the_allow_list_unpickler(tmp_path):
    np.random.seed(2)
    net = _small_convnet()
    params = {k: v for k, v in net.params.items()}
    params["W1"] = Exploit()
    with open(tmp_path / "params.pkl", "wb") as f:
        pickle.dump(params, f)
    before = {k: v.copy() for k, v in net.params.items()}
    with pytest.raises(UnsafePickleError, match="posix.system|os.system"):
        net.load_params(str(tmp_path / "params.pkl"))
    for k in before:
        assert_close(net.params[k], before[k], 0, 0, k)


@pytest.mark.parametrize("module,names", [("layers", BOOK_LAYERS), ("functions", BOOK_FUNCTIONS),
                                          ("util", BOOK_UTIL)])
def test_star_imports_bind_the_books_names(module, names):
    ns = {}
    exec(f"from nnkern.compat.{module} import *", ns)
    assert set(ns) - {"__builtins__"} == names
    assert ns["np"] is np
    mod = sys.modules[f"nnkern.compat.{module}"]
    assert sorted(mod.__all__) == sorted(names) and len(mod.__all__) == len(names)
