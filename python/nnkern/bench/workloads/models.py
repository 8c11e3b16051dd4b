"""Model workloads: one training step (forward, backward, Adam update) at batch
100 on 1x28x28 inputs for the book's SimpleConvNet and DeepConvNet, and AlexNet
forward+backward at batch 16 (3x227x227), float32.

nnkern: ``model.gradient(x, t)`` + ``nnkern.optimizers.Adam.update`` on the native backend;
reference: the same model object on ``backend="reference"`` (the NumPy oracle, a stand-in
for the book's NumPy code); torch: the same architecture as ``torch.nn`` modules in eager
mode with ``torch.optim.Adam`` (fused when available). Dropout is active in training
everywhere (DeepConvNet, AlexNet).
"""
import numpy as np

from nnkern import optimizers as O
from nnkern.models import AlexNet, DeepConvNet, SimpleConvNet

from . import Workload, torch_or_none


def _torch_simple(nn):
    return nn.Sequential(nn.Conv2d(1, 30, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(4320, 100),
                         nn.ReLU(), nn.Linear(100, 10))


def _torch_deep(nn):
    mods, c = [], 1
    for i, (f, p) in enumerate(((16, 1), (16, 1), (32, 1), (32, 2), (64, 1), (64, 1))):
        mods += [nn.Conv2d(c, f, 3, padding=p), nn.ReLU()]
        c = f
        if i % 2:
            mods.append(nn.MaxPool2d(2))
    return nn.Sequential(*mods, nn.Flatten(), nn.Linear(1024, 50), nn.ReLU(), nn.Dropout(0.5), nn.Linear(50, 10),
                         nn.Dropout(0.5))


def _torch_alexnet(nn):
    return nn.Sequential(
        nn.Conv2d(3, 96, 11, stride=4), nn.ReLU(), nn.LocalResponseNorm(5, alpha=5e-4, beta=0.75, k=2.0),
        nn.MaxPool2d(3, 2),
        nn.Conv2d(96, 256, 5, padding=2, groups=2), nn.ReLU(), nn.LocalResponseNorm(5, alpha=5e-4, beta=0.75, k=2.0),
        nn.MaxPool2d(3, 2),
        nn.Conv2d(256, 384, 3, padding=1), nn.ReLU(), nn.Conv2d(384, 384, 3, padding=1, groups=2), nn.ReLU(),
        nn.Conv2d(384, 256, 3, padding=1, groups=2), nn.ReLU(), nn.MaxPool2d(3, 2), nn.Flatten(),
        nn.Linear(9216, 4096), nn.ReLU(), nn.Dropout(0.5), nn.Linear(4096, 4096), nn.ReLU(), nn.Dropout(0.5),
        nn.Linear(4096, 1000))


MODELS = {  # name: (nnkern model factory, torch module factory, input shape, classes, batch, optimizer step?)
    "simpleconvnet-train-step-b100": (lambda be: SimpleConvNet(backend=be, seed=0), _torch_simple,
                                      (1, 28, 28), 10, 100, True),
    "deepconvnet-train-step-b100": (lambda be: DeepConvNet(backend=be, seed=0), _torch_deep, (1, 28, 28), 10, 100,
                                    True),
    "alexnet-fwd-bwd-b16": (lambda be: AlexNet(backend=be, seed=0), _torch_alexnet, (3, 227, 227), 1000, 16, False),
}


def _workload(name):
    def make():
        make_model, make_torch, shape, classes, batch, with_opt = MODELS[name]
        rng = np.random.default_rng(0)
        x = rng.standard_normal((batch,) + shape, dtype=np.float32)
        t = rng.integers(0, classes, batch)

        def step_fn(backend):
            model = make_model(backend)
            opt = O.Adam(lr=1e-3)

            def step():
                grads = model.gradient(x, t)
                if with_opt:
                    opt.update(model.params, grads)
            return step

        torch = torch_or_none()
        tfn = None
        if torch is not None:
            net = make_torch(torch.nn)
            net.train()
            topt = torch.optim.Adam(net.parameters(), lr=1e-3)
            tx, tt = torch.from_numpy(x), torch.from_numpy(t)
            loss_fn = torch.nn.CrossEntropyLoss()

            def tfn():
                topt.zero_grad(set_to_none=True)
                loss_fn(net(tx), tt).backward()
                if with_opt:
                    topt.step()
        return {"nnkern": step_fn("native"), "reference": step_fn("reference"), "torch": tfn,
                "flops": None, "bytes": None}
    return make


WORKLOADS = [Workload("models", n, _workload(n)) for n in MODELS]
