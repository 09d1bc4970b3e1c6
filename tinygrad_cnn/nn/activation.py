"""Activation and normalisation-free modules over existing ops: :class:`Identity`,
:class:`Tanh`, :class:`Sigmoid`, :class:`Softmax`, :class:`LogSoftmax` (:class:`ReLU` lives in
:mod:`tinygrad_cnn.nn.layers`)."""

from __future__ import annotations

from typing import Any

from tinygrad_cnn import ops
from tinygrad_cnn.nn.module import Module
from tinygrad_cnn.tensor import Tensor


def _tensor(layer: Module, x: Any) -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(f"{type(layer).__name__}: input must be a Tensor, got {type(x).__name__}")
    return x


class Identity(Module):
    """Returns its input unchanged (any arguments to the constructor are ignored, as PyTorch)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()

    def forward(self, x: Any) -> Any:
        return x


class Tanh(Module):
    """Elementwise ``tanh(x)``; any shape."""

    def forward(self, x: Tensor) -> Tensor:
        return _tensor(self, x).tanh()


class Sigmoid(Module):
    """Elementwise ``1 / (1 + exp(-x))``; any shape."""

    def forward(self, x: Tensor) -> Tensor:
        return _tensor(self, x).sigmoid()


class Softmax(Module):
    """``softmax`` along ``dim``: each slice is positive and sums to 1.

    Parameters
    ----------
    dim : int, optional
        As :func:`tinygrad_cnn.ops.softmax`: required beyond two dimensions.
    """

    def __init__(self, dim: int | None = None) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, x: Tensor) -> Tensor:
        return ops.softmax(_tensor(self, x), self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class LogSoftmax(Module):
    """``log_softmax`` along ``dim`` (stable); arguments as :class:`Softmax`."""

    def __init__(self, dim: int | None = None) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, x: Tensor) -> Tensor:
        return ops.log_softmax(_tensor(self, x), self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"
