"""The backend switch: which module a layer, a model or a data loader computes with.

A backend is a module. ``"native"`` is :mod:`nnkern.functional` (the C++ kernels) and
``"reference"`` is :mod:`nnkern.reference` (the NumPy oracle); both export the same names with
the same signatures, so code written against one runs on the other::

    F = nnkern.backend.module("reference")
    y = F.conv2d(x, w, b, stride=1, padding=1)

Layers (``layer.backend``), models (``nnkern.models.Net``, ``nnkern.keras.Sequential``) and
``nnkern.data.BatchLoader`` all resolve their ``backend=`` argument here.
"""
import types

from . import functional, reference

BACKENDS = ("native", "reference")
_MODULES = {"native": functional, "reference": reference}


def module(name: str) -> types.ModuleType:
    """The module of backend ``name``: nnkern.functional or nnkern.reference.

    Raises ValueError for anything else (the one message every ``backend=`` argument gives).
    """
    if isinstance(name, str) and name in _MODULES:
        return _MODULES[name]
    raise ValueError(f"backend must be 'native' or 'reference', got {name!r}")


def name_of(mod: types.ModuleType) -> str:
    """The backend name of a module returned by :func:`module`."""
    for name, m in _MODULES.items():
        if m is mod:
            return name
    raise ValueError(f"{mod!r} is not a backend module")


class BackendSwitch:
    """The ``backend`` property of layers, models and data loaders: ``obj.F`` is the backend's
    module, ``obj.backend`` its name; setting the name (validated by :func:`module`) sets
    ``F`` and then calls ``_on_backend_switch(name)``, where a model switches its layers."""

    F = functional  # for mypy, F is nnkern.functional: the reference has its names and signatures

    @property
    def backend(self) -> str:
        """``"native"`` or ``"reference"``; settable."""
        return name_of(self.F)

    @backend.setter
    def backend(self, name: str) -> None:
        # setattr, not `self.F = ...`: an assignment typed ModuleType would make every op Any for mypy
        setattr(self, "F", module(name))  # noqa: B010
        self._on_backend_switch(name)

    def _on_backend_switch(self, name: str) -> None:
        pass
