"""The optional packages that some tests need (the [onnx] and [safetensors] extras, onnxruntime
from the [test] extra). Without one, its tests skip; with NNKERN_REQUIRE_EXTRAS=1 (set by
.ci/run, which installs them all) a missing package fails them instead, so CI cannot pass by
skipping them."""
import importlib
import os

import pytest

REQUIRED = os.environ.get("NNKERN_REQUIRE_EXTRAS") == "1"


def importorskip(name):
    """The module ``name``; a skip of the calling test (module) without it, or an ImportError
    when the extras are required."""
    if REQUIRED:
        return importlib.import_module(name)
    return pytest.importorskip(name, reason=f"{name} is not installed (pip install \".[test]\")")
