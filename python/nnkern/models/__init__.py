"""Models on nnkern layers: the book's networks and AlexNet (same API: predict, loss,
accuracy, gradient, numerical_gradient, params; ``backend='native'|'reference'``)."""
from .base import Model, Params
from .convnets import AlexNet, DeepConvNet, SimpleConvNet
from .mlp import MultiLayerNet, MultiLayerNetExtend
from .net import Net

__all__ = ["Model", "Net", "Params", "MultiLayerNet", "MultiLayerNetExtend", "SimpleConvNet", "DeepConvNet",
           "AlexNet"]
