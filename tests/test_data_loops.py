"""nnkern.data's Cython batch loops (gather_batch, normalize, gather_normalize, augment) against
the NumPy reference, the augmentation's random draws, read-only and strided inputs, and bad input."""
import nnkern
import numpy as np
import pytest
from conftest import TOL, assert_close
from nnkern import _data
from nnkern import data as D
from nnkern import reference as R

# ------------------------------------------------------------------ Cython loops vs the NumPy reference

GATHER_CASES = {  # name: src shape (N, ...), batch size
    "flat-784": ((300, 784), 100),
    "mnist-nchw": ((50, 1, 28, 28), 17),
    "rgb-odd": ((20, 3, 5, 7), 9),
    "digits": ((40, 1, 8, 8), 40),
    "b1": ((5, 2, 3, 3), 1),
    "d1": ((9, 1), 4),
    "empty-batch": ((6, 3, 2, 2), 0),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", GATHER_CASES)
def test_gather_batch_matches_reference(rng, name, dtype):
    shape, b = GATHER_CASES[name]
    src = rng.standard_normal(shape).astype(dtype)
    idx = rng.integers(0, shape[0], b)  # with repeats
    out = D.gather_batch(src, idx)
    assert out.dtype == dtype and out.shape == (b,) + shape[1:]
    np.testing.assert_array_equal(out, R.gather_batch(src, idx))  # a copy: exact


NORM_CASES = {  # name: src shape, scale, mean, std
    "flat-unit": ((60, 784), 1 / 255, 0.0, 1.0),
    "mnist-meanstd": ((30, 1, 28, 28), 1 / 255, 0.1307, 0.3081),
    "rgb-per-channel": ((12, 3, 9, 7), 1 / 255, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
    "rgb-raw-mean": ((10, 3, 4, 4), 1.0, (123.7, 116.3, 103.5), 1.0),
    "digits-16": ((25, 1, 8, 8), 1 / 16, 0.0, 1.0),
    "c17-channel-std": ((4, 17, 3, 2), 0.5, 3.0, np.linspace(0.5, 2.0, 17)),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", NORM_CASES)
def test_normalize_and_gather_normalize_match_reference(rng, name, dtype):
    shape, scale, mean, std = NORM_CASES[name]
    src = rng.integers(0, 256, shape, dtype=np.uint8)
    idx = rng.integers(0, shape[0], max(1, shape[0] // 2))
    want = R.normalize(src, scale, mean, std, dtype=np.float64)
    got = D.normalize(src, scale, mean, std, dtype=dtype)
    assert got.dtype == dtype
    # one multiply-add (src * a + b) against the float64 formula: elementwise tolerance
    assert_close(got, want, **TOL[dtype], what=f"{name} normalize")
    got = D.gather_normalize(src, idx, scale, mean, std, dtype=dtype)
    assert_close(got, R.gather_normalize(src, idx, scale, mean, std, dtype=np.float64), **TOL[dtype],
                 what=f"{name} gather_normalize")
    assert_close(got, want[idx], **TOL[dtype], what=f"{name} gather_normalize vs normalize[idx]")


AUG_CASES = {  # name: x shape (B, C, H, W), padding, out size (None: input size), flip, fill
    "cifar-pad4": ((32, 3, 32, 32), 4, None, True, 0.0),
    "alexnet-crop": ((6, 3, 40, 40), 0, (32, 32), True, 0.0),
    "mnist-pad2": ((20, 1, 28, 28), 2, None, True, 0.0),
    "digits-pad1": ((50, 1, 8, 8), 1, None, True, 0.0),
    "pad-hw-crop-hw": ((9, 2, 7, 11), (1, 3), (6, 13), True, -1.5),
    "pad-exceeds-image": ((16, 2, 3, 3), 5, (8, 8), True, 0.25),
    "crop-wider-than-image": ((8, 1, 4, 2), 3, (4, 7), True, 0.0),
    "no-flip": ((12, 3, 10, 10), 2, None, False, 0.0),
    "no-pad-no-crop": ((5, 4, 6, 5), 0, None, True, 0.0),
    "b1-w1": ((1, 1, 5, 1), 1, None, True, 2.0),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", AUG_CASES)
def test_augment_matches_reference(rng, name, dtype):
    shape, pad, size, flip, fill = AUG_CASES[name]
    x = rng.standard_normal(shape).astype(dtype)
    keys = rng.integers(0, 10**6, shape[0])
    kw = dict(seed=12345, epoch=3, padding=pad, flip=flip, fill=fill, out_size=size)
    got = D.augment(x, keys, **kw)
    want = R.augment(x, keys, **kw)
    assert got.dtype == dtype and got.shape == want.shape
    np.testing.assert_array_equal(got, want)  # pure copies and fills: exact


def test_augment_identity_cases(rng):
    x = rng.standard_normal((10, 3, 6, 5)).astype(np.float32)
    keys = np.arange(10)
    # no padding, full-size crop, no flip: the input itself
    np.testing.assert_array_equal(D.augment(x, keys, padding=0, flip=False), x)
    # no padding, full size, flip: each sample is either itself or its mirror image
    y = D.augment(x, keys, seed=1, padding=0, flip=True)
    _, _, flipped = R.augment_params(keys, 1, 0, 1, 1, True)
    for i in range(10):
        np.testing.assert_array_equal(y[i], x[i, :, :, ::-1] if flipped[i] else x[i])
    # a padded crop keeps the image content: the sample's pixels sit at (dy - p, dx - p)
    p = 2
    y = D.augment(x, keys, seed=7, epoch=1, padding=p, flip=False)
    dy, dx, _ = R.augment_params(keys, 7, 1, 2 * p + 1, 2 * p + 1, False)
    for i in range(10):
        padded = np.zeros((3, 6 + 2 * p, 5 + 2 * p), np.float32)
        padded[:, p:p + 6, p:p + 5] = x[i]
        np.testing.assert_array_equal(y[i], padded[:, dy[i]:dy[i] + 6, dx[i]:dx[i] + 5])


def test_splitmix64_known_values():
    # The first outputs of Vigna's splitmix64.c with state 0 (next(): state += gamma; mix(state)).
    gamma = 0x9E3779B97F4A7C15
    want = [0xE220A8397B1DCDAF, 0x6E789E6AA1B965F4, 0x06C45D188009454F]
    assert [_data.splitmix64((k * gamma) % 2**64) for k in range(3)] == want
    got = R.splitmix64(np.array([(k * gamma) % 2**64 for k in range(3)], dtype=np.uint64))
    assert [int(v) for v in got] == want


def test_augment_params_cover_all_offsets():
    keys = np.arange(4000)
    dy, dx, flipped = R.augment_params(keys, seed=0, epoch=0, n_dy=9, n_dx=5)
    assert set(dy.tolist()) == set(range(9)) and set(dx.tolist()) == set(range(5))
    assert 0.45 < flipped.mean() < 0.55
    # another epoch or seed gives other draws; no flip when disabled
    dy2, _, _ = R.augment_params(keys, seed=0, epoch=1, n_dy=9, n_dx=5)
    dy3, _, _ = R.augment_params(keys, seed=1, epoch=0, n_dy=9, n_dx=5)
    assert (dy2 != dy).mean() > 0.8 and (dy3 != dy).mean() > 0.8
    assert not R.augment_params(keys, 0, 0, 9, 5, flip=False)[2].any()


def test_read_only_and_strided_inputs(rng):
    src = rng.integers(0, 256, (20, 1, 5, 5), dtype=np.uint8)
    src.flags.writeable = False
    idx = np.arange(0, 20, 3)
    np.testing.assert_array_equal(D.gather_normalize(src, idx, 1.0), src[idx].astype(np.float32))
    xs = rng.standard_normal((10, 3, 6, 8))[:, :, :, ::2]  # not contiguous: the wrapper copies once
    np.testing.assert_array_equal(D.gather_batch(xs, idx[:3]), xs[idx[:3]])
    xs = np.ascontiguousarray(xs)
    xs.flags.writeable = False
    np.testing.assert_array_equal(D.augment(xs, np.zeros(len(xs), np.int64), flip=False), xs)


# ------------------------------------------------------------------ bad input


def _nan(shape, dtype=np.float32):
    return np.full(shape, np.nan, dtype=dtype)


BAD = {  # name: (callable, exception, message)
    "gather-src-int": (lambda: _data.gather_batch(np.zeros((4, 3), np.int64), np.arange(2), _nan((2, 3))),
                       TypeError, "gather_batch: src must be float32 or float64, got int64"),
    "gather-mixed": (lambda: _data.gather_batch(np.zeros((4, 3), np.float64), np.arange(2), _nan((2, 3))),
                     TypeError, "mixed dtypes are not supported"),
    "gather-idx-range": (lambda: _data.gather_batch(np.zeros((4, 3), np.float32), np.array([0, 4]), _nan((2, 3))),
                         IndexError, "idx contains 4, out of range for src with 4 samples"),
    "gather-idx-negative": (lambda: _data.gather_batch(np.zeros((4, 3), np.float32), np.array([-1, 0]),
                                                       _nan((2, 3))), IndexError, "idx contains -1"),
    "gather-idx-int32": (lambda: _data.gather_batch(np.zeros((4, 3), np.float32), np.arange(2, dtype=np.int32),
                                                    _nan((2, 3))), TypeError, "idx must be int64"),
    "gather-out-shape": (lambda: _data.gather_batch(np.zeros((4, 3), np.float32), np.arange(2), _nan((2, 4))),
                         ValueError, r"out must have shape \(2, 3\), got \(2, 4\)"),
    "gather-out-strided": (lambda: _data.gather_batch(np.zeros((4, 3), np.float32), np.arange(2),
                                                      _nan((2, 6))[:, ::2]), ValueError, "out must be C-contiguous"),
    "normalize-src-float": (lambda: _data.normalize(np.zeros((2, 3), np.float32), _nan((2, 3))),
                            TypeError, "normalize: src must be uint8, got float32"),
    "normalize-std-zero": (lambda: _data.normalize(np.zeros((2, 3), np.uint8), _nan((2, 3)), 1.0, 0.0, 0.0),
                           ValueError, "std must be finite and > 0"),
    "normalize-mean-len": (lambda: _data.normalize(np.zeros((2, 3, 2, 2), np.uint8), _nan((2, 3, 2, 2)), 1.0,
                                                   (0.1, 0.2), 1.0), ValueError, r"one value per channel \(3\)"),
    "normalize-out-int": (lambda: _data.normalize(np.zeros((2, 3), np.uint8), np.zeros((2, 3), np.int32)),
                          TypeError, "out must be float32 or float64, got int32"),
    "gnorm-idx-range": (lambda: _data.gather_normalize(np.zeros((3, 2), np.uint8), np.array([3]), _nan((1, 2))),
                        IndexError, "out of range for src with 3 samples"),
    "augment-3d": (lambda: _data.augment(np.zeros((2, 3, 3), np.float32), _nan((2, 3, 3)), np.arange(2)),
                   ValueError, r"augment: x must be 4-D, got shape \(2, 3, 3\)"),
    "augment-crop-too-big": (lambda: _data.augment(np.zeros((2, 1, 4, 4), np.float32), _nan((2, 1, 7, 4)),
                                                   np.arange(2), padding=1),
                             ValueError, "crop 7x4 is larger than the padded image 6x6"),
    "augment-keys-len": (lambda: _data.augment(np.zeros((2, 1, 4, 4), np.float32), _nan((2, 1, 4, 4)),
                                               np.arange(3)), ValueError, r"keys must have shape \(2,\)"),
    "augment-out-channels": (lambda: _data.augment(np.zeros((2, 1, 4, 4), np.float32), _nan((2, 2, 4, 4)),
                                                   np.arange(2)), ValueError, r"out must have shape \(2, 1, OH, OW\)"),
    "augment-neg-pad": (lambda: _data.augment(np.zeros((2, 1, 4, 4), np.float32), _nan((2, 1, 4, 4)),
                                              np.arange(2), padding=-1), ValueError, "padding must be >= 0"),
    "augment-neg-seed": (lambda: _data.augment(np.zeros((2, 1, 4, 4), np.float32), _nan((2, 1, 4, 4)),
                                               np.arange(2), seed=-1), ValueError, r"seed must be an integer in \[0"),
    "augment-mixed": (lambda: _data.augment(np.zeros((2, 1, 4, 4), np.float32), _nan((2, 1, 4, 4), np.float64),
                                            np.arange(2)), TypeError, "mixed dtypes are not supported"),
    "loader-lengths": (lambda: D.BatchLoader(np.zeros((4, 2)), np.zeros(3)), ValueError, "3 labels for 4 samples"),
    "loader-batch": (lambda: D.BatchLoader(np.zeros((4, 2)), np.zeros(4), batch_size=0), ValueError,
                     "batch_size must be a positive integer"),
    "loader-backend": (lambda: D.BatchLoader(np.zeros((4, 2)), np.zeros(4), backend="gpu"), ValueError,
                       "backend must be 'native' or 'reference'"),
    "loader-augment-flat": (lambda: D.BatchLoader(np.zeros((4, 2)), np.zeros(4), augment=D.Augment()), ValueError,
                            r"augmentation needs images \(N, C, H, W\)"),
    "loader-float-mean": (lambda: D.BatchLoader(np.zeros((4, 2)), np.zeros(4), mean=0.5), ValueError,
                          "normalise float data beforehand"),
}


@pytest.mark.parametrize("name", BAD)
def test_bad_input_raises(name):
    fn, exc, pattern = BAD[name]
    with pytest.raises(exc, match=pattern):
        fn()


def test_errors_leave_out_untouched():
    out = _nan((2, 3))
    with pytest.raises(IndexError):
        _data.gather_normalize(np.ones((3, 3), np.uint8), np.array([0, 5]), out)
    with pytest.raises(ValueError):
        _data.normalize(np.ones((2, 3), np.uint8), out, 1.0, 0.0, -1.0)
    assert np.isnan(out).all()
    out = _nan((2, 1, 4, 4))
    with pytest.raises(ValueError):
        _data.augment(np.ones((2, 1, 4, 4), np.float32), out, np.arange(2), seed=2**64)
    assert np.isnan(out).all()


def test_read_only_out_is_rejected():
    out = _nan((2, 3))
    out.flags.writeable = False
    with pytest.raises(ValueError, match="out is read-only"):
        _data.gather_batch(np.zeros((4, 3), np.float32), np.arange(2), out)


def test_package_exports():
    assert nnkern.data.load_digits is D.load_digits
    for name in ("gather_batch", "normalize", "gather_normalize", "augment"):
        assert callable(getattr(_data, name)) and callable(getattr(R, name)) and callable(getattr(D, name))
