"""Every convolution algorithm, forced, per pass, on the bench's conv workloads and a sweep
of other shapes, against torch's same pass (``nnkern bench --algos``): the measurements
behind the heuristic's rules (src/conv2d_algo.cpp).

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE nnkern bench --algos [--threads 2] [--dtype float64]

One process; per shape and pass the algorithms and torch run in rounds (one call each per
round) so that load changes hit them alike; median times in ms,
the heuristic's pick and the fastest, and torch's time / the heuristic's (above 1: nnkern
is faster).
"""
import sys

import numpy as np

import nnkern
from nnkern import functional as F

from .compare import interleaved_medians
from .workloads import torch_or_none
from .workloads.conv2d import SHAPES, conv_inputs

PASSES = ("forward", "backward_input", "backward_weight")


def _nnkern_fn(pass_, algo, x, w, gy, kw):
    if pass_ == "forward":
        return lambda: F.conv2d(x, w, **kw, algo=algo)
    mask = (True, False, False) if pass_ == "backward_input" else (False, True, False)
    return lambda: F.conv2d_backward(gy, x, w, **kw, output_mask=mask, algo=algo)


def _torch_fn(torch, pass_, x, w, gy, kw):
    if torch is None:
        return None
    tx, tw, tg = (torch.from_numpy(a) for a in (x, w, gy))
    s, p, g = (kw["stride"],) * 2, (kw["padding"],) * 2, kw["groups"]
    if pass_ == "forward":
        def fwd():
            with torch.no_grad():
                torch.nn.functional.conv2d(tx, tw, None, s, p, 1, g)
        return fwd
    mask = [pass_ == "backward_input", pass_ == "backward_weight", False]
    return lambda: torch.ops.aten.convolution_backward(tg, tx, tw, None, s, p, (1, 1), False, (0, 0), g, mask)


def run(threads, repeat, budget_s, names=None, dtype="float32"):
    nnkern.set_num_threads(threads)
    torch = torch_or_none()
    if torch is not None:
        torch.set_num_threads(threads)
    rows = []
    for name in SHAPES:
        if names and not any(n in name for n in names):
            continue
        x, w, _, kw, y, _ = conv_inputs(name, np.dtype(dtype))
        gy = np.ones_like(y)
        for pass_ in PASSES:
            cands = nnkern.conv_algo.conv2d_algo_candidates(x.shape, w.shape, pass_=pass_, dtype=dtype, **kw)
            pick = nnkern.conv_algo.conv2d_algo_for(x.shape, w.shape, pass_=pass_, dtype=dtype, **kw)
            fns = {a: _nnkern_fn(pass_, a, x, w, gy, kw) for a in cands}
            tfn = _torch_fn(torch, pass_, x, w, gy, kw)
            if tfn:
                fns["torch"] = tfn
            times = interleaved_medians(fns, repeat, budget_s)
            rows.append((name, pass_, {a: times[a] for a in cands}, pick, times.get("torch")))
        print(f"  {name:28} done", file=sys.stderr)
    return rows


def table(rows):
    algos = [a for a in nnkern.conv_algorithms() if any(a in r[2] for r in rows)]
    out = ["| shape | pass | " + " | ".join(f"{a} ms" for a in algos) + " | torch ms | heuristic | fastest | "
           "torch / heuristic |", "|---|---|" + "---:|" * len(algos) + "---:|---|---|---:|"]
    for name, pass_, times, pick, t_torch in rows:
        cells = " | ".join(f"{times[a] * 1e3:.2f}" if a in times else "-" for a in algos)
        fastest = min(times, key=times.get)
        th = f"{t_torch * 1e3:.2f}" if t_torch else "-"
        ratio = f"{t_torch / times[pick]:.2f}x" if t_torch else "-"
        out.append(f"| {name} | {pass_} | {cells} | {th} | {pick} | {fastest} | {ratio} |")
    return "\n".join(out)


def execute(args):
    from .compare import header
    rows = run(args.threads, args.repeat, args.budget, args.family, args.dtype)
    text = header(args.threads) + f", conv dtype {args.dtype}\n\n" + table(rows) + "\n"
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)
    return 0
