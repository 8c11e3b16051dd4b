"""Batch normalisation layer (1-D on (N, D), 2-D per channel on (N, C, H, W))."""
import numpy as np
from numpy.typing import ArrayLike

from ..typing import FloatArray
from .base import Layer, check_float


class BatchNorm(Layer):
    """Batch normalisation (Ioffe & Szegedy 2015): per feature on (N, D), per channel on
    (N, C, H, W) ("2-D", spatial batch norm as in torch's BatchNorm2d).

    gamma/beta are parameters; running_mean/running_var are buffers. Running statistics use
    torch's convention: running = (1 - momentum) * running + momentum * batch_stat with the
    unbiased batch variance (``unbiased_running_var=False`` for the biased one). The book's
    BatchNormalization (momentum 0.9 on the *old* value, biased variance) is
    ``BatchNorm(..., momentum=0.1, unbiased_running_var=False)``; see nnkern.compat for the
    book's per-activation variant on 4-D input.
    """

    x: FloatArray  # the forward input and statistics, for backward
    train: bool
    save_mean: FloatArray
    save_invstd: FloatArray

    def __init__(self, gamma: ArrayLike, beta: ArrayLike, running_mean: ArrayLike | None = None,
                 running_var: ArrayLike | None = None, momentum: float = 0.1, eps: float = 1e-5,
                 unbiased_running_var: bool = True, backend: str = "native") -> None:
        super().__init__(backend)
        gamma, beta = check_float(gamma, "gamma"), check_float(beta, "beta")
        if gamma.ndim != 1 or beta.shape != gamma.shape:
            raise ValueError(f"gamma and beta must be 1-D of one shape, got {gamma.shape}, {beta.shape}")
        self.params["gamma"] = gamma
        self.params["beta"] = beta
        d = gamma.shape[0]
        self.buffers["running_mean"] = (np.zeros(d, gamma.dtype) if running_mean is None
                                        else np.ascontiguousarray(running_mean, dtype=gamma.dtype))
        self.buffers["running_var"] = (np.ones(d, gamma.dtype) if running_var is None
                                       else np.ascontiguousarray(running_var, dtype=gamma.dtype))
        self.momentum, self.eps = float(momentum), float(eps)
        self.unbiased_running_var = bool(unbiased_running_var)

    def forward(self, x: FloatArray, train: bool = True) -> FloatArray:
        x = check_float(x)
        d = self.params["gamma"].shape[0]
        if x.ndim not in (2, 4) or x.shape[1] != d:
            raise ValueError(f"BatchNorm over {d} features expects (N, {d}) or (N, {d}, H, W), got {x.shape}")
        self.x, self.train = x, bool(train)
        y: FloatArray
        y, self.save_mean, self.save_invstd = self.F.batch_norm_forward(
            x, self.buffers["running_mean"], self.buffers["running_var"], self.params["gamma"],
            self.params["beta"], self.train, momentum=self.momentum, eps=self.eps,
            unbiased_running_var=self.unbiased_running_var)
        return y

    def backward(self, dout: FloatArray) -> FloatArray:
        gx: FloatArray
        gx, gg, gb = self.F.batch_norm_backward(dout, self.x, self.params["gamma"], self.save_mean,
                                                self.save_invstd, training=self.train)
        self.grads["gamma"], self.grads["beta"] = gg, gb
        return gx


BatchNormalization = BatchNorm


class BatchNorm1D(BatchNorm):
    """BatchNorm over features of (N, D) input only (torch's BatchNorm1d without length axis)."""

    def forward(self, x: FloatArray, train: bool = True) -> FloatArray:
        if np.ndim(x) != 2:
            raise ValueError(f"BatchNorm1D expects (N, D), got {np.shape(x)}")
        return super().forward(x, train)


class BatchNorm2D(BatchNorm):
    """Spatial BatchNorm over channels of (N, C, H, W) input only (torch's BatchNorm2d)."""

    def forward(self, x: FloatArray, train: bool = True) -> FloatArray:
        if np.ndim(x) != 4:
            raise ValueError(f"BatchNorm2D expects (N, C, H, W), got {np.shape(x)}")
        return super().forward(x, train)
