"""``tinygrad_cnn.nn.functional``: the functional forms PyTorch users import as ``F``.

>>> import numpy as np
>>> import tinygrad_cnn as tc
>>> import tinygrad_cnn.nn.functional as F
>>> x = tc.tensor([[-1.0, 0.5, 2.0]])
>>> F.leaky_relu(x, 0.1).tolist()
[[-0.10000000149011612, 0.5, 2.0]]

Every function follows ``torch.nn.functional``'s name, arguments, defaults and semantics.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_cnn import ops
from tinygrad_cnn.ops import losses_extra
from tinygrad_cnn.ops.activation import elu, gelu, hardtanh, leaky_relu, silu, softplus
from tinygrad_cnn.ops.conv import conv2d
from tinygrad_cnn.ops.loss import log_softmax, softmax
from tinygrad_cnn.ops.losses_extra import (
    binary_cross_entropy_with_logits,
    l1_loss,
    mse_loss,
    nll_loss,
    smooth_l1_loss,
)
from tinygrad_cnn.ops.normalization import batch_norm, dropout, layer_norm
from tinygrad_cnn.ops.padding import adaptive_avg_pool2d, pad
from tinygrad_cnn.ops.pool import avg_pool2d, max_pool2d
from tinygrad_cnn.ops.special import erf
from tinygrad_cnn.tensor import Tensor

__all__ = [
    "adaptive_avg_pool2d", "avg_pool2d", "batch_norm", "binary_cross_entropy_with_logits",
    "conv2d", "cross_entropy", "dropout", "elu", "erf", "gelu", "hardtanh", "l1_loss",
    "layer_norm", "leaky_relu", "linear", "log_softmax", "max_pool2d", "mse_loss", "nll_loss",
    "pad", "relu", "sigmoid", "silu", "smooth_l1_loss", "softmax", "softplus", "tanh",
]  # fmt: skip


def relu(input: Tensor, inplace: bool = False) -> Tensor:
    """``max(x, 0)`` elementwise; ``inplace=True`` writes over ``input`` (``relu_``)."""
    if not isinstance(input, Tensor):
        raise TypeError(f"relu: expected a Tensor, got {type(input).__name__}")
    return input.relu_() if inplace else input.relu()


def tanh(input: Tensor) -> Tensor:
    """Elementwise ``tanh``."""
    if not isinstance(input, Tensor):
        raise TypeError(f"tanh: expected a Tensor, got {type(input).__name__}")
    return input.tanh()


def sigmoid(input: Tensor) -> Tensor:
    """Elementwise ``1 / (1 + exp(-x))``."""
    if not isinstance(input, Tensor):
        raise TypeError(f"sigmoid: expected a Tensor, got {type(input).__name__}")
    return input.sigmoid()


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``input @ weight.T + bias``: ``(*, in)`` by ``(out, in)`` gives ``(*, out)``."""
    if not isinstance(input, Tensor) or not isinstance(weight, Tensor):
        raise TypeError("linear: input and weight must be Tensors")
    if weight.ndim != 2:
        raise ValueError(f"linear: weight must be (out_features, in_features), got {weight.shape}")
    out = input.matmul(weight.t())
    return out if bias is None else out + bias


def cross_entropy(
    input: Tensor,
    target: Any,
    weight: Tensor | None = None,
    ignore_index: int = -100,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> Tensor:
    """Softmax cross-entropy over axis 1, as ``torch.nn.functional.cross_entropy``.

    The common call (logits ``(N, C)``, integer labels ``(N,)``, no weight, smoothing or
    ignored label) runs the fused op :func:`tinygrad_cnn.ops.cross_entropy`; every other
    form (class weights, ``ignore_index``, ``label_smoothing``, probability targets,
    ``(N, C, d1, ...)`` or ``(C,)`` inputs) runs
    :func:`tinygrad_cnn.ops.losses_extra.cross_entropy`, composed of ``log_softmax`` and
    ``nll_loss``.
    """
    if not isinstance(target, Tensor):
        target = Tensor(np.asarray(target))
    fused = (
        weight is None
        and label_smoothing == 0
        and isinstance(input, Tensor)
        and input.ndim == 2
        and target.ndim == 1
        and np.issubdtype(target.dtype, np.integer)
        and not (target.data == ignore_index).any()
    )
    if fused:
        return ops.cross_entropy(input, target, reduction)
    return losses_extra.cross_entropy(
        input, target, weight, ignore_index, reduction, label_smoothing
    )
