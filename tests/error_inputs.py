"""ERROR_INPUTS[op] -> the bad inputs of each public op, and what each must raise.

As PyTorch's OpInfo ``error_inputs``: one ``ErrorInput(args, kwargs, exc, match, kind)`` per
line; calling ``op(*args, **kwargs)`` must raise ``exc`` (or a subclass) with a message that
``re.search``-es ``match``. ``kind`` is the class of defect the case guards (see KINDS).
tests/test_error_inputs.py runs the whole table in one subprocess that reports case by case,
so a crash (segfault, abort) fails that case and the run goes on with the next one.

The ops are ``nnkern.functional``'s, plus the optimizers' update (``optim.<rule>``) and the
file readers (``file.<reader>``), resolved by :func:`resolve`.
"""
import atexit
import os
import pickle
import shutil
import tempfile

import numpy as np
from sample_inputs import W4, X4, E, derived_error_inputs, f32, readonly, unaligned

KINDS = {
    "dtype": "wrong or mixed dtypes",
    "shape": "wrong rank, mismatched or empty shapes",
    "value": "parameters out of range (zero/negative sizes, padding over the window, p >= 1 ...)",
    "layout": "non-contiguous or read-only arrays where they are written in place",
    "alias": "outputs or updated state overlapping another argument",
    "type": "arguments of the wrong Python type (None, float for int, ...)",
    "file": "broken, hostile or oversized files",
    "overflow": "hyper-parameters or sizes whose arithmetic would overflow int64",
    "alloc": "sizes that would allocate absurd memory before being checked",
    "alignment": "arrays not aligned to their element size (views at odd byte offsets)",
}


XB = f32(12, 3)  # batch-norm input whose rows double as (overlapping) running statistics
ROW8 = np.arange(8, dtype=np.float32).reshape(1, 1, 1, 8)
BIG = 2**63 - 3  # the paddings: 2 * BIG overflowed int64 in the old checks

_TMP = tempfile.mkdtemp(prefix="nnk-error-inputs-")
atexit.register(shutil.rmtree, _TMP, True)


def _file(data, suffix):
    fd, path = tempfile.mkstemp(suffix=suffix, dir=_TMP)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    return path


class _Evil:
    def __reduce__(self):
        return (os.system, ("true",))


