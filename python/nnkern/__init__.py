"""nnkern: the Deep-Learning-from-Scratch toolkit on fast multithreaded C++ kernels.

``nnkern.functional`` holds torch-style functions backed by the native kernels in
``nnkern._core``; ``nnkern.optimizers`` holds the book's optimizers (``update(params,
grads)`` in place) on fused multi-tensor kernels; ``nnkern.reference`` holds the pure-NumPy
oracle that every native kernel is tested against.
"""
import scipy_openblas32 as _sob  # noqa: F401  # dlopens libscipy_openblas.so before _core needs it

from . import _threads  # noqa: F401  # sets libgomp's wait policy, then loads _core (read once, at load)

# isort: split
from . import _core, checkpoint, conv_algo, data, functional, init, keras, layers, models, optimizers, reference
from ._core import get_num_threads, set_num_threads
from .checkpoint import load, load_pickle_params, save
from .conv_algo import conv_algorithms, get_conv_algo, set_conv_algo
from .keras import Sequential
from .models import AlexNet, DeepConvNet, MultiLayerNet, MultiLayerNetExtend, SimpleConvNet

__version__ = _core.build_info()["version"]
conv_algo._apply_env()


def set_output_cache(max_bytes: int) -> None:
    """Keep up to ``max_bytes`` of freed kernel outputs (those of at least 1 MiB) for reuse by
    later outputs of the same size; 0 turns the cache off and frees what it holds. Default 256 MiB
    (or ``NNKERN_OUTPUT_CACHE``, in bytes). Reused memory skips the page faults and zeroing of a
    fresh block from the OS. Such outputs are ordinary writeable arrays whose memory belongs to
    ``a.base`` (``a.flags.owndata`` is False)."""
    _core._set_output_cache(int(max_bytes))


def get_output_cache() -> dict[str, int]:
    """The output cache now: ``max_bytes`` (its cap), ``bytes`` and ``blocks`` held, ``min_bytes``
    (the smallest output it serves)."""
    return dict(_core._output_cache_state())

__all__ = ["data", "functional", "optimizers", "reference", "set_num_threads", "get_num_threads", "__version__", "init",
           "set_conv_algo", "get_conv_algo", "conv_algorithms", "set_output_cache", "get_output_cache",
           "layers", "models", "checkpoint", "keras", "Sequential", "save", "load", "load_pickle_params",
           "MultiLayerNet", "MultiLayerNetExtend", "SimpleConvNet", "DeepConvNet", "AlexNet"]
