"""In-place arithmetic with PyTorch's semantics: ``add_ sub_ mul_ div_ copy_ fill_ zero_ clamp_``.

``Tensor.__iadd__`` and friends (``+= -= *= /=``) call these. Each writes its result over the
tensor's memory and returns the same tensor, whose shape and dtype never change. All go through
:func:`~tinygrad_cnn.function.apply_in_place`:

- under ``no_grad()``, or when nothing involved requires grad, nothing is recorded: the values
  are written into the array (the manual SGD step ``with no_grad(): w -= lr * w.grad`` keeps
  ``w``, its identity and its ``requires_grad``);
- otherwise the op is recorded and the tensor moves behind it; the refusals of
  :func:`~tinygrad_cnn.function.check_overwritable` apply (a leaf that requires grad raises
  PyTorch's "a leaf Variable that requires grad is being used in an in-place operation.").

Dtypes follow PyTorch: the result type of ``self op other`` (a dimensioned operand of the same
kind promotes, a 0-d one or a Python number does not) is computed, then cast to ``self``'s
dtype; a result of a higher kind (bool < integer < float) is refused ("result type Float can't
be cast to the desired output type Long"). The operand must broadcast to ``self``'s shape.
Every refusal is a ``RuntimeError``, as in PyTorch, and leaves the tensor unchanged.

The op classes (registered as ``add_``, ``sub_``, ``mul_``, ``div_``, ``copy_``, ``clamp_``)
also run out of place (``inplace=False``, the result in a new array), as ``check_graph`` re-runs
them. Their backward is made of Tensor ops (so it can be differentiated again). What it needs
of the old values is taken before they are overwritten: ``mul_`` and ``div_`` keep the old
``self`` (only when the operand needs a gradient) as a recorded ``clone`` of it, so a second
derivative follows it back to what made it; ``clamp_`` keeps the mask of the elements inside
the bounds, a constant of the derivative. Each gradient comes back in its input's dtype.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_cnn.function import Function, apply_in_place
from tinygrad_cnn.ops.elementwise import Cast, Mul
from tinygrad_cnn.ops.movement import Clone
from tinygrad_cnn.tensor import Tensor

# PyTorch's names of the dtypes, for its error messages.
_TORCH_NAMES = {
    "bool": "Bool", "uint8": "Byte", "int8": "Char", "int16": "Short", "int32": "Int",
    "int64": "Long", "float16": "Half", "float32": "Float", "float64": "Double",
}  # fmt: skip
_KIND_RANK = {"b": 0, "u": 1, "i": 1, "f": 2}  # bool < integer < floating point
_SUB_BOOL = (
    "sub_: subtraction, the `-` operator, with a bool tensor is not supported (PyTorch "
    "refuses it too); use the `^` operator or logical_not() for masks"
)


# ---------------------------------------------------------------------- the ops
class _InPlaceBinary(Function, register=False):
    """Shared forward of ``add_ sub_ mul_ div_``: ``out = a op b`` in ``a``'s dtype and shape."""

    ufunc: np.ufunc

    def run(self, a: np.ndarray, b: np.ndarray, inplace: bool, alpha: Any = 1) -> np.ndarray:
        """Compute ``a op (alpha * b)`` into ``a`` (``inplace``) or a new array of a's dtype."""
        b = _as_compute_dtype(a, b)
        if alpha != 1:  # (a bool times 2 is an int: back to bool)
            b = (b * alpha).astype(b.dtype, copy=False)
        out = a if inplace else np.empty(a.shape, a.dtype)
        # (unsafe: int32 to uint8 is not "same_kind"; the callers refused a higher kind)
        self.ufunc(a, b, out=out, casting="unsafe")
        return out

    def operand(self, a: np.ndarray, b: np.ndarray, inplace: bool) -> Tensor:
        """The operand ``b`` as a Tensor for backward: input 1 itself, or, when it shares
        memory with ``a`` that is about to be overwritten (``y.mul_(y)``), a recorded copy of
        it taken now (so its graph stays that of input 1)."""
        operand = self.inputs[1]
        return Clone.apply(operand) if inplace and np.may_share_memory(a, b) else operand

    def old_self(self, inplace: bool) -> Tensor:
        """``self`` as it was, for backward: a recorded copy of input 0 taken before it is
        overwritten (differentiable, so second order sees its dependence on what made it)."""
        return Clone.apply(self.inputs[0]) if inplace else self.inputs[0]

    def compute_dtype(self, t: Tensor) -> Tensor:
        """``t`` (input 1, or its copy) in the dtype the op computes in (as ``run``)."""
        dtype = _compute_dtype(self.inputs[0].data.dtype, t.data)
        return t if t.data.dtype == dtype else Cast.apply(t, dtype=dtype)

    def in_input_dtypes(self, *grads: Tensor | None) -> tuple[Tensor | None, ...]:
        """Each gradient in the dtype of its input (the op may compute in a wider one)."""
        return tuple(
            g if g is None or g.dtype == t.data.dtype else Cast.apply(g, dtype=t.data.dtype)
            for g, t in zip(grads, self.inputs, strict=True)
        )


