"""``nnkern experiment NAME``: the classic demonstrations of weight initialisation, optimizers,
regularisation and batch normalisation (Deep Learning from Scratch ch. 6 and the JDLA study
notes) on the embedded digits, each a PNG plus its numbers (JSON). Seeded; each runs in well
under a minute on 2 cores.

- init-histogram: activations of 5 sigmoid layers for std 1, 0.01 and Xavier, and of 5 ReLU
  layers with He initialisation (1000 inputs of 100 features, layers of 100 units).
- optimizers: training-loss curves of SGD, Momentum, AdaGrad, RMSprop and Adam.
- overfit: train vs test accuracy on 300 training images: plain, L2 weight decay, dropout.
- batchnorm: training accuracy with and without batch norm at several initial weight scales.
"""
import json
import os

import numpy as np

from . import functional as F
from . import optimizers
from .data import BatchLoader, load_digits
from .models import MultiLayerNet, MultiLayerNetExtend

NAMES = ("init-histogram", "optimizers", "overfit", "batchnorm")


def _plt():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _digits():
    return load_digits(flatten=True)


def init_histogram(seed=0):
    """Activation histograms: 1000 inputs of 100 features, 5 layers of 100 units."""
    rng = np.random.default_rng(seed)
    x0 = rng.standard_normal((1000, 100))
    settings = {"sigmoid, std 1": ("sigmoid", 1.0), "sigmoid, std 0.01": ("sigmoid", 0.01),
                "sigmoid, Xavier": ("sigmoid", np.sqrt(1.0 / 100)), "ReLU, He": ("relu", np.sqrt(2.0 / 100))}
    results = {}
    for name, (act, std) in settings.items():
        x, layers = x0, []
        for _ in range(5):
            w = rng.standard_normal((100, 100)) * std
            a = F.affine(x, w)
            x = F.sigmoid(a) if act == "sigmoid" else F.relu(a)
            layers.append(x)
        results[name] = layers
    plt = _plt()
    fig, axes = plt.subplots(len(settings), 5, figsize=(12, 2.2 * len(settings)))
    numbers = {}
    for r, (name, layers) in enumerate(results.items()):
        numbers[name] = []
        for i, a in enumerate(layers):
            hi = 1.0 if name.startswith("sigmoid") else max(float(np.percentile(a, 99.5)), 1e-3)
            counts, edges = np.histogram(a.ravel(), 30, range=(0, hi))
            axes[r, i].hist(a.ravel(), 30, range=(0, hi))
            axes[r, i].set_title(f"{name}: {i + 1}-layer", fontsize=8)
            axes[r, i].tick_params(labelsize=6)
            numbers[name].append({"layer": i + 1, "mean": float(a.mean()), "std": float(a.std()),
                                  "hist_counts": counts.tolist(), "hist_edges": edges.tolist()})
    fig.tight_layout()
    return fig, numbers


def _train_curve(model, opt, x, t, iters, batch, seed):
    loader = BatchLoader(x, t, batch, shuffle=True, seed=seed)
    losses, epoch = [], 0
    while len(losses) < iters:
        for xb, tb in loader:
            grads = model.gradient(xb, tb)
            opt.update(model.params, grads)
            losses.append(float(model.last_layer.loss))
            if len(losses) == iters:
                break
        epoch += 1
    return losses


