"""Optimizers with the book's protocol, on nnkern's fused multi-tensor kernels.

    opt = nnkern.optimizers.Adam(lr=1e-3)
    grads = network.gradient(x, t)
    opt.update(network.params, grads)   # network.params' arrays change in place

``update(params, grads)`` takes two dicts with the same keys (``'W1'``, ``'b1'``, ...) and
updates every array of ``params`` in place with one native call that runs one parallel
pass over all tensors together (float32 and float64 tensors may be mixed). The layers hold the
same arrays, so ``layer.W is params['W1']`` keeps holding and the layers see the new values at
once; the arrays are never replaced or copied. State (velocity, moments) is created lazily on
the first call, with each parameter's shape and dtype.

Rules (``nnkern.reference.optim`` has each one in NumPy; the native result equals it bit for bit):
  SGD        W <- W - lr g
  Momentum   v <- momentum v - lr g;  W <- W + v                               (the book)
  Nesterov   v <- momentum v - lr g;  W <- W + momentum^2 v - (1 + momentum) lr g   (the book)
  AdaGrad    h <- h + g^2;  W <- W - lr g / (sqrt(h) + eps)                      (the book, eps 1e-7)
  RMSprop    h <- rho h + (1 - rho) g^2;  W <- W - lr g / (sqrt(h) + eps)        (the book, eps 1e-7)
  Adam       variant="standard": Kingma & Ba (2015) as torch.optim.Adam (eps 1e-8 added to
             sqrt(v / (1 - beta2^t))); variant="book": the book's listing, lr_t = lr sqrt(1 - beta2^t)
             / (1 - beta1^t) and eps 1e-7 added to sqrt(v)
  AdamW      Adam with decoupled weight decay W <- W (1 - lr wd) (Loshchilov & Hutter 2019)

Weight decay: ``weight_decay`` = lambda with ``decay="l2"`` adds lambda W to the gradient (the
book's ``MultiLayerNet``: the gradient of lambda/2 ||W||^2), ``decay="l1"`` adds lambda sign(W),
``decay="decoupled"`` shrinks W by (1 - lr lambda) first (``"none"`` ignores it). Per-parameter
options override ``lr`` and ``weight_decay`` for chosen keys, e.g. no decay on biases:

    Adam(weight_decay=1e-4, param_options={k: {"weight_decay": 0.0} for k in params if k[0] == "b"})

Validation happens once, in the native binding, before any array is written (nothing is ever
half-updated); it is given the dict keys, so its messages name them (``adam_update:
params['W2'] must be C-contiguous``). TypeError for a parameter that is not a float32/float64
``numpy.ndarray`` or a gradient of another dtype; ValueError for differing keys or shapes,
non-contiguous, read-only or shared parameter arrays, and hyper-parameters out of range (lr <= 0,
betas outside [0, 1), ...), which the same native check also tests when the optimizer is made
(on empty tensors). Non-contiguous *gradients* are read through one contiguous copy. NaN and
Inf are not filtered: they propagate into that element's parameter and state (as in NumPy and
PyTorch); the other elements are unaffected.

``state_dict()`` is a flat dict of numbers and arrays only (``"step"``, the numeric
hyper-parameters, ``"<state>.<key>"`` arrays such as ``"m.W1"``), so ``numpy.savez`` stores it
without pickle; ``load_state_dict()`` takes it (or its ``numpy.load``) and continues bit-identically.
"""
from collections.abc import Mapping
from typing import Any, ClassVar

from ._optimizer import Optimizer

__all__ = ["Optimizer", "SGD", "Momentum", "Nesterov", "AdaGrad", "RMSprop", "Adam", "AdamW"]


class SGD(Optimizer):
    """Stochastic gradient descent: W <- W - lr * grad (the book's ``SGD``)."""

    _kernel = "sgd_update"

    def __init__(self, lr: float = 0.01, weight_decay: float = 0.0, decay: str = "l2",
                 param_options: Mapping[str, Mapping[str, float]] | None = None) -> None:
        super().__init__(lr, weight_decay, decay, param_options)


