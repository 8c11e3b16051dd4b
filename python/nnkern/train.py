"""``nnkern train``: train a network on the embedded digits (or local MNIST files) with a
progress bar, then write the history (JSON), a loss/accuracy plot (PNG) and a checkpoint (npz).

``--distributed`` (under ``mpiexec ... python -m mpi4py -m nnkern train`` or ``nnkern launch``)
trains data-parallel over the MPI ranks: ``--batch-size`` is the global batch, each rank
trains on its part of it (see :mod:`nnkern.distributed`), and rank 0 alone prints and writes.
``--resume DIR`` continues a run from DIR's checkpoint and history, on any number of ranks.
"""
import json
import os
import tempfile
import time

import numpy as np

from . import backend, optimizers
from .data import BatchLoader, load_data
from .models import DeepConvNet, MultiLayerNetExtend, SimpleConvNet

MODELS = ("mlp", "simple-cnn", "deep-cnn")
OPTIMIZERS = {"sgd": optimizers.SGD, "momentum": optimizers.Momentum, "nesterov": optimizers.Nesterov,
              "adagrad": optimizers.AdaGrad, "rmsprop": optimizers.RMSprop, "adam": optimizers.Adam,
              "adamw": optimizers.AdamW}
DEFAULT_LR = {"sgd": 0.1, "momentum": 0.05, "nesterov": 0.05, "adagrad": 0.05, "rmsprop": 0.002,
              "adam": 0.002, "adamw": 0.002}


