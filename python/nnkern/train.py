"""``nnkern train``: train a network on the embedded digits (or local MNIST files) with a
progress bar, then write the history (JSON), a loss/accuracy plot (PNG) and a checkpoint (npz).
"""
import json
import os
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
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="nnkern-run", help="output folder (default nnkern-run)")
    ap.add_argument("--backend", default="native", help="native or reference")
    ap.add_argument("--no-progress", action="store_true", help="no progress bar")


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


def build_model(a, image_shape, classes):
    kw = dict(backend=a.backend, seed=a.seed)
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


def evaluate(model, x, t, batch_size=500):
    """Mean loss (inference mode) and accuracy."""
    losses = [model.loss(x[i:i + batch_size], t[i:i + batch_size], train=False) * len(x[i:i + batch_size])
              for i in range(0, len(x), batch_size)]
    return float(np.sum(losses) / len(x)), float(model.accuracy(x, t))


def train(a, log=print):
    """Run the training described by the parsed arguments; returns the history dict."""
    check_arguments(a)
    from . import set_num_threads
    if a.threads:
        set_num_threads(a.threads)
    (x_train, t_train), (x_test, t_test) = load_data(a.data)
    classes = int(max(t_train.max(), t_test.max())) + 1
    model = build_model(a, x_train.shape[1:], classes)
    opt = make_optimizer(a)
    loader = BatchLoader(x_train, t_train, a.batch_size, shuffle=True, seed=a.seed)
    log(f"nnkern train: {a.model} ({model.param_count():,} params), {a.optimizer}, {len(x_train)} train / "
        f"{len(x_test)} test images {x_train.shape[1:]}, {a.epochs} epochs, backend {a.backend}")
    history = {"args": {k: v for k, v in vars(a).items() if k != "command"}, "epochs": []}  # not the subcommand
    for epoch in range(1, a.epochs + 1):
        t0, seen, losses = time.perf_counter(), 0, []
        for xb, tb in _progress(loader, epoch, a):
            grads = model.gradient(xb, tb)
            opt.update(model.params, grads)
            losses.append(model.last_layer.loss)
            seen += len(xb)
        dt = time.perf_counter() - t0
        test_loss, test_acc = evaluate(model, x_test, t_test)
        row = {"epoch": epoch, "loss": float(np.mean(losses)), "train_acc": float(model.accuracy(x_train, t_train)),
               "test_loss": test_loss, "test_acc": test_acc, "images_per_s": seen / dt}
        history["epochs"].append(row)
        log(f"epoch {epoch:3d}  loss {row['loss']:.4f}  train acc {row['train_acc']:.4f}  "
            f"test acc {row['test_acc']:.4f}  {row['images_per_s']:.0f} images/s")
    _write_outputs(a.out, model, opt, history)
    log(f"final test accuracy {history['epochs'][-1]['test_acc']:.4f}; wrote {a.out}/history.json, "
        f"{a.out}/training.png, {a.out}/checkpoint.npz")
    return history


def _progress(loader, epoch, a):
    if a.no_progress:
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
    fig.suptitle(f"nnkern train --model {args['model']} --optimizer {args['optimizer']}", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
