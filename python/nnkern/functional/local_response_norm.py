"""Local response normalization across channels (Krizhevsky, Sutskever & Hinton 2012,
"ImageNet Classification with Deep Convolutional Neural Networks", section 3.3)."""
from .. import _core
from ..typing import FloatArray
from ._args import contiguous


def local_response_norm(x: FloatArray, size: int = 5, alpha: float = 1e-4, beta: float = 0.75, k: float = 2.0,
                        alpha_over_size: bool = True) -> FloatArray:
    """LRN across channels, as ``torch.nn.functional.local_response_norm`` (4-D input).

    x: (N, C, H, W) -> y of the same shape,
    y_c = x_c / (k + alpha' * sum_{c'=c-size//2}^{c+(size-1)//2} x_{c'}^2)^beta (channels outside
    [0, C) are skipped). The defaults are AlexNet's (size 5, alpha 1e-4, beta 0.75, k 2).

    alpha is divided by size (alpha' = alpha/size) as torch and Caffe do, so results match
    ``torch.nn.functional.local_response_norm``. The paper's formula uses alpha itself:
    pass ``alpha_over_size=False`` (equivalently alpha=size*1e-4 with the default).
    """
    return _core.local_response_norm_forward(contiguous(x), int(size), float(alpha), float(beta), float(k),
                                             bool(alpha_over_size))


def local_response_norm_backward(grad_out: FloatArray, x: FloatArray, size: int = 5, alpha: float = 1e-4,
                                 beta: float = 0.75, k: float = 2.0, alpha_over_size: bool = True) -> FloatArray:
    """Gradient of :func:`local_response_norm` w.r.t. x for grad_out (N, C, H, W)."""
    return _core.local_response_norm_backward(contiguous(grad_out), contiguous(x), int(size), float(alpha), float(beta),
                                              float(k), bool(alpha_over_size))
