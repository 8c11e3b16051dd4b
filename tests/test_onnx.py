"""nnkern.onnx.export: for every model kind, onnxruntime runs the exported graph and gives
nnkern's inference output (float32, rtol 1e-4); what cannot be exported fails naming the layer.

onnx.reference is not used as an oracle: its LRN is wrong in onnx 1.23 (it loops over the
batch axis); onnxruntime's CPU kernels are the runtime users deploy on.
"""
import numpy as np
import onnx_models as M
import pytest
from extras import importorskip
from nnkern import layers as L
from nnkern.models import Net
from nnkern.onnx import ExportError, export
from tolerances import assert_close

onnx = importorskip("onnx")
ort = importorskip("onnxruntime")


def run_onnx(path, x):
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (name,) = [i.name for i in sess.get_inputs()]
    return sess.run(None, {name: np.ascontiguousarray(x, dtype=np.float32)})[0]


def assert_matches(got, want, what):
    """rtol 1e-4, and an absolute 1e-5 of the largest output: onnxruntime (MLAS) and nnkern
    (OpenBLAS, its own kernels) sum float32 products in different orders, and a score that
    cancels to near zero keeps the rounding of its large partial sums."""
    want = np.asarray(want)
    assert_close(got, want, rtol=1e-4, atol=1e-5 * float(np.max(np.abs(want))), what=what)


CASES = [  # id, builder(rng) -> (model, x, export kwargs)
    ("mlp-relu", M.mlp),
    ("mlp-tanh", lambda rng: M.mlp(rng, "tanh")),
    ("mlp-extend-batchnorm-dropout-sigmoid", M.mlp_extend),
    ("simple-convnet-pad-stride", M.simple_convnet),
    ("deep-convnet", M.deep_convnet),
    ("layer-zoo-groups-lrn-pools-bn", M.layer_zoo),
    ("sequential-convnet-nhwc-sigmoid", M.sequential_convnet),
    ("sequential-flat-softmax", M.sequential_softmax),
    ("sequential-image-output", M.sequential_image_output),
    ("compat-mlp", M.compat_mlp),
    ("compat-mlp-extend-batchnorm-dropout", M.compat_mlp_extend),
    ("compat-simple-convnet", M.compat_simple_convnet),
    ("compat-deep-convnet", M.compat_deep_convnet),
    ("book-convnet-per-activation-bn", M.book_convnet),
    ("book-two-layer-net", M.two_layer_net),
    pytest.param("alexnet", M.alexnet, marks=pytest.mark.slow),
]


@pytest.mark.parametrize("name,build", CASES)
def test_onnxruntime_gives_nnkern_inference_output(name, build, rng, tmp_path):
    model, x, kw = build(rng)
    want = M.inference(model, x)
    path = tmp_path / "model.onnx"
    assert export(model, path, **kw) == path
    onnx.checker.check_model(str(path), full_check=True)
    assert_matches(run_onnx(path, x), want, name)


@pytest.mark.parametrize("opset", [13, 17, onnx.defs.onnx_opset_version()])
def test_opsets(opset, rng, tmp_path):
    for build in (M.layer_zoo, M.sequential_convnet, M.compat_mlp_extend):
        model, x, kw = build(rng)
        export(model, tmp_path / "m.onnx", opset=opset, **kw)
        proto = onnx.load(str(tmp_path / "m.onnx"))
        assert proto.opset_import[0].version == opset
        assert_matches(run_onnx(tmp_path / "m.onnx", x), M.inference(model, x), f"opset {opset}")


def _nodes(path, op_type):
    return [n for n in onnx.load(str(path)).graph.node if n.op_type == op_type]


