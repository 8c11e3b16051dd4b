"""nnkern.reference is a backend: every public name of nnkern.functional exists there with the
same signature (parameter names, kinds and defaults), so a layer's backend can be either module."""
import inspect

import pytest
from nnkern import _core
from nnkern import functional as F
from nnkern import reference as R

# The ops of one name each (the kernel, binding, reference, functional function and test file
# carry it): every _core kernel is <op>_forward / <op>_backward of one of them.
OPS = {"conv2d", "max_pool2d", "avg_pool2d", "batch_norm", "local_response_norm", "relu", "sigmoid", "tanh",
       "softmax", "dropout", "affine", "softmax_cross_entropy"}
# What the reference has beyond functional's names: the optimizer rules and the data loops' oracles.
REFERENCE_ONLY = {"sgd_update", "momentum_update", "nesterov_update", "adagrad_update", "rmsprop_update",
                  "adam_update", "augment", "augment_params", "dropout_mask", "gather_batch", "gather_normalize",
                  "normalize", "splitmix64", "conv_output_size", "pool_output_size"}


def _params(fn):
    return [(p.name, p.kind, p.default) for p in inspect.signature(fn).parameters.values()]


@pytest.mark.parametrize("name", F.__all__)
def test_reference_has_functional_signature(name):
    assert name in R.__all__, f"nnkern.reference does not export {name}"
    assert _params(getattr(R, name)) == _params(getattr(F, name)), (
        f"{name}: reference{inspect.signature(getattr(R, name))} != functional{inspect.signature(getattr(F, name))}")


def test_reference_exports_functions_and_nothing_else():
    missing = [n for n in R.__all__ if not callable(getattr(R, n, None))]
    assert not missing, f"reference.__all__ names that are not functions: {missing}"
    assert set(R.__all__) - set(F.__all__) == REFERENCE_ONLY  # no alias, no leftover of an older name


def test_kernel_bindings_are_named_op_and_pass():
    passes = [n for n in dir(_core) if n.endswith(("_forward", "_backward"))]
    assert {n.rsplit("_", 1)[0] for n in passes} == OPS
    assert all(f"{op}_forward" in passes and f"{op}_backward" in passes for op in OPS)
