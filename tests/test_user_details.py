"""Small things a user of nnkern notices, each checked here: whose thread pool is whose in
``nnkern info``, the run's plot title, ``nnkern train`` failing early on an unwritable --out or
an out-of-range label, a short message for a forged IDX header, the Keras progress bar's loss,
the README snippet's resume, and ``nnkern-run/`` ignored by git."""
import os
import re

import numpy as np
import pytest
from nnkern.info import blas_pools, format_info, pool_owner

OWNERS = [  # (file of a pool's library, whose copy it is)
    ("/v/lib/python3.11/site-packages/scipy_openblas32/lib/libscipy_openblas.so", "nnkern"),
    ("/v/lib/python3.11/site-packages/numpy.libs/libscipy_openblas64_-32a4b2a6.so", "numpy"),
    ("/v/lib/python3.11/site-packages/nnkern.libs/libgomp-f9a9ad78.so.1.0.0", "nnkern"),
    ("/v/lib/python3.11/site-packages/torch/lib/libgomp.so.1", "torch"),
    ("/usr/lib/x86_64-linux-gnu/libgomp.so.1.0.0", "system"),
    (None, "system"),
]


@pytest.mark.parametrize("path,owner", OWNERS)
def test_pool_owner(path, owner):
    assert pool_owner(path) == owner


def test_info_says_whose_openblas_pool_is_whose():
    pools = [p for p in blas_pools() if p["internal_api"] == "openblas"]
    owners = {p["owner"] for p in pools}
    assert "nnkern" in owners  # nnkern's scipy-openblas32 is loaded by import nnkern
    lines = format_info().splitlines()
    for p in pools:
        line = next(ln for ln in lines if ln.rstrip().endswith(p["filepath"]))
        assert line.split()[0] == p["owner"]


# -- nnkern train: the plot title, --out checked first, labels out of range -------------------
def test_plot_title_names_the_data():
    from nnkern.train import run_title
    assert run_title({"model": "mlp", "optimizer": "sgd", "data": "/d/mnist"}) == \
        "nnkern train --model mlp --optimizer sgd --data /d/mnist"
    assert run_title({"model": "mlp", "optimizer": "sgd", "data": None}).endswith("(embedded digits)")


def test_unwritable_out_fails_before_training(tmp_path, capsys):
    from nnkern.cli import main
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    assert main(["train", "--out", str(blocker / "run"), "--no-progress"]) == 2
    out, err = capsys.readouterr()
    assert "--out" in err and str(blocker / "run") in err
    assert "epoch" not in out  # nothing was trained


LABELS = [  # (training labels, test labels, --num-classes, classes or the error's words)
    (np.arange(10), np.arange(10), None, 10),
    (np.r_[np.arange(10), 42], np.arange(10), None, "--num-classes"),
    (np.r_[np.arange(10), 42], np.arange(10), 43, 43),
    (np.arange(10), np.arange(10), 5, "out of range for --num-classes 5"),
    (np.r_[np.arange(10), -1], np.arange(10), None, "negative"),
]


@pytest.mark.parametrize("t_train,t_test,num_classes,want", LABELS)
def test_count_classes(t_train, t_test, num_classes, want):
    from nnkern.train import count_classes
    if isinstance(want, int):
        assert count_classes(t_train, t_test, num_classes) == want
    else:
        with pytest.raises(ValueError, match=want):
            count_classes(t_train, t_test, num_classes)


def test_out_of_range_label_exits_2_before_training(tmp_path, capsys):
    from nnkern.cli import main
    rng = np.random.default_rng(0)
    x = rng.random((40, 1, 8, 8), dtype=np.float32)
    t = np.arange(40) % 10
    t[7] = 42  # one bad label
    np.savez(tmp_path / "d.npz", x_train=x, t_train=t, x_test=x[:10], t_test=np.arange(10))
    assert main(["train", "--data", str(tmp_path / "d.npz"), "--out", str(tmp_path / "run"), "--no-progress"]) == 2
    out, err = capsys.readouterr()
    assert "label" in err and "--num-classes" in err and len(err) < 400
    assert "epoch" not in out


def test_nnkern_run_is_ignored_by_git():
    root = os.path.join(os.path.dirname(__file__), os.pardir)
    with open(os.path.join(root, ".gitignore"), encoding="utf-8") as f:
        assert "/nnkern-run/" in f.read().split()


# -- an IDX header of 153 dimensions gives a short message ------------------------------------
def test_idx_with_153_dims_gives_a_short_error(tmp_path):
    from nnkern.data import DataError
    from nnkern.data.idx import load_idx
    p = tmp_path / "forged-idx3-ubyte"
    p.write_bytes(bytes([0, 0, 0x08, 153]) + b"\xff\xff\xff\xff" * 153)
    with pytest.raises(DataError) as e:
        load_idx(p)
    msg = str(e.value)
    assert "153 dimensions" in msg and len(msg) < 300, msg


@pytest.mark.parametrize("n,shown", [(123, "123"), (10**15 - 1, "999999999999999"), (123456 * 10**20, "1.23e+25"),
                                     (-(10**30), "-1.00e+30")])
def test_brief_int(n, shown):
    from nnkern.data.errors import brief_int
    assert brief_int(n) == shown


# -- the Keras progress bar ends on the value History records ---------------------------------
def test_keras_progress_bar_ends_on_the_epoch_loss(capsys):
    from nnkern.keras import layers, models
    rng = np.random.default_rng(0)
    x, y = rng.random((70, 4), dtype=np.float32), rng.integers(0, 2, 70)
    model = models.Sequential([layers.Dense(8, activation="relu", input_shape=(4,)),
                               layers.Dense(1, activation="sigmoid")], seed=0)
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    hist = model.fit(x, y, batch_size=16, epochs=2, verbose=1, validation_data=(x, y))
    err = capsys.readouterr().err
    for epoch in range(2):
        shown = re.findall(rf"Epoch {epoch + 1}/2[^\n\r]*\bloss=([0-9.]+)", err)[-1]  # the bar's final state
        assert shown == f"{hist.history['loss'][epoch]:.4f}"


# -- the README's training snippet: seeded, and a resume bit-identical -----------------------
def _train(net, opt, loader, epochs):
    for _ in range(epochs):
        for xb, tb in loader:
            opt.update(net.params, net.gradient(xb, tb))


def test_resume_with_the_loader_epoch_is_bit_identical(tmp_path):
    import nnkern
    from nnkern.models import SimpleConvNet
    from nnkern.optimizers import Adam
    (x, t), _ = nnkern.data.load_digits()
    x, t = x[:300], t[:300]

    def fresh():
        return (SimpleConvNet(input_dim=(1, 8, 8), weight_init_std="he", seed=0), Adam(lr=1e-3),
                nnkern.data.BatchLoader(x, t, batch_size=50, seed=0))
    net, opt, loader = fresh()
    _train(net, opt, loader, 2)
    nnkern.save(tmp_path / "ckpt.npz", net, opt)
    _train(net, opt, loader, 1)
    net2, opt2, loader2 = fresh()
    nnkern.load(tmp_path / "ckpt.npz", net2, opt2)
    loader2.epoch = 2  # as the README says
    _train(net2, opt2, loader2, 1)
    for k in net.params:
        assert np.array_equal(net.params[k], net2.params[k]), k
