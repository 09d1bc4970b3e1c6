"""Neural-network building blocks: :class:`Module`, :class:`Parameter`, layers, containers,
activations, losses, initialisers and gradient utilities (``nn.utils``).

>>> from tinygrad_cnn import nn
>>> model = nn.Sequential(nn.Linear(4, 8, seed=0), nn.ReLU(), nn.Linear(8, 2, seed=1))
>>> model.num_parameters()
58
"""

from tinygrad_cnn.nn import functional, init, utils
from tinygrad_cnn.nn.activation import (
    ELU,
    GELU,
    Hardtanh,
    Identity,
    LeakyReLU,
    LogSoftmax,
    Sigmoid,
    SiLU,
    Softmax,
    Softplus,
    Tanh,
)
from tinygrad_cnn.nn.containers import ModuleDict, ModuleList
from tinygrad_cnn.nn.dropout import AdaptiveAvgPool2d, Dropout
from tinygrad_cnn.nn.layers import (
    AvgPool2d,
    Conv2d,
    Flatten,
    Linear,
    MaxPool2d,
    ReLU,
    Sequential,
)
from tinygrad_cnn.nn.loss import (
    BCEWithLogitsLoss,
    CrossEntropyLoss,
    L1Loss,
    MSELoss,
    NLLLoss,
    SmoothL1Loss,
)
from tinygrad_cnn.nn.module import IncompatibleKeys, Module, Parameter, RemovableHandle
from tinygrad_cnn.nn.norm_layers import BatchNorm1d, BatchNorm2d, LayerNorm

__all__ = [
    "ELU", "GELU", "AdaptiveAvgPool2d", "AvgPool2d", "BCEWithLogitsLoss", "BatchNorm1d",
    "BatchNorm2d", "Conv2d", "CrossEntropyLoss", "Dropout", "Flatten", "Hardtanh", "Identity",
    "IncompatibleKeys", "L1Loss", "LayerNorm", "LeakyReLU", "Linear", "LogSoftmax", "MSELoss",
    "MaxPool2d", "Module", "ModuleDict", "ModuleList", "NLLLoss", "Parameter", "ReLU",
    "RemovableHandle", "Sequential", "SiLU", "Sigmoid", "SmoothL1Loss", "Softmax", "Softplus",
    "Tanh", "functional", "init", "utils",
]  # fmt: skip
