"""The book's MLP chapters on nnkern.compat, float64 (the book's) vs float32 mode
(``nnkern.compat.set_default_dtype(np.float32)``): time and accuracy of

* ch05's train_neuralnet.py: the chapter's TwoLayerNet(784, 50, 10), SGD lr 0.1, batch 100,
  accuracy on the whole train and test sets once per epoch;
* ch06's optimizer_compare_mnist.py: MultiLayerNet(784, [100]*4, 10) with SGD, Momentum,
  AdaGrad and Adam on the same batches, batch 128;

on MNIST-shaped data (60,000 + 10,000 images of 28x28 in [0, 1], 10 classes) made from the
handwritten digits shipped with nnkern (8x8 upscaled, shifted, with noise: learnable, not
MNIST itself, which nnkern never downloads). Both dtypes start from the same np.random seed
and draw the same batches; the runs alternate (float64, float32, float64, ...) so that the
machine's load hits both alike.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/compat_float32.py [--quick]
"""
import argparse
import time
from collections import OrderedDict

import nnkern
import numpy as np
from nnkern import compat
from nnkern.bench.compare import header
from nnkern.compat.layers import Affine, Relu, SoftmaxWithLoss
from nnkern.compat.multi_layer_net import MultiLayerNet
from nnkern.compat.optimizer import SGD, AdaGrad, Adam, Momentum


def mnist_shaped(n_train=60000, n_test=10000, seed=0):
    """(x_train, t_train), (x_test, t_test): float32 (N, 784) in [0, 1], int labels."""
    (x, t), (xt, tt) = nnkern.data.load_digits()
    x, t = np.concatenate([x, xt]).reshape(-1, 8, 8), np.concatenate([t, tt])
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(x), n_train + n_test)
    big = np.kron(x[idx], np.ones((3, 3), np.float32))  # 24x24
    out = np.zeros((len(idx), 28, 28), np.float32)
    dy, dx = rng.integers(0, 5, len(idx)), rng.integers(0, 5, len(idx))
    for i in range(len(idx)):
        out[i, dy[i]:dy[i] + 24, dx[i]:dx[i] + 24] = big[i]
    out = np.clip(out / max(out.max(), 1e-6) + rng.normal(0, 0.1, out.shape).astype(np.float32), 0, 1)
    out = out.reshape(len(idx), 784).astype(np.float32)
    return (out[:n_train], t[idx[:n_train]]), (out[n_train:], t[idx[n_train:]])


class TwoLayerNet:
    """ch05/two_layer_net.py (the parts train_neuralnet.py uses), as the book writes it."""

    def __init__(self, input_size, hidden_size, output_size, weight_init_std=0.01):
        self.params = {}
        self.params["W1"] = weight_init_std * np.random.randn(input_size, hidden_size)
        self.params["b1"] = np.zeros(hidden_size)
        self.params["W2"] = weight_init_std * np.random.randn(hidden_size, output_size)
        self.params["b2"] = np.zeros(output_size)
        self.layers = OrderedDict()
        self.layers["Affine1"] = Affine(self.params["W1"], self.params["b1"])
        self.layers["Relu1"] = Relu()
        self.layers["Affine2"] = Affine(self.params["W2"], self.params["b2"])
        self.lastLayer = SoftmaxWithLoss()

    def predict(self, x):
        for layer in self.layers.values():
            x = layer.forward(x)
        return x

    def loss(self, x, t):
        return self.lastLayer.forward(self.predict(x), t)

    def accuracy(self, x, t):
        y = np.argmax(self.predict(x), axis=1)
        if t.ndim != 1:
            t = np.argmax(t, axis=1)
        return np.sum(y == t) / float(x.shape[0])

    def gradient(self, x, t):
        self.loss(x, t)
        dout = self.lastLayer.backward(1)
        for layer in reversed(list(self.layers.values())):
            dout = layer.backward(dout)
        return {"W1": self.layers["Affine1"].dW, "b1": self.layers["Affine1"].db,
                "W2": self.layers["Affine2"].dW, "b2": self.layers["Affine2"].db}


