"""Hostile and broken files: checkpoint loads are all or nothing, the pickle reader is linear
and bounded, declared sizes are checked before data is read (.npz members, .gz IDX files),
and every failure is a CheckpointError / DataError naming the file."""
import gzip
import json
import pickle
import struct
import subprocess
import sys
import tracemalloc
import zipfile

import nnkern
import numpy as np
import pytest
from nnkern import _safe_pickle
from nnkern.checkpoint import CheckpointError, UnsafePickleError, load, load_params, load_pickle_params, save
from nnkern.data import datasets as D
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
def _forge_member(path, name, npy_bytes, file_size=None, compress=zipfile.ZIP_DEFLATED):
    """Add a member to the zip at path (created if absent) and optionally forge the
    uncompressed size that the zip's local header and central directory declare for it."""
    with zipfile.ZipFile(path, "a", compress) as z:
        z.writestr(name, npy_bytes)
    if file_size is not None:
        raw, key = bytearray(path.read_bytes()), name.encode()
        for sig, name_at, size_at in ((b"PK\x03\x04", 30, 22), (b"PK\x01\x02", 46, 24)):
            i = raw.index(sig)
            while raw[i + name_at:i + name_at + len(key)] != key:
                i = raw.index(sig, i + 1)
            assert struct.unpack_from("<I", raw, i + size_at)[0] == len(npy_bytes)
            struct.pack_into("<I", raw, i + size_at, file_size)
        path.write_bytes(bytes(raw))
    return path


def _npy_header(shape, dtype="<f4"):
    h = repr({"descr": dtype, "fortran_order": False, "shape": tuple(shape)}).encode()
    h += b" " * (63 - (10 + len(h)) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(h)) + h


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
    head = _npy_header((805306368,))
    out = p if out is None else _rewrite(p, out, drop=["params/W1"])
    return _forge_member(out, "params/W1.npy", head + b"\0" * 4096, file_size=len(head) + 805306368 * 4)


def _header_vs_directory(p, out):
    return _forge_member(_rewrite(p, out, drop=["params/W1"]), "params/W1.npy",
                         _npy_header((805306368,)) + b"\0" * 4096, compress=zipfile.ZIP_STORED)


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
    monkeypatch.setattr(nnkern.checkpoint, "MAX_ARRAY_BYTES", 1000)
    with pytest.raises(CheckpointError, match=r"member 'W' declares 4000 bytes .* over the limit of 1000"):
        load_params(tmp_path / "b.npz")


# ---------------------------------------------------------------- the pickle reader
def _shared_dicts(depth):
    d = {"w": np.zeros(2)}
    for _ in range(depth):
        d = {"a": d, "b": d}  # pickled once each through the memo: a small file, 2^depth paths
    return d


class _CountingDict(dict):
    visits = 0

    def items(self):
        _CountingDict.visits += 1
        return super().items()


def test_check_tree_visits_each_object_once():
    d = _CountingDict(w=np.zeros(2))
    for _ in range(22):
        d = _CountingDict(a=d, b=d)
    _CountingDict.visits = 0
    _safe_pickle.check_tree(d)
    assert _CountingDict.visits == 23


def test_shared_and_deep_pickles_are_bounded():
    data = pickle.dumps(_shared_dicts(31), protocol=2)
    assert len(data) < 1000
    assert set(load_pickle_params(data)) == {"a", "b"}  # 2^31 paths, 32 objects: linear
    with pytest.raises(UnsafePickleError, match="nested deeper than 32"):
        load_pickle_params(pickle.dumps(_shared_dicts(40), protocol=2))
    # 100,000 nested dicts, written opcode by opcode (pickle.dumps itself would recurse)
    n = 100_000
    deep = b"\x80\x02" + (b"}X\x01\x00\x00\x00a" * n) + b"}" + b"s" * n + b"."
    with pytest.raises(UnsafePickleError, match="nested deeper than 32"):
        load_pickle_params(deep)


