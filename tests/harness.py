"""check_op: one case of one op on both backends (after tinygrad's ``helper_test_op``).

``check_op(op, inputs, kwargs, dtype=...)`` builds the inputs, runs ``op`` natively
(``nnkern.functional``, every fresh output poisoned) and on the oracle (``nnkern.reference``,
in float64) and checks, in this order:

1. forward outputs: native vs reference under the tolerance rule of tests/tolerances.py (or bit for bit for
   the outputs an op lists as exact: maxima, indices, masks, copies); dtypes; conventions
   (None where the reference returns None);
2. gradients: the native backward vs the reference backward, both fed the native forward's
   saved outputs, for random upstream gradients;
3. float64 only: the native backward vs central finite differences of the native forward;
4. conventions on both backends (which outputs are None, variants equal to the full result);
5. 1 and 2 threads (and 3 for some ops) give bit-identical native outputs and gradients;
6. no backend modifies its arguments (inputs, upstream gradients, saved outputs).

The ops are the table ``OPS`` of tests/harness_ops.py (adapters over a backend module, so one
adapter drives both). A new op costs one entry there; a new case costs one line in a test
file's table.
"""
import contextlib
import os
import zlib

import nnkern
import numpy as np
import pytest
from harness_ops import OPS
from nnkern import _core
from nnkern import functional as F
from nnkern import reference as R
from tolerances import FD_TOL, TOL, Ctx, assert_close, assert_equal

FD_EPS = 1e-6
FD_ALL, FD_SAMPLED, FD_MAX = 256, 32, 2**14  # finite differences per input: every element up to FD_ALL
# elements, else FD_SAMPLED sampled ones plus one random direction; none for a case with an input
# over FD_MAX elements (those cases are in the tables for threading; the small ones cover the gradient)
DTYPES = (np.float32, np.float64)
SPLIT_BELOW = 2**15  # 3 threads only for cases this large (smaller calls run on one thread in most kernels)


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


def _case_id():
    """The running test's id with its parameters (pytest sets PYTEST_CURRENT_TEST)."""
    return os.environ.get("PYTEST_CURRENT_TEST", "?").split("::")[-1].rsplit(" ", 1)[0]


def _f64(v):
    if isinstance(v, dict):
        return {k: _f64(a) for k, a in v.items()}
    if isinstance(v, list):
        return [_f64(a) for a in v]
    if isinstance(v, np.ndarray) and v.dtype.kind == "f":
        return v.astype(np.float64)
    return v


def _make(op, rng, inputs, dtype, kw):
    if op.make is not None:
        return op.make(rng, inputs, dtype, kw)
    xs = []
    for a in inputs:
        if a is None or isinstance(a, np.ndarray):
            xs.append(a if a is None or a.dtype.kind != "f" else a.astype(dtype))
        else:
            xs.append(rng.standard_normal(a, dtype=dtype) * dtype(op.scale))
    return xs


def _arrays(args):
    for a in args:
        if isinstance(a, np.ndarray):
            yield a
        elif isinstance(a, (list, tuple)):
            yield from _arrays(a)
        elif isinstance(a, dict):
            yield from _arrays(a.values())


def _run(fn, label, backend, B, *args):
    """fn(B, *args), naming the case and backend in a failed convention check, and checking that
    no array argument (inputs, upstream gradients, saved forward outputs) was modified: NumPy
    code sees them read-only; the native kernels' writes through raw pointers are found by
    comparing the bytes before and after."""
    arrays = [a for a in _arrays(args) if a.flags.writeable]
    before = [a.tobytes() for a in arrays] if B is F else None
    for a in arrays:
        a.flags.writeable = False
    try:
        out = fn(B, *args)
    except AssertionError as e:
        raise AssertionError(f"{label} ({backend}): {e}") from None
    except ValueError as e:
        if "read-only" not in str(e):
            raise
        raise AssertionError(f"{label} ({backend}): writes into an argument ({e})") from e
    finally:
        for a in arrays:
            a.flags.writeable = True
    for a, b in zip(arrays, before or ()):
        if a.tobytes() != b:
            was = np.frombuffer(b, a.dtype).reshape(a.shape)
            assert_equal(a, was, f"{label} ({backend}): an argument was modified")
    return out


