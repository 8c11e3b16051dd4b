"""How nnkern's threads wait between parallel regions.

The kernels run on nnkern's own fork-join pool (src/thread_pool.h), whose idle workers sleep
at once unless OMP_WAIT_POLICY=active (then they spin up to 2 ms); it reads the variable when
it starts its first worker (or ``nnkern info`` asks). The data pipeline's loops (Cython
prange) run on libgomp's threads, and the rest of this module is about those.

libgomp reads OMP_WAIT_POLICY and GOMP_SPINCOUNT once, when it is loaded. Its default is to
spin for a long time (300,000 iterations, a few milliseconds) before sleeping; on a machine
with another busy process that spinning takes the core that the working thread needs, and
two threads end up slower than one. So, before nnkern._core loads libgomp, nnkern sets
``OMP_WAIT_POLICY=passive`` (idle threads sleep at once) when the user has set neither
variable, and removes it again from ``os.environ`` once libgomp has read it (child processes
that import nnkern apply the same default themselves; other programs are not affected).
Measured with ``nnkern bench --busy 1`` on 2 cores (README, Performance).

Importing this module applies the policy and loads nnkern._core (nnkern/__init__.py
imports it first).

If libgomp is already loaded when nnkern is imported (``import torch`` first: torch ships
libgomp with the same soname, and one copy serves both), its settings are fixed already and
nnkern cannot change them: ``nnkern info`` says so. Set OMP_WAIT_POLICY=passive (or a
GOMP_SPINCOUNT) in the environment before starting Python to get the same behaviour then.
"""
import os

USER_VARS = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")
DEFAULT = ("OMP_WAIT_POLICY", "passive")

_state = {"source": None, "value": None}


def libgomp_loaded():
    """Whether some libgomp is mapped into this process already (Linux; False elsewhere)."""
    try:
        with open("/proc/self/maps") as f:
            return any("libgomp" in line for line in f)
    except OSError:
        return False


def before_core_import():
    """Choose the wait policy; call right before the first ``import nnkern._core``."""
    user = {k: os.environ[k] for k in USER_VARS if k in os.environ}
    if user:
        _state.update(source="user", value=" ".join(f"{k}={v}" for k, v in user.items()))
    elif libgomp_loaded():
        _state.update(source="preloaded", value=None)
    else:
        os.environ[DEFAULT[0]] = DEFAULT[1]
        _state.update(source="nnkern", value=f"{DEFAULT[0]}={DEFAULT[1]}")


def after_core_import():
    """libgomp has read the environment: take nnkern's default back out of it."""
    if _state["source"] == "nnkern" and os.environ.get(DEFAULT[0]) == DEFAULT[1]:
        del os.environ[DEFAULT[0]]


def describe():
    """One line for ``nnkern info`` and the busy bench."""
    src, val = _state["source"], _state["value"]
    if src == "user":
        return f"OpenMP wait policy {val} (set by the user)"
    if src == "nnkern":
        return f"OpenMP wait policy {val} (nnkern's default: idle threads sleep)"
    if src == "preloaded":
        return ("OpenMP wait policy: libgomp's default (long spin): libgomp was loaded before nnkern (e.g. torch "
                "imported first); set OMP_WAIT_POLICY=passive before starting Python for busy machines")
    return "OpenMP wait policy: unknown"


before_core_import()
from . import _core  # noqa: E402,F401  (loads libgomp with the policy chosen above)

after_core_import()
