"""Every case of tests/error_inputs.py raises its exception with its message, and crashes
nothing: the table runs in a child process (one for all cases; a case that kills it is
reported as failed and the next child resumes after it), so a segfault or abort fails one
test instead of the whole run."""
import json
import os
import signal
import subprocess
import sys

import nnkern.functional as F
import numpy as np
import pytest
from error_inputs import ERROR_INPUTS, KINDS, case, case_ids
from sample_inputs import INPLACE, SAMPLE_INPUTS, unaligned

HERE = os.path.dirname(os.path.abspath(__file__))
TIMEOUT = 600  # for the whole table; a case that hangs is reported as such


def _run_children(ids):
    """id -> result dict (see error_inputs.run_cases), or {'crashed': ...} for the case that
    killed (or hung) its child."""
    results, pending = {}, list(ids)
    while pending:
        p = subprocess.Popen([sys.executable, os.path.join(HERE, "error_inputs.py")], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=HERE)
        try:
            out, err = p.communicate(" ".join(pending), timeout=TIMEOUT)
            how = f"exit code {p.returncode}" if p.returncode >= 0 else f"signal {signal.Signals(-p.returncode).name}"
        except subprocess.TimeoutExpired:
            p.kill()
            out, err = p.communicate()
            how = f"no result within {TIMEOUT} s (hang)"
        started = None
        for line in out.splitlines():
            if line.startswith("start "):
                started = line.split(" ", 1)[1]
            elif line.startswith("{"):
                r = json.loads(line)
                results[r["id"]] = r
                started = None
        if started is not None:
            results[started] = {"id": started, "crashed": how, "stderr": err[-3000:]}
        elif p.returncode != 0 and not results:
            pytest.fail(f"the error-input child failed before any case ({how}):\n{err[-3000:]}")
        pending = [i for i in pending if i not in results]
    return results


@pytest.fixture(scope="module")
def results():
    return _run_children(case_ids())


@pytest.mark.parametrize("case_id", case_ids())
def test_error_input(results, case_id):
    op, c = case(case_id)
    r = results[case_id]
    assert "crashed" not in r, f"{op}: crashed the process ({r['crashed']}):\n{r['stderr']}"
    assert r["raised"] is not None, f"{op}{c.args!r:.200} {c.kwargs}: raised nothing, expected {c.exc}"
    assert r["ok_type"], f"{op}: raised {r['raised']}: {r['message']}, expected {c.exc}"
    assert r["ok_match"], f"{op}: message {r['message']!r} does not match {c.match!r}"


def test_every_public_op_and_defect_kind_has_error_inputs():
    assert set(F.__all__) <= set(ERROR_INPUTS), sorted(set(F.__all__) - set(ERROR_INPUTS))
    kinds = {c.kind for cases in ERROR_INPUTS.values() for c in cases}
    assert kinds == set(KINDS), sorted(set(KINDS) ^ kinds)


def test_a_crashing_case_fails_alone(monkeypatch, tmp_path):
    """The runner itself: a case that kills its child is reported, and the cases after it run."""
    import error_inputs
    script = tmp_path / "error_inputs.py"
    script.write_text(
        "import json, os, sys\n"
        "for cid in sys.stdin.read().split():\n"
        "    print('start', cid, flush=True)\n"
        "    if cid == 'b': os.abort()\n"
        "    print(json.dumps({'id': cid, 'raised': 'ValueError'}), flush=True)\n")
    monkeypatch.setattr(sys.modules[__name__], "HERE", str(tmp_path))
    got = _run_children(["a", "b", "c"])
    assert got["a"]["raised"] == got["c"]["raised"] == "ValueError"
    assert got["b"]["crashed"] == "signal SIGABRT"
    assert error_inputs.ERROR_INPUTS  # the real table is untouched


@pytest.mark.parametrize("op", sorted(SAMPLE_INPUTS))
def test_unaligned_inputs_are_copied_by_the_wrappers(op):
    """The functional wrappers copy unaligned inputs (the bindings reject them): same results.
    Arrays updated in place (running statistics) are never copied: error_inputs has their case."""
    args = SAMPLE_INPUTS[op]
    moved = []
    for i, a in enumerate(args):
        if isinstance(a, np.ndarray) and a.dtype.kind == "f" and (op, i) not in INPLACE:
            b = unaligned(*a.shape, dtype=a.dtype)
            b[...] = a
            moved.append(b)
        else:
            moved.append(a)
    want, got = getattr(F, op)(*args), getattr(F, op)(*moved)
    want, got = (want if isinstance(want, tuple) else (want,)), (got if isinstance(got, tuple) else (got,))
    for w, g in zip(want, got):
        assert (w is None and g is None) or np.array_equal(np.asarray(w), np.asarray(g), equal_nan=True), op
