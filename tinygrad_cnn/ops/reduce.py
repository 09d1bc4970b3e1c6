"""Reductions over dimensions: sum, mean, amax, amin.

The public functions take PyTorch's ``dim``/``keepdim`` (numpy's ``axis``/``keepdims`` are
accepted as aliases, :func:`resolve_dim`). The ops get ``axis`` (a sorted tuple of distinct
non-negative axes, normalised by :func:`reduce_op`) and ``keepdims``. Backward first restores
the reduced axes as size 1 (``keepdims`` form), then spreads the gradient over the input shape.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_cnn.function import Function
from tinygrad_cnn.tensor import Axis, Tensor


def resolve_dim(
    op: str, dim: Any, keepdim: Any, axis: Any = None, keepdims: Any = None
) -> tuple[Any, bool]:
    """Merge PyTorch's ``dim``/``keepdim`` with numpy's ``axis``/``keepdims`` aliases.

    Returns ``(dim, keepdim)``; ``keepdim`` defaults to False.

    Raises
    ------
    TypeError
        When a name and its alias are both given.
    """
    if axis is not None:
        if dim is not None:
            raise TypeError(
                f"{op}: got both dim={dim!r} and axis={axis!r}; pass one (axis is numpy's "
                f"name for dim)"
            )
        dim = axis
    if keepdims is not None:
        if keepdim is not None:
            raise TypeError(
                f"{op}: got both keepdim={keepdim!r} and keepdims={keepdims!r}; pass one "
                f"(keepdims is numpy's name for keepdim)"
            )
        keepdim = keepdims
    return dim, bool(keepdim)


def normalize_axes(op: str, axis: Axis, ndim: int) -> tuple[int, ...]:
    """Turn ``axis`` (int, tuple of ints or None) into a sorted tuple of axes in ``[0, ndim)``.

    An empty tuple means every axis, as PyTorch's ``sum(dim=())``.

    Raises
    ------
    TypeError
        When an axis is not an integer.
    ValueError
        When an axis is out of range or repeated.
    """
    if axis is None or (isinstance(axis, tuple | list) and not axis):
        return tuple(range(ndim))
    axes = (axis,) if not isinstance(axis, tuple | list) else tuple(axis)
    normalized = []
    for a in axes:
        if isinstance(a, bool) or not isinstance(a, int | np.integer):
            raise TypeError(f"{op}: dim must be an int or a tuple of ints, got {axis!r}")
        if not -max(ndim, 1) <= a < max(ndim, 1):
            raise ValueError(f"{op}: dim {a} is out of range for a tensor with {ndim} dimensions")
        normalized.append(int(a) % max(ndim, 1))
    if len(set(normalized)) != len(normalized):
        raise ValueError(f"{op}: dim {axis!r} repeats a dimension")
    if ndim == 0:  # dim 0 or -1 of a 0-d tensor is accepted (as in PyTorch): nothing to reduce
        return ()
    return tuple(sorted(normalized))


def reduce_op(
    op: type[Function],
    x: Tensor,
    axis: Axis = None,
    keepdims: bool = False,
    name: str | None = None,
) -> Tensor:
    """Apply the reduction ``op`` to ``x`` over ``axis`` (int, tuple, or None for all).

    ``name`` is the public function's name for error messages (default the op's).
    """
    name = name or op.name
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}: input must be a Tensor, got {type(x).__name__}")
    axes = normalize_axes(name, axis, x.ndim)
    if op in (Max, Min) and any(x.shape[a] == 0 for a in axes):
        raise ValueError(f"{name}: cannot reduce an empty dim of a tensor of shape {x.shape}")
    return op.apply(x, axis=axes, keepdims=bool(keepdims))


def sum(
    x: Tensor,
    dim: Axis = None,
    keepdim: bool | None = None,
    dtype: Any = None,
    *,
    axis: Axis = None,
    keepdims: bool | None = None,
) -> Tensor:
    """Sum over ``dim`` (int, tuple, or None for all), as ``torch.sum``.

    Parameters
    ----------
    x : Tensor
    dim : int or tuple of int, optional
        The dimensions to reduce (``axis`` is accepted too); all when None or ``()``.
    keepdim : bool, default False
        Keep each reduced dimension as size 1 (``keepdims`` is accepted too).
    dtype : numpy dtype, optional
        Cast ``x`` to this dtype first. By default integer and bool tensors sum to int64
        (as in PyTorch), floats keep their dtype.

    Returns
    -------
    Tensor
        ``x``'s shape without (or with size 1 at) the reduced dimensions.
    """
    dim, keepdim = resolve_dim("sum", dim, keepdim, axis, keepdims)
    if not isinstance(x, Tensor):
        raise TypeError(f"sum: input must be a Tensor, got {type(x).__name__}")
    if dtype is not None:
        x = x.astype(dtype)
    elif x.dtype.kind in "biu":
        x = x.astype(np.int64)
    return reduce_op(Sum, x, dim, keepdim)


def mean(
    x: Tensor,
    dim: Axis = None,
    keepdim: bool | None = None,
    dtype: Any = None,
    *,
    axis: Axis = None,
    keepdims: bool | None = None,
) -> Tensor:
    """Mean over ``dim`` (int, tuple, or None for all), as ``torch.mean``.

    Arguments as :func:`sum`. The input (after the cast to ``dtype``) must be floating point:
    PyTorch refuses the mean of an integer tensor instead of choosing a dtype.
    """
    dim, keepdim = resolve_dim("mean", dim, keepdim, axis, keepdims)
    if not isinstance(x, Tensor):
        raise TypeError(f"mean: input must be a Tensor, got {type(x).__name__}")
    if dtype is not None:
        x = x.astype(dtype)
    if x.dtype.kind != "f":
        raise TypeError(
            f"mean: input must be floating point, got {x.dtype} (as in PyTorch); cast it first "
            f"with .float() or pass dtype=np.float32"
        )
    return reduce_op(Mean, x, dim, keepdim)


def amax(
    x: Tensor,
    dim: Axis = None,
    keepdim: bool | None = None,
    *,
    axis: Axis = None,
    keepdims: bool | None = None,
) -> Tensor:
    """Maximum over ``dim`` (int, tuple, or None / ``()`` for all), as ``torch.amax``.

    Tied maxima share the gradient equally (a NaN maximum gives NaN gradients in its slice,
    as in PyTorch).
    """
    dim, keepdim = resolve_dim("amax", dim, keepdim, axis, keepdims)
    return reduce_op(Max, x, dim, keepdim, name="amax")


def amin(
    x: Tensor,
    dim: Axis = None,
    keepdim: bool | None = None,
    *,
    axis: Axis = None,
    keepdims: bool | None = None,
) -> Tensor:
    """Minimum over ``dim``, as ``torch.amin`` (see :func:`amax`)."""
    dim, keepdim = resolve_dim("amin", dim, keepdim, axis, keepdims)
    return reduce_op(Min, x, dim, keepdim, name="amin")


def _keepdims_shape(shape: tuple[int, ...], axes: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


class Sum(Function):
    """out = sum of x over ``axis``; every input element gets the gradient of its sum."""

    def forward(self, x: np.ndarray, *, axis: tuple[int, ...], keepdims: bool) -> np.ndarray:
        return np.asarray(x.sum(axis=axis, keepdims=keepdims))

    def backward(self, g: Tensor) -> tuple[Tensor]:
        shape = self.inputs[0].shape
        g = g.reshape(_keepdims_shape(shape, self.attrs["axis"]))
        return (g.broadcast_to(shape),)


class Mean(Function):
    """out = mean of x over ``axis``; every input element gets the gradient / count."""

    def forward(self, x: np.ndarray, *, axis: tuple[int, ...], keepdims: bool) -> np.ndarray:
        return np.asarray(x.mean(axis=axis, keepdims=keepdims))

    def backward(self, g: Tensor) -> tuple[Tensor]:
        shape = self.inputs[0].shape
        axes = self.attrs["axis"]
        count = int(np.prod([shape[a] for a in axes]))
        g = g.reshape(_keepdims_shape(shape, axes)) / max(count, 1)
        return (g.broadcast_to(shape),)


class _Extremum(Function, register=False):
    """Max and min: tied extrema share the gradient equally (like ``torch.amax``).

    Which elements won is a constant of the derivative (saved as a mask in forward); the
    backward is the upstream gradient times that constant share, so its own derivative in
    the gradient is that share again and its derivative in x is zero.
    """

    pick = staticmethod(np.max)

    def forward(self, x: np.ndarray, *, axis: tuple[int, ...], keepdims: bool) -> np.ndarray:
        best = type(self).pick(x, axis=axis, keepdims=True)
        self.winners = x == best
        return np.asarray(best if keepdims else best.reshape(_drop_axes(x.shape, axis)))

    def backward(self, g: Tensor) -> tuple[Tensor]:
        axes = self.attrs["axis"]
        share = self.winners / self.winners.sum(axis=axes, keepdims=True)
        g = g.reshape(_keepdims_shape(self.winners.shape, axes))
        if g.dtype == share.dtype:
            return (g * Tensor._from_op(share, None),)
        # (the share is float64: multiplied there and rounded once, as numpy would)
        return ((g.astype(share.dtype) * Tensor._from_op(share, None)).astype(g.dtype),)


def _drop_axes(shape: tuple[int, ...], axes: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(n for i, n in enumerate(shape) if i not in axes)


class Max(_Extremum):
    """out = max of x over ``axis``. Ties: each of k tied maxima gets gradient / k."""

    pick = staticmethod(np.max)


class Min(_Extremum):
    """out = min of x over ``axis``. Ties: each of k tied minima gets gradient / k."""

    pick = staticmethod(np.min)
