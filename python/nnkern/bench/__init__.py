"""Benchmarks shipped with the package: workloads per kernel family and the side-by-side
comparison (nnkern vs the NumPy reference vs PyTorch if installed) behind ``nnkern bench``."""
