"""im2col / col2im: native vs the NumPy reference on a table of cases (tests/harness.py: the
columns bit for bit, col2im as im2col's adjoint, i.e. its gradient, finite differences, threads)."""
from harness import case, op_test

CASES = [  # x (N, C, H, W); kernel_size, stride, padding, dilation
    case("n1-odd", (1, 3, 7, 9), kernel_size=3),
    case("k5-stride3-pad2", (2, 3, 17, 14), kernel_size=5, stride=3, padding=2),
    case("dilation-hw", (1, 2, 15, 11), kernel_size=(3, 2), stride=(1, 2), padding=(0, 1), dilation=(2, 3)),
    case("c10-k5-pad2", (3, 10, 9, 8), kernel_size=5, padding=2),
    case("stride-hw", (2, 4, 12, 10), kernel_size=(3, 2), stride=(2, 1), padding=(1, 0)),
    case("k1", (2, 17, 5, 6), kernel_size=1),
    case("pad-exceeds-kernel", (1, 2, 4, 4), kernel_size=3, padding=2),
    case("kernel-equals-input", (2, 3, 5, 5), kernel_size=5),
    case("mnist-threaded", (8, 1, 28, 28), kernel_size=5),
    case("deepconv-threaded", (4, 16, 28, 28), kernel_size=3, padding=1),
]


test_im2col = op_test("im2col", CASES)
