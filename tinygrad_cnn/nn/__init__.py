"""Neural-network building blocks: :class:`Module`, :class:`Parameter`, layers, containers,
activations, losses, initialisers and gradient utilities (``nn.utils``).

>>> from tinygrad_cnn import nn
>>> model = nn.Sequential(nn.Linear(4, 8, seed=0), nn.ReLU(), nn.Linear(8, 2, seed=1))
>>> model.num_parameters()
58
"""

from tinygrad_cnn.nn import init, utils
from tinygrad_cnn.nn.activation import Identity, LogSoftmax, Sigmoid, Softmax, Tanh
from tinygrad_cnn.nn.containers import ModuleDict, ModuleList
from tinygrad_cnn.nn.layers import (
    AvgPool2d,
    Conv2d,
    Flatten,
    Linear,
    MaxPool2d,
    ReLU,
    Sequential,
)
from tinygrad_cnn.nn.loss import CrossEntropyLoss
from tinygrad_cnn.nn.module import IncompatibleKeys, Module, Parameter, RemovableHandle

__all__ = [
    "AvgPool2d", "Conv2d", "CrossEntropyLoss", "Flatten", "Identity", "IncompatibleKeys",
    "Linear", "LogSoftmax", "MaxPool2d", "Module", "ModuleDict", "ModuleList", "Parameter",
    "ReLU", "RemovableHandle", "Sequential", "Sigmoid", "Softmax", "Tanh", "init", "utils",
]  # fmt: skip