def _compare(op, label, dtype, got, want, xs, kw, outs, grads):
    assert set(got) == set(want), f"{label}: native returns {sorted(got)}, reference {sorted(want)}"
    for name, a in got.items():
        b, what = want[name], f"{label}: {name}"
        if a is None or b is None:
            assert a is None and b is None, f"{what}: native {type(a).__name__}, reference {type(b).__name__}"
            continue
        if isinstance(b, float):
            assert isinstance(a, float), f"{what}: native {type(a).__name__}, reference float"
        elif b.dtype.kind == "f":
            assert a.dtype == dtype, f"{what}: dtype {a.dtype}, want {np.dtype(dtype)}"
        if isinstance(a, np.ndarray) and a.dtype.kind in "iu":
            n = int(np.count_nonzero(a == _core._poison_value(a.dtype)))
            assert n == 0, f"{what}: {n} elements still hold the poison {_core._poison_value(a.dtype)} (unwritten)"
        if name in op.exact or (not isinstance(b, float) and b.dtype.kind != "f"):
            assert_equal(a, np.asarray(b).astype(np.asarray(a).dtype, copy=False), what)
            continue
        t = op.tol(Ctx(dtype, name, b, xs, kw, outs, grads)) if op.tol else None
        assert_close(a, b, **(t or TOL[dtype]), what=what)


def _largest(xs):
    return max((x.size for x in xs if isinstance(x, np.ndarray)), default=0)


def _primal(op, xs, kw):
    out = (op.primal or op.forward)(F, xs, kw)
    return [np.asarray(out[k], dtype=np.float64) for k in op.grad_of]


def _difference(op, xs, kw, grads, flat, old, where, step):
    """L(x + step) - L(x - step) at flat[where] (flat: a view of one input, old: its values), for
    L = sum over grad_of of output * upstream gradient, summed as elementwise differences:
    outputs that the perturbation does not reach cancel exactly."""
    flat[where] = old[where] + step
    plus = _primal(op, xs, kw)
    flat[where] = old[where] - step
    minus = _primal(op, xs, kw)
    flat[where] = old[where]
    return sum(float(np.sum((a - b) * grads[k])) for a, b, k in zip(plus, minus, op.grad_of))


def _check_fd(op, label, rng, xs, kw, grads, gx):
    """Central differences of the native forward vs the native backward (float64): every element of
    inputs up to FD_ALL elements, else FD_SAMPLED sampled elements plus the derivative along one
    random direction (which every element's gradient enters)."""
    t = op.fd_tol or FD_TOL
    if _largest(xs) > FD_MAX:
        return
    for gname, i in op.wrt:
        x = xs[i]
        if x is None or gname not in gx or x.size == 0 or not x.flags.c_contiguous:
            continue
        flat = x.reshape(-1)  # a view: perturbing it perturbs xs[i]
        old = flat.copy()
        picks = np.arange(flat.size) if flat.size <= FD_ALL else rng.choice(flat.size, FD_SAMPLED, False)
        num = np.empty(picks.size)
        for j, p in enumerate(picks):
            num[j] = _difference(op, xs, kw, grads, flat, old, p, FD_EPS) / (2 * FD_EPS)
        g = np.asarray(gx[gname]).reshape(-1)
        assert_close(g[picks], num, **t, what=f"{label}: {gname} vs finite differences (elements {picks[:4]}...)")
        if picks.size < flat.size:
            v = rng.standard_normal(flat.size)
            want = _difference(op, xs, kw, grads, flat, old, slice(None), FD_EPS * v) / (2 * FD_EPS)
            dd = float(g @ v)
            bound = t["atol"] * np.sqrt(flat.size) + t["rtol"] * abs(want)
            assert abs(dd - want) <= bound, (f"{label}: {gname} along a random direction: <grad, v> = {dd!r}, "
                                             f"finite differences {want!r} (|err| {abs(dd - want):.3g} > {bound:.3g})")


