"""Rank 1 fails while rank 0 waits in a gradient allreduce; the job must end, not hang.
argv[1]: 'raise' (an exception) or 'exit' (sys.exit(3), as the CLI does on bad data)."""
import sys

import nnkern.distributed as dist
import numpy as np
from _common import RANK

grads = {"W": np.ones((1000, 100), np.float32)}
dist.allreduce_gradients(grads)  # both ranks are up and talking
if RANK == 1:
    if sys.argv[1] == "exit":
        sys.exit(3)
    raise FileNotFoundError("rank 1 could not read its data file (simulated)")
for _ in range(3):
    dist.allreduce_gradients(grads)  # rank 0 waits here for a partner that is gone
print("rank 0 should never get here", flush=True)
