"""keras.Sequential.fit with a DistributedOptimizer: n ranks (batch_size global, each its part
of rank 0's permutation) == one process's plain fit, within the bound; the History is over all
ranks; only rank 0 draws a progress bar; batch-norm moving statistics end the same on all ranks."""
import contextlib
import io

import nnkern.distributed as dist
import numpy as np
from _common import RANK, SIZE, WORLD, check, digits, done, equivalence_bound, same_bits_on_all_ranks
from nnkern.keras import Sequential
from nnkern.keras.layers import BatchNormalization, Conv2D, Dense, Flatten, MaxPooling2D
from nnkern.optimizers import SGD, Momentum

x, t = digits()
x = x.transpose(0, 2, 3, 1).copy()  # channels-last (N, 8, 8, 1)
B, EPOCHS = 63, 2


def build(seed, bn=False):
    layers = [Conv2D(6, (3, 3), activation="relu", input_shape=(8, 8, 1), name="conv"),
              MaxPooling2D((2, 2), name="pool"), Flatten(name="flat")]
    if bn:
        layers.append(BatchNormalization(name="bn"))
    return Sequential(layers + [Dense(10, activation="softmax", name="out")], seed=seed)


def fit(make_opt, world, bn=False, verbose=0):
    model = build(5 if world == 1 else 5 + RANK, bn)  # rank 0 draws what the single process draws
    opt = make_opt() if world == 1 else dist.DistributedOptimizer(make_opt())
    model.compile(optimizer=opt, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        hist = model.fit(x, t, batch_size=B, epochs=EPOCHS, verbose=verbose)
    return model, hist.history, err.getvalue()


steps = EPOCHS * -(-len(x) // B)
result = {}
for name, make_opt in {"SGD": lambda: SGD(lr=0.1), "Momentum": lambda: Momentum(lr=0.05)}.items():
    one, h1, _ = fit(make_opt, 1)
    many, hn, bar = fit(make_opt, SIZE, verbose=1)
    w1, wn = one.get_weights(), many.get_weights()
    scale = max(float(np.max(np.abs(w))) for w in w1)
    err = max(float(np.max(np.abs(a.astype(np.float64) - b))) for a, b in zip(wn, w1))
    check(err <= equivalence_bound(np.float32, steps, scale), f"Sequential {name}: max|diff| {err:.3g}")
    same_bits_on_all_ranks({str(i): w for i, w in enumerate(wn)}, f"Sequential {name}")
    check(np.allclose(hn["loss"], h1["loss"], rtol=1e-5), f"{name}: loss {hn['loss']} != {h1['loss']}")
    check(np.allclose(hn["accuracy"], h1["accuracy"], atol=2.5 / len(x)), f"{name}: accuracy {hn['accuracy']}")
    bars = WORLD.comm.gather(bar, root=0)
    if RANK == 0:
        check("Epoch 1/2" in bars[0] and not any(bars[1:]), f"progress bars: {[len(b) for b in bars]} chars")
    result[name] = err / scale / float(np.finfo(np.float32).eps)

model, hist, _ = fit(lambda: SGD(lr=0.1), SIZE, bn=True)
same_bits_on_all_ranks(model.buffers(), "batch-norm moving statistics after fit")
check(len(hist["loss"]) == EPOCHS, "history length")
done(eps_units=result)