ERROR_INPUTS = {
    "conv2d": [
        E((X4.astype(np.float16), W4), {}, TypeError, "x must be float32 or float64, got float16", "dtype"),
        E((X4, W4.astype(np.float64)), {}, TypeError, "mixed dtypes are not supported", "dtype"),
        E((X4[0], W4), {}, ValueError, "x must be 4-D", "shape"),
        E((X4, f32(4, 2, 3, 3)), {}, ValueError, "channel", "shape"),
        E((X4, W4, f32(5)), {}, ValueError, "bias", "shape"),
        E((X4, W4), {"stride": 0}, ValueError, "stride", "value"),
        E((X4, W4), {"padding": -1}, ValueError, "padding", "value"),
        E((X4, W4), {"dilation": 0}, ValueError, "dilation", "value"),
        E((X4, f32(4, 1, 3, 3)), {"groups": 2}, ValueError, "groups", "value"),
        E((X4, f32(4, 3, 7, 7)), {}, ValueError, "larger than|output", "value"),
        E((X4, W4), {"stride": 1.5}, TypeError, "stride must be an int or a pair of ints", "type"),
        E((None, W4), {}, TypeError, "", "type"),
        E((ROW8, f32(1, 1, 1, 1)), {"stride": (1, 3), "padding": (0, BIG)}, OverflowError,
          "padding 9223372036854775805 is larger than 2\\^31", "overflow"),
        E((X4, W4), {"dilation": 2**40}, OverflowError, "dilation .* is larger than 2\\^31", "overflow"),
        E((X4, f32(4, 1, 3, 3)), {"groups": 2**40}, OverflowError, "groups .* is larger than 2\\^31", "overflow"),
        E((X4, W4), {"padding": 2**64}, OverflowError, "padding 18446744073709551616 does not fit", "overflow"),
    ],
    "conv2d_backward": [
        E((f32(2, 4, 5, 5), X4, W4), {}, ValueError, "grad_out", "shape"),
        E((f32(2, 4, 4, 4).astype(np.float64), X4, W4), {}, TypeError, "dtype", "dtype"),
    ],
    "im2col": [
        E((X4[0], (3, 3)), {}, ValueError, "4-D", "shape"),
        E((X4, (1 << 31, 1 << 31)), {}, ValueError, "larger than the padded input", "alloc"),
        E((X4, (1 << 40, 3)), {}, OverflowError, "kernel_size .* is larger than 2\\^31", "overflow"),
        E((X4, (0, 3)), {}, ValueError, "kernel", "value"),
        E((X4, (7, 7)), {}, ValueError, "larger than|output", "value"),
    ],
    "col2im": [
        E((f32(1, 1), (1, 1, 4, 4), (1 << 31, 1 << 31)), {}, ValueError, "larger than the padded input", "alloc"),
        E((f32(10, 27), (2, 3, 6, 6), (3, 3)), {}, ValueError, "cols", "shape"),
        E((f32(32, 27), (2, 3, 6), (3, 3)), {}, ValueError, "input_shape", "shape"),
    ],
    "max_pool2d": [
        E((X4.astype(np.int32), 2), {}, TypeError, "float32 or float64", "dtype"),
        E((X4, 0), {}, ValueError, "kernel_size must be positive", "value"),
        E((X4, 2), {"stride": 0}, ValueError, "stride must be positive", "value"),
        E((X4, 2), {"padding": 2}, ValueError, "padding .* must be at most half of kernel_size", "value"),
        E((f32(1, 1, 0, 4), 1), {}, ValueError, "input planes must not be empty", "shape"),
        E((X4, 7), {}, ValueError, "larger than the padded input", "value"),
        E((X4, (2, 2, 2)), {}, TypeError, "kernel_size must be an int or a pair", "type"),
        E((ROW8, 1, 1, (0, BIG)), {}, OverflowError, "padding .* is larger than 2\\^31", "overflow"),
        E((f32(2, 1, 128, 128), (1, 1 << 40), 1, (0, 1 << 39)), {}, OverflowError,
          "kernel_size 1099511627776 is larger than 2\\^31", "overflow"),
    ],
    "max_pool2d_backward": [
        E((f32(1, 1, 2, 2), np.zeros((1, 1, 2, 2), np.int32), (1, 1, 4, 4)), {}, TypeError, "indices must be int64",
          "dtype"),
        E((f32(1, 1, 2, 2), np.full((1, 1, 2, 2), 16, np.int64), (1, 1, 4, 4)), {}, ValueError,
          "outside \\[0, H\\*W\\)", "value"),
        E((f32(1, 1, 2, 2), np.zeros((1, 1, 2, 2), np.int64), (1, 1, 4)), {}, ValueError, "input_shape", "shape"),
        E((f32(1, 1, 2, 2), np.zeros((1, 1, 3, 2), np.int64), (1, 1, 4, 4)), {}, ValueError, "indices", "shape"),
        E((f32(1, 1, 1, 1), np.zeros((1, 1, 1, 1), np.int64), (1, 1, 1 << 30, 1 << 29)), {}, ValueError,
          "input planes of 2\\^31 - 1 elements or more are not supported", "alloc"),
        E((f32(1, 1, 1, 1), np.zeros((1, 1, 1, 1), np.int64), (1, 1, 1 << 40, 1 << 40)), {}, OverflowError,
          "sizes are too large", "overflow"),
        E((f32(1, 1, 5, 5), np.zeros((1, 1, 5, 5), np.int64), (1, 1, 3, 3)), {}, ValueError,
          "cannot come from input planes", "shape"),
    ],
    "avg_pool2d": [
        E((X4, 2), {"padding": (0, 2)}, ValueError, "must be at most half of kernel_size", "value"),
        E((ROW8, 1, 1, (0, BIG)), {}, OverflowError, "padding .* is larger than 2\\^31", "overflow"),
        E((ROW8, 1, 1, (0, 2**63 - 1)), {}, OverflowError, "padding .* is larger than 2\\^31", "overflow"),
        E((X4, -1), {}, ValueError, "kernel_size must be positive", "value"),
        E((X4[0], 2), {}, ValueError, "4-D", "shape"),
    ],
    "avg_pool2d_backward": [
        E((f32(2, 3, 2, 2), (2, 3, 6, 6), 2), {}, ValueError, "grad_out must have shape", "shape"),
        E((f32(2, 3, 3, 3), (2, 3, 6, 6, 1), 2), {}, ValueError, "input_shape", "shape"),
    ],
    "batch_norm": [
        E((X4, f32(2), f32(3, fill=1)), {}, ValueError, "running_mean", "shape"),
        E((X4, readonly(f32(3)), f32(3, fill=1)), {"training": True}, ValueError, "read-only", "layout"),
        E((X4, f32(6)[::2], f32(3, fill=1)), {"training": True}, ValueError, "contiguous", "layout"),
        E((X4, f32(3).astype(np.float64), f32(3, fill=1)), {}, TypeError, "dtype", "dtype"),
        E((X4, None, None), {"training": False}, ValueError, "running", "type"),
        E((X4, f32(3), f32(3, fill=1)), {"eps": -1.0}, ValueError, "eps", "value"),
        E((XB, XB.reshape(-1)[:3], XB.reshape(-1)[3:6]), {"training": True}, ValueError,
          "share memory; the running statistics are updated in place", "alias"),
        E((f32(4, 3), unaligned(3), f32(3, fill=1)), {"training": True}, ValueError, "running_mean is not aligned",
          "alignment"),
    ],
    "batch_norm_forward": [
        E((X4, f32(3), f32(3, fill=1), f32(4), None, True), {}, ValueError, "weight", "shape"),
        E((X4, f32(3), f32(3, fill=1), None, None, True), {"momentum": float("nan")}, ValueError, "momentum",
          "value"),
    ],
    "batch_norm_backward": [
        E((f32(2, 3, 5, 5), X4, None, f32(3), f32(3)), {}, ValueError, "grad_out", "shape"),
        E((X4, X4, None, f32(4), f32(3)), {}, ValueError, "save_mean", "shape"),
    ],
    "local_response_norm": [
        E((X4,), {"size": 0}, ValueError, "size", "value"),
        E((X4,), {"size": 2**62}, OverflowError, "size .* is larger than 2\\^31", "overflow"),
        E((X4[0, 0],), {}, ValueError, "4-D", "shape"),
        E((X4.astype(np.int64),), {}, TypeError, "float32 or float64", "dtype"),
    ],
    "local_response_norm_backward": [
        E((f32(2, 3, 6, 5), X4), {}, ValueError, "grad_out", "shape"),
    ],
    "relu": [E((np.arange(4),), {}, TypeError, "float32 or float64", "dtype")],
    "relu_backward": [E((f32(3), f32(4)), {}, ValueError, "shape", "shape")],
    "sigmoid": [E((np.arange(4, dtype=np.float16),), {}, TypeError, "float32 or float64", "dtype")],
    "sigmoid_backward": [E((f32(3), f32(3).astype(np.float64)), {}, TypeError, "dtype", "dtype")],
    "tanh": [E((np.array([1 + 2j]),), {}, TypeError, "float32 or float64", "dtype")],
    "tanh_backward": [E((f32(2, 3), f32(3, 2)), {}, ValueError, "shape", "shape")],
    "softmax": [E((f32(2, 3),), {"axis": 2}, ValueError, "axis", "value")],
    "softmax_backward": [E((f32(2, 3), f32(2, 4)), {}, ValueError, "shape", "shape")],
    "dropout": [
        E((f32(4),), {"p": 1.0}, ValueError, "p must be in \\[0, 1\\)", "value"),
        E((f32(4),), {"p": -0.1}, ValueError, "p must be in \\[0, 1\\)", "value"),
        E((f32(4),), {"seed": -1}, ValueError, "seed must be in \\[0, 2\\*\\*64\\)", "value"),
        E((f32(4),), {"seed": True}, TypeError, "seed must be an int", "type"),
    ],
    "dropout_backward": [
        E((f32(4), np.ones(3, np.uint8)), {}, ValueError, "mask", "shape"),
        E((f32(4), np.ones(4, np.float32)), {}, TypeError, "mask", "dtype"),
        E((f32(4), None), {}, TypeError, "mask must be the uint8 .* got None", "type"),
    ],
    "affine": [
        E((f32(2, 3), f32(4, 5)), {}, ValueError, "weight", "shape"),
        E((f32(2, 3), f32(3, 5), f32(4)), {}, ValueError, "bias", "shape"),
        E((f32(3), f32(3, 5)), {}, ValueError, "x", "shape"),
    ],
    "affine_backward": [
        E((f32(2, 4), f32(2, 3), f32(3, 5)), {}, ValueError, "grad_out", "shape"),
    ],
    "softmax_cross_entropy": [
        E((f32(2, 3), np.array([0, 3])), {}, ValueError, "labels must be in \\[0, 3\\), got 3 at index 1", "value"),
        E((f32(2, 3), np.array([0, 1, 2])), {}, ValueError, "target", "shape"),
        E((f32(2, 3), np.array([0.5, 1.0])), {}, TypeError, "target", "dtype"),
    ],
    "softmax_cross_entropy_backward": [
        E((f32(2, 3), np.array([0, 1, 2])), {}, ValueError, "target", "shape"),
    ],
    "optim.sgd": [
        E(({"W": [1.0, 2.0]}, {"W": f32(2)}), {}, TypeError, "must be a numpy.ndarray", "type"),
        E(({"W": readonly(f32(2))}, {"W": f32(2)}), {}, ValueError, "read-only", "layout"),
        E(({"W": f32(4)[::2]}, {"W": f32(2)}), {}, ValueError, "C-contiguous", "layout"),
        E(({"W": f32(2)}, {"W": f32(3)}), {}, ValueError, "shape", "shape"),
        E(({"W": f32(2)}, {"W": f32(2).astype(np.float64)}), {}, TypeError, "mixed dtypes", "dtype"),
        E(({"W": f32(2)}, {"V": f32(2)}), {}, ValueError, "", "shape"),
        E(({"W": f32(2)}, {"W": f32(2)}), {"lr": -1.0}, ValueError, "lr must be positive", "value"),
        E(({"W": unaligned(2)}, {"W": f32(2)}), {}, ValueError, "is not aligned", "alignment"),
    ],
    "optim.adam": [
        E(({"W": f32(4), "V": f32(4)},), {"alias": ("W", "V")}, ValueError, "share memory", "alias"),
        E(({"W": f32(2)}, {"W": f32(2)}), {"beta1": 1.0}, ValueError, "beta1", "value"),
    ],
    "core.relu_forward": [E((unaligned(5),), {}, ValueError, "x is not aligned to its 4-byte elements", "alignment")],
    "core._gemm": [E((unaligned(2, 3), f32(3, 4), np.zeros((2, 4), np.float32)), {}, ValueError,
                     "a is not aligned to its 4-byte elements", "alignment")],
    "data.gather_batch": [
        E((X4, np.array([0, 1]), X4), {}, ValueError, "out and src share memory", "alias"),
        E((X4, np.array([0, 1]), unaligned(2, 3, 6, 6)), {}, ValueError, "out is not aligned", "alignment"),
    ],
    "file.load": [
        E((_file(b"PK\x03\x04 not a zip", ".npz"),), {}, "CheckpointError", "not a readable checkpoint", "file"),
        E((_file(b"", ".npz"),), {}, "CheckpointError", "not a readable checkpoint", "file"),
    ],
    "file.load_pickle_params": [
        E((_file(pickle.dumps({"W": _Evil()}), ".pkl"),), {}, "UnsafePickleError", "refusing to unpickle", "file"),
        E((_file(pickle.dumps({"W": np.zeros(3)})[:-5], ".pkl"),), {}, "CheckpointError", "not a readable", "file"),
    ],
    "file.load_idx": [
        E((_file(b"\x00\x00\x08\x01\x00\x00\x00\x05ab", ".idx"),), {}, "DataError", "truncated IDX file", "file"),
        E((_file(b"\x1f\x8b\x08\x00garbage", ".gz"),), {}, "DataError", "corrupted gzip data", "file"),
    ],
}