def test_lrn_alpha_and_the_graph_layout(rng, tmp_path):
    model, _, _ = M.layer_zoo(rng)
    export(model, tmp_path / "m.onnx")
    alphas = [onnx.helper.get_attribute_value(next(a for a in n.attribute if a.name == "alpha"))
              for n in _nodes(tmp_path / "m.onnx", "LRN")]
    assert alphas == pytest.approx([2.0 * 3, 3.0])  # the paper's alpha times size; torch's as it is
    assert [n.op_type for n in _nodes(tmp_path / "m.onnx", "Mul")] == ["Mul"]  # the book's dropout only
    for n in _nodes(tmp_path / "m.onnx", "MaxPool") + _nodes(tmp_path / "m.onnx", "AveragePool"):
        assert {a.name: onnx.helper.get_attribute_value(a) for a in n.attribute}["ceil_mode"] == 0

    seq, _, _ = M.sequential_convnet(rng)
    export(seq, tmp_path / "s.onnx")
    proto = onnx.load(str(tmp_path / "s.onnx"))
    assert proto.graph.node[0].op_type == "Transpose"  # channels-last input, NCHW body
    dims = [d.dim_value or d.dim_param for d in proto.graph.input[0].type.tensor_type.shape.dim]
    assert dims == ["N", 13, 11, 3]


def test_dynamic_batch(rng, tmp_path):
    model, _, _ = M.simple_convnet(rng)
    export(model, tmp_path / "m.onnx")
    for n in (1, 7):
        x = rng.standard_normal((n, 2, 11, 9))
        assert_matches(run_onnx(tmp_path / "m.onnx", x), model.predict(x), f"batch {n}")


# -- what cannot be exported ---------------------------------------------------------------
class Square(L.Layer):
    def forward(self, x, train=True):
        return x * x


class WithSquare(Net):
    input_dim = None
    input_size = 4

    def __init__(self):
        super().__init__()
        self._add("Affine1", L.Affine(np.ones((4, 3), np.float32)), W="W1")
        self._add("Square1", Square())
        self._finish(L.SoftmaxWithLoss())


class WithEvenLRN(Net):
    input_dim = (4, 5, 5)

    def __init__(self):
        super().__init__()
        self._add("LRN7", L.LRN(size=4))
        self._add("Flatten", L.Flatten())
        self._finish(L.SoftmaxWithLoss())


def test_unsupported_layers_are_named(rng, tmp_path):
    with pytest.raises(ExportError, match=r"layer 'Square1' \(.*Square\).*no ONNX conversion"):
        export(WithSquare(), tmp_path / "m.onnx")
    with pytest.raises(ExportError, match=r"layer 'LRN7'.*even size \(4\)"):
        export(WithEvenLRN(), tmp_path / "m.onnx")
    book = M.TwoLayerNet(rng)
    book.layers["Square"] = Square()
    with pytest.raises(ExportError, match="layer 'Square'"):
        export(book, tmp_path / "m.onnx")
    assert not list(tmp_path.iterdir())  # nothing written, no temporary file left


def test_bad_requests(rng, tmp_path):
    model, _, kw = M.compat_simple_convnet(rng)
    with pytest.raises(ExportError, match="does not record its input size: pass input_shape"):
        export(model, tmp_path / "m.onnx")
    with pytest.raises(ExportError, match="layer 'Affine1': its W takes 64 features, the input has 100"):
        export(model, tmp_path / "m.onnx", input_shape=(1, 12, 12))
    with pytest.raises(ValueError, match=r"takes input of shape \(N, 12\)"):
        export(M.mlp(rng)[0], tmp_path / "m.onnx", input_shape=(13,))
    with pytest.raises(ValueError, match="opset must be an int from 13"):
        export(M.mlp(rng)[0], tmp_path / "m.onnx", opset=12)
    with pytest.raises(ExportError, match="cannot export a builtins.dict"):
        export({"W1": np.ones(3)}, tmp_path / "m.onnx")
    fresh = M.BookConvNet(rng)  # batch norm that never ran in training has no running statistics
    with pytest.raises(ExportError, match="'BatchNorm1'.*no running statistics"):
        export(fresh, tmp_path / "m.onnx", input_shape=(2, 6, 6))
