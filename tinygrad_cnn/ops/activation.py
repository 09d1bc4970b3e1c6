"""Activation functions of ``torch.nn.functional`` composed from registered ops.

Each is built from elementwise ops whose backward is itself made of ops (``where``, ``exp``,
``tanh``, ``sigmoid``, ``erf``, arithmetic), so first and higher derivatives come from the
composition. Where a branch of a ``where`` could overflow (``exp`` of a large input), its
argument is replaced first (by another ``where``), so the unused branch never produces ``inf`` whose
zero gradient would turn into NaN.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tinygrad_cnn.ops.special import erf
from tinygrad_cnn.tensor import Tensor


def float_tensor(op: str, x: Any) -> Tensor:
    """``x`` when it is a floating-point Tensor; a ``TypeError`` naming ``op`` otherwise."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: expected a Tensor, got {type(x).__name__}")
    if not np.issubdtype(x.dtype, np.floating):
        raise TypeError(f"{op}: expected a floating-point tensor, got dtype {x.dtype}")
    return x


def _number(op: str, name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise TypeError(f"{op}: {name} must be a number, got {type(value).__name__}")
    return float(value)


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """``x`` where ``x > 0`` else ``negative_slope * x``; gradient ``negative_slope`` at 0.

    Parameters
    ----------
    input : Tensor
        Floating point, any shape.
    negative_slope : float, default 0.01
    inplace : bool, default False
        Only False is supported (the result is a new tensor).
    """
    x = float_tensor("leaky_relu", input)
    slope = _number("leaky_relu", "negative_slope", negative_slope)
    _no_inplace("leaky_relu", inplace)
    return x.where(x > 0, x * slope)


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """``x`` where ``x > 0`` else ``alpha * (exp(x) - 1)``; any shape, floating point."""
    x = float_tensor("elu", input)
    a = _number("elu", "alpha", alpha)
    _no_inplace("elu", inplace)
    negative = (x.where(x <= 0, 0).exp() - 1) * a
    return x.where(x > 0, negative)


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """``x * Phi(x)`` with ``Phi`` the standard normal CDF: ``0.5 x (1 + erf(x / sqrt 2))``;
    ``approximate='tanh'`` uses ``0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x**3)))``."""
    x = float_tensor("gelu", input)
    if approximate == "none":
        return x * 0.5 * (erf(x * (1 / math.sqrt(2.0))) + 1)
    if approximate == "tanh":
        inner = (x + x * x * x * 0.044715) * math.sqrt(2.0 / math.pi)
        return x * 0.5 * (inner.tanh() + 1)
    raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")


def silu(input: Tensor, inplace: bool = False) -> Tensor:
    """``x * sigmoid(x)`` (swish); any shape, floating point."""
    x = float_tensor("silu", input)
    _no_inplace("silu", inplace)
    return x * x.sigmoid()


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """``log(1 + exp(beta x)) / beta``, and ``x`` itself where ``beta x > threshold``.

    Parameters
    ----------
    input : Tensor
        Floating point, any shape.
    beta : float, default 1
    threshold : float, default 20
        Above it (in ``beta * x``) the function is linear, as PyTorch's.
    """
    x = float_tensor("softplus", input)
    b = _number("softplus", "beta", beta)
    t = _number("softplus", "threshold", threshold)
    scaled = x * b
    clipped = scaled.where(scaled <= t, t)
    smooth = (clipped.exp() + 1).log() / b
    return x.where(scaled > t, smooth)


def hardtanh(
    input: Tensor, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False
) -> Tensor:
    """``x`` clipped to ``[min_val, max_val]``; gradient 1 strictly inside, 0 at and beyond
    the ends (as PyTorch's ``hardtanh``, unlike ``clamp`` whose ends pass the gradient)."""
    x = float_tensor("hardtanh", input)
    low = _number("hardtanh", "min_val", min_val)
    high = _number("hardtanh", "max_val", max_val)
    _no_inplace("hardtanh", inplace)
    if low > high:
        raise ValueError(f"hardtanh: min_val ({low}) must not exceed max_val ({high})")
    inside = (x > low) & (x < high)
    edge = Tensor(np.full(x.shape, high, dtype=x.dtype)).where(x >= high, low)
    return x.where(inside, edge)


def _no_inplace(op: str, inplace: Any) -> None:
    if inplace is not False:
        raise ValueError(f"{op}: inplace=True is not supported; got inplace={inplace!r}")
