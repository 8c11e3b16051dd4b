"""Hostile and broken checkpoints: nnkern.load (models, Sequential, optimizer state) and
load_params write nothing unless everything fits, declared .npz member sizes are checked
before data is read, and every failure is a CheckpointError naming the file."""
import json
import pickle
import tracemalloc
import zipfile

import numpy as np
import pytest
from hostile_files import forge_member, npy_header
from nnkern import checkpoint
from nnkern.checkpoint import CheckpointError, load, load_params, save
from nnkern.keras import layers, models
from nnkern.models import MultiLayerNet
from nnkern.optimizers import Adam

MiB = 1 << 20


# ---------------------------------------------------------------- helpers
def _members(path):
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def _rewrite(path, out, meta=None, drop=(), **arrays):
    """A copy of the checkpoint at path with members replaced (keys use '__' for '/')."""
    m = _members(path)
    for k in drop:
        del m[k]
    m.update({k.replace("__", "/"): v for k, v in arrays.items()})
    if meta is not None:
        m["__meta__"] = np.array(json.dumps(meta(json.loads(str(m["__meta__"])))))
    with open(out, "wb") as f:
        np.savez(f, **m)
    return out


def _snapshot(model, opt=None):
    snap = {k: v.copy() for k, v in model.params.items()}
    snap.update({f"buffer:{k}": v.copy() for k, v in (model.buffers() if hasattr(model, "buffers") else {}).items()})
    if opt is not None:
        snap["opt"] = pickle.dumps(opt.state_dict())
    return snap


def _unchanged(model, snap, opt=None):
    now = _snapshot(model, opt)
    return now.keys() == snap.keys() and all(
        (now[k] == snap[k]) if isinstance(now[k], bytes) else np.array_equal(now[k], snap[k]) for k in snap)


@pytest.fixture
def trained(tmp_path, rng):
    """A small model and its Adam optimizer after two steps, saved to ck.npz."""
    model = MultiLayerNet(6, [5], 3, seed=0)
    opt = Adam(lr=0.01)
    x, t = rng.standard_normal((8, 6)).astype(np.float32), rng.integers(0, 3, 8)
    for _ in range(2):
        opt.update(model.params, model.gradient(x, t))
    save(tmp_path / "ck.npz", model, opt)
    return tmp_path / "ck.npz"


def _fresh():
    m, o = MultiLayerNet(6, [5], 3, seed=1), Adam(lr=0.01)
    o.update(m.params, {k: np.ones_like(v) for k, v in m.params.items()})  # some state to keep
    return m, o


# ---------------------------------------------------------------- all or nothing
def _bad_string_param(p, out):  # W1 valid (and different), b2 text: the old loader wrote W1, then raised
    return _rewrite(p, out, params__W1=np.full((6, 5), 7, np.float32), params__b2=np.array(["a", "b", "c"]))


def _bogus_optimizer_entry(p, out):
    def add(meta):
        meta["optimizer_state"]["__dict__"]["bogus"] = 1
        return meta
    return _rewrite(p, out, meta=add)


def _wrong_state_shape(p, out):
    def find(meta):  # the optimizer/<n> member of 'm.W1'
        return meta["optimizer_state"]["__dict__"]["m.W1"]["__array__"]
    key = find(json.loads(str(_members(p)["__meta__"])))
    return _rewrite(p, out, **{key.replace("/", "__"): np.zeros((5, 6), np.float32)})


def _no_optimizer_state(p, out):
    def drop(meta):
        del meta["optimizer_state"]
        return meta
    return _rewrite(p, out, meta=drop)


def _missing_state_array(p, out):
    key = json.loads(str(_members(p)["__meta__"]))["optimizer_state"]["__dict__"]["v.b1"]["__array__"]
    return _rewrite(p, out, drop=[key])


ALL_OR_NOTHING = {  # fault: (file maker, message pattern)
    "string parameter": (_bad_string_param, r"parameter 'b2' has dtype <U1 in the file; numbers are needed"),
    "bogus optimizer entry": (_bogus_optimizer_entry, r"optimizer state does not fit Adam: .*'bogus'"),
    "optimizer state shape": (_wrong_state_shape, r"optimizer state 'm.W1' has shape \(5, 6\) in the file, \(6, 5\)"),
    "no optimizer state": (_no_optimizer_state, "holds no optimizer state"),
    "missing state array": (_missing_state_array, r"refers to a missing array 'optimizer/\d+'"),
}


def _failing_load(trained, tmp_path, make, pattern):
    """Load the faulty file made from the good one into a fresh model and optimizer: the
    CheckpointError names the file, nothing was written; returns (model, opt, snapshot, peak
    bytes allocated during the load)."""
    path = make(trained, tmp_path / "bad.npz")
    model, opt = _fresh()
    snap = _snapshot(model, opt)
    tracemalloc.start()
    try:
        with pytest.raises(CheckpointError, match=pattern) as info:
            load(path, model, opt)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert "bad.npz" in str(info.value)
    assert _unchanged(model, snap, opt), "a failed load wrote into the model or the optimizer"
    return model, opt, snap, peak