def ch05_train_neuralnet(data, iters):
    (x_train, t_train), (x_test, t_test) = data
    t_train, t_test = np.eye(10)[t_train], np.eye(10)[t_test]  # one_hot_label=True
    network = TwoLayerNet(input_size=784, hidden_size=50, output_size=10)
    train_size, batch_size, learning_rate = x_train.shape[0], 100, 0.1
    iter_per_epoch = max(train_size / batch_size, 1)
    losses, accs = [], []
    for i in range(iters):
        batch_mask = np.random.choice(train_size, batch_size)
        x_batch, t_batch = x_train[batch_mask], t_train[batch_mask]
        grad = network.gradient(x_batch, t_batch)
        for key in ("W1", "b1", "W2", "b2"):
            network.params[key] -= learning_rate * grad[key]
        losses.append(float(network.loss(x_batch, t_batch)))
        if i % iter_per_epoch == 0:
            accs.append((network.accuracy(x_train, t_train), network.accuracy(x_test, t_test)))
    accs.append((network.accuracy(x_train, t_train), network.accuracy(x_test, t_test)))
    return {"final train acc": accs[-1][0], "final test acc": accs[-1][1], "last-100 loss": np.mean(losses[-100:])}


def ch06_optimizer_compare(data, iters):
    (x_train, t_train), (x_test, t_test) = data
    optimizers = {"SGD": SGD(), "Momentum": Momentum(), "AdaGrad": AdaGrad(), "Adam": Adam()}
    networks = {k: MultiLayerNet(input_size=784, hidden_size_list=[100, 100, 100, 100], output_size=10)
                for k in optimizers}
    train_loss = {k: [] for k in optimizers}
    for _ in range(iters):
        batch_mask = np.random.choice(x_train.shape[0], 128)
        x_batch, t_batch = x_train[batch_mask], t_train[batch_mask]
        for key in optimizers:
            grads = networks[key].gradient(x_batch, t_batch)
            optimizers[key].update(networks[key].params, grads)
            train_loss[key].append(float(networks[key].loss(x_batch, t_batch)))
    out = {f"{k} last-100 loss": np.mean(v[-100:]) for k, v in train_loss.items()}
    out.update({f"{k} test acc": networks[k].accuracy(x_test, t_test) for k in networks})
    return out


def run(loop, data, iters, dtype, seed):
    compat.set_default_dtype(dtype)
    np.random.seed(seed)
    t0 = time.perf_counter()
    stats = loop(data, iters)
    return time.perf_counter() - t0, stats


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer iterations (a smoke run)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args(argv)
    nnkern.set_num_threads(a.threads)
    data = mnist_shaped()
    loops = [("ch05 train_neuralnet", ch05_train_neuralnet, 300 if a.quick else 3000),
             ("ch06 optimizer_compare_mnist", ch06_optimizer_compare, 50 if a.quick else 500)]
    print(header(a.threads))
    print("\n| loop | iterations | float64 s | float32 s | speed-up |\n|---|---:|---:|---:|---:|")
    results = []
    for name, loop, iters in loops:
        times, stats = {np.float64: [], np.float32: []}, {}
        for r in range(a.rounds):
            for dt in (np.float64, np.float32):
                t, stats[dt] = run(loop, data, iters, dt, seed=r)
                times[dt].append(t)
        t64, t32 = np.median(times[np.float64]), np.median(times[np.float32])
        print(f"| {name} | {iters} | {t64:.2f} | {t32:.2f} | {t64 / t32:.2f}x |")
        results.append((name, stats))
    compat.set_default_dtype(np.float64)
    for name, stats in results:  # of the last round (same seed for both dtypes)
        print(f"\n{name} (last round, same seed and batches):\n\n| | float64 | float32 |\n|---|---:|---:|")
        for k in stats[np.float64]:
            print(f"| {k} | {stats[np.float64][k]:.4f} | {stats[np.float32][k]:.4f} |")


if __name__ == "__main__":
    main()
