"""The one work-split policy of the kernels (parallel_ranges in src/nnk_common.h): a call of
less than two grains of work runs on the calling thread, a larger one on the threads, and the
result is the same either way. _core._last_parallel_threads() reports the team of the latest
split; nnkern.set_num_threads(2) for the parallel cases."""
import numpy as np
import pytest
from nnkern import _core


def f32(rng, *shape):
    return rng.standard_normal(shape).astype(np.float32)


# name: (call on small input, call on input of at least two grains); each returns its outputs.
CASES = {
    "relu": (lambda r: _core.relu_forward(f32(r, 1000)), lambda r: _core.relu_forward(f32(r, 2**18 + 3))),
    "sigmoid": (lambda r: _core.sigmoid_forward(f32(r, 1000)), lambda r: _core.sigmoid_forward(f32(r, 2**17 + 3))),
    "softmax-rows": (lambda r: _core.softmax_forward(f32(r, 3, 64)), lambda r: _core.softmax_forward(f32(r, 1030, 64))),
    "softmax-strided": (lambda r: _core.softmax_forward(f32(r, 1, 64, 300), 1),
                        lambda r: _core.softmax_forward(f32(r, 8, 64, 300), 1)),
    "softmax_cross_entropy": (lambda r: _core.softmax_cross_entropy_forward(f32(r, 3, 64), np.arange(3)),
                              lambda r: _core.softmax_cross_entropy_forward(f32(r, 1030, 64), np.arange(1030) % 64)),
    "dropout": (lambda r: _core.dropout_forward(f32(r, 1000), 0.5, 7),
                lambda r: _core.dropout_forward(f32(r, 2**17 + 3), 0.5, 7)),
    "max_pool2d": (lambda r: _core.max_pool2d_forward(f32(r, 1, 1, 8, 8), (3, 3), (2, 2), (1, 1), True),
                   lambda r: _core.max_pool2d_forward(f32(r, 2, 8, 64, 64), (3, 3), (2, 2), (1, 1), True)),
    "avg_pool2d": (lambda r: _core.avg_pool2d_forward(f32(r, 1, 1, 8, 8), (2, 2), (2, 2), (0, 0)),
                   lambda r: _core.avg_pool2d_forward(f32(r, 2, 8, 64, 64), (2, 2), (2, 2), (0, 0))),
    "batch_norm-nchw": (lambda r: _core.batch_norm_forward(f32(r, 2, 3, 4, 4), None, None, None, None, True),
                        lambda r: _core.batch_norm_forward(f32(r, 4, 16, 32, 32), None, None, None, None, True)),
    "batch_norm-nd": (lambda r: _core.batch_norm_forward(f32(r, 8, 20), None, None, None, None, True),
                      lambda r: _core.batch_norm_forward(f32(r, 512, 256), None, None, None, None, True)),
    "local_response_norm": (lambda r: _core.local_response_norm_forward(f32(r, 1, 3, 4, 4)),
                            lambda r: _core.local_response_norm_forward(f32(r, 2, 16, 32, 32))),
    "sgd_update": (lambda r: _sgd(r, [100, 7]), lambda r: _sgd(r, [2**14, 2**14 + 5, 9])),
}


def _sgd(rng, sizes):
    params = [f32(rng, n) for n in sizes]
    _core.sgd_update(params, [f32(rng, n) for n in sizes], 0.1)
    return params


def _flat(out):
    if isinstance(out, (tuple, list)):
        return [a for o in out for a in _flat(o)]
    return [np.asarray(out)]


@pytest.mark.parametrize("name", list(CASES))
def test_small_calls_run_on_the_calling_thread(threads, name):
    threads(2)
    CASES[name][0](np.random.default_rng(0))
    assert _core._last_parallel_threads() == 1


@pytest.mark.parametrize("name", list(CASES))
def test_large_calls_split_and_match_one_thread(threads, name):
    results = []
    for n in (1, 2):
        threads(n)
        results.append(_flat(CASES[name][1](np.random.default_rng(0))))
        assert _core._last_parallel_threads() == n
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)
