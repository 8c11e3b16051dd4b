"""Build python/nnkern/data/digits.npz from scikit-learn's copy of the UCI digits.

The UCI "Optical Recognition of Handwritten Digits" test set (1,797 8x8 images, pixels
0..16, 10 classes; E. Alpaydin and C. Kaynak, 1998; CC BY 4.0) as shipped in the
scikit-learn wheel at sklearn/datasets/data/digits.csv.gz (64 pixel columns, then the label).

The train/test split is fixed here once, stratified and seeded (seed 0, 20% test per
class), and stored in the file, so it never depends on the NumPy version at load time.

    python tools/make_digits.py path/to/digits.csv.gz python/nnkern/data/digits.npz
"""
import gzip
import sys

import numpy as np


def main(src, dst, seed=0, test_fraction=0.2):
    with gzip.open(src, "rt") as f:
        table = np.loadtxt(f, delimiter=",", dtype=np.int64)
    assert table.shape == (1797, 65), table.shape
    x = table[:, :64].reshape(-1, 8, 8)
    t = table[:, 64]
    assert x.min() >= 0 and x.max() <= 16 and set(t.tolist()) == set(range(10))
    rng = np.random.default_rng(seed)
    test = np.zeros(len(t), dtype=bool)
    for c in range(10):
        members = np.flatnonzero(t == c)
        test[rng.permutation(members)[: int(round(test_fraction * len(members)))]] = True
    np.savez_compressed(dst, x_train=x[~test].astype(np.uint8), t_train=t[~test].astype(np.uint8),
                        x_test=x[test].astype(np.uint8), t_test=t[test].astype(np.uint8))
    print(f"{dst}: {int((~test).sum())} train, {int(test.sum())} test")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