def check_op(op, inputs, kwargs=None, *, dtype, grad=True, fd=True, threads=True):
    """Run one case of ``op`` (a key of OPS) on both backends and check it (see the module docstring).

    inputs: one entry per input: a shape (random data from a generator seeded by the test id),
    an array (used as given, cast to dtype if floating) or None; some ops read other specs
    (softmax_cross_entropy: ``[(N, K), "labels" | "onehot" | "soft"]``; batch_norm:
    ``[x_shape, weight_shape | None, bias_shape | None]``, running statistics added).
    kwargs: passed to the op. grad=False skips 2.-3., fd=False skips 3., threads=False skips 4.
    Returns the native forward outputs and gradients (a dict) for further checks.
    """
    spec, kw = OPS[op], dict(kwargs or {})
    assert _core._poison_outputs(), "check_op needs output poisoning (tests/conftest.py turns it on)"
    label = f"{op} {_case_id()} {np.dtype(dtype).name}"
    rng = np.random.default_rng(zlib.crc32(label.encode()))
    xs = _make(spec, rng, inputs, dtype, kw)

    xs_ref = _f64(xs)
    outs = _run(spec.forward, label, "native", F, xs, kw)
    ref = _run(spec.forward, label, "reference", R, xs_ref, kw)
    _compare(spec, label, dtype, outs, ref, xs, kw, outs, {})
    result = dict(outs)

    grads = gx = grads_ref = gx_ref = {}
    if grad and spec.backward is not None:
        grads = {k: (float(rng.standard_normal()) if isinstance(outs[k], float)
                     else rng.standard_normal(np.shape(outs[k]), dtype=dtype)) for k in spec.grad_of}
        grads_ref = _f64(grads)
        gx = _run(spec.backward, label, "native", F, grads, xs, outs, kw)
        gx_ref = _run(spec.backward, label, "reference", R, grads_ref, xs_ref, _f64(outs), kw)
        _compare(spec, label, dtype, gx, gx_ref, xs, kw, outs, grads)
        result.update(gx)
    if spec.conventions is not None:
        _run(spec.conventions, label, "native", F, xs, kw, outs, grads, gx)
        if _largest(xs) <= 4096:  # the reference's conventions do not depend on sizes: small cases check them
            _run(spec.conventions, label, "reference", R, xs_ref, kw, ref, grads_ref, gx_ref)
        if fd and dtype == np.float64:
            with _num_threads(1):  # hundreds of small calls: no thread wake-ups (the results do not depend on it)
                _check_fd(spec, label, rng, xs, kw, grads, gx)

    if threads:
        _check_threads(spec, label, xs, kw, grads, result)
    return result


@contextlib.contextmanager
def _num_threads(n):
    before = nnkern.get_num_threads()
    nnkern.set_num_threads(n)
    try:
        yield before
    finally:
        nnkern.set_num_threads(before)


def _check_threads(op, label, xs, kw, grads, result):
    """Every native output and gradient with each of op.threads threads equals ``result`` bit for bit."""
    current = nnkern.get_num_threads()
    for n in op.threads:
        if n == current or (n > 2 and _largest(xs) < SPLIT_BELOW):
            continue  # ``result`` is this thread count's
        with _num_threads(n):
            got = op.forward(F, xs, kw)
            if grads:
                got.update(op.backward(F, grads, xs, got, kw))
        for name, a in got.items():
            if a is not None:
                assert_equal(np.asarray(a), np.asarray(result[name]), f"{label}: {name} with {n} threads")


def case(name, *inputs, **kwargs):
    """One table row: ``pytest.param(inputs, kwargs, id=name)`` for ``parametrize("inputs,kwargs", ...)``."""
    return pytest.param(list(inputs), kwargs, id=name)


def op_test(op, cases, dtypes=DTYPES):
    """A test that runs ``check_op(op, ...)`` on every row of a case table in every dtype, for a
    test file's plain table: ``test_affine = op_test("affine", CASES)``."""
    @pytest.mark.parametrize("dtype", dtypes)
    @pytest.mark.parametrize("inputs,kwargs", cases)
    def test(inputs, kwargs, dtype):
        check_op(op, inputs, kwargs, dtype=dtype)
    return test