HOSTILE_PICKLES = {  # name: (pickle bytes, exception, message pattern)
    "ndarray called to allocate": (b"\x80\x02cnumpy\nndarray\n\x8a\x06\x00\x00\x00\x00\x00\x01\x85R.",
                                   UnsafePickleError, "refusing to call numpy.ndarray directly"),
    "codec other than latin-1": (b"\x80\x02c_codecs\nencode\nX\x01\x00\x00\x00xX\x04\x00\x00\x00zlib\x86R.",
                                 UnsafePickleError, r"only latin-1"),
    "unknown codec": (b"\x80\x02c_codecs\nencode\nX\x01\x00\x00\x00xX\x03\x00\x00\x00nop\x86R.",
                      CheckpointError, "LookupError"),
    "object dtype": (pickle.dumps({"W": np.array([1, None], dtype=object)}, protocol=2),
                     UnsafePickleError, "holds Python objects"),
    "reconstruct with a size": (b"\x80\x02cnumpy._core.multiarray\n_reconstruct\ncnumpy\nndarray\n"
                                b"\x8a\x05\x00\x00\x00\x00\x01\x85C\x01b\x87R.",
                                UnsafePickleError, "only the empty ndarray placeholder"),
    "truncated": (pickle.dumps({"W": np.zeros(100)}, protocol=2)[:-30], CheckpointError,
                  "not a readable parameter pickle"),
    "huge length field": (b"\x80\x04\x8e" + struct.pack("<Q", 1 << 60) + b"abc", CheckpointError,
                          "not a readable parameter pickle"),
}


@pytest.mark.parametrize("name", HOSTILE_PICKLES)
def test_hostile_pickles(tmp_path, name):
    data, exc, pattern = HOSTILE_PICKLES[name]
    path = tmp_path / "params.pkl"
    path.write_bytes(data)
    for src in (data, path):
        with pytest.raises(exc, match=pattern):
            load_pickle_params(src)


# ---------------------------------------------------------------- data files
def _idx_header(shape, code=0x08):
    return struct.pack(">HBB", 0, code, len(shape)) + struct.pack(f">{len(shape)}I", *shape)


def _peak_during(fn):
    tracemalloc.start()
    try:
        fn()
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak


IDX_BOMBS = {  # name: (gzip payload, message pattern)
    "declares 8 GiB": (_idx_header((1 << 16, 1 << 16, 2)), "over the limit of 4294967296 bytes"),
    "declares 1 GiB in a few bytes": (_idx_header((1 << 15, 1 << 15)) + b"\0" * 100,
                                      "more than the gzip data can expand to"),
    "64 MiB after 10 bytes": (_idx_header((10,)) + b"\0" * (64 * MiB), "unexpected bytes after the 10 data bytes"),
}


@pytest.mark.parametrize("name", IDX_BOMBS)
def test_gz_idx_sizes_are_checked_before_reading(tmp_path, name):
    payload, pattern = IDX_BOMBS[name]
    path = tmp_path / "train-labels-idx1-ubyte.gz"
    path.write_bytes(gzip.compress(payload, 1))

    def attempt():
        with pytest.raises(D.DataError, match=pattern):
            D.load_idx(path)
    peak = _peak_during(attempt)
    assert peak < 8 * MiB, f"{peak / MiB:.0f} MiB allocated reading a {path.stat().st_size}-byte file"


def test_npz_dataset_member_sizes_are_checked(tmp_path):
    head = _npy_header((805306368,), "|u1")
    path = _forge_member(tmp_path / "d.npz", "x_train.npy", head + b"\0" * 100, file_size=len(head) + 805306368)
    for k in ("t_train", "x_test", "t_test"):
        _forge_member(path, f"{k}.npy", _npy_header((0,), "|u1"))
    with pytest.raises(D.DataError, match=r"d.npz: member 'x_train' declares 805306\d+ bytes in \d+ compressed"):
        D.load_npz(path)


def test_huge_labels_are_a_data_error(tmp_path):
    x = np.zeros((4, 1, 8, 8), np.uint8)
    t = np.array([0, 1, 2, 2**31 - 1], np.int32)
    np.savez(tmp_path / "big.npz", x_train=x, t_train=t, x_test=x, t_test=t[:4])
    with pytest.raises(D.DataError, match=r"label 2147483647 means 2147483648 classes, more than the 65536"):
        D.load_npz(tmp_path / "big.npz")
    r = subprocess.run([sys.executable, "-m", "nnkern", "train", "--data", str(tmp_path / "big.npz"), "--epochs",
                        "1", "--no-progress", "--out", str(tmp_path / "run")], capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 2, r.stderr
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("nnkern: error: ") and "2147483648 classes" in r.stderr
