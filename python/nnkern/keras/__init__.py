"""A Keras-2 style API on nnkern: ``Sequential`` and its layers.

A Keras 2 model (e.g. the small-convnet example of Chollet's *Deep Learning with Python*)
ports by changing the import::

    from nnkern.keras import layers, models
    model = models.Sequential()
    model.add(layers.Conv2D(32, (3, 3), activation='relu', input_shape=(150, 150, 3)))
    ...
    model.summary()
"""
from . import layers, models
from .layers import Activation, AveragePooling2D, BatchNormalization, Conv2D, Dense, Dropout, Flatten, MaxPooling2D
from .models import History, Sequential, SummaryCounts

__all__ = ["layers", "models", "Sequential", "History", "SummaryCounts", "Conv2D", "MaxPooling2D",
           "AveragePooling2D", "Flatten", "Dense", "Dropout", "BatchNormalization", "Activation"]
