"""tests/extras.py: a missing optional package skips its tests, or fails them when
NNKERN_REQUIRE_EXTRAS=1 (as .ci/run sets it), so CI cannot pass by skipping."""
import os
import subprocess
import sys

import extras
import pytest


def test_missing_package_skips_or_fails(monkeypatch):
    monkeypatch.setattr(extras, "REQUIRED", False)
    with pytest.raises(pytest.skip.Exception, match="no_such_package_nnk is not installed"):
        extras.importorskip("no_such_package_nnk")
    monkeypatch.setattr(extras, "REQUIRED", True)
    with pytest.raises(ImportError):
        extras.importorskip("no_such_package_nnk")
    assert extras.importorskip("json").__name__ == "json"


def test_environment_switch(tmp_path):
    code = "import extras; print(extras.REQUIRED)"
    for value, want in (("1", "True"), ("0", "False"), ("", "False")):
        r = subprocess.run([sys.executable, "-c", code], cwd=os.path.dirname(__file__), capture_output=True, text=True,
                           timeout=60, env={"NNKERN_REQUIRE_EXTRAS": value, "PATH": ""})
        assert r.returncode == 0 and r.stdout.strip() == want, (value, r.stderr)