@pytest.mark.parametrize("fault", ALL_OR_NOTHING)
def test_load_writes_nothing_unless_everything_fits(trained, tmp_path, fault):
    model, opt, snap, _ = _failing_load(trained, tmp_path, *ALL_OR_NOTHING[fault])
    load(trained, model, opt)  # the good file still loads into the same objects
    assert not _unchanged(model, snap, opt)


def test_sequential_load_weights_is_all_or_nothing(tmp_path):
    def build(seed):
        seq = models.Sequential(seed=seed)
        for lay in (layers.Dense(4, input_shape=(3,), name="d1"), layers.BatchNormalization(name="bn"),
                    layers.Dense(2, name="d2")):
            seq.add(lay)
        return seq
    a = build(0)
    a.save_weights(tmp_path / "k.npz")
    m = _members(tmp_path / "k.npz")
    bn = next(k for k in m if k.startswith("buffers/"))
    first = next(k for k in m if k.startswith("params/"))
    bad = _rewrite(tmp_path / "k.npz", tmp_path / "bad.npz", **{first.replace("/", "__"): m[first] + 1,
                                                             bn.replace("/", "__"): np.array([b"x"] * m[bn].size)})
    b = build(1)
    before = [w.copy() for w in b.get_weights()]
    with pytest.raises(CheckpointError, match=r"bad.npz: buffer .* has dtype \|S1"):
        b.load_weights(bad)
    assert all(np.array_equal(x, y) for x, y in zip(b.get_weights(), before))


def test_book_pickle_with_text_parameter_writes_nothing(tmp_path):
    m = MultiLayerNet(6, [5], 3, dtype=np.float64)
    params = {k: np.ones_like(v) for k, v in m.params.items()}
    params["b2"] = np.array(["x", "y", "z"])
    (tmp_path / "p.pkl").write_bytes(pickle.dumps(params, protocol=2))
    before = {k: v.copy() for k, v in m.params.items()}
    with pytest.raises(CheckpointError, match=r"p.pkl: parameter 'b2' is <U1 in the file"):
        m.load_params(tmp_path / "p.pkl")
    assert all(np.array_equal(m.params[k], before[k]) for k in before)


# ---------------------------------------------------------------- unreadable checkpoints
def _truncated(p, out):
    out.write_bytes(p.read_bytes()[:-60])
    return out


def _not_a_zip(p, out):
    out.write_bytes(b"PK\x03\x04 but nothing else")
    return out


def _bad_json(p, out):
    m = _members(p)
    m["__meta__"] = np.array("{not json")
    np.savez(out, **m)
    return out


def _deep_json(p, out):
    m = _members(p)
    meta = json.loads(str(m["__meta__"]))
    m["__meta__"] = np.array(str(json.dumps(meta))[:-1] + ', "x": ' + "[" * 100_000 + "]" * 100_000 + "}")
    np.savez(out, **m)
    return out


def _deep_state(p, out):
    def nest(meta):
        node = {"__array__": "optimizer/0"}
        for _ in range(100):
            node = {"__list__": [node]}
        meta["optimizer_state"]["__dict__"]["deep"] = node
        return meta
    return _rewrite(p, out, meta=nest)


def _forged_size(p, out):  # a member claiming 3 GiB in a tiny file: refused before allocation
    head = npy_header((805306368,))
    out = p if out is None else _rewrite(p, out, drop=["params/W1"])
    return forge_member(out, "params/W1.npy", head + b"\0" * 4096, file_size=len(head) + 805306368 * 4)


def _header_vs_directory(p, out):
    return forge_member(_rewrite(p, out, drop=["params/W1"]), "params/W1.npy",
                         npy_header((805306368,)) + b"\0" * 4096, compress=zipfile.ZIP_STORED)


UNREADABLE = {  # fault: (file maker, message pattern); every one a CheckpointError naming the file
    "truncated zip": (_truncated, "not a readable checkpoint"),
    "not a zip": (_not_a_zip, "not a readable checkpoint .BadZipFile"),
    "meta not JSON": (_bad_json, "not a readable checkpoint .JSONDecodeError"),
    "meta nested 100000 deep": (_deep_json, "not a readable checkpoint .nested too deeply"),
    "optimizer state nested 100 deep": (_deep_state, "optimizer state nested deeper than 32 levels"),
    "forged member size": (_forged_size, "more than deflate can produce"),
    "header vs zip directory": (_header_vs_directory, "is corrupted: its .npy header declares shape"),
}


@pytest.mark.parametrize("fault", UNREADABLE)
def test_unreadable_checkpoints_raise_checkpoint_error(trained, tmp_path, fault):
    *_, peak = _failing_load(trained, tmp_path, *UNREADABLE[fault])
    assert peak < 64 * MiB, f"{peak / MiB:.0f} MiB allocated before the error"


def test_load_params_checks_sizes_before_reading(tmp_path, monkeypatch):
    with pytest.raises(CheckpointError, match="a.npz: member 'params/W1' declares .* more than deflate can produce"):
        load_params(_forged_size(tmp_path / "a.npz", None))
    np.savez(tmp_path / "b.npz", W=np.zeros(1000, np.float32))
    monkeypatch.setattr(checkpoint, "MAX_ARRAY_BYTES", 1000)
    with pytest.raises(CheckpointError, match=r"member 'W' declares 4000 bytes .* over the limit of 1000"):
        load_params(tmp_path / "b.npz")