class Momentum(Optimizer):
    """Momentum SGD, the book's listing: v <- momentum v - lr grad; W <- W + v (Polyak 1964)."""

    _kernel = "momentum_update"
    _states = ("v",)
    _hyper = ("momentum",)

    def __init__(self, lr: float = 0.01, momentum: float = 0.9, weight_decay: float = 0.0, decay: str = "l2",
                 param_options: Mapping[str, Mapping[str, float]] | None = None) -> None:
        self.momentum = momentum
        super().__init__(lr, weight_decay, decay, param_options)


class Nesterov(Momentum):
    """Nesterov's accelerated gradient in the book's form (Sutskever et al. 2013; Bengio et al. 2012):
    v <- momentum v - lr grad;  W <- W + momentum^2 v - (1 + momentum) lr grad."""

    _kernel = "nesterov_update"


class AdaGrad(Optimizer):
    """AdaGrad (Duchi et al. 2011), the book's listing: h <- h + grad^2; W <- W - lr grad / (sqrt(h) + eps)."""

    _kernel = "adagrad_update"
    _states = ("h",)
    _hyper: ClassVar[tuple[str, ...]] = ("eps",)  # RMSprop adds decay_rate

    def __init__(self, lr: float = 0.01, eps: float = 1e-7, weight_decay: float = 0.0, decay: str = "l2",
                 param_options: Mapping[str, Mapping[str, float]] | None = None) -> None:
        self.eps = eps
        super().__init__(lr, weight_decay, decay, param_options)


class RMSprop(AdaGrad):
    """RMSProp (Tieleman & Hinton 2012), the book's listing:
    h <- decay_rate h + (1 - decay_rate) grad^2;  W <- W - lr grad / (sqrt(h) + eps)."""

    _kernel = "rmsprop_update"
    _hyper = ("decay_rate", "eps")

    def __init__(self, lr: float = 0.01, decay_rate: float = 0.99, eps: float = 1e-7, weight_decay: float = 0.0,
                 decay: str = "l2", param_options: Mapping[str, Mapping[str, float]] | None = None) -> None:
        self.decay_rate = decay_rate
        super().__init__(lr, eps, weight_decay, decay, param_options)


class Adam(Optimizer):
    """Adam (Kingma & Ba 2015). ``variant="standard"`` is Algorithm 1 as torch.optim.Adam
    (eps defaults to 1e-8, added to the square root of the bias-corrected v);
    ``variant="book"`` is the book's listing (eps defaults to 1e-7, added to sqrt of the
    uncorrected v, bias corrections folded into lr_t). ``weight_decay`` is L2 (or L1) into
    the gradient, as torch.optim.Adam; see :class:`AdamW` for decoupled decay.
    ``opt.iter`` (the book's name) and ``opt.step`` count the updates done."""

    _kernel = "adam_update"
    _states = ("m", "v")
    _hyper = ("beta1", "beta2", "eps")

    def __init__(self, lr: float = 0.001, beta1: float = 0.9, beta2: float = 0.999, eps: float | None = None,
                 variant: str = "standard", weight_decay: float = 0.0, decay: str = "l2",
                 param_options: Mapping[str, Mapping[str, float]] | None = None) -> None:
        if variant not in ("standard", "book"):
            raise ValueError(f"Adam: variant must be 'standard' or 'book', got {variant!r}")
        self.variant = variant
        self.beta1, self.beta2 = beta1, beta2
        self.eps = (1e-7 if variant == "book" else 1e-8) if eps is None else eps
        super().__init__(lr, weight_decay, decay, param_options)

    @property
    def iter(self) -> int:
        return self.step

    def _kernel_args(self, step: int) -> dict[str, Any]:
        return {**super()._kernel_args(step), "step": step, "variant": self.variant}


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter 2019, torch.optim.AdamW):
    W <- W (1 - lr weight_decay), then the Adam step."""

    def __init__(self, lr: float = 0.001, beta1: float = 0.9, beta2: float = 0.999, eps: float | None = None,
                 variant: str = "standard", weight_decay: float = 0.01,
                 param_options: Mapping[str, Mapping[str, float]] | None = None) -> None:
        super().__init__(lr, beta1, beta2, eps, variant, weight_decay, "decoupled", param_options)
