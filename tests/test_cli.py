"""The nnkern command end to end, in subprocesses, with tiny settings."""
import argparse
import gzip
import json
import os
import struct
import subprocess
import sys

import numpy as np
import pytest
from nnkern import data, train


def nnkern(*args, cwd):
    # The bench sets OPENBLAS_THREAD_TIMEOUT itself; nnkern's default wait policy (no user setting) is checked.
    unset = ("OPENBLAS_THREAD_TIMEOUT", "OMP_WAIT_POLICY", "GOMP_SPINCOUNT")
    env = {k: v for k, v in os.environ.items() if k not in unset}
    return subprocess.run([sys.executable, "-m", "nnkern", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300, env=env)


def assert_png(path):
    import matplotlib.image as mpimg
    assert os.path.getsize(path) > 1000
    img = mpimg.imread(path)
    assert img.ndim == 3 and img.shape[0] > 100 and img.shape[1] > 100


@pytest.mark.slow
@pytest.mark.parametrize("model,optimizer,extra", [
    ("simple-cnn", "adam", []),
    ("mlp", "momentum", ["--batchnorm", "--dropout", "0.1", "--weight-decay", "1e-4"]),
    ("deep-cnn", "adamw", []),
])
def test_train_writes_history_plot_and_checkpoint(tmp_path, model, optimizer, extra):
    out = tmp_path / "run"
    r = nnkern("train", "--model", model, "--optimizer", optimizer, "--epochs", "2", "--no-progress",
               "--out", str(out), *extra, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    hist = json.loads((out / "history.json").read_text())
    assert len(hist["epochs"]) == 2
    assert hist["epochs"][-1]["test_acc"] > 0.3  # ten classes: chance is 0.1
    assert_png(out / "training.png")
    # the checkpoint restores the trained network: a fresh model of the same settings that loads
    # it scores the final test accuracy again, exactly (evaluation is deterministic)
    (_, _), (x_test, t_test) = data.load_data(None)
    model = train.build_model(argparse.Namespace(**hist["args"]), x_test.shape[1:], 10)
    model.load_params(str(out / "checkpoint.npz"))
    assert train.evaluate(model, x_test, t_test)[1] == hist["epochs"][-1]["test_acc"]


@pytest.mark.slow
def test_train_default_settings_reach_stated_accuracy(tmp_path):
    """The README's claim: the default run reaches >= 95% test accuracy on the digits."""
    r = nnkern("train", "--no-progress", "--out", str(tmp_path / "run"), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    hist = json.loads((tmp_path / "run" / "history.json").read_text())
    assert hist["epochs"][-1]["test_acc"] >= 0.95


def write_idx_images(path, images, magic=0x00000803):
    n, h, w = images.shape
    data = struct.pack(">IIII", magic, n, h, w) + images.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(data) if str(path).endswith(".gz") else data)


def write_idx_labels(path, labels):
    path.write_bytes(struct.pack(">II", 0x00000801, len(labels)) + labels.astype(np.uint8).tobytes())


def make_mnist(folder, n_train=60, n_test=20, corrupt=False):
    rng = np.random.default_rng(0)
    folder.mkdir()
    for split, n in (("train", n_train), ("t10k", n_test)):
        labels = rng.integers(0, 10, n)
        images = rng.integers(0, 40, (n, 28, 28)) + labels[:, None, None] * 20  # learnable
        write_idx_images(folder / f"{split}-images-idx3-ubyte.gz", images)
        write_idx_labels(folder / f"{split}-labels-idx1-ubyte", labels)
    if corrupt:
        f = folder / "train-labels-idx1-ubyte"
        f.write_bytes(f.read_bytes()[:-5])  # truncated
    return folder


def test_train_on_local_mnist_files(tmp_path):
    data = make_mnist(tmp_path / "mnist")
    r = nnkern("train", "--model", "mlp", "--epochs", "1", "--no-progress", "--data", str(data),
               "--out", str(tmp_path / "run"), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert json.loads((tmp_path / "run" / "history.json").read_text())["epochs"]


@pytest.mark.parametrize("args,message", [
    (["train", "--model", "resnet"], "unknown --model 'resnet'"),
    (["train", "--optimizer", "lbfgs"], "unknown --optimizer 'lbfgs'"),
    (["train", "--data", "/nonexistent/mnist"], "/nonexistent/mnist"),
    (["train", "--epochs", "0"], "--epochs must be >= 1"),
    (["train", "--lr", "-1"], "--lr must be > 0"),
    (["train", "--dropout", "1.5", "--model", "mlp"], "--dropout must be in [0, 1)"),
    (["train", "--epochs", "two"], "invalid int value"),
    (["experiment", "nope"], "unknown experiment 'nope'"),
    (["frobnicate"], "invalid choice"),
])
def test_bad_arguments_exit_2_with_one_line(tmp_path, args, message):
    r = nnkern(*args, cwd=tmp_path)
    assert r.returncode == 2
    assert message in r.stderr
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_corrupted_idx_exits_2_naming_the_file(tmp_path):
    data = make_mnist(tmp_path / "mnist", corrupt=True)
    r = nnkern("train", "--data", str(data), "--no-progress", "--out", str(tmp_path / "run"), cwd=tmp_path)
    assert r.returncode == 2
    assert "train-labels-idx1-ubyte" in r.stderr and "Traceback" not in r.stderr


def check_init_histogram(n):
    """The book's figures 6-10 to 6-14: sigmoid with std 1 saturates (activations near 0 and 1), std
    0.01 collapses to 0.5, Xavier stays in between; ReLU with He keeps its spread in every layer."""
    assert list(n) == ["sigmoid, std 1", "sigmoid, std 0.01", "sigmoid, Xavier", "ReLU, He"]
    assert all(len(layers) == 5 for layers in n.values())
    assert all(sum(layer["hist_counts"]) == 1000 * 100 for k in list(n)[:3] for layer in n[k])  # all in [0, 1]
    std5 = {k: layers[-1]["std"] for k, layers in n.items()}
    assert std5["sigmoid, std 0.01"] < 0.05 < std5["sigmoid, Xavier"] < 0.3 < std5["sigmoid, std 1"]
    assert min(layer["std"] for layer in n["ReLU, He"]) > 0.3


def check_optimizers(n):
    """Every rule lowers the loss over 400 iterations; plain SGD is the slowest (figure 6-9)."""
    assert n["iterations"] == 400 and list(n["losses"]) == ["SGD", "Momentum", "AdaGrad", "RMSprop", "Adam"]
    final = {k: np.mean(c[-50:]) for k, c in n["losses"].items()}
    for k, c in n["losses"].items():
        assert len(c) == 400 and np.isfinite(c).all() and final[k] < 0.5 * np.mean(c[:20]), k
    assert all(final["SGD"] > v for k, v in final.items() if k != "SGD")


def check_overfit(n):
    """Without regularisation the MLP fits its 300 training images; weight decay and dropout keep
    training accuracy below that (figures 6-20 to 6-23); all generalise beyond chance."""
    curves = n["curves"]
    assert n["epochs"] == 150 and all(len(c["train_acc"]) == len(c["test_acc"]) == 150 for c in curves.values())
    plain = curves["no regularisation"]["train_acc"][-1]
    assert plain >= 0.99
    assert curves["L2 weight decay 0.1"]["train_acc"][-1] < plain and curves["dropout 0.15"]["train_acc"][-1] < plain
    assert all(c["test_acc"][-1] > 0.6 for c in curves.values())


def check_batchnorm(n):
    """With a small initial weight std the plain MLP does not learn in 200 iterations, the one with
    batch normalisation does (figure 6-19)."""
    acc = n["accuracy_every_10_iterations"]
    assert n["iterations"] == 200 and len(acc) == 12 and all(len(c) == 20 for c in acc.values())
    for s in ("0.03", "0.01", "0.003"):
        assert acc[f"std {s}, with batch norm"][-1] >= 0.9 > 0.3 >= acc[f"std {s}, without batch norm"][-1], s


EXPERIMENTS = {"init-histogram": check_init_histogram, "optimizers": check_optimizers, "overfit": check_overfit,
               "batchnorm": check_batchnorm}


@pytest.mark.slow
@pytest.mark.parametrize("name", EXPERIMENTS)
def test_experiment_writes_png_and_numbers(tmp_path, name):
    r = nnkern("experiment", name, "--out", str(tmp_path), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert_png(tmp_path / f"{name}.png")
    EXPERIMENTS[name](json.loads((tmp_path / f"{name}.json").read_text()))


@pytest.mark.slow
def test_bench_writes_table_and_chart(tmp_path):
    r = nnkern("bench", "--family", "softmax", "--repeat", "1", "--budget", "0.2", "--out-dir", str(tmp_path),
               cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    table = (tmp_path / "bench.md").read_text()
    assert "| workload |" in table and "BLAS core" in table
    assert "OPENBLAS_THREAD_TIMEOUT=4" in table  # the bench restarted itself with the reference's BLAS quiet
    assert "kernel threads on nnkern's pool (idle workers sleep at once)" in table  # how its threads wait
    assert_png(tmp_path / "bench.png")
