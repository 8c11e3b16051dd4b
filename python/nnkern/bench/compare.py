"""Side-by-side timing of nnkern, the NumPy reference and PyTorch (if installed).

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/compare.py [--family conv2d] [--threads 2]

(also ``nnkern bench``, which adds a bar chart of the speed-ups).

All three run in one process, interleaved per workload, so the ratios are comparable on a
noisy machine. Prints a markdown table (median times, GFLOP/s or GB/s of nnkern, speed-ups)
headed by the BLAS core type and thread counts, and optionally writes it to --out.
"""
import argparse
import os
import sys
import time

import numpy as np

import nnkern

from .workloads import all_workloads, torch_or_none


def median_time(fn, repeat, budget_s):
    fn()  # warm-up (allocations, page faults, lazy init)
    times = []
    start = time.perf_counter()
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
        if time.perf_counter() - start > budget_s and len(times) >= 3:
            break
    return float(np.median(times))


def header(threads):
    info = nnkern._core.build_info()
    torch = torch_or_none()
    tv = f"torch {torch.__version__} ({torch.get_num_threads()} threads)" if torch else "torch not installed"
    env = {k: os.environ.get(k) for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
    return (f"nnkern {info['version']}, {threads} threads, SIMD {info['simd_path']}, BLAS core "
            f"{info['blas_corename']} (OPENBLAS_CORETYPE={env['OPENBLAS_CORETYPE']}, "
            f"OPENBLAS_L2_SIZE={env['OPENBLAS_L2_SIZE']}), numpy {np.__version__}, {tv}")


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
        t_nn = median_time(fns["nnkern"], repeat, budget_s)
        t_ref = median_time(fns["reference"], max(3, repeat // 3), budget_s) if with_reference else None
        t_th = median_time(fns["torch"], repeat, budget_s) if fns.get("torch") else None
        rate = ""
        if fns.get("flops"):
            rate = f"{fns['flops'] / t_nn / 1e9:.1f} GFLOP/s"
        elif fns.get("bytes"):
            rate = f"{fns['bytes'] / t_nn / 1e9:.1f} GB/s"
        rows.append((wl.family, wl.name, t_nn, t_ref, t_th, rate))
        print(f"  {wl.family:24} {wl.name:28} done", file=sys.stderr)
    return rows


def table(rows):
    out = ["| family | workload | nnkern ms | rate | reference ms | torch ms | vs reference | vs torch |",
           "|---|---|---:|---:|---:|---:|---:|---:|"]
    for fam, name, t_nn, t_ref, t_th, rate in rows:
        ref = f"{t_ref * 1e3:.2f}" if t_ref else "-"
        th = f"{t_th * 1e3:.2f}" if t_th else "-"
        vs_ref = f"{t_ref / t_nn:.1f}x" if t_ref else "-"
        vs_th = f"{t_th / t_nn:.2f}x" if t_th else "-"
        out.append(f"| {fam} | {name} | {t_nn * 1e3:.2f} | {rate} | {ref} | {th} | {vs_ref} | {vs_th} |")
    return "\n".join(out)


def add_arguments(ap):
    ap.add_argument("--family", action="append", help="substring of a workload family (repeatable)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=9)
    ap.add_argument("--budget", type=float, default=5.0, help="seconds per timing at most")
    ap.add_argument("--out", help="write the markdown table to this file too")
    ap.add_argument("--chart", help="write a bar chart (PNG) of the speed-ups to this file")


def execute(args):
    if args.threads < 1:
        raise ValueError(f"--threads must be >= 1, got {args.threads}")
    rows = run(args.family, args.threads, args.repeat, args.budget)
    if not rows:
        raise ValueError(f"no workload matches --family {args.family}")
    head = header(args.threads)
    text = head + "\n\n" + table(rows) + "\n"
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)
    if args.chart:
        from .chart import speedup_chart
        speedup_chart(rows, args.chart, head)
    return 0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(ap)
    return execute(ap.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
