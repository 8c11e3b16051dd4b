"""Case tables that several kernel tests share (one line per case, see tests/conftest.py)."""
from harness import case
from harness_ops import weighted_inputs

CONV2D_DEFAULTS = dict(stride=1, padding=0, dilation=1, groups=1)


def conv2d_case(rng, inputs, kwargs, dtype):
    """x, weight (scaled by 1/sqrt(fan_in)), a bias and all four conv arguments of a conv2d case
    (``[x shape, weight shape, bias shape or None]``, kwargs), for tests that call one algorithm."""
    x, w, b = weighted_inputs(rng, [inputs[0], inputs[1], (inputs[1][0],)], dtype, {})
    return x, w, b, {**CONV2D_DEFAULTS, **kwargs}

# Elementwise ops (activations, dropout): sizes around the SIMD widths (8 / 16 / 32 lanes), odd
# sizes, N=1, higher rank, empty, and above the threading grain.
ELEMENTWISE_SHAPES = [
    case("n1", (1,)),
    case("odd-7", (7,)),
    case("simd-8", (8,)),
    case("simd-9", (9,)),
    case("simd-15", (15,)),
    case("simd-16", (16,)),
    case("simd-17", (17,)),
    case("simd-31", (31,)),
    case("simd-32", (32,)),
    case("simd-33", (33,)),
    case("2d-odd", (7, 13)),
    case("4d-odd", (2, 3, 5, 7)),
    case("threaded", (5, 60001)),
    case("empty", (0, 4)),
]

# Pooling (test_max_pool2d.py, test_avg_pool2d.py): x shape; kernel_size, stride, padding. The
# last ones are over 2^15 input elements (threaded).
POOL2D_CASES = [
    case("n1-2x2", (1, 3, 8, 8), kernel_size=2, stride=2, padding=0),
    case("odd-hw-2x2", (2, 5, 7, 9), kernel_size=2, stride=2, padding=0),
    case("alexnet-3x3-s2", (2, 7, 13, 13), kernel_size=3, stride=2, padding=0),
    case("overlap-pad1", (2, 3, 11, 10), kernel_size=3, stride=2, padding=1),
    case("k3-s1-pad1", (2, 17, 9, 7), kernel_size=3, stride=1, padding=1),
    case("rect-kernel", (2, 4, 10, 9), kernel_size=(3, 2), stride=(2, 1), padding=(1, 0)),
    case("k5-s3-pad2", (1, 3, 17, 14), kernel_size=5, stride=3, padding=2),
    case("k4-s3-pad2", (2, 3, 9, 9), kernel_size=4, stride=3, padding=2),
    case("kernel-equals-input", (2, 3, 5, 5), kernel_size=5, stride=1, padding=0),
    case("kernel-equals-padded", (1, 2, 3, 4), kernel_size=(5, 6), stride=1, padding=(1, 1)),
    case("stride-gt-kernel", (2, 3, 15, 15), kernel_size=3, stride=4, padding=0),
    case("k1", (2, 3, 5, 6), kernel_size=1, stride=1, padding=0),
    case("flat-3x3-s3", (2, 3, 9, 12), kernel_size=3, stride=3, padding=0),
    case("flat-rows-pad", (2, 3, 8, 8), kernel_size=(3, 2), stride=2, padding=(1, 0)),
    case("c17-wide", (3, 17, 6, 33), kernel_size=2, stride=2, padding=0),
    case("stride3-border", (1, 9, 10, 11), kernel_size=2, stride=3, padding=1),
    case("stride-default", (2, 3, 8, 9), kernel_size=3),
    case("benchmark-72", (1, 4, 72, 72), kernel_size=2, stride=2, padding=0),
    case("seed-mnist", (4, 30, 24, 24), kernel_size=2, stride=2, padding=0),
    case("alexnet-55", (3, 4, 55, 55), kernel_size=3, stride=2, padding=0),
    case("benchmark-72-threaded", (2, 4, 72, 72), kernel_size=2, stride=2, padding=0),
    case("overlap-pad1-threaded", (100, 3, 11, 10), kernel_size=3, stride=2, padding=1),
    case("c17-wide-threaded", (11, 17, 6, 33), kernel_size=2, stride=2, padding=0),
]
