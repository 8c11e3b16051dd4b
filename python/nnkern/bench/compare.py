"""Side-by-side timing of nnkern, the NumPy reference and PyTorch (if installed).

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/compare.py [--family conv2d] [--threads 2]

(also ``nnkern bench``, which adds a bar chart of the speed-ups).

All three run in one process, per workload; nnkern and torch alternate call by call, so the
ratios are comparable on a noisy machine. Prints a markdown table (median times, GFLOP/s or GB/s of nnkern, speed-ups;
for convolutions the algorithm each pass used and the share of a large sgemm's rate) headed
by the SIMD path, GEMM kernels, BLAS core and thread counts, and optionally writes it to --out.
"""
import argparse
import os
import sys
import time
from dataclasses import dataclass

import numpy as np

import nnkern

from .ceiling import sgemm_ceiling
from .workloads import all_workloads, torch_or_none

# The NumPy reference runs on numpy's own OpenBLAS, whose worker threads keep spinning for about
# 0.1 s after each threaded call (OpenBLAS's THREAD_TIMEOUT, 2^28 cycles) before they sleep. In
# an interleaved round they then hold a core while the nnkern and torch calls that follow are
# timed: measured on deepconv-3x3's forward (2 cores, medians of 9), nnkern 1.5 ms alternating with
# torch only (torch 1.9) and 2.3-4.2 ms in rounds with the reference (torch 5.5-7.5), 2.0 (torch
# 4.4-4.6) in those rounds with numpy's BLAS held to one thread. OpenBLAS reads OPENBLAS_THREAD_TIMEOUT only when it
# loads (before numpy's import is over), so the bench starts itself again with it set. nnkern's
# own OpenBLAS reads it too: its kernels run that copy single-threaded, so only the sgemm
# ceiling row (threaded OpenBLAS) sees it, as workers that sleep between its long calls.
QUIET_BLAS = ("OPENBLAS_THREAD_TIMEOUT", "4")  # 2^4 cycles: idle OpenBLAS workers sleep at once


def restart_with_quiet_blas():
    """Run this program again, in place of this process (the same command line,
    ``sys.orig_argv``), with OPENBLAS_THREAD_TIMEOUT=4; returns at once when the variable is
    already set (by the user or by that restart). For program entry points only."""
    name, value = QUIET_BLAS
    if name in os.environ:
        return
    env = dict(os.environ, **{name: value})
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execve(sys.executable, [sys.executable, *sys.orig_argv[1:]], env)
    except OSError as e:  # the bench still runs, with the reference's BLAS as it is
        print(f"nnkern bench: could not restart with {name}={value} ({e}); timing without it", file=sys.stderr)


def median_time(fn, repeat, budget_s):
    """Median of up to `repeat` timed calls after a warm-up (at least 3 once `budget_s` has passed)."""
    return interleaved_medians({"fn": fn}, repeat, budget_s)["fn"]


def interleaved_medians(fns, repeat, budget_s):
    """Median time of each callable, run in rounds (one call of each per round, after one
    warm-up call each) so that a change in the machine's load hits all of them alike."""
    for fn in fns.values():
        fn()
    times = {k: [] for k in fns}
    start = time.perf_counter()
    for _ in range(repeat):
        for k, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[k].append(time.perf_counter() - t0)
        if time.perf_counter() - start > budget_s * len(fns) and len(times[k]) >= 3:
            break
    return {k: float(np.median(v)) for k, v in times.items()}


@dataclass
class Row:
    family: str
    name: str
    t_nn: float
    t_ref: float = None
    t_th: float = None
    flops: float = None
    bytes: float = None
    algo: str = None  # convolutions: the algorithm of each pass, "fwd / grad_x / grad_weight"

    def rate(self):
        if self.flops:
            return f"{self.flops / self.t_nn / 1e9:.1f} GFLOP/s"
        if self.bytes:
            return f"{self.bytes / self.t_nn / 1e9:.1f} GB/s"
        return ""


def _pool_wait():
    """How nnkern's pool waits (src/thread_pool.h), in a few words."""
    us = nnkern._core._pool_state()["spin_us"]
    return "idle workers sleep at once" if us == 0 else f"idle workers spin {us} us"


