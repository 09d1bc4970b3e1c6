"""Module-level forms of the elementwise ops and reductions, as ``torch.relu(x)``,
``torch.add(a, b)``, ``torch.sum(x, dim)``.

Each one calls the :class:`~tinygrad_cnn.tensor.Tensor` method or operator of the same name,
so dtypes, broadcasting and gradients are the methods' (see :mod:`tinygrad_cnn.dtypes` for
the type promotion of the binary ones). As in PyTorch, a binary op takes a number on either
side (``add(2, x)``) except ``maximum`` and ``minimum``, which take two tensors.
(This module's ``abs``, ``pow`` and ``sum`` shadow Python's builtins inside it; it uses none
of them.)
"""

from __future__ import annotations

from typing import Any

from tinygrad_cnn.tensor import Tensor

Axis = int | tuple[int, ...] | None


def _tensor(op: str, input: Any) -> Tensor:
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}: expected a Tensor, got {type(input).__name__}")
    return input


# ---------------------------------------------------------------------- one input
def relu(input: Tensor) -> Tensor:
    """Elementwise ``max(x, 0)``; the gradient at 0 is 0."""
    return _tensor("relu", input).relu()


def exp(input: Tensor) -> Tensor:
    """Elementwise ``e ** x``."""
    return _tensor("exp", input).exp()


def log(input: Tensor) -> Tensor:
    """Elementwise natural logarithm."""
    return _tensor("log", input).log()


def sqrt(input: Tensor) -> Tensor:
    """Elementwise square root."""
    return _tensor("sqrt", input).sqrt()


def tanh(input: Tensor) -> Tensor:
    """Elementwise hyperbolic tangent."""
    return _tensor("tanh", input).tanh()


def sigmoid(input: Tensor) -> Tensor:
    """Elementwise ``1 / (1 + e ** -x)``."""
    return _tensor("sigmoid", input).sigmoid()


def abs(input: Tensor) -> Tensor:
    """Elementwise absolute value; the gradient at 0 is 0."""
    return _tensor("abs", input).abs()


def neg(input: Tensor) -> Tensor:
    """Elementwise ``-x``."""
    return -_tensor("neg", input)


# ---------------------------------------------------------------------- two inputs
def _binary(op: str, input: Any, other: Any, forward: str, reflected: str) -> Tensor:
    """``input <op> other`` through the Tensor operator; either side may be a number."""
    if isinstance(input, Tensor):
        return getattr(input, forward)(other)
    if isinstance(other, Tensor):
        return getattr(other, reflected)(input)
    raise TypeError(
        f"{op}: expected a Tensor on at least one side, got {type(input).__name__} and "
        f"{type(other).__name__}"
    )


def add(input: Any, other: Any, *, alpha: float = 1) -> Tensor:
    """``input + alpha * other`` with broadcasting."""
    if alpha != 1:
        other = other * alpha
    return _binary("add", input, other, "__add__", "__radd__")


def sub(input: Any, other: Any, *, alpha: float = 1) -> Tensor:
    """``input - alpha * other`` with broadcasting."""
    if alpha != 1:
        other = other * alpha
    return _binary("sub", input, other, "__sub__", "__rsub__")


def mul(input: Any, other: Any) -> Tensor:
    """``input * other`` with broadcasting."""
    return _binary("mul", input, other, "__mul__", "__rmul__")


def div(input: Any, other: Any) -> Tensor:
    """``input / other`` with broadcasting (integers divide to float32)."""
    return _binary("div", input, other, "__truediv__", "__rtruediv__")


def pow(input: Any, exponent: Any) -> Tensor:
    """``input ** exponent``; either may be a number."""
    return _binary("pow", input, exponent, "__pow__", "__rpow__")


def maximum(input: Tensor, other: Tensor) -> Tensor:
    """Elementwise maximum of two tensors; ties split the gradient equally."""
    return _tensor("maximum", input).maximum(_tensor("maximum", other))


def minimum(input: Tensor, other: Tensor) -> Tensor:
    """Elementwise minimum of two tensors; ties split the gradient equally."""
    return _tensor("minimum", input).minimum(_tensor("minimum", other))
