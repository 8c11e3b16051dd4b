"""affine / affine_backward (the book's layout, weight (in, out)): native vs the NumPy reference on
a table of cases (tests/harness.py: with and without bias, need_grad_x, finite differences,
results bit-identical for 1, 2 and 3 threads: OpenBLAS's own threading is not, see
src/gemm_tiled.h), the reference vs the book's formula, bad input."""
import numpy as np
import pytest
from harness import assert_close, case, op_test
from nnkern import functional as F
from nnkern import reference as R

CASES = [  # x (N, ...), weight (in, out), bias (out,)
    case("n1", (1, 5), (5, 3), (3,)),
    case("odd", (7, 13), (13, 11), (11,)),
    case("odd-no-bias", (7, 13), (13, 11), None),
    case("simd-15-16-17", (15, 16), (16, 17), (17,)),
    case("simd-31-32-33", (33, 31), (31, 32), (32,)),
    case("out1", (4, 9), (9, 1), (1,)),
    case("4d-input", (3, 2, 5, 7), (70, 4), (4,)),
    case("3d-input", (6, 4, 9), (36, 5), (5,)),
    case("mnist-mlp", (20, 784), (784, 50), (50,)),
    case("wide-k", (5, 2000), (2000, 9), (9,)),
    case("tall-n", (1000, 20), (20, 30), (30,)),
    # shapes where OpenBLAS's threaded GEMM differs from its single-threaded one (float32
    # 100x784x50: K between GEMM_Q and 2*GEMM_Q; float64: almost any shape), and a long batch
    # reduction for grad_weight and grad_bias
    case("threads-100x784x50", (100, 784), (784, 50), (50,)),
    case("threads-37x1500x300", (37, 1500), (1500, 300), (300,)),
    case("threads-2048x64x300", (2048, 64), (64, 300), (300,)),
    case("threads-200x64x300", (200, 64), (64, 300), (300,)),
    # two row tiles of 52 and 49 (src/gemm_tiled.cpp: the first cut, then no side below 64)
    case("tiles-101x300x100", (101, 300), (300, 100), (100,)),
]


test_affine = op_test("affine", CASES)


@pytest.mark.parametrize("shape, grid", [
    ((100, 100, 4320), (52, 100)),     # SimpleConvNet's fc1 forward: the first cut only (no side below 64)
    ((101, 100, 300), (52, 100)),      # the table's two-tile case: 52 + 49 rows
    ((4320, 100, 100), (272, 100)),    # fc1's grad_weight: 16 tiles along the long side
    ((100, 4320, 100), (100, 272)),    # fc1's grad_x
    ((100, 100, 65536), (28, 28)),     # a long reduction: 16 thin tiles, each still >= 16M multiply-adds
    ((100, 50, 784), (52, 50)),        # the MNIST MLP's forward: two tiles
    ((20, 30, 40), (20, 30)),          # < 2M multiply-adds: one tile
])
def test_gemm_tiled_grid(shape, grid):
    """The affine GEMMs' tile grid (src/gemm_tiled.cpp) for (m, n, k) products."""
    from nnkern import _core
    assert _core._gemm_tiled_grid(*shape) == grid
    with pytest.raises(ValueError, match="_gemm_tiled_grid"):
        _core._gemm_tiled_grid(0, 1, 1)


def test_reference_matches_the_book_formula(rng):
    x = rng.standard_normal((4, 2, 3))
    w = rng.standard_normal((6, 5))
    b = rng.standard_normal(5)
    y = np.array([[sum(x[n].ravel()[i] * w[i, o] for i in range(6)) + b[o] for o in range(5)] for n in range(4)])
    assert_close(R.affine(x, w, b), y, rtol=1e-12, atol=1e-12, what="reference")


def test_empty_batch():
    x = np.zeros((0, 5), np.float32)
    w = np.ones((5, 3), np.float32)
    y = F.affine(x, w, np.ones(3, np.float32))
    assert y.shape == (0, 3)
    gx, gw, gb = F.affine_backward(np.zeros((0, 3), np.float32), x, w)
    assert gx.shape == (0, 5) and not gw.any() and not gb.any()


def test_non_contiguous_input_is_copied_correctly(rng):
    x = rng.standard_normal((6, 20))[:, ::2]
    w = rng.standard_normal((4, 10)).T
    assert not x.flags.c_contiguous and not w.flags.c_contiguous
    assert_close(F.affine(x, w), R.affine(x, w), rtol=1e-12, atol=1e-12, what="views")


def test_bad_input_raises():
    x, w = np.zeros((2, 3), np.float32), np.zeros((3, 4), np.float32)
    with pytest.raises(ValueError, match=r"x must be 2-D \(N, in\)"):
        F.affine(np.zeros(3, np.float32), w)
    with pytest.raises(ValueError, match=r"weight must be 2-D \(in, out\)"):
        F.affine(x, np.zeros(3, np.float32))
    with pytest.raises(ValueError, match=r"x has 5 features per sample but weight \(3, 4\) expects 3"):
        F.affine(np.zeros((2, 5), np.float32), w)
    with pytest.raises(ValueError, match=r"x has 6 features"):  # (2, 2, 3) flattens to 6 features
        F.affine(np.zeros((2, 2, 3), np.float32), w)
    with pytest.raises(ValueError, match=r"bias must have shape \(4,\), got \(3,\)"):
        F.affine(x, w, np.zeros(3, np.float32))
    with pytest.raises(TypeError, match=r"x must be float32 or float64, got int64"):
        F.affine(x.astype(np.int64), w)
    with pytest.raises(TypeError, match=r"mixed dtypes"):
        F.affine(x, w.astype(np.float64))
    with pytest.raises(TypeError, match=r"bias has dtype float64"):
        F.affine(x, w, np.zeros(4))
    with pytest.raises(ValueError, match=r"grad_out must have shape \(2, 4\), got \(2, 3\)"):
        F.affine_backward(np.zeros((2, 3), np.float32), x, w)
    with pytest.raises(TypeError, match=r"grad_out has dtype float64"):
        F.affine_backward(np.zeros((2, 4)), x, w)
