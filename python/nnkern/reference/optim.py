"""Optimizer update rules in plain NumPy: the JDLA E資格 study notes' listings (Momentum,
AdaGrad, RMSprop, Adam) and DLFS's ``common/optimizer.py`` (SGD, Nesterov), one array at a
time, in place.

Each function updates ``param`` and its state arrays in place, exactly as the listing's
``params[key] -= ...`` lines do, and keeps the listing's order of operations: the native
kernels (``nnkern._core.*_update``) perform the same roundings in the same order, so in the
same dtype they agree bit for bit. Scalars are Python floats, which NumPy rounds to the
array's dtype (NEP 50); the book's Adam step ``lr_t`` is a float64 NumPy scalar as in the
listing, so its last line is computed in float64 even for float32 arrays.

Weight decay (``weight_decay`` = lambda, zero means none):
  ``decay="l2"``        grad + lambda * W          (the book's MultiLayerNet, lambda/2 ||W||^2)
  ``decay="l1"``        grad + lambda * sign(W)    (lambda ||W||_1)
  ``decay="decoupled"`` W *= 1 - lr * lambda before the rule (AdamW, Loshchilov & Hutter 2019)

NaN and Inf in a gradient propagate into that element's parameter and state (nothing is
skipped or clipped), as in NumPy and PyTorch.
"""
import math

import numpy as np

DECAYS = ("l2", "l1", "decoupled", "none")


def _decayed(param, grad, lr, weight_decay, decay):
    """The gradient the rule sees; applies decoupled decay to ``param`` in place."""
    if decay not in DECAYS:
        raise ValueError(f"decay must be one of {DECAYS}, got {decay!r}")
    if not weight_decay or decay == "none":
        return grad
    if decay == "l2":
        return grad + weight_decay * param
    if decay == "l1":
        return grad + weight_decay * np.sign(param)
    param *= 1 - lr * weight_decay
    return grad


def sgd_update(param, grad, lr, weight_decay=0.0, decay="l2"):
    """W <- W - lr * g (DLFS ``SGD``)."""
    g = _decayed(param, grad, lr, weight_decay, decay)
    param -= lr * g


def momentum_update(param, grad, velocity, lr, momentum=0.9, weight_decay=0.0, decay="l2"):
    """Momentum (the study notes' listing): v <- alpha v - eps grad;  W <- W + v."""
    g = _decayed(param, grad, lr, weight_decay, decay)
    velocity[...] = momentum * velocity - lr * g
    param += velocity


def nesterov_update(param, grad, velocity, lr, momentum=0.9, weight_decay=0.0, decay="l2"):
    """DLFS ``Nesterov`` (Sutskever et al. 2013, as rewritten by Bengio et al. 2012)."""
    g = _decayed(param, grad, lr, weight_decay, decay)
    velocity *= momentum
    velocity -= lr * g
    param += momentum * momentum * velocity
    param -= (1 + momentum) * lr * g


def adagrad_update(param, grad, h, lr, eps=1e-7, weight_decay=0.0, decay="l2"):
    """AdaGrad (the study notes' listing): h <- h + g*g;  W <- W - lr g / (sqrt(h) + 1e-7)."""
    g = _decayed(param, grad, lr, weight_decay, decay)
    h += g * g
    param -= lr * g / (np.sqrt(h) + eps)


def rmsprop_update(param, grad, h, lr, decay_rate=0.99, eps=1e-7, weight_decay=0.0, decay="l2"):
    """RMSprop (the study notes' listing): h <- rho h + (1 - rho) g*g;  W <- W - lr g / (sqrt(h) + 1e-7)."""
    g = _decayed(param, grad, lr, weight_decay, decay)
    h *= decay_rate
    h += (1 - decay_rate) * g * g
    param -= lr * g / (np.sqrt(h) + eps)


def adam_update(param, grad, m, v, lr, beta1=0.9, beta2=0.999, eps=1e-8, step=1, variant="standard",
                weight_decay=0.0, decay="l2"):
    """Adam; ``step`` >= 1 counts this update.

    ``variant="standard"``: Kingma & Ba (2015), Algorithm 1, as ``torch.optim.Adam``: eps is
    added to the square root of the bias-corrected second moment.
    ``variant="book"``: the book's listing (DLFS ``Adam``): the bias corrections are folded
    into lr_t = lr sqrt(1 - b2^t) / (1 - b1^t) and eps (1e-7 there) is added to the square
    root of the uncorrected v. The two differ by about 1e-3 after 200 steps.
    """
    g = _decayed(param, grad, lr, weight_decay, decay)
    if variant == "book":
        lr_t = lr * np.sqrt(1.0 - beta2**step) / (1.0 - beta1**step)  # a float64 NumPy scalar
        m += (1 - beta1) * (g - m)
        v += (1 - beta2) * (g**2 - v)
        param -= lr_t * m / (np.sqrt(v) + eps)
    elif variant == "standard":
        step_size = lr / (1 - beta1**step)
        bias_correction2_sqrt = math.sqrt(1 - beta2**step)
        m[...] = beta1 * m + (1 - beta1) * g
        v[...] = beta2 * v + (1 - beta2) * g * g
        denom = np.sqrt(v) / bias_correction2_sqrt + eps
        param -= step_size * m / denom
    else:
        raise ValueError(f"variant must be 'standard' or 'book', got {variant!r}")
