"""Convolution algorithm selection (``algo="auto"``), like ``torch.backends.cudnn.benchmark``.

Every convolution pass (forward, grad_x, grad_weight) runs one of the algorithms that apply
to its shape and dtype. ``algo="auto"`` (the default of :func:`nnkern.functional.conv2d`,
:func:`~nnkern.functional.conv2d_backward` and the layers) resolves by the global mode:

- ``"heuristic"`` (default): a fixed function of the shape, dtype and CPU features, so the
  same call gives the same bits on every run;
- ``"benchmark"``: the first call for each (shape, pass, dtype, thread count) times every
  applicable algorithm once and caches the fastest (later calls reuse it; results may then
  differ in the last bits between machines, loads or thread counts);
- an algorithm name (``"im2col"``, ...): used wherever it applies, the heuristic elsewhere.

The environment variable ``NNKERN_CONV_ALGO`` sets the mode when nnkern is imported.
"""
import os

from . import _core

ENV = "NNKERN_CONV_ALGO"


def set_conv_algo(mode):
    """Select how ``algo="auto"`` picks: ``"heuristic"``, ``"benchmark"`` or an algorithm name."""
    _core.set_conv_algo(str(mode))


def get_conv_algo():
    """The current mode: ``"heuristic"``, ``"benchmark"`` or the globally forced algorithm."""
    return _core.get_conv_algo()


def conv_algorithms():
    """Names of the convolution algorithms of this build (``"im2col"`` first: it applies to all)."""
    return [a["name"] for a in _core.conv2d_algorithms()]


def conv2d_algo_for(x_shape, weight_shape, stride=1, padding=0, dilation=1, groups=1, pass_="forward",
                    dtype="float32"):
    """The algorithm ``algo="auto"`` would use now for one pass of this convolution.

    ``pass_``: ``"forward"``, ``"backward_input"`` (grad_x) or ``"backward_weight"``
    (grad_weight). Nothing runs; in benchmark mode an unmeasured shape reports the heuristic.
    """
    return _core.conv2d_algo_for(*_query(x_shape, weight_shape, stride, padding, dilation, groups), pass_, dtype)


def conv2d_algo_candidates(x_shape, weight_shape, stride=1, padding=0, dilation=1, groups=1, pass_="forward",
                           dtype="float32"):
    """Every algorithm of this build that applies to one pass of this convolution (what
    ``algo=`` may force, and what benchmark mode times)."""
    return _core.conv2d_algo_candidates(*_query(x_shape, weight_shape, stride, padding, dilation, groups),
                                        pass_, dtype)


def _query(x_shape, weight_shape, stride, padding, dilation, groups):
    from .functional._args import pair
    return (list(x_shape), list(weight_shape), pair(stride, "stride"), pair(padding, "padding"),
            pair(dilation, "dilation"), int(groups))


def _apply_env():
    mode = os.environ.get(ENV)
    if mode:
        try:
            set_conv_algo(mode)
        except ValueError as e:
            raise ValueError(f"environment variable {ENV}={mode!r}: {e}") from None
