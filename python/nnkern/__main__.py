"""``python -m nnkern``: see :mod:`nnkern.cli`."""
import sys

from .cli import run

if __name__ == "__main__":
    sys.exit(run())
