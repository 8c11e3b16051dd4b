"""The safe pickle reader (nnkern.load_pickle_params, the book's params.pkl): it visits each
object once (a small file of shared dicts is linear, not exponential), bounds the nesting
depth, and refuses hostile pickles with UnsafePickleError / CheckpointError."""
import pickle
import struct

import numpy as np
import pytest
from nnkern import _safe_pickle
from nnkern.checkpoint import CheckpointError, UnsafePickleError, load_pickle_params


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
