"""Side-by-side benchmark: nnkern vs the NumPy reference vs PyTorch (if installed).

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/compare.py --family conv2d

The workloads live in the package (nnkern/bench/workloads/, one module per kernel family),
so `nnkern bench` runs the same thing from an installed wheel.
"""
import sys

from nnkern.bench.compare import main

if __name__ == "__main__":
    sys.exit(main(program=True))
