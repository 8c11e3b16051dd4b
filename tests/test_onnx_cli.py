"""``nnkern export-onnx CHECKPOINT`` on checkpoints of trained models, the model descriptions
that let a checkpoint rebuild its model, and the one-line errors for bad files."""
import json
import re
import subprocess
import sys
import zipfile

import nnkern
import numpy as np
import onnx_models as M
import pytest
from extras import importorskip
from nnkern import _model_config, checkpoint, data
from nnkern.checkpoint import CheckpointError
from nnkern.models import AlexNet, MultiLayerNetExtend
from nnkern.optimizers import Adam
from test_onnx import assert_matches, run_onnx

importorskip("onnx")
importorskip("onnxruntime")


def nnkern_cli(*args, cwd):
    return subprocess.run([sys.executable, "-m", "nnkern", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300)


def assert_one_line_error(r, pattern):
    assert r.returncode == 2, (r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("nnkern: error: "), r.stderr
    assert re.search(pattern, lines[0]), lines[0]


@pytest.mark.slow
def test_export_of_a_model_nnkern_train_trained(tmp_path):
    """2 epochs of `nnkern train`, then `nnkern export-onnx` on its checkpoint: onnxruntime
    gives the trained model's scores on the test images."""
    r = nnkern_cli("train", "--epochs", "2", "--no-progress", "--out", "run", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    r = nnkern_cli("export-onnx", "run/checkpoint.npz", "--out", "model.onnx", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "wrote model.onnx: SimpleConvNet" in r.stdout
    model = _model_config.load_model(tmp_path / "run" / "checkpoint.npz")
    _, (x_test, t_test) = data.load_digits()
    got = run_onnx(tmp_path / "model.onnx", x_test)
    assert_matches(got, model.predict(x_test), "trained simple-cnn")
    assert np.mean(np.argmax(got, axis=1) == t_test) == pytest.approx(
        json.loads((tmp_path / "run" / "history.json").read_text())["epochs"][-1]["test_acc"])


def _trained_mlp():
    """A MultiLayerNetExtend with batch norm and dropout trained 2 epochs (running statistics moved)."""
    (x, t), _ = data.load_digits()
    model = MultiLayerNetExtend(64, [32, 16], 10, use_batchnorm=True, use_dropout=True, dropout_ration=0.2, seed=0)
    opt = Adam(lr=1e-2)
    for epoch in range(2):
        for xb, tb in data.BatchLoader(x, t, batch_size=100, seed=epoch):
            opt.update(model.params, model.gradient(xb, tb))
    return model, opt


@pytest.mark.parametrize("suffix", [".npz", ".safetensors"])
def test_export_from_either_checkpoint_format(suffix, tmp_path):
    model, opt = _trained_mlp()
    nnkern.save(tmp_path / f"ckpt{suffix}", model, opt)
    r = nnkern_cli("export-onnx", f"ckpt{suffix}", cwd=tmp_path)  # --out defaults to ckpt.onnx
    assert r.returncode == 0, r.stderr
    _, (x_test, _) = data.load_digits()
    x_test = x_test.reshape(len(x_test), -1)  # the MLP's graph takes (N, 64), as its predict does
    assert_matches(run_onnx(tmp_path / "ckpt.onnx", x_test), model.predict(x_test), suffix)
    nnkern.onnx.export(str(tmp_path / f"ckpt{suffix}"), tmp_path / "api.onnx")  # the API takes a path too
    assert_matches(run_onnx(tmp_path / "api.onnx", x_test), model.predict(x_test), suffix + " api")


def test_bad_files_end_in_one_line_and_exit_2(tmp_path):
    (tmp_path / "notes.txt").write_text("not a checkpoint")
    assert_one_line_error(nnkern_cli("export-onnx", "notes.txt", cwd=tmp_path), "not a readable checkpoint")
    assert_one_line_error(nnkern_cli("export-onnx", "missing.npz", cwd=tmp_path), "No such file")
    model, opt = _trained_mlp()
    nnkern.save(tmp_path / "good.npz", model)
    blob = (tmp_path / "good.npz").read_bytes()
    (tmp_path / "cut.npz").write_bytes(blob[:len(blob) // 2])
    assert_one_line_error(nnkern_cli("export-onnx", "cut.npz", cwd=tmp_path), "cut.npz: not a readable checkpoint")
    nnkern.save(tmp_path / "good.safetensors", model)
    blob = (tmp_path / "good.safetensors").read_bytes()
    (tmp_path / "cut.safetensors").write_bytes(blob[:len(blob) - 100])
    assert_one_line_error(nnkern_cli("export-onnx", "cut.safetensors", cwd=tmp_path), "declares bytes")
    np.savez(tmp_path / "plain.npz", W1=np.ones(3))
    assert_one_line_error(nnkern_cli("export-onnx", "plain.npz", cwd=tmp_path), "not an nnkern checkpoint")
    nnkern.save(tmp_path / "custom.npz", M.LayerZoo(np.random.default_rng(0)))  # a class nnkern cannot describe
    assert_one_line_error(nnkern_cli("export-onnx", "custom.npz", cwd=tmp_path),
                          "does not describe its model.*nnkern.load")


# -- the model descriptions ------------------------------------------------------------------
DESCRIBED = [M.mlp, M.mlp_extend, M.simple_convnet, M.deep_convnet, M.sequential_convnet, M.sequential_softmax,
             M.sequential_image_output,
             pytest.param(lambda rng: (AlexNet(output_size=10, seed=5), rng.standard_normal((1, 3, 227, 227)), {}),
                          marks=pytest.mark.slow)]


@pytest.mark.parametrize("build", DESCRIBED)
def test_description_rebuilds_the_model(build, rng, tmp_path):
    model, x, _ = build(rng)
    description = _model_config.describe(model)
    json.dumps(description)  # it goes into a JSON header
    assert _model_config.implied_shapes(description) == {k: v.shape for k, v in model.params.items()}
    nnkern.save(tmp_path / "m.npz", model)
    again = _model_config.load_model(tmp_path / "m.npz")
    assert type(again) is type(model) and again.dtype == model.dtype
    assert [type(layer) for layer in again._pipeline] == [type(layer) for layer in model._pipeline]
    assert_matches(M.inference(again, x), M.inference(model, x), "rebuilt")


def _with_config(src, dst, edit):
    """A copy of checkpoint ``src`` whose header's model description went through ``edit``."""
    with zipfile.ZipFile(src) as z:
        members = {n: z.read(n) for n in z.namelist()}
    meta = json.loads(str(np.load(src)["__meta__"]))
    edit(meta["config"])
    arrays = dict(np.load(src))
    arrays["__meta__"] = np.array(json.dumps(meta))
    np.savez(dst, **arrays)
    assert set(zipfile.ZipFile(dst).namelist()) == set(members)


@pytest.mark.parametrize("build,edit,message", [
    (M.mlp, lambda c: c["kwargs"].update(hidden_size_list=[10**6, 10**6]), "does not fit the parameters in the file"),
    (M.simple_convnet, lambda c: c["kwargs"]["input_dim"].__setitem__(1, 4096), "does not fit the parameters"),
    (M.mlp, lambda c: c.update({"class": "os.system"}), "not one nnkern can rebuild"),
    (M.mlp, lambda c: c["kwargs"].update(hidden_size_list="abc"), "malformed model description"),
    (M.mlp, lambda c: c["kwargs"].update(hidden_size_list=list(range(1000))), "list of 1000 entries"),
    (M.mlp, lambda c: c.update(dtype="object"), "cannot be built"),
    (M.sequential_softmax, lambda c: c["kwargs"]["layers"][0].update({"class": "Lambda"}), "unknown Keras layer"),
])
def test_forged_descriptions_are_refused_before_building(build, edit, message, rng, tmp_path):
    """The parameter shapes a description implies are checked against the file's before any
    model is built, so a description cannot make nnkern allocate more than the file holds."""
    nnkern.save(tmp_path / "good.npz", build(rng)[0])
    _with_config(tmp_path / "good.npz", tmp_path / "forged.npz", edit)
    with pytest.raises(CheckpointError, match=message):
        _model_config.load_model(tmp_path / "forged.npz")


def test_checkpoint_header_records_the_description(rng, tmp_path):
    model = M.simple_convnet(rng)[0]
    nnkern.save(tmp_path / "m.npz", model)
    with checkpoint._open(tmp_path / "m.npz") as z:
        meta = checkpoint._read_meta(z)
    assert meta["config"] == {"class": "SimpleConvNet", "dtype": "float32", "kwargs": {
        "input_dim": [2, 11, 9], "conv_param": {"filter_num": 5, "filter_size": 3, "pad": 1, "stride": 2},
        "hidden_size": 6, "output_size": 3}}
