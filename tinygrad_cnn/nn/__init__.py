"""Neural-network building blocks: :class:`Module`, :class:`Parameter`, layers and initialisers.

>>> from tinygrad_cnn import nn
>>> model = nn.Sequential(nn.Linear(4, 8, seed=0), nn.ReLU(), nn.Linear(8, 2, seed=1))
>>> model.num_parameters()
58
"""

from tinygrad_cnn.nn import functional, init
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
from tinygrad_cnn.nn.module import IncompatibleKeys, Module, Parameter
from tinygrad_cnn.nn.more_activations import ELU, GELU, Hardtanh, LeakyReLU, SiLU, Softplus
from tinygrad_cnn.nn.more_losses import (
    BCEWithLogitsLoss,
    L1Loss,
    MSELoss,
    NLLLoss,
    SmoothL1Loss,
)
from tinygrad_cnn.nn.norm_layers import BatchNorm1d, BatchNorm2d, LayerNorm

__all__ = [
    "ELU",
    "GELU",
    "AdaptiveAvgPool2d",
    "AvgPool2d",
    "BCEWithLogitsLoss",
    "BatchNorm1d",
    "BatchNorm2d",
    "Conv2d",
    "Dropout",
    "Flatten",
    "Hardtanh",
    "IncompatibleKeys",
    "L1Loss",
    "LayerNorm",
    "LeakyReLU",
    "Linear",
    "MSELoss",
    "MaxPool2d",
    "Module",
    "NLLLoss",
    "Parameter",
    "ReLU",
    "Sequential",
    "SiLU",
    "SmoothL1Loss",
    "Softplus",
    "functional",
    "init",
]  # fmt: skip
