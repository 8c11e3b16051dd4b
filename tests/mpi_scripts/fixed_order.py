"""The 'fixed' reduction on any world size: each element is ((g0 + g1) + g2 ...) / n, added in
rank order, the same bits on every rank, whatever the bucket size; 'auto' picks it above 2 ranks."""
import nnkern.distributed as dist
import numpy as np
from _common import RANK, SIZE, WORLD, check, done, same_bits_on_all_ranks

shapes = {"W1": (37, 11), "b1": (11,), "W2": (11, 5), "b2": (5,)}
mine = {k: np.random.default_rng(RANK * 100 + i).standard_normal(s).astype(np.float32)
        for i, (k, s) in enumerate(shapes.items())}
every = WORLD.comm.allgather(mine)
want = {}
for k in shapes:
    acc = every[0][k].copy()
    for r in range(1, SIZE):
        acc = acc + every[r][k]
    want[k] = acc / np.float32(SIZE)
for bucket_bytes in (16, 200, dist.DEFAULT_BUCKET_BYTES):
    got = dist.GradientReducer(mine, bucket_bytes=bucket_bytes, algorithm="fixed").allreduce(
        {k: v.copy() for k, v in mine.items()})
    check(all(np.array_equal(got[k], want[k]) for k in shapes), f"fixed order, {bucket_bytes} B buckets")
    same_bits_on_all_ranks(got, "fixed-order mean")
check(dist.GradientReducer(mine).algorithm == ("mpi" if SIZE <= 2 else "fixed"), "auto algorithm")
mpi = dist.GradientReducer(mine, algorithm="mpi").allreduce({k: v.copy() for k, v in mine.items()})
check(all(np.allclose(mpi[k], want[k], rtol=1e-6, atol=1e-6) for k in shapes), "'mpi' algorithm mean")
done(size=SIZE)