def add_arguments(ap):
    ap.add_argument("--model", default="simple-cnn", help=f"one of {', '.join(MODELS)} (default simple-cnn)")
    ap.add_argument("--optimizer", default="adam", help=f"one of {', '.join(OPTIMIZERS)} (default adam)")
    ap.add_argument("--lr", type=float, default=None, help="learning rate (default per optimizer)")
    ap.add_argument("--epochs", type=int, default=12)
    ap.add_argument("--batch-size", type=int, default=50)
    ap.add_argument("--weight-decay", type=float, default=0.0, help="L2 weight decay lambda")
    ap.add_argument("--dropout", type=float, default=0.0, help="dropout ratio (mlp, deep-cnn)")
    ap.add_argument("--batchnorm", action="store_true", help="batch normalisation (mlp)")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--data", default=None, help="folder of MNIST IDX files or an .npz (default: embedded digits)")
    ap.add_argument("--num-classes", type=int, default=None,
                    help="output classes (default: the largest label + 1, every class 0 .. max present)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="nnkern-run", help="output folder (default nnkern-run)")
    ap.add_argument("--backend", default="native", help="native or reference")
    ap.add_argument("--no-progress", action="store_true", help="no progress bar")
    ap.add_argument("--distributed", action="store_true",
                    help="data-parallel over the MPI ranks (run under mpiexec, or use nnkern launch)")
    ap.add_argument("--bucket-mb", type=float, default=25.0, help="gradient bucket size in MiB (--distributed)")
    ap.add_argument("--resume", default=None, metavar="DIR",
                    help="continue the run in DIR (its checkpoint.npz, history.json); --epochs is the total")


def check_arguments(a):
    """ValueError with a one-line message for anything the run cannot use."""
    if a.model not in MODELS:
        raise ValueError(f"unknown --model {a.model!r} (choose from {', '.join(MODELS)})")
    if a.optimizer not in OPTIMIZERS:
        raise ValueError(f"unknown --optimizer {a.optimizer!r} (choose from {', '.join(OPTIMIZERS)})")
    backend.module(a.backend)  # ValueError for anything but native / reference
    for name in ("epochs", "batch_size"):
        if getattr(a, name) < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be >= 1")
    if a.lr is not None and not a.lr > 0:
        raise ValueError(f"--lr must be > 0, got {a.lr}")
    if not 0 <= a.dropout < 1:
        raise ValueError(f"--dropout must be in [0, 1), got {a.dropout}")
    if a.weight_decay < 0:
        raise ValueError(f"--weight-decay must be >= 0, got {a.weight_decay}")
    if a.threads is not None and a.threads < 1:
        raise ValueError(f"--threads must be >= 1, got {a.threads}")
    if a.batchnorm and a.model != "mlp":
        raise ValueError("--batchnorm is available for --model mlp")
    if a.dropout and a.model == "simple-cnn":
        raise ValueError("--dropout is available for --model mlp and deep-cnn")
    if not a.bucket_mb > 0:
        raise ValueError(f"--bucket-mb must be > 0, got {a.bucket_mb}")
    if getattr(a, "num_classes", None) is not None and a.num_classes < 2:
        raise ValueError(f"--num-classes must be >= 2, got {a.num_classes}")


def check_out(out):
    """Create the output folder and check a file can be written in it, before any training
    (OSError naming the folder otherwise)."""
    try:
        os.makedirs(out, exist_ok=True)
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as e:
        raise OSError(f"--out {out}: cannot write there ({e.strerror or e})") from None


def count_classes(t_train, t_test, num_classes=None):
    """The model's number of outputs: ``num_classes`` (``--num-classes``) when given, else the
    largest label + 1, provided every class 0 .. max occurs in the labels. ValueError for a
    negative label, a label >= num_classes, or classes that never occur (an out-of-range label
    would otherwise silently widen the output layer)."""
    labels = np.concatenate([np.ravel(t_train), np.ravel(t_test)]).astype(np.int64)
    lo, hi = int(labels.min()), int(labels.max())
    if lo < 0:
        raise ValueError(f"--data: label {lo} is negative (labels are class indices 0 .. classes - 1)")
    if num_classes is not None:
        if hi >= num_classes:
            raise ValueError(f"--data: label {hi} is out of range for --num-classes {num_classes}")
        return int(num_classes)
    missing = np.setdiff1d(np.arange(hi + 1), labels)
    if missing.size:
        shown = ", ".join(map(str, missing[:5])) + (", ..." if missing.size > 5 else "")
        raise ValueError(f"--data: the labels run up to {hi}, but {missing.size} of the classes 0 .. {hi} never "
                         f"occur ({shown}): is label {hi} out of range? --num-classes sets the number of classes")
    return hi + 1


def run_title(args):
    """A run's plot title: the command line that matters (model, optimizer, data)."""
    data = f"--data {args['data']}" if args.get("data") else "(embedded digits)"
    return f"nnkern train --model {args['model']} --optimizer {args['optimizer']} {data}"


def build_model(a, image_shape, classes, seed=None):
    kw = dict(backend=a.backend, seed=a.seed if seed is None else seed)
    if a.model == "mlp":
        return MultiLayerNetExtend(int(np.prod(image_shape)), [100, 100], classes, weight_init_std="he",
                                   use_dropout=a.dropout > 0, dropout_ration=a.dropout,
                                   use_batchnorm=a.batchnorm, **kw)
    if a.model == "simple-cnn":
        return SimpleConvNet(image_shape, {"filter_num": 30, "filter_size": 3, "pad": 1, "stride": 1},
                             hidden_size=100, output_size=classes, weight_init_std="he", **kw)
    return DeepConvNet(image_shape, output_size=classes, dropout_ratio=a.dropout, **kw)


def make_optimizer(a):
    lr = a.lr if a.lr is not None else DEFAULT_LR[a.optimizer]
    return OPTIMIZERS[a.optimizer](lr=lr, weight_decay=a.weight_decay)


def evaluate(model, x, t, batch_size=500, world=None):
    """Mean loss (inference mode) and accuracy; with a distributed ``world`` each rank
    evaluates its share of the samples and the sums are combined."""
    from .distributed import shard_bounds
    parallel = world is not None and world.size > 1
    if parallel:
        lo, hi = shard_bounds(len(x), world.rank, world.size)
        x, t = x[lo:hi], t[lo:hi]
    losses = [model.loss(x[i:i + batch_size], t[i:i + batch_size], train=False) * len(x[i:i + batch_size])
              for i in range(0, len(x), batch_size)]
    correct = round(model.accuracy(x, t) * len(x)) if len(x) else 0
    loss_sum, correct, n = _sum(world if parallel else None, [np.sum(losses), correct, len(x)])
    return float(loss_sum / n), float(correct / n)


def _sum(world, values):
    """values summed over the ranks of a distributed world (as they are otherwise)."""
    from .distributed import allreduce_sum
    return allreduce_sum(values) if world is not None and world.size > 1 else values


def train(a, log=print):
    """Run the training described by the parsed arguments; returns the history dict."""
    check_arguments(a)
    from . import distributed as dist
    from . import set_num_threads
    world = dist.init() if a.distributed else dist.World()
    if not world.is_main:
        log = _quiet
    threads = a.threads or (dist.default_threads() if a.distributed else None)
    if threads:
        set_num_threads(threads)
    if world.is_main:
        check_out(a.out)  # before training, not after it
    (x_train, t_train), (x_test, t_test) = load_data(a.data)
    classes = count_classes(t_train, t_test, getattr(a, "num_classes", None))
    # each rank its own dropout masks; every rank gets rank 0's parameters below
    model = build_model(a, x_train.shape[1:], classes, seed=a.seed + world.rank)
    opt = make_optimizer(a)
    history = {"args": {k: v for k, v in vars(a).items() if k != "command"}, "epochs": []}  # not the subcommand
    if a.resume:
        history["epochs"] = resume(a.resume, model, opt, world, a.epochs)
    if a.distributed:
        opt = dist.DistributedOptimizer(opt, bucket_bytes=max(1, int(a.bucket_mb * 2**20)))
        opt.broadcast_parameters(model.params)
        dist.broadcast_parameters(model.buffers())
    loader = BatchLoader(x_train, t_train, a.batch_size, shuffle=True, seed=a.seed, rank=world.rank,
                         world_size=world.size)
    loader.epoch = len(history["epochs"])  # a resumed run continues the sequence of shuffles
    log(f"nnkern train: {a.model} ({model.param_count():,} params), {a.optimizer}, {len(x_train)} train / "
        f"{len(x_test)} test images {x_train.shape[1:]}, {a.epochs} epochs, backend {a.backend}"
        + (f", {world.size} ranks x {threads} threads" if a.distributed else ""))
    for epoch in range(loader.epoch + 1, a.epochs + 1):
        t0, seen, loss_sum = time.perf_counter(), 0, 0.0
        for xb, tb in _progress(loader, epoch, a, world):
            if a.distributed:
                opt.step(model, xb, tb)  # this rank's part of the batch; the mean gradient over ranks
            else:
                opt.update(model.params, model.gradient(xb, tb))
            loss_sum += model.last_layer.loss * len(xb) if len(xb) else 0.0
            seen += len(xb)
        dt = time.perf_counter() - t0
        if a.distributed:
            dist.average_buffers(model.buffers())  # batch-norm running statistics: one set
        loss_sum, seen = _sum(world, [loss_sum, seen])
        test_loss, test_acc = evaluate(model, x_test, t_test, world=world)
        row = {"epoch": epoch, "loss": float(loss_sum / seen),
               "train_acc": evaluate(model, x_train, t_train, world=world)[1],
               "test_loss": test_loss, "test_acc": test_acc, "images_per_s": seen / dt}
        history["epochs"].append(row)
        log(f"epoch {epoch:3d}  loss {row['loss']:.4f}  train acc {row['train_acc']:.4f}  "
            f"test acc {row['test_acc']:.4f}  {row['images_per_s']:.0f} images/s")
    if world.is_main:
        _write_outputs(a.out, model, getattr(opt, "optimizer", opt), history)
    log(f"final test accuracy {history['epochs'][-1]['test_acc']:.4f}; wrote {a.out}/history.json, "
        f"{a.out}/training.png, {a.out}/checkpoint.npz")
    return history


def resume(folder, model, optimizer, world, epochs):
    """Load ``folder``'s checkpoint.npz (model and optimizer) and history.json on rank 0, give
    them to every rank, and return the epochs done (history rows); the run may have had any
    number of ranks."""
    from . import distributed as dist
    rows = None
    if world.is_main:
        model.load_params(os.path.join(folder, "checkpoint.npz"), optimizer=optimizer)
        with open(os.path.join(folder, "history.json")) as f:
            rows = json.load(f)["epochs"]
        if len(rows) >= epochs:
            raise ValueError(f"--resume {folder}: it holds {len(rows)} epochs already; --epochs is the total, "
                             f"so ask for more than {len(rows)}")
    if world.size > 1:
        dist.broadcast_optimizer_state(optimizer)
        rows = dist.broadcast_object(rows)
    return rows


def _quiet(*args, **kwargs):
    """The log of ranks other than 0."""


def _progress(loader, epoch, a, world):
    if a.no_progress or not world.is_main:
        return loader
    from tqdm import tqdm
    return tqdm(loader, desc=f"epoch {epoch}/{a.epochs}", unit="batch", leave=False)


def _write_outputs(out, model, opt, history):
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "history.json"), "w") as f:
        json.dump(history, f, indent=1)
    model.save_params(os.path.join(out, "checkpoint.npz"), optimizer=opt)
    plot_history(history, os.path.join(out, "training.png"))


def plot_history(history, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = history["epochs"]
    ep = [r["epoch"] for r in rows]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.5))
    ax1.plot(ep, [r["loss"] for r in rows], "o-", label="train (running)")
    ax1.plot(ep, [r["test_loss"] for r in rows], "s-", label="test")
    ax1.set_xlabel("epoch")
    ax1.set_ylabel("cross-entropy loss")
    ax1.legend()
    ax2.plot(ep, [r["train_acc"] for r in rows], "o-", label="train")
    ax2.plot(ep, [r["test_acc"] for r in rows], "s-", label="test")
    ax2.set_xlabel("epoch")
    ax2.set_ylabel("accuracy")
    ax2.legend()
    args = history["args"]
    fig.suptitle(run_title(args), fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
