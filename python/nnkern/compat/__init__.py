"""Drop-in replacements for the modules of Deep Learning from Scratch's ``common/`` package
(and ch07's SimpleConvNet, ch08's DeepConvNet), running on nnkern's native kernels.

A notebook switches by changing its imports::

    from common.layers import *                 ->  from nnkern.compat.layers import *
    from common.multi_layer_net import MultiLayerNet
                                                ->  from nnkern.compat.multi_layer_net import MultiLayerNet
    from common.trainer import Trainer          ->  from nnkern.compat.trainer import Trainer

The classes keep the book's names, constructor signatures, attributes and semantics: float64
parameters from ``np.random.randn``, float32 or float64 data (promoted like NumPy), plain
attributes that may be reassigned (``layer.W = params['W1']``), per-activation batch norm on
4-D input, non-inverted dropout, the book's Adam, ``Trainer``. The few deliberate
differences are listed in :mod:`nnkern.compat.layers` and :mod:`nnkern.compat._params_io`.

``nnkern.compat.set_default_dtype(np.float32)`` (or ``NNKERN_COMPAT_DTYPE=float32``) is an
opt-in float32 mode, about twice as fast, otherwise the book's semantics (see
:mod:`nnkern.compat._dtype`).

Where nnkern's own API (``nnkern.layers`` / ``nnkern.models``) differs from compat, and why:

* ``forward(x, train=True)`` on every layer (one protocol; the book passes ``train_flg`` only
  to Dropout/BatchNormalization) so models can loop without isinstance checks;
* float32 by default (``dtype=`` to change) — half the memory traffic; the book's float64
  is kept in compat;
* ``Dropout`` is inverted (scale in training, identity at test time: no work at inference);
* ``BatchNorm`` on 4-D input is per channel (spatial BN, Ioffe & Szegedy sec. 3.2, torch's
  BatchNorm2d), with torch's running-statistics convention (momentum 0.1 on the batch value,
  unbiased variance, eps 1e-5), where the book normalises each activation separately;
* ``model.params[k] = a`` copies into the existing array (layers keep their reference;
  shapes are checked); compat rebinds, as the book does;
* checkpoints are .npz (``nnkern.save``/``nnkern.load``) rather than pickle;
* nnkern's layers use the book's Affine layout (W is (in, out)) and NCHW, like compat.
"""
from ._dtype import get_default_dtype, set_default_dtype  # the opt-in float32 mode (see nnkern.compat._dtype)

# isort: split
from . import (
    deep_convnet,
    functions,
    gradient,
    layers,
    multi_layer_net,
    multi_layer_net_extend,
    optimizer,
    simple_convnet,
    trainer,
    util,
)

__all__ = ["functions", "gradient", "layers", "multi_layer_net", "multi_layer_net_extend", "optimizer",
           "trainer", "util", "simple_convnet", "deep_convnet", "set_default_dtype", "get_default_dtype"]
