"""Benchmark workloads, one module per kernel family (conv2d.py, pool2d.py, ...).

Each module defines ``WORKLOADS``: a list of :class:`Workload`. ``make()`` builds fresh
inputs and returns the callables to time side by side in one process:

    {"nnkern": fn, "reference": fn, "torch": fn or None,
     "flops": float or None, "bytes": float or None}

``torch`` is None when PyTorch is not installed (it is an optional extra, never required).
"""
import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class Workload:
    family: str
    name: str
    make: Callable[[], dict]


def torch_or_none():
    try:
        import torch
    except ImportError:
        return None
    return torch


def all_workloads():
    out = []
    for mod in sorted(m.name for m in pkgutil.iter_modules(__path__)):
        out.extend(importlib.import_module(f"{__name__}.{mod}").WORKLOADS)
    return out
