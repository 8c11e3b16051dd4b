"""safetensors checkpoints: nnkern.save/load by suffix, readable by safetensors.numpy and torch
under the names of ``model.params``, and malformed headers refused before anything is allocated."""
import json
import struct
import subprocess
import sys
import tracemalloc

import nnkern
import numpy as np
import pytest
from extras import importorskip
from nnkern import checkpoint
from nnkern.checkpoint import CheckpointError
from nnkern.models import MultiLayerNetExtend, SimpleConvNet
from nnkern.optimizers import Adam
from tolerances import assert_equal

safetensors_numpy = importorskip("safetensors.numpy")


def _model(seed=0):
    return MultiLayerNetExtend(12, [9, 7], 4, use_batchnorm=True, seed=seed)


def _batch(rng):
    return rng.standard_normal((6, 12)).astype(np.float32), np.arange(6) % 4


def _step(model, opt, x, t):
    opt.update(model.params, model.gradient(x, t))


def test_round_trip_continues_like_the_npz_checkpoint(rng, tmp_path):
    x, t = _batch(rng)
    model, opt = _model(), Adam(lr=1e-2)
    for _ in range(3):
        _step(model, opt, x, t)
    nnkern.save(tmp_path / "m.safetensors", model, opt)
    nnkern.save(tmp_path / "m.npz", model, opt)
    resumed = {}
    for suffix in (".safetensors", ".npz"):
        m, o = _model(seed=1), Adam(lr=1e-2)
        meta = nnkern.load(tmp_path / f"m{suffix}", m, o)
        assert meta["model"] == "MultiLayerNetExtend" and meta["optimizer"] == "Adam"
        _step(m, o, x, t)
        resumed[suffix] = m
    _step(model, opt, x, t)
    for k, v in model.params.items():
        assert_equal(resumed[".safetensors"].params[k], v, k)
        assert_equal(resumed[".npz"].params[k], v, k)
    for k, v in model.buffers().items():
        assert_equal(resumed[".safetensors"].buffers()[k], v, k)


def test_readable_by_safetensors_numpy_with_the_params_names(rng, tmp_path):
    model, opt = _model(), Adam()
    _step(model, opt, *_batch(rng))
    nnkern.save(tmp_path / "m.safetensors", model, opt)
    tensors = safetensors_numpy.load_file(str(tmp_path / "m.safetensors"))
    assert {k for k in tensors if "/" not in k} == set(model.params)
    assert {k[len("buffers/"):] for k in tensors if k.startswith("buffers/")} == set(model.buffers())
    assert all(k.startswith("optimizer/") for k in tensors if k not in model.params and "buffers/" not in k)
    for k, v in model.params.items():
        assert_equal(tensors[k], v, k)
    from safetensors import safe_open
    with safe_open(str(tmp_path / "m.safetensors"), framework="numpy") as f:
        meta = f.metadata()
    assert meta["format"] == checkpoint.FORMAT and meta["model"] == "MultiLayerNetExtend"
    assert json.loads(meta["config"])["kwargs"]["hidden_size_list"] == [9, 7]
    assert json.loads(meta["params"]) == list(model.params)
    assert nnkern.checkpoint.load_params(tmp_path / "m.safetensors").keys() == model.params.keys()


def test_readable_by_torch(rng, tmp_path):
    torch_st = pytest.importorskip("safetensors.torch")
    model = SimpleConvNet(input_dim=(1, 8, 8), dtype=np.float64, seed=0)
    nnkern.save(tmp_path / "m.safetensors", model)
    tensors = torch_st.load_file(str(tmp_path / "m.safetensors"))
    assert set(tensors) == set(model.params)
    for k, v in model.params.items():
        assert str(tensors[k].dtype) == "torch.float64"
        assert_equal(tensors[k].numpy(), v, k)


def test_a_sequential_and_plain_parameter_dicts(rng, tmp_path):
    from nnkern import keras
    seq = keras.Sequential(seed=0)
    seq.add(keras.layers.Dense(3, activation="relu", input_shape=(5,), name="dense"))  # auto names count
    seq.add(keras.layers.BatchNormalization(name="batch_normalization"))  # up across the whole session
    seq.save_weights(tmp_path / "s.safetensors")
    assert "dense/kernel" in safetensors_numpy.load_file(str(tmp_path / "s.safetensors"))
    other = keras.Sequential(seed=1)
    other.add(keras.layers.Dense(3, activation="relu", input_shape=(5,), name="dense"))
    other.add(keras.layers.BatchNormalization(name="batch_normalization"))
    other.load_weights(tmp_path / "s.safetensors")
    for a, b in zip(other.get_weights(), seq.get_weights()):
        assert_equal(a, b)
    params = {"W1": rng.standard_normal((3, 2)), "b1": np.zeros(2, np.float32)}
    checkpoint.save_params(tmp_path / "p.safetensors", params)
    back = checkpoint.load_params(tmp_path / "p.safetensors")
    for k in params:
        assert_equal(back[k], params[k], k)
    safetensors_numpy.save_file({"encoder.weight": np.ones((2, 2), np.float32)}, str(tmp_path / "other.safetensors"))
    assert list(checkpoint.load_params(tmp_path / "other.safetensors")) == ["encoder.weight"]
    with pytest.raises(CheckpointError, match="unknown checkpoint format"):
        nnkern.load(tmp_path / "other.safetensors", _model())