for _op, _cases in derived_error_inputs().items():
    ERROR_INPUTS[_op].extend(_cases)


def _optim(rule):
    def update(params, grads=None, alias=None, **hyper):
        from nnkern import optimizers
        cls = {"sgd": optimizers.SGD, "adam": optimizers.Adam}[rule]
        if alias is not None:  # the two entries share memory: the second is a view of the first
            a, b = alias
            params = dict(params)
            params[b] = params[a][:]
            grads = {k: np.ones_like(v) for k, v in params.items()}
        return cls(**hyper).update(params, grads)
    return update


def _file_reader(name):
    def read(*args, **kwargs):
        import nnkern
        from nnkern.data import datasets
        fn = {"load": lambda p: nnkern.load(p, nnkern.models.MultiLayerNet(2, [2], 2)),
              "load_pickle_params": nnkern.load_pickle_params, "load_idx": datasets.load_idx}[name]
        return fn(*args, **kwargs)
    return read


def resolve(op):
    """The callable of an ERROR_INPUTS key."""
    if op.startswith("core."):
        from nnkern import _core
        return getattr(_core, op[len("core."):])
    if op.startswith("data."):
        from nnkern.data import pipeline
        return getattr(pipeline, op[len("data."):])
    if op.startswith("optim."):
        return _optim(op[len("optim."):])
    if op.startswith("file."):
        return _file_reader(op[len("file."):])
    import nnkern.functional as F
    return getattr(F, op)


