"""Activation modules: :class:`Identity`, :class:`Tanh`, :class:`Sigmoid`, :class:`Softmax`,
:class:`LogSoftmax` over the core ops, and :class:`LeakyReLU`, :class:`ELU`, :class:`GELU`,
:class:`SiLU`, :class:`Softplus`, :class:`Hardtanh` over :mod:`tinygrad_cnn.ops.activation`
(:class:`ReLU` lives in :mod:`tinygrad_cnn.nn.layers`).

Each takes PyTorch's constructor arguments and maps a tensor of any shape to the same shape."""

from __future__ import annotations

from typing import Any

from tinygrad_cnn import ops
from tinygrad_cnn.nn.module import Module
from tinygrad_cnn.ops import activation
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


class LeakyReLU(Module):
    """``x`` for ``x > 0``, else ``negative_slope * x``."""

    def __init__(self, negative_slope: float = 0.01, inplace: bool = False) -> None:
        super().__init__()
        self.negative_slope, self.inplace = negative_slope, inplace

    def forward(self, x: Tensor) -> Tensor:
        return activation.leaky_relu(x, self.negative_slope, self.inplace)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"


class ELU(Module):
    """``x`` for ``x > 0``, else ``alpha * (exp(x) - 1)``."""

    def __init__(self, alpha: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        self.alpha, self.inplace = alpha, inplace

    def forward(self, x: Tensor) -> Tensor:
        return activation.elu(x, self.alpha, self.inplace)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}"


class GELU(Module):
    """``x * Phi(x)``; ``approximate='tanh'`` for the tanh approximation."""

    def __init__(self, approximate: str = "none") -> None:
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, x: Tensor) -> Tensor:
        return activation.gelu(x, self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class SiLU(Module):
    """``x * sigmoid(x)``."""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, x: Tensor) -> Tensor:
        return activation.silu(x, self.inplace)


class Softplus(Module):
    """``log(1 + exp(beta x)) / beta``, linear above ``threshold``."""

    def __init__(self, beta: float = 1.0, threshold: float = 20.0) -> None:
        super().__init__()
        self.beta, self.threshold = beta, threshold

    def forward(self, x: Tensor) -> Tensor:
        return activation.softplus(x, self.beta, self.threshold)

    def extra_repr(self) -> str:
        return f"beta={self.beta}, threshold={self.threshold}"


class Hardtanh(Module):
    """``x`` clipped to ``[min_val, max_val]``."""

    def __init__(self, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        if min_val > max_val:
            raise ValueError(f"Hardtanh: min_val ({min_val}) must not exceed max_val ({max_val})")
        self.min_val, self.max_val, self.inplace = min_val, max_val, inplace

    def forward(self, x: Tensor) -> Tensor:
        return activation.hardtanh(x, self.min_val, self.max_val, self.inplace)

    def extra_repr(self) -> str:
        return f"min_val={self.min_val}, max_val={self.max_val}"