def header(threads):
    info = nnkern._core.build_info()
    torch = torch_or_none()
    tv = f"torch {torch.__version__} ({torch.get_num_threads()} threads)" if torch else "torch not installed"
    env = {k: os.environ.get(k) for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", QUIET_BLAS[0])}
    gemm = nnkern._core.gemm_isa()
    return (f"nnkern {info['version']}, {threads} threads, SIMD {info['simd_path']}, GEMM micro-kernels {gemm}, "
            f"BLAS core {info['blas_corename']} (OPENBLAS_CORETYPE={env['OPENBLAS_CORETYPE']}, "
            f"OPENBLAS_L2_SIZE={env['OPENBLAS_L2_SIZE']}, {QUIET_BLAS[0]}={env[QUIET_BLAS[0]]}), "
            f"conv2d selection {nnkern.get_conv_algo()}, "
            f"kernel threads on nnkern's pool ({_pool_wait()}), data loops' {nnkern._threads.describe()}, "
            f"busy-machine threads "
            f"{'adaptive' if nnkern._core._threads_state()[3] else 'fixed'}, numpy {np.__version__}, {tv}")


def conv_algos(spec):
    """'im2col' when every pass of a conv workload used one algorithm, else 'fwd / grad_x / grad_weight'."""
    from nnkern.conv_algo import conv2d_algo_for
    xs, ws, kw, passes = spec
    picks = [conv2d_algo_for(xs, ws, pass_=p, dtype="float32", **kw) for p in passes]
    return picks[0] if len(set(picks)) == 1 else " / ".join(picks)


def run(families, threads, repeat, budget_s, with_reference=True):
    nnkern.set_num_threads(threads)
    torch = torch_or_none()
    if torch is not None:
        torch.set_num_threads(threads)
    rows = []
    for wl in all_workloads():
        if families and not any(f in wl.family for f in families):
            continue
        fns = wl.make()
        pair = {"nnkern": fns["nnkern"], **({"torch": fns["torch"]} if fns.get("torch") else {})}
        times = interleaved_medians(pair, repeat, budget_s)
        t_nn, t_th = times["nnkern"], times.get("torch")
        t_ref = median_time(fns["reference"], max(3, repeat // 3), budget_s) if with_reference else None
        algo = conv_algos(fns["conv"]) if fns.get("conv") else None
        rows.append(Row(wl.family, wl.name, t_nn, t_ref, t_th, fns.get("flops"), fns.get("bytes"), algo))
        print(f"  {wl.family:24} {wl.name:28} done", file=sys.stderr)
    return rows


def table(rows, ceiling=None):
    """Markdown table; with a ceiling (sgemm GFLOP/s), convolutions show their share of it."""
    convs = any(r.algo for r in rows)
    share = convs and ceiling and ceiling.get("nnkern OpenBLAS")
    out = ["| family | workload |" + (" algo |" if convs else "") + " nnkern ms | rate |" +
           (" % of sgemm |" if share else "") + " reference ms | torch ms | vs reference | vs torch |",
           "|---|---|" + ("---|" if convs else "") + "---:|---:|" + ("---:|" if share else "") + "---:|---:|---:|---:|"]
    for r in rows:
        ref = f"{r.t_ref * 1e3:.2f}" if r.t_ref else "-"
        th = f"{r.t_th * 1e3:.2f}" if r.t_th else "-"
        vs_ref = f"{r.t_ref / r.t_nn:.1f}x" if r.t_ref else "-"
        vs_th = f"{r.t_th / r.t_nn:.2f}x" if r.t_th else "-"
        algo = f" {r.algo or '-'} |" if convs else ""
        pct = ""
        if share:
            pct = f" {100 * r.flops / r.t_nn / 1e9 / share:.0f}% |" if r.algo and r.flops else " - |"
        out.append(f"| {r.family} | {r.name} |{algo} {r.t_nn * 1e3:.2f} | {r.rate()} |{pct} {ref} | {th} | {vs_ref} "
                   f"| {vs_th} |")
    return "\n".join(out)


def ceiling_note(ceiling):
    parts = [f"{k} {v:.0f} GFLOP/s" for k, v in ceiling.items() if k != "size" and v]
    return ("Ceiling (same run): large sgemm " + f"{ceiling['size']}^3, " + ", ".join(parts) + ". "
            "'% of sgemm' = a convolution's effective rate (direct-method FLOPs, 2*N*OC*OH*OW*C/groups*KH*KW per "
            "pass) over nnkern's OpenBLAS sgemm rate; Winograd does fewer multiplies, so it may exceed 100%.")


def add_arguments(ap):
    ap.add_argument("--family", action="append", help="substring of a workload family (repeatable)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=9)
    ap.add_argument("--budget", type=float, default=5.0, help="seconds per timing at most")
    ap.add_argument("--out", help="write the markdown table to this file too")
    ap.add_argument("--chart", help="write a bar chart (PNG) of the speed-ups to this file")
    ap.add_argument("--busy", type=int, default=None, metavar="N",
                    help="instead: default threads vs 1 thread for the model steps, big conv layers and nnkern "
                         "train, with N competing busy processes (0 = idle machine)")
    ap.add_argument("--algos", action="store_true",
                    help="instead: every applicable conv algorithm per pass on the conv workloads and a sweep of "
                         "shapes (--family filters shape names)")
    ap.add_argument("--dtype", choices=("float32", "float64"), default="float32",
                    help="element type of the --algos sweep")


def execute(args):
    if args.threads < 1:
        raise ValueError(f"--threads must be >= 1, got {args.threads}")
    if args.busy is not None:
        if args.busy < 0:
            raise ValueError(f"--busy must be >= 0, got {args.busy}")
        from . import busy
        return busy.execute(args)
    if args.algos:
        from . import conv_sweep
        args.chart = None  # a table only
        return conv_sweep.execute(args)
    rows = run(args.family, args.threads, args.repeat, args.budget)
    if not rows:
        raise ValueError(f"no workload matches --family {args.family}")
    ceiling = sgemm_ceiling(args.threads) if any(r.algo for r in rows) else None
    head = header(args.threads)
    text = head + "\n\n" + table(rows, ceiling) + "\n"
    if ceiling:
        text += "\n" + ceiling_note(ceiling) + "\n"
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)
    if args.chart:
        from .chart import speedup_chart
        speedup_chart(rows, args.chart, head)
    return 0


def main(argv=None, program=False):
    """argv: the arguments (None: sys.argv[1:]); program=True when run as a program, which may
    restart the process with OPENBLAS_THREAD_TIMEOUT set (restart_with_quiet_blas)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(ap)
    args = ap.parse_args(argv)
    if program:  # run as a program (benchmarks/compare.py, python -m): never replace a caller's process
        restart_with_quiet_blas()
    return execute(args)


if __name__ == "__main__":
    sys.exit(main(program=True))