class AddInPlace(_InPlaceBinary):
    """out = a + alpha * b, in a's dtype; d/da = 1, d/db = alpha."""

    name = "add_"
    ufunc = np.add

    def forward(
        self, a: np.ndarray, b: np.ndarray, *, alpha: Any = 1, inplace: bool = False
    ) -> np.ndarray:
        return self.run(a, b, inplace, alpha)

    def backward(self, g: Tensor) -> tuple[Tensor | None, ...]:
        alpha = self.attrs.get("alpha", 1)
        grad_b = (g * alpha if alpha != 1 else g) if self.needs_input_grad[1] else None
        return self.in_input_dtypes(g, grad_b)


class SubInPlace(_InPlaceBinary):
    """out = a - alpha * b, in a's dtype; d/da = 1, d/db = -alpha."""

    name = "sub_"
    ufunc = np.subtract

    def forward(
        self, a: np.ndarray, b: np.ndarray, *, alpha: Any = 1, inplace: bool = False
    ) -> np.ndarray:
        return self.run(a, b, inplace, alpha)

    def backward(self, g: Tensor) -> tuple[Tensor | None, ...]:
        alpha = self.attrs.get("alpha", 1)
        return self.in_input_dtypes(g, (g * -alpha if self.needs_input_grad[1] else None))


class MulInPlace(_InPlaceBinary):
    """out = a * b, in a's dtype; d/da = b, d/db = a (the old a, copied before overwriting)."""

    name = "mul_"
    ufunc = np.multiply

    def forward(self, a: np.ndarray, b: np.ndarray, *, inplace: bool = False) -> np.ndarray:
        need_a, need_b = self.needs_input_grad
        self.b = self.operand(a, b, inplace) if need_a else None
        self.a = self.old_self(inplace) if need_b else None
        return self.run(a, b, inplace)

    def backward(self, g: Tensor) -> tuple[Tensor | None, ...]:
        need_a, need_b = self.needs_input_grad
        grad_a = g * self.compute_dtype(self.b) if need_a else None
        grad_b = g * self.a if need_b else None
        return self.in_input_dtypes(grad_a, grad_b)


class DivInPlace(_InPlaceBinary):
    """out = a / b, in a's dtype; d/da = 1 / b, d/db = -(a / b) / b (a: the old a, copied)."""

    name = "div_"
    ufunc = np.true_divide

    def forward(self, a: np.ndarray, b: np.ndarray, *, inplace: bool = False) -> np.ndarray:
        need_a, need_b = self.needs_input_grad
        self.b = self.operand(a, b, inplace) if need_a or need_b else None
        self.a = self.old_self(inplace) if need_b else None
        return self.run(a, b, inplace)

    def backward(self, g: Tensor) -> tuple[Tensor | None, ...]:
        need_a, need_b = self.needs_input_grad
        b = self.compute_dtype(self.b)
        grad_a = g / b if need_a else None
        grad_b = -g * (self.a / b) / b if need_b else None
        return self.in_input_dtypes(grad_a, grad_b)


class CopyInPlace(_InPlaceBinary):
    """out = src broadcast to a's shape and cast to a's dtype; d/da = 0, d/dsrc = 1."""

    name = "copy_"

    def forward(self, a: np.ndarray, src: np.ndarray, *, inplace: bool = False) -> np.ndarray:
        out = a if inplace else np.empty(a.shape, a.dtype)
        np.copyto(out, src, casting="unsafe")  # any dtype to any dtype, as PyTorch's copy_
        return out

    def backward(self, g: Tensor) -> tuple[Tensor | None, ...]:
        need_a = self.needs_input_grad[0]
        zeros = Tensor._from_op(np.zeros_like(g.data), None) if need_a else None
        return self.in_input_dtypes(zeros, g)


class ClampInPlace(Function):
    """out = min(max(a, min), max) (either bound may be None); d/da = 1 where
    ``min <= a <= max`` (bounds included, as PyTorch), else 0. NaN stays NaN (gradient 0)."""

    name = "clamp_"

    def forward(
        self, a: np.ndarray, *, min: Any = None, max: Any = None, inplace: bool = False
    ) -> np.ndarray:
        low, high = min, max
        if self.needs_input_grad[0]:  # taken before a is overwritten: a constant mask
            inside = np.ones(a.shape, dtype=bool) if low is None else a >= low
            if high is not None:
                inside &= a <= high
            self.inside = inside
        out = a if inplace else np.empty(a.shape, a.dtype)
        source = a
        if low is not None:
            np.maximum(source, low, out=out)
            source = out
        if high is not None:
            np.minimum(source, high, out=out)
        return out

    def backward(self, g: Tensor) -> tuple[Tensor]:
        return (Mul.apply(g, Tensor._from_op(self.inside.astype(g.dtype), None)),)