def test_a_checkpoint_of_another_model_changes_nothing(rng, tmp_path):
    nnkern.save(tmp_path / "m.safetensors", MultiLayerNetExtend(12, [9, 8], 4, use_batchnorm=True))
    model = _model()
    before = {k: v.copy() for k, v in model.params.items()}
    with pytest.raises(CheckpointError, match=r"'W2' has shape \(9, 8\) in the file, \(9, 7\) in the model"):
        nnkern.load(tmp_path / "m.safetensors", model)
    for k, v in model.params.items():
        assert_equal(v, before[k], k)


# -- malformed files ---------------------------------------------------------------------------
def _file(header, data=b"", length=None):
    raw = json.dumps(header).encode() if isinstance(header, dict) else header
    return struct.pack("<Q", len(raw) if length is None else length) + raw + data


def _entry(dtype="F32", shape=(2,), offsets=(0, 8)):
    return {"dtype": dtype, "shape": list(shape), "data_offsets": list(offsets)}


META = {"format": checkpoint.FORMAT, "model": "X", "params": "[]", "buffers": "[]"}
HUGE = 1 << 40

FORGED = [  # id, file bytes, the fault named
    ("short", b"\x01\x00\x00", "shorter than the 8-byte header length"),
    ("header-past-the-end", _file({"W": _entry()}, b"\0" * 8, length=4000), "the header declares 4000 bytes"),
    ("header-length-huge", _file({}, length=2**63), "the header declares"),
    ("data-past-the-end", _file({"W": _entry(shape=(HUGE,), offsets=(0, 4 * HUGE))}, b"\0" * 8),
     "declares bytes 0..4398046511104, the file holds 8"),
    ("shape-larger-than-its-data", _file({"W": _entry(shape=(HUGE,))}, b"\0" * 8),
     r"declares shape \(1099511627776,\)"),
    ("overlap", _file({"W": _entry(), "b": _entry(offsets=(4, 12))}, b"\0" * 12), "overlap"),
    ("negative-offset", _file({"W": _entry(offsets=(-8, 0))}, b"\0" * 8), "declares bytes -8..0"),
    ("negative-dim", _file({"W": _entry(shape=(-2,))}, b"\0" * 8), "malformed shape"),
    ("float-dim", _file({"W": _entry(shape=(2.0,))}, b"\0" * 8), "malformed shape"),
    ("unknown-dtype", _file({"W": _entry(dtype="BF16", shape=(4,))}, b"\0" * 8), "dtype 'BF16'"),
    ("extra-field", _file({"W": dict(_entry(), extra=1)}, b"\0" * 8), "malformed entry"),
    ("not-json", _file(b"{not json"), "the header is not JSON"),
    ("not-an-object", _file(b"[1, 2]"), "not a JSON object"),
    ("duplicate-keys", _file(b'{"W": %s, "W": %s}' % (json.dumps(_entry()).encode(), json.dumps(_entry()).encode()),
                             b"\0" * 8), "duplicate keys"),
    ("metadata-not-strings", _file({"__metadata__": {"format": 1}, "W": _entry()}, b"\0" * 8), "strings to strings"),
    ("bad-json-in-metadata", _file({"__metadata__": dict(META, params="[1"), "W": _entry()}, b"\0" * 8),
     "metadata 'params' is not JSON"),
    ("deep-json", _file(b"[" * 100_000 + b"]" * 100_000), "not JSON"),
]


@pytest.mark.parametrize("name,blob,fault", FORGED)
def test_malformed_files_are_refused_before_allocating(name, blob, fault, tmp_path):
    path = tmp_path / f"{name}.safetensors"
    path.write_bytes(blob)
    for load in (lambda: nnkern.load(path, _model()), lambda: checkpoint.load_params(path)):
        tracemalloc.start()
        try:
            with pytest.raises(CheckpointError, match=fault):
                load()
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert peak < (4 << 20), f"{name}: {peak} bytes allocated before the refusal"


def test_a_truncated_checkpoint_is_refused(rng, tmp_path):
    nnkern.save(tmp_path / "m.safetensors", _model())
    blob = (tmp_path / "m.safetensors").read_bytes()
    for cut in (7, 100, len(blob) - 1):
        (tmp_path / "cut.safetensors").write_bytes(blob[:cut])
        with pytest.raises(CheckpointError, match="cut.safetensors: not a readable safetensors checkpoint"):
            nnkern.load(tmp_path / "cut.safetensors", _model())


def test_nnkern_imports_and_saves_npz_without_safetensors(tmp_path):
    code = ("import sys; sys.modules['safetensors'] = None\n"
            "import nnkern, numpy as np\n"
            "m = nnkern.MultiLayerNet(4, [3], 2, seed=0)\n"
            "nnkern.save('m.npz', m)\n"
            "try:\n    nnkern.save('m.safetensors', m)\n"
            "except ImportError as e:\n    print('ImportError:', e)\n")
    r = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert 'pip install "nnkern[safetensors]"' in r.stdout
    assert (tmp_path / "m.npz").exists() and not (tmp_path / "m.safetensors").exists()
