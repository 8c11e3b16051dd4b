"""The shared pieces of tests/error_inputs.py: ErrorInput, array makers (f32, readonly,
unaligned), and SAMPLE_INPUTS, one valid call per public op of nnkern.functional, from which
derived_error_inputs() makes hostile variants (tests/test_error_inputs.py and
tests/test_unpickled_arrays.py use the samples too)."""
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class ErrorInput:
    args: tuple
    kwargs: dict = field(default_factory=dict)
    exc: type = ValueError
    match: str = ""
    kind: str = "value"


def f32(*shape, fill=None):
    a = np.random.default_rng(sum(shape) + len(shape)).standard_normal(shape).astype(np.float32)
    return a if fill is None else np.full(shape, fill, np.float32)


def readonly(a):
    a = a.copy()
    a.flags.writeable = False
    return a


def unaligned(*shape, dtype=np.float32):
    """A C-contiguous array one byte off its element alignment (a view into a byte buffer)."""
    n = int(np.prod(shape)) * np.dtype(dtype).itemsize
    a = np.zeros(n + 1, np.uint8)[1:].view(dtype).reshape(shape)
    assert not a.flags.aligned
    return a


E = ErrorInput
X4 = f32(2, 3, 6, 6)
W4 = f32(4, 3, 3, 3)


# One valid call per public op: derived_error_inputs() turns each into hostile variants, and
# tests/test_error_inputs.py checks that the wrappers copy unaligned inputs.
_IDX = np.random.default_rng(0).permutation(9).reshape(1, 1, 3, 3).astype(np.int64)  # a 3x3 plane's indices
SAMPLE_INPUTS = {
    "conv2d": (X4, W4), "conv2d_backward": (f32(2, 4, 4, 4), X4, W4), "im2col": (X4, (3, 3)),
    "col2im": (f32(32, 27), (2, 3, 6, 6), (3, 3)), "max_pool2d": (X4, 2),
    "max_pool2d_backward": (f32(1, 1, 3, 3), _IDX, (1, 1, 3, 3)), "avg_pool2d": (X4, 2),
    "avg_pool2d_backward": (f32(2, 3, 3, 3), (2, 3, 6, 6), 2), "batch_norm": (X4, f32(3), f32(3, fill=1)),
    "batch_norm_forward": (X4, f32(3), f32(3, fill=1), f32(3), f32(3), True),
    "batch_norm_backward": (X4, X4, f32(3), f32(3), f32(3, fill=1)), "local_response_norm": (X4,),
    "local_response_norm_backward": (X4, X4), "relu": (f32(5),), "relu_backward": (f32(5), f32(5)),
    "sigmoid": (f32(5),), "sigmoid_backward": (f32(5), f32(5)), "tanh": (f32(5),), "tanh_backward": (f32(5), f32(5)),
    "softmax": (f32(2, 3),), "softmax_backward": (f32(2, 3), f32(2, 3)), "dropout": (f32(4),),
    "dropout_backward": (f32(4), np.ones(4, np.uint8)), "affine": (f32(2, 3), f32(3, 5), f32(5)),
    "affine_backward": (f32(2, 5), f32(2, 3), f32(3, 5)), "softmax_cross_entropy": (f32(2, 3), np.array([0, 2])),
    "softmax_cross_entropy_backward": (f32(2, 3), np.array([0, 2])),
}

OPTIONAL = {("batch_norm_forward", 3), ("batch_norm_forward", 4), ("batch_norm_backward", 2), ("affine", 2)}  # None ok
INPLACE = {("batch_norm", 1), ("batch_norm", 2), ("batch_norm_forward", 1), ("batch_norm_forward", 2)}  # never copied


def derived_error_inputs():
    """Every array argument of every sample replaced by None, and by a float16 array of its
    values: each must be a TypeError or ValueError (never AttributeError, IndexError, a crash).
    And every float array argument in the other byte order ('>f4'): a TypeError that says so
    (never read as if native; integer labels are converted by value, see test_unpickled_arrays)."""
    out = {}
    for op, args in SAMPLE_INPUTS.items():
        for i, a in enumerate(args):
            if isinstance(a, np.ndarray):
                for bad in ((a.astype(np.float16),) if (op, i) in OPTIONAL else (None, a.astype(np.float16))):
                    kind = "type" if bad is None else "dtype"
                    out.setdefault(op, []).append(E(args[:i] + (bad,) + args[i + 1:], {}, (TypeError, ValueError),
                                                    "", kind))
                if a.dtype.kind == "f":
                    swapped = a.astype(a.dtype.newbyteorder("S"))
                    out[op].append(E(args[:i] + (swapped,) + args[i + 1:], {}, TypeError,
                                     "of non-native byte order", "dtype"))
    return out
