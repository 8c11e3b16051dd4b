"""Optimizer workloads: one update of every tensor of a model, float32.

Models: the Keras example CNN (150x150x3 input; 3,453,121 parameters in 12 tensors) and
AlexNet (60,965,224 in 16).
nnkern runs ``nnkern.optimizers.<Rule>.update(params, grads)`` (validation + one native
multi-tensor call); the reference is the NumPy rule key by key (the book's listing for
Adam, which nnkern runs too: variant="book"); torch is ``torch.optim`` with ``fused=True`` or
``foreach=True`` (its standard Adam moves the same bytes).

Bytes count what one update must read and write once (write-allocate not counted):
Adam 28 per parameter (read W, g, m, v; write W, m, v), Momentum and RMSProp 20. The
"memory ceiling" rows give the machine's bandwidth on the same scale: a 256 MiB float32
copy and an in-place add ``a += b``, split over the benchmark's threads with NumPy
(``nnkern`` column: these rows run no nnkern kernel), one NumPy thread (``reference``
column) and torch's ``copy_`` / ``add_`` (``torch`` column).
"""
from concurrent.futures import ThreadPoolExecutor

import numpy as np

import nnkern
from nnkern import optimizers as O
from nnkern import reference as R

from . import Workload, torch_or_none

KERAS_CNN = {"W1": (32, 3, 3, 3), "b1": (32,), "W2": (64, 32, 3, 3), "b2": (64,), "W3": (128, 64, 3, 3),
              "b3": (128,), "W4": (128, 128, 3, 3), "b4": (128,), "W5": (6272, 512), "b5": (512,),
              "W6": (512, 1), "b6": (1,)}
ALEXNET = {"conv1.W": (96, 3, 11, 11), "conv1.b": (96,), "conv2.W": (256, 48, 5, 5), "conv2.b": (256,),
           "conv3.W": (384, 256, 3, 3), "conv3.b": (384,), "conv4.W": (384, 192, 3, 3), "conv4.b": (384,),
           "conv5.W": (256, 192, 3, 3), "conv5.b": (256,), "fc6.W": (9216, 4096), "fc6.b": (4096,),
           "fc7.W": (4096, 4096), "fc7.b": (4096,), "fc8.W": (4096, 1000), "fc8.b": (1000,)}
MODELS = {"keras-cnn-3.45M": KERAS_CNN, "alexnet-61M": ALEXNET}

# rule: (nnkern optimizer, reference step(p, g, states, t), state count, bytes/param, torch optimizers)
RULES = {
    "adam": (lambda: O.Adam(lr=1e-3, variant="book"),
             lambda p, g, s, t: R.adam_update(p, g, s[0], s[1], 1e-3, 0.9, 0.999, 1e-7, t, "book"), 2, 28,
             {"fused": lambda th, ps: th.optim.Adam(ps, lr=1e-3, fused=True),
              "foreach": lambda th, ps: th.optim.Adam(ps, lr=1e-3, foreach=True)}),
    "momentum": (lambda: O.Momentum(lr=0.01, momentum=0.9),
                 lambda p, g, s, t: R.momentum_update(p, g, s[0], 0.01, 0.9), 1, 20,
                 {"foreach": lambda th, ps: th.optim.SGD(ps, lr=0.01, momentum=0.9, foreach=True)}),
    "rmsprop": (lambda: O.RMSprop(lr=0.01, decay_rate=0.99),
                lambda p, g, s, t: R.rmsprop_update(p, g, s[0], 0.01, 0.99, 1e-7), 1, 20,
                {"foreach": lambda th, ps: th.optim.RMSprop(ps, lr=0.01, alpha=0.99, foreach=True)}),
}


def _arrays(shapes, seed):
    rng = np.random.default_rng(seed)
    return {k: rng.standard_normal(s, dtype=np.float32) * 0.01 for k, s in shapes.items()}


def _update(rule, model, torch_mode):
    def make():
        make_opt, ref_step, nstate, bpp, torch_opts = RULES[rule]
        shapes = MODELS[model]
        params, grads = _arrays(shapes, 0), _arrays(shapes, 1)
        opt = make_opt()

        ref_params = {k: p.copy() for k, p in params.items()}
        ref_state = {k: [np.zeros_like(p) for _ in range(nstate)] for k, p in params.items()}
        ref_t = [0]

        def reference():
            ref_t[0] += 1
            for k in ref_params:
                ref_step(ref_params[k], grads[k], ref_state[k], ref_t[0])

        torch = torch_or_none()
        tfn = None
        if torch is not None and torch_mode in torch_opts:
            tps = [torch.from_numpy(p.copy()).requires_grad_() for p in params.values()]
            for t, g in zip(tps, grads.values()):
                t.grad = torch.from_numpy(g.copy())
            topt = torch_opts[torch_mode](torch, tps)
            tfn = topt.step
        n = sum(p.size for p in params.values())
        return {"nnkern": lambda: opt.update(params, grads), "reference": reference, "torch": tfn,
                "flops": None, "bytes": float(bpp * n)}
    return make


def _stream(kind, nbytes=256 << 20):
    """The bandwidth ceiling: ``copy`` (dst = src, bytes = read + written; the CPU also reads
    dst first, write-allocate, which is not counted) or ``add`` (a += b in place, bytes = 3
    per element size, no write-allocate: the access pattern of the update kernels)."""
    def make():
        rng = np.random.default_rng(0)
        src = rng.standard_normal(nbytes // 4, dtype=np.float32)
        dst = rng.standard_normal(nbytes // 4, dtype=np.float32)
        nt = nnkern.get_num_threads()
        step = -(-src.size // nt)
        bounds = [(b, min(b + step, src.size)) for b in range(0, src.size, step)]
        pool = ThreadPoolExecutor(nt)
        if kind == "copy":
            def part(b):
                np.copyto(dst[b[0]:b[1]], src[b[0]:b[1]])
        else:
            def part(b):
                np.add(dst[b[0]:b[1]], src[b[0]:b[1]], out=dst[b[0]:b[1]])

        def threaded():  # numpy releases the GIL in both loops
            list(pool.map(part, bounds))

        torch = torch_or_none()
        tfn = None
        if torch is not None:
            ts, td = torch.from_numpy(src), torch.from_numpy(dst.copy())
            tfn = (lambda: td.copy_(ts)) if kind == "copy" else (lambda: td.add_(ts))
        return {"nnkern": threaded, "reference": lambda: part((0, src.size)), "torch": tfn, "flops": None,
                "bytes": (2.0 if kind == "copy" else 3.0) * src.nbytes}
    return make


WORKLOADS = [Workload("memory ceiling", f"{k} 256MiB: numpy threads/1 thread/torch", _stream(k))
             for k in ("copy", "add")] + [
    Workload(f"optim {rule} (torch {mode})", model, _update(rule, model, mode))
    for rule in RULES for mode in RULES[rule][4] for model in MODELS]
