"""nnkern's default OpenMP wait policy (python/nnkern/_threads.py): applied only when the user
set neither OMP_WAIT_POLICY nor GOMP_SPINCOUNT and libgomp is not loaded yet; never leaked
into os.environ; reported by nnkern info."""
import os
import subprocess
import sys

import pytest

PROBE = ("import os, nnkern; print(nnkern._threads.describe()); "
         "print(os.environ.get('GOMP_SPINCOUNT'), os.environ.get('OMP_WAIT_POLICY'))")


def run(code, **env_changes):
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    env.update(env_changes)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return out.stdout.splitlines()


def test_default_is_passive_and_does_not_leak_into_the_environment():
    desc, env = run(PROBE)
    assert "OMP_WAIT_POLICY=passive (nnkern's default" in desc
    assert env == "None None"  # child processes of the user's program are not affected


@pytest.mark.parametrize("var,value", [("OMP_WAIT_POLICY", "active"), ("GOMP_SPINCOUNT", "300000")])
def test_the_users_setting_wins(var, value):
    desc, env = run(PROBE, **{var: value})
    assert desc == f"OpenMP wait policy {var}={value} (set by the user)"
    assert value in env


def test_a_libgomp_loaded_first_is_reported():
    desc, env = run("import ctypes; ctypes.CDLL('libgomp.so.1'); " + PROBE)
    assert "libgomp was loaded before nnkern" in desc and "OMP_WAIT_POLICY=passive" in desc
    assert env == "None None"


def test_info_reports_the_policy():
    from nnkern.info import format_info
    assert "OpenMP wait" in format_info()
