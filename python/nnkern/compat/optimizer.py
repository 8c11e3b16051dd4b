"""The book's ``common/optimizer.py`` on nnkern's optimizer driver (:mod:`nnkern.optimizers`:
one fused native pass over all parameters per ``update``).

Same classes, arguments and state attributes as the book (``v``, ``h``, ``m``, ``iter``):
SGD, Momentum, Nesterov, AdaGrad, RMSprop, Adam (the book's variant: lr_t with the bias
corrections folded in, eps = 1e-7 outside sqrt(v)). ``params`` is updated in place, so
layers that hold the same arrays see the change, as in the book; results equal the book's
NumPy listings bit for bit. A gradient of another float dtype than its parameter is cast to
the parameter's dtype first (the book's NumPy arithmetic accepts such pairs too).
"""
from .. import optimizers as _opt


class SGD(_opt.SGD):
    """W <- W - lr * grad."""
    _cast_grads = True

    def __init__(self, lr=0.01):
        super().__init__(lr)


class Momentum(_opt.Momentum):
    """v <- momentum * v - lr * grad; W <- W + v."""
    _cast_grads = True

    def __init__(self, lr=0.01, momentum=0.9):
        super().__init__(lr, momentum)


class Nesterov(_opt.Nesterov):
    """Nesterov's accelerated gradient (http://arxiv.org/abs/1212.0901), the book's form."""
    _cast_grads = True

    def __init__(self, lr=0.01, momentum=0.9):
        super().__init__(lr, momentum)


class AdaGrad(_opt.AdaGrad):
    """h <- h + grad^2; W <- W - lr * grad / (sqrt(h) + 1e-7)."""
    _cast_grads = True

    def __init__(self, lr=0.01):
        super().__init__(lr, eps=1e-7)


class RMSprop(_opt.RMSprop):
    """h <- decay_rate * h + (1 - decay_rate) * grad^2; W <- W - lr * grad / (sqrt(h) + 1e-7)."""
    _cast_grads = True

    def __init__(self, lr=0.01, decay_rate=0.99):
        super().__init__(lr, decay_rate, eps=1e-7)


class Adam(_opt.Adam):
    """Adam (http://arxiv.org/abs/1412.6980v8), the book's form:
    lr_t = lr * sqrt(1 - beta2^t) / (1 - beta1^t); m += (1-beta1)(g - m); v += (1-beta2)(g^2 - v);
    W -= lr_t * m / (sqrt(v) + 1e-7)."""
    _cast_grads = True

    def __init__(self, lr=0.001, beta1=0.9, beta2=0.999):
        super().__init__(lr, beta1, beta2, eps=1e-7, variant="book")
