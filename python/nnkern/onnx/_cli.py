"""``nnkern export-onnx CHECKPOINT --out model.onnx``: the model of a checkpoint written by
``nnkern train`` or ``nnkern.save`` (.npz or .safetensors) as ONNX."""
import os


def add_arguments(ap):
    ap.add_argument("checkpoint", help="a checkpoint written by nnkern train or nnkern.save (.npz or .safetensors)")
    ap.add_argument("--out", default=None, help="the ONNX file to write (default: the checkpoint's name with .onnx)")
    ap.add_argument("--opset", type=int, default=None, help="ONNX opset (default 17)")


def run(args, log=print):
    try:
        import onnx  # noqa: F401
    except ImportError:
        raise ValueError("export-onnx needs the onnx package: pip install \"nnkern[onnx]\"") from None
    from .._model_config import load_model
    from . import DEFAULT_OPSET, export
    out = args.out or os.path.splitext(args.checkpoint)[0] + ".onnx"
    model = load_model(args.checkpoint)
    export(model, out, opset=args.opset or DEFAULT_OPSET)
    log(f"wrote {out}: {type(model).__name__} ({model.param_count():,} params), opset {args.opset or DEFAULT_OPSET}")
    return 0
