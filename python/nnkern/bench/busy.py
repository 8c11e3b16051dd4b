"""Threads on a busy machine: nnkern's default thread count against one thread, with N
competing busy processes (``nnkern bench --busy N``; N = 0 measures the idle machine).

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE nnkern bench --busy 1

Each competitor is ``python -c "while True: pass"``. The model steps (SimpleConvNet and
DeepConvNet training steps at batch 100), the big convolution layers (forward+backward) and
``nnkern train`` (a subprocess, wall time) run alternately with the default thread count and
with one thread, several rounds each, so both see the same load; the table gives the median
throughput of each and their ratio (default / 1 thread: above 1.0 means the threads help).
"""
import contextlib
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

import nnkern

SPIN = "while True: pass"


@contextlib.contextmanager
def busy_processes(n):
    """n competing CPU-bound processes for the duration of the block."""
    procs = [subprocess.Popen([sys.executable, "-c", SPIN]) for _ in range(n)]
    try:
        time.sleep(0.5 if n else 0)  # let the scheduler see them
        yield procs
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait()


def _model_step(name):
    from nnkern import optimizers as O

    from .workloads.models import MODELS
    make_model, _, shape, classes, batch, with_opt = MODELS[name]
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch,) + shape, dtype=np.float32)
    t = rng.integers(0, classes, batch)
    model, opt = make_model("native"), O.Adam(lr=1e-3)

    def step():
        grads = model.gradient(x, t)
        if with_opt:
            opt.update(model.params, grads)
    return step, batch


def _conv_step(name):
    from nnkern import functional as F

    from .workloads.conv2d import conv_inputs
    x, w, b, kw, y, _ = conv_inputs(name)
    gy = np.ones_like(y)

    def step():
        F.conv2d(x, w, b, **kw)
        F.conv2d_backward(gy, x, w, **kw)
    return step, x.shape[0]


STEPS = {  # label: (factory, unit)
    "SimpleConvNet train step b100": (lambda: _model_step("simpleconvnet-train-step-b100"), "img/s"),
    "DeepConvNet train step b100": (lambda: _model_step("deepconvnet-train-step-b100"), "img/s"),
    "conv fwd+bwd keras-cnn-conv2": (lambda: _conv_step("keras-cnn-conv2"), "img/s"),
    "conv fwd+bwd alexnet-conv1": (lambda: _conv_step("alexnet-conv1"), "img/s"),
    "conv fwd+bwd alexnet-conv2-g2": (lambda: _conv_step("alexnet-conv2-g2"), "img/s"),
    "conv fwd+bwd alexnet-conv3": (lambda: _conv_step("alexnet-conv3"), "img/s"),
}


def _rate(step, items, seconds):
    """items per second of step() run for about `seconds` (at least twice)."""
    step()
    n, t0 = 0, time.perf_counter()
    while n < 2 or time.perf_counter() - t0 < seconds:
        step()
        n += 1
    return n * items / (time.perf_counter() - t0)


def _alternate(measure, threads, rounds):
    """Median of measure() at `threads` and at 1 thread, alternating rounds."""
    out = {threads: [], 1: []}
    for _ in range(rounds):
        for t in (threads, 1):
            nnkern.set_num_threads(t)
            out[t].append(measure(t))
    nnkern.set_num_threads(threads)
    return float(np.median(out[threads])), float(np.median(out[1]))


TRAIN_IMAGES = 12000  # MNIST-shaped synthetic set (1x28x28 uint8, 10 classes): one epoch ~ 240 steps of 50


def mnist_like_npz(folder, n_train=TRAIN_IMAGES, n_test=1000):
    """An .npz of random MNIST-shaped digits (nnkern train --data accepts it): the work of
    training on MNIST without the files (nothing is downloaded)."""
    rng = np.random.default_rng(0)
    path = os.path.join(folder, "mnist-like.npz")
    np.savez(path, x_train=rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
             t_train=rng.integers(0, 10, n_train), x_test=rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
             t_test=rng.integers(0, 10, n_test))
    return path


def _train_rate(threads, data, epochs):
    """Training images per second of a `nnkern train` subprocess (wall time, start-up included)."""
    with tempfile.TemporaryDirectory() as out:
        cmd = [sys.executable, "-m", "nnkern", "train", "--data", data, "--epochs", str(epochs), "--no-progress",
               "--out", out, "--threads", str(threads)]
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        elapsed = time.perf_counter() - t0
    return epochs * TRAIN_IMAGES / elapsed


def run(busy, threads, rounds=3, seconds=1.0, train_epochs=1, with_train=True):
    rows = []
    with busy_processes(busy), tempfile.TemporaryDirectory() as tmp:
        for label, (factory, unit) in STEPS.items():
            step, items = factory()
            d, one = _alternate(lambda t, step=step, items=items: _rate(step, items, seconds), threads, rounds)
            rows.append((label, unit, d, one))
            print(f"  {label:34} done", file=sys.stderr)
        if with_train:
            data = mnist_like_npz(tmp)
            d, one = _alternate(lambda t: _train_rate(t, data, train_epochs), threads, rounds)
            rows.append((f"nnkern train (MNIST-shaped, {train_epochs} epoch, wall)", "img/s", d, one))
            print("  nnkern train done", file=sys.stderr)
    return rows


def table(rows, threads):
    out = [f"| workload | {threads} threads | 1 thread | {threads} threads / 1 thread |", "|---|---:|---:|---:|"]
    for label, unit, d, one in rows:
        out.append(f"| {label} | {d:.0f} {unit} | {one:.0f} {unit} | {d / one:.2f}x |")
    return "\n".join(out)


def execute(args):
    from .compare import header
    threads = args.threads
    load0 = os.getloadavg()[0]
    rows = run(args.busy, threads, rounds=max(1, args.repeat // 3), seconds=min(args.budget, 2.0))
    text = (header(threads) + f"\n\nbusy competitors: {args.busy} (`python -c \"{SPIN}\"`), {os.cpu_count()} CPUs, "
            f"load average before the run {load0:.1f}\n\n" + table(rows, threads) + "\n")
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)
    if args.chart:
        ratio_chart(rows, threads, args.chart, header(threads) + f"; {args.busy} busy competitors")
    return 0


def ratio_chart(rows, threads, path, title):
    """Bars of default-threads / 1-thread throughput per workload, with the 1.0 line."""
    import textwrap

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(8, 0.4 * len(rows) + 1.5))
    y = np.arange(len(rows))
    ax.barh(y, [d / one for _, _, d, one in rows], height=0.6)
    ax.axvline(1.0, color="k", lw=0.8)
    ax.set_yticks(y, [r[0] for r in rows], fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel(f"throughput with {threads} threads / with 1 thread")
    ax.set_title("\n".join(textwrap.wrap(title, 110)), fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
