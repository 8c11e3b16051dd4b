"""The output-poisoning hook of nnkern._core: fresh outputs start as a value no kernel writes
(NaN in floats, INT64_MIN in int64 indices, 255 in uint8 masks), so a test sees any element a
kernel left unwritten; and the integer outputs of the kernels are fully written."""
import numpy as np
import pytest
from nnkern import _core


@pytest.mark.parametrize("dtype, expect", [(np.float32, "nan"), (np.float64, "nan"),
                                           (np.int64, np.iinfo(np.int64).min), (np.uint8, 255)])
def test_poison_value(dtype, expect):
    v = _core._poison_value(dtype)
    if expect == "nan":
        assert np.isnan(v)
    else:
        assert v == expect
    same = _core._poison_value(np.dtype(dtype))
    assert (np.isnan(same) and np.isnan(v)) or same == v


def test_poison_value_rejects_other_dtypes():
    with pytest.raises(TypeError, match="no kernel output has dtype int32"):
        _core._poison_value(np.int32)


@pytest.mark.parametrize("shape, k, s, p", [((1, 1, 1, 1), 1, 1, 0), ((2, 3, 7, 5), 3, 2, 1), ((1, 17, 9, 9), 2, 2, 0)])
def test_max_pool2d_writes_every_index(rng, shape, k, s, p):
    assert _core._poison_outputs()  # conftest turns the hook on
    x = rng.standard_normal(shape).astype(np.float32)
    _, idx = _core.max_pool2d_forward(x, (k, k), (s, s), (p, p), True)
    assert idx.dtype == np.int64
    assert (idx >= 0).all() and (idx < shape[2] * shape[3]).all()


@pytest.mark.parametrize("n", [1, 7, 70001])
def test_dropout_writes_every_mask_element(rng, n):
    x = rng.standard_normal(n)
    _, mask = _core.dropout_forward(x, 0.5, 3)
    assert mask.dtype == np.uint8
    assert np.isin(mask, (0, 1)).all()
