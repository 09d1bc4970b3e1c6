"""Selection: ``where``, ``clamp``, ``gather`` and the ops built on ``gather`` that return
``(values, indices)``: ``max``/``min`` along a dimension, ``sort``, ``topk``; and ``argmax``/
``argmin``.

Indices follow PyTorch: int64; ties resolve to the first occurrence (``max``, ``min``,
``argmax``, ``argmin``, and ``sort``, which is always stable); NaN counts as larger than
every number (so it is the maximum, the minimum too (NaN propagates), sorts last ascending
and first descending). ``values`` are ``gather(x, dim, indices)``: the gradient goes to the
positions the indices name, and only there.
"""

from __future__ import annotations

import builtins
from typing import Any, NamedTuple

import numpy as np

from tinygrad_cnn.function import Function
from tinygrad_cnn.ops.elementwise import Maximum, Minimum
from tinygrad_cnn.ops.movement import reshape
from tinygrad_cnn.ops.reduce import Max, Min, reduce_op, resolve_dim
from tinygrad_cnn.tensor import Tensor


class ValuesIndices(NamedTuple):
    """``(values, indices)``, as PyTorch's ``torch.return_types.max`` / ``sort`` / ``topk``."""

    values: Tensor
    indices: Tensor


# ---------------------------------------------------------------------- where
class Where(Function):
    """out = a where condition else b; d/da = g where condition, d/db = g elsewhere."""

    def forward(self, condition: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.where(condition, a, b)

    def backward(self, g: Tensor) -> tuple[None, Tensor | None, Tensor | None]:
        condition = self.inputs[0]
        _, need_a, need_b = self.needs_input_grad
        zero = Tensor._from_op(np.zeros((), dtype=g.dtype), None)
        grad_a = Where.apply(condition, g, zero) if need_a else None
        grad_b = Where.apply(condition, zero, g) if need_b else None
        return None, grad_a, grad_b


def where(condition: Tensor, input: Any, other: Any) -> Tensor:
    """``input`` where ``condition`` is True, else ``other``, with broadcasting.

    Parameters
    ----------
    condition : Tensor of bool
    input, other : Tensor or number
        Brought to one dtype as the arithmetic operators do (two Python floats give float32).

    Returns
    -------
    Tensor
        The broadcast shape of the three; differentiable in ``input`` and ``other``.
    """
    if not isinstance(condition, Tensor):
        raise TypeError(f"where: condition must be a Tensor, got {type(condition).__name__}")
    if condition.dtype != np.bool_:
        raise TypeError(
            f"where: condition must be a bool tensor (e.g. x > 0), got dtype {condition.dtype}"
        )
    if isinstance(input, Tensor):
        a, b = input._operands(other, "where")
    elif isinstance(other, Tensor):
        b, a = other._operands(input, "where")
    else:
        a, b = Tensor(input)._operands(other, "where")
    shapes = (condition.shape, a.shape, b.shape)
    try:
        np.broadcast_shapes(*shapes)
    except ValueError:
        raise ValueError(f"where: shapes {shapes} cannot be broadcast together") from None
    return Where.apply(condition, a, b)


# ---------------------------------------------------------------------- clamp
class Clamp(Function):
    """out = min(max(x, low), high) (so ``high`` wins where ``low > high``, as in PyTorch).

    Gradients, PyTorch's: to x where ``low <= x <= high`` (both ends inclusive); to ``low``
    where ``low > x`` and ``low < high`` (just ``low > x`` when no ``max`` was given, so
    ``clamp(x, min=inf)`` sends it to ``min``: ``has_max``); to ``high`` where ``high < x`` or
    ``high < low``. NaN in x stays NaN and gets no gradient.
    """

    def forward(
        self, x: np.ndarray, low: np.ndarray, high: np.ndarray, *, has_max: bool = True
    ) -> np.ndarray:
        return np.minimum(np.maximum(x, low), high)

    def backward(self, g: Tensor) -> tuple[Tensor | None, ...]:
        # Which input the output follows is a constant of the derivative: masks of the inputs.
        x, low, high = (t.data for t in self.inputs)
        need_x, need_low, need_high = self.needs_input_grad
        zero = Tensor._from_op(np.zeros((), dtype=g.dtype), None)

        def routed(mask: np.ndarray) -> Tensor:
            return Where.apply(Tensor._from_op(mask, None), g, zero)

        below = (low > x) & (low < high) if self.attrs["has_max"] else low > x
        grad_x = routed((x >= low) & (x <= high)) if need_x else None
        grad_low = routed(below) if need_low else None
        grad_high = routed((high < x) | (high < low)) if need_high else None
        return grad_x, grad_low, grad_high


def clamp(input: Tensor, min: Any = None, max: Any = None) -> Tensor:
    """Limit ``input`` to ``[min, max]``, as ``torch.clamp`` (alias ``clip``).

    Parameters
    ----------
    input : Tensor
    min, max : Tensor or number, optional
        The bounds (broadcast against ``input``); at least one. Tensor bounds get gradients.
    """
    if not isinstance(input, Tensor):
        raise TypeError(f"clamp: input must be a Tensor, got {type(input).__name__}")
    if min is None and max is None:
        raise ValueError("clamp: at least one of min and max must be given, got neither")
    if input.dtype == np.bool_:
        raise TypeError("clamp: cannot clamp a bool tensor; cast it first, e.g. .int()")
    x = input
    low = high = None
    if min is not None:
        x, low = x._operands(min, "clamp")
    if max is not None:
        x, high = x._operands(max, "clamp")
        if low is not None and low.dtype != x.dtype:
            low = low.astype(x.dtype)
    low = low if low is not None else Tensor._from_op(_extreme(x.dtype, lowest=True), None)
    high = high if high is not None else Tensor._from_op(_extreme(x.dtype, lowest=False), None)
    shapes = (x.shape, low.shape, high.shape)
    try:
        np.broadcast_shapes(*shapes)
    except ValueError:
        raise ValueError(f"clamp: shapes {shapes} cannot be broadcast together") from None
    return Clamp.apply(x, low, high, has_max=max is not None)


def _extreme(dtype: np.dtype, lowest: bool) -> np.ndarray:
    """The bound that never clamps: -inf/+inf, or the integer dtype's extreme."""
    if dtype.kind == "f":
        return np.asarray(-np.inf if lowest else np.inf, dtype=dtype)
    info = np.iinfo(dtype)
    return np.asarray(info.min if lowest else info.max, dtype=dtype)


# ---------------------------------------------------------------------- gather
class Gather(Function):
    """out[i][j][k] = x[i][index[i][j][k]][k] for ``dim=1`` (any ``dim``, as ``torch.gather``).

    ``out`` has ``index``'s shape. d/dx: each g element is added at the position it was read
    from (repeated indices accumulate); ``index`` gets no gradient.
    """

    def forward(self, x: np.ndarray, index: np.ndarray, *, dim: int) -> np.ndarray:
        return x[_positions(index, dim)]

    def backward(self, g: Tensor) -> tuple[Tensor, None]:
        index, dim = self.inputs[1], self.attrs["dim"]
        return GatherBackward.apply(g, index, dim=dim, shape=self.inputs[0].shape), None


class GatherBackward(Function):
    """out = zeros of ``shape`` with g added at the positions :class:`Gather` reads: the
    adjoint of ``gather`` (``torch.zeros(shape).scatter_add(dim, index, g)``).

    ``g`` has ``index``'s shape; where ``index`` repeats a position the g elements add up.
    Backward is ``gather`` of the gradient at ``index``; ``index`` gets no gradient.
    """

    name = "gather_backward"

    def forward(
        self, g: np.ndarray, index: np.ndarray, *, dim: int, shape: tuple[int, ...]
    ) -> np.ndarray:
        out = np.zeros(shape, dtype=g.dtype)
        np.add.at(out, _positions(index, dim), g)
        return out

    def backward(self, g: Tensor) -> tuple[Tensor, None]:
        return Gather.apply(g, self.inputs[1], dim=self.attrs["dim"]), None


def _positions(index: np.ndarray, dim: int) -> tuple[np.ndarray, ...]:
    """Advanced indices reading ``x`` at ``index`` along ``dim``, at the same place elsewhere."""
    grids = np.indices(index.shape, sparse=True)
    return tuple(index if axis == dim else grid for axis, grid in enumerate(grids))


def gather(input: Tensor, dim: int, index: Any) -> Tensor:
    """Values of ``input`` along ``dim`` at ``index``, as ``torch.gather``.

    Parameters
    ----------
    input : Tensor, shape (..., n, ...)
    dim : int
    index : Tensor or array of int, same number of dimensions as ``input``
        ``0 <= index < n``; every other dimension no larger than ``input``'s.

    Returns
    -------
    Tensor
        Shape of ``index``; differentiable in ``input``.
    """
    if not isinstance(input, Tensor):
        raise TypeError(f"gather: input must be a Tensor, got {type(input).__name__}")
    index_array = index.data if isinstance(index, Tensor) else np.asarray(index)
    if index_array.dtype.kind not in "iu":
        raise TypeError(f"gather: index must be integers, got dtype {index_array.dtype}")
    axis = _one_dim("gather", dim, input.ndim)
    if index_array.ndim != builtins.max(input.ndim, 1) and not (
        input.ndim == index_array.ndim == 0
    ):
        raise ValueError(
            f"gather: index must have as many dimensions as input ({input.ndim}), got shape "
            f"{index_array.shape}"
        )
    if input.ndim == 0:
        return reshape(gather(reshape(input, (1,)), 0, index_array.reshape(-1)), index_array.shape)
    for d, (n, m) in enumerate(zip(input.shape, index_array.shape, strict=True)):
        if d != axis and m > n:
            raise ValueError(
                f"gather: index of shape {index_array.shape} is larger than input of shape "
                f"{input.shape} in dimension {d}"
            )
    n = input.shape[axis]
    if index_array.size and (index_array.min() < 0 or index_array.max() >= n):
        raise ValueError(f"gather: index out of range [0, {n}) for dimension {axis}")
    return Gather.apply(input, Tensor._from_op(index_array.astype(np.int64), None), dim=axis)


# ---------------------------------------------------------------------- max, min, argmax, argmin
def _one_dim(op: str, dim: Any, ndim: int) -> int:
    """A single dimension in ``[0, max(ndim, 1))`` (a 0-d tensor accepts 0 and -1)."""
    if isinstance(dim, bool) or not isinstance(dim, int | np.integer):
        raise TypeError(f"{op}: dim must be an int, got {dim!r}")
    size = builtins.max(ndim, 1)
    if not -size <= dim < size:
        raise ValueError(f"{op}: dim {dim} is out of range for a tensor with {ndim} dimensions")
    return int(dim) % size


def _as_1d_if_scalar(x: Tensor) -> Tensor:
    return reshape(x, (1,)) if x.ndim == 0 else x


def _extremum_along(op: str, x: Tensor, dim: Any, keepdim: bool, pick: Any) -> ValuesIndices:
    axis = _one_dim(op, dim, x.ndim)
    if x.ndim and x.shape[axis] == 0:
        raise ValueError(f"{op}: cannot reduce an empty dimension of a tensor of shape {x.shape}")
    flat = _as_1d_if_scalar(x)
    indices = pick(flat.data, axis=axis, keepdims=True).astype(np.int64)
    values = gather(flat, axis, indices)
    if x.ndim == 0:
        return ValuesIndices(reshape(values, ()), Tensor._from_op(indices.reshape(()), None))
    if not keepdim:
        indices = np.squeeze(indices, axis)
        values = reshape(values, indices.shape)
    return ValuesIndices(values, Tensor._from_op(indices, None))


def _max_or_min(
    op: str,
    x: Tensor,
    dim: Any,
    keepdim: bool | None,
    axis: Any,
    keepdims: bool | None,
) -> Tensor | ValuesIndices:
    is_max = op == "max"
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: input must be a Tensor, got {type(x).__name__}")
    if isinstance(dim, Tensor):  # torch.max(input, other): elementwise
        if keepdim is not None or axis is not None or keepdims is not None:
            raise TypeError(f"{op}(input, other): takes no dim or keepdim")
        return (Maximum if is_max else Minimum).apply(*x._operands(dim, op))
    dim, keep = resolve_dim(op, dim, keepdim, axis, keepdims)
    if dim is None:
        if keep:
            raise TypeError(
                f"{op}: keepdim needs a dim; use amax/amin(keepdim=True) to reduce every "
                f"dimension and keep them"
            )
        return reduce_op(Max if is_max else Min, x)
    if isinstance(dim, tuple | list):
        name = "amax" if is_max else "amin"
        raise TypeError(
            f"{op}: dim must be an int (as in PyTorch), got {dim!r}; use {name}(dim={dim!r}) to "
            f"reduce several dimensions"
        )
    pick = np.argmax if is_max else np.argmin
    return _extremum_along(op, x, dim, keep, pick)


def max(
    input: Tensor,
    dim: Any = None,
    keepdim: bool | None = None,
    *,
    axis: Any = None,
    keepdims: bool | None = None,
) -> Tensor | ValuesIndices:
    """The maximum, PyTorch's three forms.

    - ``max(x)``: the largest element, a 0-d tensor; tied maxima share the gradient equally.
    - ``max(x, dim, keepdim=False)``: ``(values, indices)`` along ``dim``; the index of the
      first maximum (NaN counts as the maximum), which alone gets the gradient.
    - ``max(x, other)``: the elementwise maximum of two tensors (:meth:`Tensor.maximum`).

    For several dimensions at once use :func:`amax`.
    """
    return _max_or_min("max", input, dim, keepdim, axis, keepdims)


def min(
    input: Tensor,
    dim: Any = None,
    keepdim: bool | None = None,
    *,
    axis: Any = None,
    keepdims: bool | None = None,
) -> Tensor | ValuesIndices:
    """The minimum, PyTorch's three forms (see :func:`max`); NaN counts as the minimum."""
    return _max_or_min("min", input, dim, keepdim, axis, keepdims)


def _arg_extremum(
    op: str, x: Tensor, dim: Any, keepdim: bool | None, axis: Any, keepdims: bool | None
) -> Tensor:
    dim, keep = resolve_dim(op, dim, keepdim, axis, keepdims)
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: input must be a Tensor, got {type(x).__name__}")
    pick = np.argmax if op == "argmax" else np.argmin
    if dim is None:
        if x.numel() == 0:
            raise ValueError(f"{op}: cannot take the {op} of an empty tensor of shape {x.shape}")
        index = pick(x.data.reshape(-1))
        shape = (1,) * x.ndim if keep else ()
        return Tensor._from_op(np.asarray(index, dtype=np.int64).reshape(shape), None)
    axis_ = _one_dim(op, dim, x.ndim)
    if x.ndim == 0:
        return Tensor._from_op(np.zeros((), dtype=np.int64), None)
    if x.shape[axis_] == 0:
        raise ValueError(f"{op}: cannot take the {op} of an empty dimension, shape {x.shape}")
    return Tensor._from_op(pick(x.data, axis=axis_, keepdims=keep).astype(np.int64), None)


def argmax(
    input: Tensor,
    dim: Any = None,
    keepdim: bool | None = None,
    *,
    axis: Any = None,
    keepdims: bool | None = None,
) -> Tensor:
    """Index of the first maximum along ``dim`` (of the flattened tensor when None); int64.

    NaN counts as the maximum, as in PyTorch. Not differentiable.
    """
    return _arg_extremum("argmax", input, dim, keepdim, axis, keepdims)


def argmin(
    input: Tensor,
    dim: Any = None,
    keepdim: bool | None = None,
    *,
    axis: Any = None,
    keepdims: bool | None = None,
) -> Tensor:
    """Index of the first minimum along ``dim`` (NaN counts as the minimum); int64."""
    return _arg_extremum("argmin", input, dim, keepdim, axis, keepdims)


# ---------------------------------------------------------------------- sort, topk
def _sort_order(data: np.ndarray, axis: int, descending: bool) -> np.ndarray:
    """Stable argsort along ``axis``; NaN last ascending, first descending (as PyTorch)."""
    if not descending:
        return np.argsort(data, axis=axis, kind="stable")
    # Sorting the reversed array and reversing the result keeps ties in their original order.
    reversed_order = np.argsort(np.flip(data, axis), axis=axis, kind="stable")
    return np.flip(data.shape[axis] - 1 - reversed_order, axis)


def sort(
    input: Tensor,
    dim: int = -1,
    descending: bool = False,
    *,
    stable: bool = False,
) -> ValuesIndices:
    """``(values, indices)`` sorted along ``dim``, as ``torch.sort``.

    The sort is always stable (tied elements keep their order; ``stable`` is accepted for
    PyTorch's signature). NaN sorts as the largest value. ``values`` are differentiable: each
    gradient element goes back to the position its value came from.
    """
    if not isinstance(input, Tensor):
        raise TypeError(f"sort: input must be a Tensor, got {type(input).__name__}")
    axis = _one_dim("sort", dim, input.ndim)
    flat = _as_1d_if_scalar(input)
    order = _sort_order(flat.data, axis, bool(descending)).astype(np.int64)
    values = gather(flat, axis, order)
    if input.ndim == 0:
        return ValuesIndices(reshape(values, ()), Tensor._from_op(order.reshape(()), None))
    return ValuesIndices(values, Tensor._from_op(order, None))


def topk(
    input: Tensor,
    k: int,
    dim: int = -1,
    largest: bool = True,
    sorted: bool = True,
) -> ValuesIndices:
    """The ``k`` largest (or smallest) elements along ``dim``, as ``torch.topk``.

    Returns ``(values, indices)`` in sorted order (also when ``sorted=False``, where PyTorch's
    order is unspecified). Among tied elements the earlier ones are taken; PyTorch does not
    specify which, and may pick others. Differentiable in ``values``.
    """
    if not isinstance(input, Tensor):
        raise TypeError(f"topk: input must be a Tensor, got {type(input).__name__}")
    axis = _one_dim("topk", dim, input.ndim)
    size = input.shape[axis] if input.ndim else 1
    if isinstance(k, bool) or not isinstance(k, int | np.integer):
        raise TypeError(f"topk: k must be an int, got {k!r}")
    if not 0 <= k <= size:
        raise ValueError(f"topk: k={k} is out of range for a dimension of size {size}")
    flat = _as_1d_if_scalar(input)
    order = _sort_order(flat.data, axis, bool(largest)).astype(np.int64)
    order = np.take(order, np.arange(k), axis=axis)
    values = gather(flat, axis, order)
    if input.ndim == 0:
        return ValuesIndices(reshape(values, ()), Tensor._from_op(order.reshape(()), None))
    return ValuesIndices(values, Tensor._from_op(order, None))
