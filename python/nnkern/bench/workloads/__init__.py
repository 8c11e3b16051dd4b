"""Benchmark workloads, one module per kernel family (conv2d.py, pool2d.py, ...).

Each module defines ``WORKLOADS``: a list of :class:`Workload`. ``make()`` builds fresh
inputs and returns the callables to time side by side in one process:

    {"nnkern": fn, "reference": fn, "torch": fn or None,
     "flops": float or None, "bytes": float or None}

``torch`` is None when PyTorch is not installed (it is an optional extra, never required).
``on_both`` and ``torch_step`` build those entries from one step written against a backend
module and from one torch expression.
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


def on_both(step, torch_fn, flops=None, nbytes=None, **extra):
    """A workload's entries: ``step(M)`` timed on nnkern.functional and on nnkern.reference."""
    from nnkern import functional, reference

    return {"nnkern": lambda: step(functional), "reference": lambda: step(reference), "torch": torch_fn,
            "flops": flops, "bytes": None if nbytes is None else float(nbytes), **extra}


def torch_step(op, arrays, train=None, gy=None):
    """The torch entry, or None without PyTorch: ``op(torch, *tensors)`` on tensors that share the
    arrays' memory, under no_grad; with ``train`` (indices of the arrays that need gradients),
    forward then ``backward(gy)`` (gy None: a scalar loss)."""
    torch = torch_or_none()
    if torch is None:
        return None
    ts = [torch.from_numpy(a) for a in arrays]
    if train is None:
        def forward():
            with torch.no_grad():
                op(torch, *ts)
        return forward
    for i in train:
        ts[i].requires_grad_()
    tg = None if gy is None else torch.from_numpy(gy)

    def forward_backward():
        op(torch, *ts).backward(tg)
    return forward_backward


def all_workloads():
    out = []
    for mod in sorted(m.name for m in pkgutil.iter_modules(__path__)):
        out.extend(importlib.import_module(f"{__name__}.{mod}").WORKLOADS)
    return out
