"""Neural-network building blocks: :class:`Module`, :class:`Parameter`, layers and initialisers.

>>> from tinygrad_cnn import nn
>>> model = nn.Sequential(nn.Linear(4, 8, seed=0), nn.ReLU(), nn.Linear(8, 2, seed=1))
>>> model.num_parameters()
58
"""

from tinygrad_cnn.nn import init
from tinygrad_cnn.nn.layers import (
    AvgPool2d,
    Conv2d,
    Flatten,
    Linear,
    MaxPool2d,
    ReLU,
    Sequential,
)
from tinygrad_cnn.nn.module import IncompatibleKeys, Module, Parameter

__all__ = [
    "AvgPool2d", "Conv2d", "Flatten", "IncompatibleKeys", "Linear", "MaxPool2d", "Module",
    "Parameter", "ReLU", "Sequential", "init",
]  # fmt: skip
