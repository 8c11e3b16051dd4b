# Mirrors the study notes' optimizer listings on purpose (the test oracle): the classes below repeat
# one another's lazy state set-up as the listings do.
"""The book's rules (Momentum, AdaGrad, RMSprop, its Adam) against the study notes' listings,
reproduced verbatim below as the oracle: nnkern.optimizers and nnkern.compat.optimizer must
match them bit for bit."""
import numpy as np
import pytest
from nnkern import optimizers as O
from nnkern.compat import optimizer as C
from optim_harness import make_grads, make_params


# The study notes' listings, verbatim (reformatted only): the oracle for the book's rules.
class BookMomentum:
    def __init__(self, lr=0.01, momentum=0.9):
        self.lr = lr
        self.momentum = momentum
        self.v = None

    def update(self, params, grads):
        if self.v is None:
            self.v = {}
            for key, val in params.items():
                self.v[key] = np.zeros_like(val)
        for key in params.keys():
            self.v[key] = self.momentum * self.v[key] - self.lr * grads[key]
            params[key] += self.v[key]


class BookAdaGrad:
    def __init__(self, lr=0.01):
        self.lr = lr
        self.h = None

    def update(self, params, grads):
        if self.h is None:
            self.h = {}
            for key, val in params.items():
                self.h[key] = np.zeros_like(val)
        for key in params.keys():
            self.h[key] += grads[key] * grads[key]
            params[key] -= self.lr * grads[key] / (np.sqrt(self.h[key]) + 1e-7)


class BookRMSprop:
    def __init__(self, lr=0.01, decay_rate=0.99):
        self.lr = lr
        self.decay_rate = decay_rate
        self.h = None

    def update(self, params, grads):
        if self.h is None:
            self.h = {}
            for key, val in params.items():
                self.h[key] = np.zeros_like(val)
        for key in params.keys():
            self.h[key] *= self.decay_rate
            self.h[key] += (1 - self.decay_rate) * grads[key] * grads[key]
            params[key] -= self.lr * grads[key] / (np.sqrt(self.h[key]) + 1e-7)


class BookAdam:
    def __init__(self, lr=0.001, beta1=0.9, beta2=0.999):
        self.lr = lr
        self.beta1 = beta1
        self.beta2 = beta2
        self.iter = 0
        self.m = None
        self.v = None

    def update(self, params, grads):
        if self.m is None:
            self.m, self.v = {}, {}
            for key, val in params.items():
                self.m[key] = np.zeros_like(val)
                self.v[key] = np.zeros_like(val)
        self.iter += 1
        lr_t = self.lr * np.sqrt(1.0 - self.beta2**self.iter) / (1.0 - self.beta1**self.iter)
        for key in params.keys():
            self.m[key] += (1 - self.beta1) * (grads[key] - self.m[key])
            self.v[key] += (1 - self.beta2) * (grads[key]**2 - self.v[key])
            params[key] -= lr_t * self.m[key] / (np.sqrt(self.v[key]) + 1e-7)


LISTINGS = {
    "momentum": (BookMomentum, lambda: O.Momentum(lr=0.01, momentum=0.9), "v"),
    "adagrad": (BookAdaGrad, lambda: O.AdaGrad(lr=0.01), "h"),
    "rmsprop": (BookRMSprop, lambda: O.RMSprop(lr=0.01, decay_rate=0.99), "h"),
    "adam-book": (BookAdam, lambda: O.Adam(lr=0.001, variant="book"), "v"),
    # nnkern.compat.optimizer: the book's classes on the same driver
    "compat-momentum": (BookMomentum, C.Momentum, "v"),
    "compat-adagrad": (BookAdaGrad, C.AdaGrad, "h"),
    "compat-rmsprop": (BookRMSprop, C.RMSprop, "h"),
    "compat-adam": (BookAdam, C.Adam, "m"),
}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("rule", LISTINGS)
def test_book_rules_match_the_listings_exactly(rng, rule, dtype):
    listing_cls, make, state = LISTINGS[rule]
    book, opt = listing_cls(), make()
    params = make_params(rng, {"W1": (37, 11), "b1": (11,), "W2": (11, 3), "b2": (3,)}, dtype)
    book_params = {k: p.copy() for k, p in params.items()}
    for _ in range(200):
        grads = make_grads(rng, params)
        opt.update(params, grads)
        book.update(book_params, grads)
    for k in params:
        np.testing.assert_array_equal(params[k], book_params[k], strict=True)
        np.testing.assert_array_equal(getattr(opt, state)[k], getattr(book, state)[k], strict=True)
    if rule.endswith("adam") or rule == "adam-book":
        assert opt.iter == book.iter == 200
        np.testing.assert_array_equal(opt.v["W1"], book.v["W1"], strict=True)


def test_standard_and_book_adam_differ(rng):
    # Each variant is tested against its own reference: they are not interchangeable.
    params = make_params(rng, {"w": (200,)}, np.float64)
    book, std = {k: p.copy() for k, p in params.items()}, params
    ob, os_ = O.Adam(variant="book"), O.Adam(variant="standard")
    assert (ob.eps, os_.eps) == (1e-7, 1e-8)
    for _ in range(200):
        grads = make_grads(rng, params)
        ob.update(book, grads)
        os_.update(std, grads)
    assert np.max(np.abs(book["w"] - std["w"])) > 1e-6