def optimizer_comparison(seed=0, iters=400):
    """The book's optimizer_compare_mnist.py on digits: MLP 4x100, batch 64, book learning rates."""
    (x, t), _ = _digits()
    opts = {"SGD": optimizers.SGD(lr=0.01), "Momentum": optimizers.Momentum(lr=0.01),
            "AdaGrad": optimizers.AdaGrad(lr=0.01), "RMSprop": optimizers.RMSprop(lr=0.001),
            "Adam": optimizers.Adam(lr=0.001)}
    curves = {}
    for name, opt in opts.items():
        model = MultiLayerNet(64, [100, 100, 100, 100], 10, seed=seed)
        curves[name] = _train_curve(model, opt, x, t, iters, 64, seed)
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 4))
    k = 10
    for name, c in curves.items():
        smooth = np.convolve(c, np.ones(k) / k, mode="valid")
        ax.plot(np.arange(len(smooth)) + k // 2, smooth, label=name)
    ax.set_xlabel("iteration")
    ax.set_ylabel(f"training loss (moving average of {k})")
    ax.set_yscale("log")
    ax.legend()
    ax.set_title("optimizers on the digits MLP (64-100-100-100-100-10)")
    fig.tight_layout()
    return fig, {"iterations": iters, "losses": curves}


def overfit(seed=0, epochs=150, n_train=300):
    """Train/test accuracy on a 300-image subset: plain, L2 (lambda 0.1), dropout 0.15."""
    (x, t), (xt, tt) = _digits()
    x, t = x[:n_train], t[:n_train]
    settings = {"no regularisation": dict(), "L2 weight decay 0.1": dict(weight_decay_lambda=0.1),
                "dropout 0.15": dict(use_dropout=True, dropout_ration=0.15)}
    curves = {}
    for name, kw in settings.items():
        model = MultiLayerNetExtend(64, [100] * 6, 10, seed=seed, **kw)
        opt = optimizers.SGD(lr=0.01)
        loader = BatchLoader(x, t, 100, shuffle=True, seed=seed)
        tr, te = [], []
        for _ in range(epochs):
            for xb, tb in loader:
                opt.update(model.params, model.gradient(xb, tb))
            tr.append(float(model.accuracy(x, t)))
            te.append(float(model.accuracy(xt, tt)))
        curves[name] = {"train_acc": tr, "test_acc": te}
    plt = _plt()
    fig, axes = plt.subplots(1, len(settings), figsize=(12, 3.5), sharey=True)
    for ax, (name, c) in zip(axes, curves.items()):
        ax.plot(c["train_acc"], label="train")
        ax.plot(c["test_acc"], label="test")
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("epoch")
        ax.legend()
    axes[0].set_ylabel("accuracy")
    fig.suptitle(f"overfitting: MLP 6x100 on {n_train} training images", fontsize=9)
    fig.tight_layout()
    return fig, {"epochs": epochs, "n_train": n_train, "curves": curves}


def batchnorm(seed=0, iters=200, scales=(1.0, 0.3, 0.1, 0.03, 0.01, 0.003)):
    """The book's batch_norm_test.py on digits: MLP 5x100, SGD lr 0.01, with/without BN."""
    (x, t), _ = _digits()
    x, t = x[:1000], t[:1000]
    curves = {}
    for s in scales:
        for bn in (False, True):
            model = MultiLayerNetExtend(64, [100] * 5, 10, weight_init_std=s, use_batchnorm=bn, seed=seed)
            opt = optimizers.SGD(lr=0.01)
            loader = BatchLoader(x, t, 100, shuffle=True, seed=seed)
            acc, it = [], 0
            while it < iters:
                for xb, tb in loader:
                    opt.update(model.params, model.gradient(xb, tb))
                    it += 1
                    if it % 10 == 0:
                        acc.append(float(model.accuracy(x, t)))
                    if it == iters:
                        break
            curves[f"std {s}, {'with' if bn else 'without'} batch norm"] = acc
    plt = _plt()
    fig, axes = plt.subplots(2, (len(scales) + 1) // 2, figsize=(12, 6), sharey=True)
    for ax, s in zip(axes.ravel(), scales):
        for bn, style in ((True, "-"), (False, "--")):
            c = curves[f"std {s}, {'with' if bn else 'without'} batch norm"]
            ax.plot(np.arange(1, len(c) + 1) * 10, c, style, label="batch norm" if bn else "plain")
        ax.set_title(f"initial weight std {s}", fontsize=9)
        ax.set_xlabel("iteration")
        ax.legend(fontsize=7)
    fig.suptitle("batch normalisation: training accuracy on 1000 digits", fontsize=9)
    fig.tight_layout()
    return fig, {"iterations": iters, "accuracy_every_10_iterations": curves}


RUNNERS = {"init-histogram": init_histogram, "optimizers": optimizer_comparison, "overfit": overfit,
           "batchnorm": batchnorm}


def run_experiment(name, out, seed=0, **kw):
    """Run one experiment; writes OUT/NAME.png and OUT/NAME.json; returns their paths."""
    if name not in RUNNERS:
        raise ValueError(f"unknown experiment {name!r} (choose from {', '.join(NAMES)})")
    fig, numbers = RUNNERS[name](seed=seed, **kw)
    os.makedirs(out, exist_ok=True)
    png, js = os.path.join(out, f"{name}.png"), os.path.join(out, f"{name}.json")
    fig.savefig(png, dpi=100)
    _plt().close(fig)
    with open(js, "w") as f:
        json.dump(numbers, f)
    return png, js
