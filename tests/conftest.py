"""Shared test harness: seeded data, NaN-poisoned outputs, closeness checks, thread pinning."""
import zlib

import nnkern
import numpy as np
import pytest
from nnkern import _core


@pytest.fixture(autouse=True)
def poison_outputs():
    """Every native output buffer starts as NaN, so an element a kernel forgot to write fails."""
    _core._set_poison_outputs(True)
    yield
    _core._set_poison_outputs(False)


@pytest.fixture
def rng(request):
    """A generator seeded from the test's id (a stable CRC, not Python's salted hash):
    different data for every case, the same data on every run."""
    seed = zlib.crc32(request.node.nodeid.encode())
    return np.random.default_rng(seed)


@pytest.fixture
def threads():
    """Run a block with a given thread count and restore the previous one afterwards."""
    before = nnkern.get_num_threads()

    def set_(n):
        nnkern.set_num_threads(n)

    yield set_
    nnkern.set_num_threads(before)


# float32 tolerances (DEVELOPERS.md): rtol 1e-5, atol 1e-6 for short reductions; float64 tight.
TOL = {np.float32: dict(rtol=1e-5, atol=1e-6), np.float64: dict(rtol=1e-12, atol=1e-12)}


def assert_close(actual, expected, rtol, atol, what=""):
    """allclose with a message that names the worst element; NaN anywhere fails."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    assert not np.isnan(actual).any(), f"{what}: NaN in output (unwritten element?)"
    err = np.abs(actual.astype(np.float64) - expected.astype(np.float64))
    bound = atol + rtol * np.abs(expected.astype(np.float64))
    if not (err <= bound).all():
        i = np.unravel_index(np.argmax(err - bound), err.shape)
        raise AssertionError(f"{what}: max violation at {i}: got {actual[i]!r}, want {expected[i]!r} "
                             f"(|err| {err[i]:.3g} > {bound[i]:.3g}; rtol {rtol}, atol {atol})")


def numerical_grad(f, x, eps=1e-6):
    """Central differences of a scalar function f at x (float64), element by element."""
    g = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"])
    for _ in it:
        i = it.multi_index
        old = x[i]
        x[i] = old + eps
        fp = f()
        x[i] = old - eps
        fm = f()
        x[i] = old
        g[i] = (fp - fm) / (2 * eps)
    return g