def exception_class(exc):
    """ErrorInput.exc may name an nnkern exception class (resolved late, in the subprocess)."""
    if not isinstance(exc, str):
        return exc
    from nnkern.checkpoint import CheckpointError, UnsafePickleError
    from nnkern.data import DataError
    return {"CheckpointError": CheckpointError, "UnsafePickleError": UnsafePickleError, "DataError": DataError}[exc]


def case_ids():
    return [f"{op}[{i}]" for op, cases in ERROR_INPUTS.items() for i in range(len(cases))]


def case(case_id):
    op, i = case_id[:-1].split("[")
    return op, ERROR_INPUTS[op][int(i)]


def run_cases(ids, out):
    """Run the cases, writing 'start <id>' before and one JSON result line after each."""
    import json
    import re
    for cid in ids:
        out.write(f"start {cid}\n")
        out.flush()
        op, c = case(cid)
        exc = exception_class(c.exc)
        try:
            resolve(op)(*c.args, **c.kwargs)
            res = {"id": cid, "raised": None}
        except BaseException as e:  # noqa: BLE001 - KeyboardInterrupt too: reported, not swallowed silently
            res = {"id": cid, "raised": type(e).__name__, "message": str(e)[:2000],
                   "ok_type": isinstance(e, exc), "ok_match": re.search(c.match, str(e)) is not None}
        out.write(json.dumps(res) + "\n")
        out.flush()


if __name__ == "__main__":
    import sys
    run_cases(sys.stdin.read().split(), sys.stdout)
