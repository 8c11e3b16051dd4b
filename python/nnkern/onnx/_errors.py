"""The exception of nnkern.onnx (importable without the onnx package)."""


class ExportError(ValueError):
    """A model (or one of its layers) that nnkern cannot write as ONNX; the message names the layer."""


ExportError.__module__ = "nnkern.onnx"
