"""The output cache (csrc/output_cache.h): kernel outputs of at least 1 MiB reuse the memory of
outputs that were freed, up to a byte cap; the arrays behave as ordinary writeable arrays."""
import pickle
import threading

import nnkern
import numpy as np
import pytest
from nnkern import functional as F

MIB = 1 << 20


@pytest.fixture(autouse=True)
def cache_cap():
    before = nnkern.get_output_cache()["max_bytes"]
    nnkern.set_output_cache(0)  # start empty
    nnkern.set_output_cache(64 * MIB)
    yield
    nnkern.set_output_cache(before)


def big(n_mib=2.0):
    return np.ones(int(n_mib * MIB) // 4, np.float32)


def test_a_freed_output_is_reused_by_the_next_of_its_size():
    x = big()
    y = F.relu(x)
    addr = y.ctypes.data
    assert not y.flags.owndata and nnkern.get_output_cache()["blocks"] == 0
    del y
    state = nnkern.get_output_cache()
    assert state["blocks"] == 1 and state["bytes"] == x.nbytes
    z = F.relu(x)
    assert z.ctypes.data == addr and nnkern.get_output_cache()["blocks"] == 0
    np.testing.assert_array_equal(z, x)


def test_small_outputs_and_an_off_cache_use_numpy_memory():
    assert F.relu(np.ones(1000, np.float32)).flags.owndata
    nnkern.set_output_cache(0)
    y = F.relu(big())
    assert y.flags.owndata
    del y
    assert nnkern.get_output_cache()["blocks"] == 0


def test_sizes_match_within_an_eighth():
    y = F.relu(big(2.0))
    addr = y.ctypes.data
    del y
    half = F.relu(big(1.0))
    assert half.ctypes.data != addr  # half the size: a new block, the 2 MiB one stays cached
    assert nnkern.get_output_cache()["blocks"] == 1
    z = F.relu(big(1.9))
    assert z.ctypes.data == addr


def test_the_cap_bounds_what_is_kept_oldest_first():
    nnkern.set_output_cache(5 * MIB)
    ys = [F.relu(big()) for _ in range(3)]
    del ys
    state = nnkern.get_output_cache()
    assert state["blocks"] == 2 and state["bytes"] <= 5 * MIB
    nnkern.set_output_cache(0)
    assert nnkern.get_output_cache()["bytes"] == 0
    with pytest.raises(ValueError, match=">= 0"):
        nnkern.set_output_cache(-1)


def test_views_keep_the_memory_and_the_array_behaves_as_any_other():
    y = F.relu(big())
    v = y[10:20]
    del y
    assert nnkern.get_output_cache()["blocks"] == 0  # the view still holds the block
    v.flags.writeable = False
    v.flags.writeable = True
    v[:] = 7
    assert (pickle.loads(pickle.dumps(v)) == 7).all()
    del v
    assert nnkern.get_output_cache()["blocks"] == 1


def test_outputs_from_many_threads(rng):
    x = rng.standard_normal((8, 16, 64, 64)).astype(np.float32)  # 2 MiB outputs
    want = F.relu(x)
    bad = []

    def work():
        for _ in range(30):
            if not np.array_equal(F.relu(x), want):
                bad.append(1)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not bad
    assert nnkern.get_output_cache()["bytes"] <= 64 * MIB


def test_an_output_block_made_from_python_refuses_to_export():
    block = nnkern._core._OutputBlock.__new__(nnkern._core._OutputBlock)
    with pytest.raises(BufferError):  # the export's TypeError, as the buffer protocol reports it
        memoryview(block)
