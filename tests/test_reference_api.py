"""nnkern.reference is a backend: every public name of nnkern.functional exists there with the
same signature (parameter names, kinds and defaults), so a layer's backend can be either module."""
import inspect

import pytest
from nnkern import functional as F
from nnkern import reference as R

OLD_NAMES = ["conv2d_forward", "maxpool2d_forward", "maxpool2d_backward", "avgpool2d_forward",
             "avgpool2d_backward", "batchnorm_forward", "batchnorm_backward", "lrn_forward", "lrn_backward",
             "relu_forward", "sigmoid_forward", "tanh_forward", "softmax_forward", "dropout_forward",
             "affine_forward", "softmax_cross_entropy_forward"]


def _params(fn):
    return [(p.name, p.kind, p.default) for p in inspect.signature(fn).parameters.values()]


@pytest.mark.parametrize("name", F.__all__)
def test_reference_has_functional_signature(name):
    assert name in R.__all__, f"nnkern.reference does not export {name}"
    assert _params(getattr(R, name)) == _params(getattr(F, name)), (
        f"{name}: reference{inspect.signature(getattr(R, name))} != functional{inspect.signature(getattr(F, name))}")


def test_reference_exports_exist_and_old_names_are_gone():
    missing = [n for n in R.__all__ if not callable(getattr(R, n, None))]
    assert not missing, f"reference.__all__ names that are not functions: {missing}"
    left = [n for n in OLD_NAMES if hasattr(R, n)]
    assert not left, f"old reference names still present: {left}"
