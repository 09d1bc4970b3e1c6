"""Reductions over axes: sum, mean, max, min.

Every reduction takes ``axis`` (a tuple of distinct non-negative axes, normalised by
:func:`reduce_op`) and ``keepdims``. Backward first restores the reduced axes as size 1
(``keepdims`` form), then spreads the gradient over the input shape.
"""

from __future__ import annotations

import numpy as np

from tinygrad_cnn.function import Function
from tinygrad_cnn.tensor import Axis, Tensor


def normalize_axes(op: str, axis: Axis, ndim: int) -> tuple[int, ...]:
    """Turn ``axis`` (int, tuple of ints or None) into a sorted tuple of axes in ``[0, ndim)``.

    Raises
    ------
    TypeError
        When an axis is not an integer.
    ValueError
        When an axis is out of range or repeated.
    """
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if not isinstance(axis, tuple | list) else tuple(axis)
    normalized = []
    for a in axes:
        if isinstance(a, bool) or not isinstance(a, int | np.integer):
            raise TypeError(f"{op}: axis must be an int or a tuple of ints, got {axis!r}")
        if not -max(ndim, 1) <= a < max(ndim, 1):
            raise ValueError(f"{op}: axis {a} is out of range for a tensor with {ndim} dimensions")
        normalized.append(int(a) % max(ndim, 1))
    if len(set(normalized)) != len(normalized):
        raise ValueError(f"{op}: axis {axis!r} repeats an axis")
    if ndim == 0:  # axis 0 or -1 of a 0-d tensor is accepted (as in PyTorch): nothing to reduce
        return ()
    return tuple(sorted(normalized))


def reduce_op(op: type[Function], x: Tensor, axis: Axis = None, keepdims: bool = False) -> Tensor:
    """Apply the reduction ``op`` to ``x`` over ``axis`` (int, tuple, or None for all)."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{op.name}: input must be a Tensor, got {type(x).__name__}")
    axes = normalize_axes(op.name, axis, x.ndim)
    if op in (Max, Min) and any(x.shape[a] == 0 for a in axes):
        raise ValueError(f"{op.name}: cannot reduce an empty axis of a tensor of shape {x.shape}")
    return op.apply(x, axis=axes, keepdims=bool(keepdims))


def _keepdims_shape(shape: tuple[int, ...], axes: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


class Sum(Function):
    """out = sum of x over ``axis``; every input element gets the gradient of its sum."""

    def forward(self, x: np.ndarray, *, axis: tuple[int, ...], keepdims: bool) -> np.ndarray:
        self.input_shape = x.shape
        return np.asarray(x.sum(axis=axis, keepdims=keepdims))

    def backward(self, g: np.ndarray) -> tuple[np.ndarray]:
        g = g.reshape(_keepdims_shape(self.input_shape, self.attrs["axis"]))
        return (np.broadcast_to(g, self.input_shape),)


class Mean(Function):
    """out = mean of x over ``axis``; every input element gets the gradient / count."""

    def forward(self, x: np.ndarray, *, axis: tuple[int, ...], keepdims: bool) -> np.ndarray:
        self.input_shape = x.shape
        return np.asarray(x.mean(axis=axis, keepdims=keepdims))

    def backward(self, g: np.ndarray) -> tuple[np.ndarray]:
        axes = self.attrs["axis"]
        count = int(np.prod([self.input_shape[a] for a in axes]))
        g = g.reshape(_keepdims_shape(self.input_shape, axes)) / max(count, 1)
        return (np.broadcast_to(g, self.input_shape),)


class _Extremum(Function, register=False):
    """Max and min: tied extrema share the gradient equally (like ``torch.amax``)."""

    pick = staticmethod(np.max)

    def forward(self, x: np.ndarray, *, axis: tuple[int, ...], keepdims: bool) -> np.ndarray:
        best = type(self).pick(x, axis=axis, keepdims=True)
        self.winners = x == best
        return np.asarray(best if keepdims else best.reshape(_drop_axes(x.shape, axis)))

    def backward(self, g: np.ndarray) -> tuple[np.ndarray]:
        axes = self.attrs["axis"]
        share = self.winners / self.winners.sum(axis=axes, keepdims=True)
        g = g.reshape(_keepdims_shape(self.winners.shape, axes))
        return ((g * share).astype(g.dtype, copy=False),)


def _drop_axes(shape: tuple[int, ...], axes: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(n for i, n in enumerate(shape) if i not in axes)


class Max(_Extremum):
    """out = max of x over ``axis``. Ties: each of k tied maxima gets gradient / k."""

    pick = staticmethod(np.max)


class Min(_Extremum):
    """out = min of x over ``axis``. Ties: each of k tied minima gets gradient / k."""

    pick = staticmethod(np.min)
