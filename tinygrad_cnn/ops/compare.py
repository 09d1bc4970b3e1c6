"""Comparisons, value tests and boolean reductions: results are bool tensors, never recorded.

As in PyTorch, ``x < y`` and friends compare elementwise with broadcasting, after bringing
both operands to one dtype (the promotion of the arithmetic operators, so ``int_tensor == 2.5``
compares as float); the result is a bool tensor that requires no grad, and no op is added to
the graph. ``isnan``, ``isinf``, ``isfinite``, ``any`` and ``all`` give bool tensors too. The
bitwise operators ``~ & | ^`` work on bool and integer tensors (to combine masks).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_cnn.grad_mode import no_grad
from tinygrad_cnn.ops.reduce import normalize_axes, resolve_dim
from tinygrad_cnn.tensor import Axis, Tensor

_COMPARISONS = {
    "eq": np.equal,
    "ne": np.not_equal,
    "lt": np.less,
    "le": np.less_equal,
    "gt": np.greater,
    "ge": np.greater_equal,
}
_BITWISE = {
    "bitwise_and": np.bitwise_and,
    "bitwise_or": np.bitwise_or,
    "bitwise_xor": np.bitwise_xor,
}


def is_operand(value: Any) -> bool:
    """Whether ``value`` can be the other side of a comparison (else ``==`` is identity)."""
    return isinstance(
        value, Tensor | int | float | np.number | np.bool_ | np.ndarray | list | tuple
    )


def _bool_tensor(array: Any) -> Tensor:
    return Tensor._from_op(np.asarray(array, dtype=np.bool_), None)


def _pair(op: str, x: Any, other: Any) -> tuple[np.ndarray, np.ndarray]:
    """The two operands' arrays in their common dtype (nothing is recorded)."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: input must be a Tensor, got {type(x).__name__}")
    if other is None or isinstance(other, str | bytes):
        raise TypeError(f"{op}: expected a Tensor or a number to compare with, got {other!r}")
    with no_grad():
        a, b = x._operands(other, op)
    if a.shape != b.shape and a.ndim and b.ndim:
        try:
            np.broadcast_shapes(a.shape, b.shape)
        except ValueError:
            raise ValueError(
                f"{op}: shapes {a.shape} and {b.shape} cannot be broadcast together"
            ) from None
    return a.data, b.data


def compare(op: str, x: Tensor, other: Any) -> Tensor:
    """``x <op> other`` elementwise, ``op`` one of eq, ne, lt, le, gt, ge; a bool tensor."""
    a, b = _pair(op, x, other)
    return _bool_tensor(_COMPARISONS[op](a, b))


def eq(input: Tensor, other: Any) -> Tensor:
    """``input == other`` elementwise (bool, broadcast), as ``torch.eq``."""
    return compare("eq", input, other)


def ne(input: Tensor, other: Any) -> Tensor:
    """``input != other`` elementwise (bool, broadcast), as ``torch.ne``. NaN != NaN."""
    return compare("ne", input, other)


def lt(input: Tensor, other: Any) -> Tensor:
    """``input < other`` elementwise (bool, broadcast), as ``torch.lt``."""
    return compare("lt", input, other)


def le(input: Tensor, other: Any) -> Tensor:
    """``input <= other`` elementwise (bool, broadcast), as ``torch.le``."""
    return compare("le", input, other)


def gt(input: Tensor, other: Any) -> Tensor:
    """``input > other`` elementwise (bool, broadcast), as ``torch.gt``."""
    return compare("gt", input, other)


def ge(input: Tensor, other: Any) -> Tensor:
    """``input >= other`` elementwise (bool, broadcast), as ``torch.ge``."""
    return compare("ge", input, other)


def bitwise(op: str, x: Tensor, other: Any) -> Tensor:
    """``&``, ``|``, ``^`` of bool or integer tensors (not recorded; no gradient)."""
    a, b = _pair(op, x, other)
    if a.dtype.kind not in "biu":
        raise TypeError(f"{op}: expected bool or integer tensors, got {a.dtype}")
    return Tensor._from_op(np.asarray(_BITWISE[op](a, b)), None)


def bitwise_not(x: Tensor) -> Tensor:
    """``~x``: logical not of a bool tensor, bitwise not of an integer one."""
    if not isinstance(x, Tensor):
        raise TypeError(f"bitwise_not: input must be a Tensor, got {type(x).__name__}")
    if x.dtype.kind not in "biu":
        raise TypeError(f"bitwise_not: expected a bool or integer tensor, got {x.dtype}")
    return Tensor._from_op(np.asarray(np.invert(x.data)), None)


def _value_test(op: str, x: Tensor, test: Any) -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: input must be a Tensor, got {type(x).__name__}")
    if x.dtype.kind != "f":  # integers and bools are always finite
        return _bool_tensor(np.full(x.shape, op == "isfinite"))
    return _bool_tensor(test(x.data))


def isnan(input: Tensor) -> Tensor:
    """True where ``input`` is NaN (bool, same shape), as ``torch.isnan``."""
    return _value_test("isnan", input, np.isnan)


def isinf(input: Tensor) -> Tensor:
    """True where ``input`` is +inf or -inf, as ``torch.isinf``."""
    return _value_test("isinf", input, np.isinf)


def isfinite(input: Tensor) -> Tensor:
    """True where ``input`` is neither NaN nor infinite, as ``torch.isfinite``."""
    return _value_test("isfinite", input, np.isfinite)


def _truth_reduction(
    op: str, x: Tensor, dim: Axis, keepdim: bool | None, axis: Axis, keepdims: bool | None
) -> Tensor:
    dim, keep = resolve_dim(op, dim, keepdim, axis, keepdims)
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: input must be a Tensor, got {type(x).__name__}")
    axes = normalize_axes(op, dim, x.ndim)
    truth = x.data != 0  # NaN counts as true, as in PyTorch
    return _bool_tensor(getattr(np, op)(truth, axis=axes, keepdims=keep))


def any(
    input: Tensor,
    dim: Axis = None,
    keepdim: bool | None = None,
    *,
    axis: Axis = None,
    keepdims: bool | None = None,
) -> Tensor:
    """Whether any element over ``dim`` (all when None) is non-zero; a bool tensor."""
    return _truth_reduction("any", input, dim, keepdim, axis, keepdims)


def all(
    input: Tensor,
    dim: Axis = None,
    keepdim: bool | None = None,
    *,
    axis: Axis = None,
    keepdims: bool | None = None,
) -> Tensor:
    """Whether every element over ``dim`` (all when None) is non-zero; a bool tensor."""
    return _truth_reduction("all", input, dim, keepdim, axis, keepdims)