# ---------------------------------------------------------------------- the methods
def add_(x: Tensor, other: Any, alpha: Any = 1) -> Tensor:
    """``x += alpha * other`` in place (``Tensor.add_``); returns ``x``."""
    return _binary(AddInPlace, x, other, alpha=_alpha("add_", x, alpha))


def sub_(x: Tensor, other: Any, alpha: Any = 1) -> Tensor:
    """``x -= alpha * other`` in place (``Tensor.sub_``); returns ``x``."""
    return _binary(SubInPlace, x, other, alpha=_alpha("sub_", x, alpha))


def mul_(x: Tensor, other: Any) -> Tensor:
    """``x *= other`` in place (``Tensor.mul_``); returns ``x``."""
    return _binary(MulInPlace, x, other)


def div_(x: Tensor, other: Any) -> Tensor:
    """``x /= other`` in place (``Tensor.div_``, true division); returns ``x``."""
    return _binary(DivInPlace, x, other)


def copy_(x: Tensor, src: Any) -> Tensor:
    """Copy ``src`` (broadcast to x's shape, cast to x's dtype) into ``x``; returns ``x``."""
    if src is None or isinstance(src, str | bytes):
        raise TypeError(f"copy_: src must be a Tensor, an array or a number, got {_kind(src)}")
    source = _operand_tensor("copy_", x, src)
    _check_broadcast("copy_", x, source)
    if x.dtype.kind != "f" and source.requires_grad:  # an integer result carries no gradient
        source = source.detach()
    return apply_in_place(CopyInPlace, x, source)


def fill_(x: Tensor, value: Any) -> Tensor:
    """Set every element of ``x`` to ``value`` (a number or a 0-d tensor); returns ``x``."""
    if isinstance(value, Tensor | np.ndarray) and np.ndim(value) != 0:
        raise RuntimeError(
            f"fill_ only supports 0-dimension value tensor but got tensor with "
            f"{np.ndim(value)} dimensions."
        )
    if not isinstance(value, Tensor | np.ndarray) and not _is_number(value):
        raise TypeError(f"fill_: value must be a number or a 0-d tensor, got {_kind(value)}")
    return copy_(x, value)


def zero_(x: Tensor) -> Tensor:
    """Set every element of ``x`` to 0; returns ``x``."""
    return copy_(x, 0)


def clamp_(x: Tensor, min: Any = None, max: Any = None) -> Tensor:
    """Clamp ``x`` into ``[min, max]`` in place (``Tensor.clamp_``); returns ``x``.

    ``min`` and ``max`` are numbers (at least one given). Where ``min > max`` every element
    becomes ``max``, and NaN stays NaN, as in PyTorch.
    """
    if min is None and max is None:
        raise RuntimeError("clamp_: at least one of 'min' or 'max' must not be None")
    for bound in (min, max):
        if bound is not None and not _is_number(bound):
            raise TypeError(
                f"clamp_: min and max must be numbers (tensor bounds are not supported in "
                f"place), got {_kind(bound)}"
            )
    if x.dtype.kind == "b":
        raise RuntimeError("clamp_: not supported for bool tensors (as in PyTorch)")
    for bound in (min, max):
        if bound is not None:
            _check_result_kind("clamp_", x, _scalar_kind(bound), _scalar_torch_name(bound))
    return apply_in_place(ClampInPlace, x, min=_plain(min), max=_plain(max))


# ---------------------------------------------------------------------- shared checks
def _binary(op: type[_InPlaceBinary], x: Tensor, other: Any, **attrs: Any) -> Tensor:
    """Validate ``x op= other`` (dtype kinds, broadcasting) and run it."""
    name = op.name
    if other is None or isinstance(other, str | bytes):
        raise TypeError(f"{name}: expected a Tensor, a number or an array, got {_kind(other)}")
    operand = _operand_tensor(name, x, other)
    number = _is_number(other)
    if name == "sub_" and "b" in (
        x.dtype.kind,
        _scalar_kind(other) if number else operand.dtype.kind,
    ):
        raise RuntimeError(_SUB_BOOL)
    if number:
        kind, result = _scalar_kind(other), _scalar_torch_name(other)
    else:
        kind, result = operand.dtype.kind, _torch_name(operand.dtype)
    if name == "div_" and _KIND_RANK[kind] < 2:  # true division gives the default float
        kind, result = "f", "Float"
    _check_result_kind(name, x, kind, result)
    _check_broadcast(name, x, operand)
    return apply_in_place(op, x, operand, **attrs)


