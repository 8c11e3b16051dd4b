"""nnkern: the Deep-Learning-from-Scratch toolkit on fast C++/OpenMP kernels.

``nnkern.functional`` holds torch-style functions backed by the native kernels in
``nnkern._core``; ``nnkern.reference`` holds the pure-NumPy oracle that every native
kernel is tested against.
"""
import scipy_openblas32 as _sob  # noqa: F401  # dlopens libscipy_openblas.so before _core needs it

from . import _core
from ._core import get_num_threads, set_num_threads
from . import functional, reference
from . import data

__version__ = _core.build_info()["version"]

__all__ = ["functional", "reference", "data", "set_num_threads", "get_num_threads", "__version__"]