def _operand_tensor(name: str, x: Tensor, value: Any) -> Tensor:
    """``value`` as a Tensor: tensors as they are, arrays shared, numbers in x's dtype."""
    if isinstance(value, Tensor):
        return value
    if _is_number(value):
        number = _plain(value)
        if _KIND_RANK[_scalar_kind(number)] > _KIND_RANK[x.dtype.kind]:
            return Tensor._from_op(np.asarray(number), None)  # refused by the caller
        return Tensor._from_op(np.asarray(number, dtype=x.dtype), None)
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in _KIND_RANK:
            raise TypeError(f"{name}: expected an array of real numbers, got dtype {value.dtype}")
        return Tensor._from_op(value, None)
    if isinstance(value, list | tuple):
        try:
            return Tensor(value)
        except (TypeError, ValueError) as error:
            raise TypeError(f"{name}: cannot use {_kind(value)} as an operand: {error}") from None
    raise TypeError(f"{name}: expected a Tensor, a number or an array, got {_kind(value)}")


def _check_result_kind(name: str, x: Tensor, kind: str, result: str) -> None:
    """PyTorch's refusal of an in-place result of a higher kind than ``x``'s dtype."""
    if _KIND_RANK[kind] > _KIND_RANK[x.dtype.kind]:
        raise RuntimeError(
            f"{name}: result type {result} can't be cast to the desired output type "
            f"{_torch_name(x.dtype)} (an in-place op keeps the tensor's dtype; use the "
            f"out-of-place op, or cast first with .astype())"
        )


def _check_broadcast(name: str, x: Tensor, operand: Tensor) -> None:
    """The operand must broadcast to ``x``'s shape: an in-place op never changes it."""
    if operand.shape == x.shape or not operand.ndim:
        return
    try:
        shape = np.broadcast_shapes(x.shape, operand.shape)
    except ValueError:
        shape = None
    if shape != x.shape:
        mismatch = (
            f"the broadcast shape {shape} of the operand of shape {operand.shape}"
            if shape
            else f"the operand of shape {operand.shape} (they do not broadcast together)"
        )
        raise RuntimeError(
            f"{name}: output with shape {x.shape} doesn't match {mismatch}; an in-place op "
            f"never changes the tensor's shape"
        )


def _alpha(name: str, x: Tensor, alpha: Any) -> Any:
    """Validate ``alpha`` as PyTorch does: no float alpha for integers, bool only for bools."""
    if not _is_number(alpha):
        raise TypeError(f"{name}: alpha must be a number, got {_kind(alpha)}")
    alpha = _plain(alpha)
    if isinstance(alpha, bool) and x.dtype.kind != "b":
        raise RuntimeError(f"{name}: Boolean alpha only supported for Boolean results.")
    if isinstance(alpha, float) and x.dtype.kind != "f":
        raise RuntimeError(
            f"{name}: For integral input tensors, argument alpha must not be a floating point "
            f"number."
        )
    return alpha


def _as_compute_dtype(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``b`` in the dtype PyTorch computes ``a op b`` in: a dimensioned ``b`` of a's kind
    promotes (float32 and float64 meet at float64), anything else takes ``a``'s dtype."""
    if b.dtype == a.dtype:
        return b
    return b.astype(_compute_dtype(a.dtype, b), copy=False)


def _compute_dtype(a_dtype: np.dtype, b: np.ndarray) -> np.dtype:
    """The dtype of :func:`_as_compute_dtype`'s result for an ``a`` of ``a_dtype``."""
    if b.dtype == a_dtype:
        return a_dtype
    if b.ndim and _KIND_RANK[b.dtype.kind] == _KIND_RANK[a_dtype.kind]:
        return np.promote_types(a_dtype, b.dtype)
    return a_dtype


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | np.number | np.bool_)


def _plain(value: Any) -> Any:
    """A numpy scalar as a Python number (PyTorch treats both alike); others unchanged."""
    return value.item() if isinstance(value, np.generic) else value


def _scalar_kind(value: Any) -> str:
    value = _plain(value)
    return "b" if isinstance(value, bool) else "i" if isinstance(value, int) else "f"


def _scalar_torch_name(value: Any) -> str:
    """PyTorch's result type of a Python number alone: Bool, Long or the default Float."""
    return {"b": "Bool", "i": "Long", "f": "Float"}[_scalar_kind(value)]


def _torch_name(dtype: np.dtype) -> str:
    return _TORCH_NAMES.get(np.dtype(dtype).name, str(dtype))


def _kind(value: Any) -> str:
    return type(value).__name__
