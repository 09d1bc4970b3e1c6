"""Shape ops: reshape, permute, broadcast, indexing, padding, concatenation and stacking.

None of them changes a value, so each backward only moves the gradient back to where the
value came from.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from tinygrad_cnn.function import Function
from tinygrad_cnn.tensor import Tensor


class Reshape(Function):
    """out = x viewed with ``shape``; the gradient is reshaped back."""

    def forward(self, x: np.ndarray, *, shape: tuple[int, ...]) -> np.ndarray:
        self.input_shape = x.shape
        return x.reshape(shape)

    def backward(self, g: np.ndarray) -> tuple[np.ndarray]:
        return (g.reshape(self.input_shape),)


class Permute(Function):
    """out = x with its axes reordered by ``axes``; the gradient gets the inverse order."""

    def forward(self, x: np.ndarray, *, axes: tuple[int, ...]) -> np.ndarray:
        return x.transpose(axes)

    def backward(self, g: np.ndarray) -> tuple[np.ndarray]:
        return (g.transpose(np.argsort(self.attrs["axes"])),)


class BroadcastTo(Function):
    """out = x broadcast to ``shape``; the engine sums the gradient back over new axes."""

    name = "broadcast_to"

    def forward(self, x: np.ndarray, *, shape: tuple[int, ...]) -> np.ndarray:
        return np.broadcast_to(x, shape)

    def backward(self, g: np.ndarray) -> tuple[np.ndarray]:
        return (g,)


class GetItem(Function):
    """out = x[index] (slices, ints, None, Ellipsis, integer or boolean arrays).

    Backward scatters the gradient into zeros; repeated integer indices add up.
    """

    def forward(self, x: np.ndarray, *, index: Any) -> np.ndarray:
        self.input_shape, self.input_dtype = x.shape, x.dtype
        try:
            return np.asarray(x[index])
        except IndexError as error:
            raise IndexError(f"getitem: {error} (tensor of shape {x.shape})") from None

    def backward(self, g: np.ndarray) -> tuple[np.ndarray]:
        grad = np.zeros(self.input_shape, dtype=self.input_dtype)
        index = self.attrs["index"]
        if _is_advanced(index):
            np.add.at(grad, index, g)
        else:
            grad[index] = g
        return (grad,)


class Pad(Function):
    """out = x padded with ``value``, ``pad_width`` one (before, after) pair per axis."""

    def forward(
        self, x: np.ndarray, *, pad_width: tuple[tuple[int, int], ...], value: float
    ) -> np.ndarray:
        return np.pad(x, pad_width, mode="constant", constant_values=value)

    def backward(self, g: np.ndarray) -> tuple[np.ndarray]:
        inner = tuple(
            slice(before, g.shape[i] - after)
            for i, (before, after) in enumerate(self.attrs["pad_width"])
        )
        return (g[inner],)


class Concatenate(Function):
    """out = the inputs joined along ``axis``; the gradient is split back into pieces."""

    def forward(self, *xs: np.ndarray, axis: int) -> np.ndarray:
        self.sizes = [x.shape[axis] for x in xs]
        return np.concatenate(xs, axis=axis)

    def backward(self, g: np.ndarray) -> tuple[np.ndarray, ...]:
        return tuple(np.split(g, np.cumsum(self.sizes)[:-1], axis=self.attrs["axis"]))


class Stack(Function):
    """out = the inputs stacked along a new ``axis``; each gets its slice of the gradient."""

    def forward(self, *xs: np.ndarray, axis: int) -> np.ndarray:
        return np.stack(xs, axis=axis)

    def backward(self, g: np.ndarray) -> tuple[np.ndarray, ...]:
        axis = self.attrs["axis"]
        return tuple(np.take(g, i, axis=axis) for i in range(g.shape[axis]))


# ---------------------------------------------------------------------- functional wrappers
def _is_advanced(index: Any) -> bool:
    parts = index if isinstance(index, tuple) else (index,)
    return any(isinstance(p, np.ndarray | list) for p in parts)


_INDEX_PARTS = (int, np.integer, np.bool_, slice, type(None), type(Ellipsis), np.ndarray)


def _check_tensor(op: str, x: Any) -> None:
    """Raise TypeError when the input of ``op`` is not a Tensor."""
    if not isinstance(x, Tensor):  # any other input (None too) is a TypeError naming the op
        raise TypeError(f"{op}: input must be a Tensor, got {type(x).__name__}")


def _check_int(op: str, name: str, value: Any) -> int:
    """``value`` as an int; bools, floats and other types raise TypeError."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise TypeError(f"{op}: {name} must be an int, got {value!r}")
    return int(value)


def _normalize_index(index: Any) -> Any:
    """Tensors and lists inside an index become numpy arrays; everything else is kept."""
    parts = index if isinstance(index, tuple) else (index,)
    out = []
    for part in parts:
        if isinstance(part, Tensor):
            part = part.data
        if isinstance(part, list | tuple):
            part = np.asarray(part)
        if isinstance(part, np.ndarray) and not (
            np.issubdtype(part.dtype, np.integer) or part.dtype == bool
        ):
            raise TypeError(f"getitem: index arrays must be integers or booleans, got {part.dtype}")
        if isinstance(part, float):
            raise TypeError(
                f"getitem: indices must be ints, slices or arrays, got the float {part}"
            )
        if not isinstance(part, _INDEX_PARTS):  # e.g. "a": a TypeError naming getitem
            raise TypeError(
                f"getitem: indices must be ints, slices, None, Ellipsis or integer/boolean "
                f"arrays, got {type(part).__name__} {part!r}"
            )
        out.append(part)
    return tuple(out) if isinstance(index, tuple) else out[0]


def _ints(op: str, what: str, values: Sequence[Any]) -> tuple[int, ...]:
    """``values`` as a tuple of ints; floats and other types raise instead of truncating."""
    if isinstance(values, int | np.integer) and not isinstance(values, bool):
        values = (values,)
    if not isinstance(values, Sequence | np.ndarray) or isinstance(values, str):
        raise TypeError(f"{op}: {what} must be a sequence of integers, got {values!r}")
    if any(isinstance(v, bool) or not isinstance(v, int | np.integer) for v in values):
        raise TypeError(f"{op}: {what} must be integers, got {tuple(values)!r}")
    return tuple(int(v) for v in values)


def getitem(x: Tensor, index: Any) -> Tensor:
    """``x[index]`` with numpy's basic and integer-array indexing."""
    return GetItem.apply(x, index=_normalize_index(index))


def reshape(x: Tensor, shape: Sequence[int]) -> Tensor:
    """``x`` with a new shape of the same size; one entry may be -1."""
    _check_tensor("reshape", x)
    shape = _ints("reshape", "shape", shape)
    error = ValueError(
        f"reshape: cannot reshape a tensor of shape {x.shape} (size {x.size}) into {shape}"
    )
    if shape.count(-1) > 1 or any(n < -1 for n in shape):
        raise error
    known = int(np.prod([n for n in shape if n != -1]))
    if -1 in shape:
        if known == 0 or x.size % known:
            raise error
        shape = tuple(x.size // known if n == -1 else n for n in shape)
    elif known != x.size:
        raise error
    if shape == x.shape:
        return x
    return Reshape.apply(x, shape=shape)


def flatten(x: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Merge the axes ``start_dim`` to ``end_dim`` (inclusive) into one."""
    _check_tensor("flatten", x)
    dims = (
        _check_int("flatten", "start_dim", start_dim),
        _check_int("flatten", "end_dim", end_dim),
    )
    if x.ndim == 0:
        return reshape(x, (1,))
    if any(not -x.ndim <= d < x.ndim for d in dims):  # in [-ndim, ndim): no wrapping around
        raise ValueError(f"flatten: dims {dims} are out of range for {x.ndim} dimensions")
    start, end = start_dim % x.ndim, end_dim % x.ndim
    if start > end:
        raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim}")
    merged = int(np.prod(x.shape[start : end + 1]))
    return reshape(x, (*x.shape[:start], merged, *x.shape[end + 1 :]))


def squeeze(x: Tensor, axis: int) -> Tensor:
    """Remove the size-1 axis ``axis``."""
    _check_tensor("squeeze", x)
    axis = _check_int("squeeze", "axis", axis)
    if not -x.ndim <= axis < x.ndim or x.shape[axis] != 1:
        raise ValueError(f"squeeze: axis {axis} of shape {x.shape} is not a size-1 axis")
    axis %= x.ndim
    return reshape(x, x.shape[:axis] + x.shape[axis + 1 :])


def unsqueeze(x: Tensor, axis: int) -> Tensor:
    """Insert a size-1 axis at position ``axis`` (negative counts from the end)."""
    _check_tensor("unsqueeze", x)
    axis = _check_int("unsqueeze", "axis", axis)
    if not -x.ndim - 1 <= axis <= x.ndim:
        raise ValueError(f"unsqueeze: axis {axis} is out of range for {x.ndim} dimensions")
    axis %= x.ndim + 1
    return reshape(x, (*x.shape[:axis], 1, *x.shape[axis:]))


def permute(x: Tensor, axes: Sequence[int] | None = None) -> Tensor:
    """Reorder the axes; ``None`` reverses them (like ``numpy.transpose``)."""
    _check_tensor("permute", x)
    axes = tuple(range(x.ndim))[::-1] if axes is None else _ints("permute", "axes", axes)
    if sorted(a % max(x.ndim, 1) for a in axes) != list(range(x.ndim)) or any(
        not -x.ndim <= a < x.ndim for a in axes
    ):
        raise ValueError(f"permute: {axes} is not a permutation of the axes of shape {x.shape}")
    axes = tuple(a % x.ndim for a in axes)
    if axes == tuple(range(x.ndim)):
        return x
    return Permute.apply(x, axes=axes)


def broadcast_to(x: Tensor, shape: Sequence[int]) -> Tensor:
    """``x`` broadcast to ``shape`` with numpy's rules."""
    _check_tensor("broadcast_to", x)
    shape = _ints("broadcast_to", "shape", shape)
    try:
        if np.broadcast_shapes(x.shape, shape) != shape:
            raise ValueError
    except ValueError:
        raise ValueError(f"broadcast_to: cannot broadcast shape {x.shape} to {shape}") from None
    if shape == x.shape:
        return x
    return BroadcastTo.apply(x, shape=shape)


def pad(x: Tensor, pad_width: Any, value: float = 0.0) -> Tensor:
    """Pad with a constant; ``pad_width`` is an int, a (before, after) pair, or one per axis."""
    _check_tensor("pad", x)
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise TypeError(f"pad: value must be a real number, got {value!r}")  # was float("a")
    try:
        widths = np.broadcast_to(np.asarray(pad_width), (x.ndim, 2))
    except ValueError:
        raise ValueError(
            f"pad: pad_width {pad_width!r} does not fit a tensor with {x.ndim} dimensions"
        ) from None
    if not np.issubdtype(widths.dtype, np.integer):
        raise TypeError(f"pad: pad_width must be integers, got {pad_width!r}")
    if (widths < 0).any():
        raise ValueError(f"pad: pad_width must be non-negative, got {pad_width!r}")
    pairs = tuple((int(a), int(b)) for a, b in widths)
    return Pad.apply(x, pad_width=pairs, value=float(value))


def _check_joinable(op: str, tensors: Sequence[Tensor], axis: Any) -> list[Tensor]:
    # tensors: a list or tuple (a Tensor is not split into its rows); axis: an int, checked
    # before it reaches slicing
    if isinstance(tensors, Tensor) or not isinstance(tensors, Sequence):
        raise TypeError(f"{op}: expected a list or tuple of Tensors, got {type(tensors).__name__}")
    _check_int(op, "axis", axis)
    if not tensors:
        raise ValueError(f"{op}: expected at least one tensor, got none")
    for t in tensors:
        if not isinstance(t, Tensor):
            raise TypeError(f"{op}: expected Tensors, got {type(t).__name__}")
    dtypes = {t.dtype for t in tensors}
    if len(dtypes) > 1:
        raise TypeError(f"{op}: tensors must share one dtype, got {sorted(map(str, dtypes))}")
    return list(tensors)


def concatenate(tensors: Sequence[Tensor], axis: int = 0) -> Tensor:
    """Join tensors along an existing ``axis``."""
    tensors = _check_joinable("concatenate", tensors, axis)
    ndim = tensors[0].ndim
    if ndim == 0 or not -ndim <= axis < ndim:
        raise ValueError(f"concatenate: axis {axis} is out of range for {ndim} dimensions")
    axis %= ndim
    for t in tensors:
        if (
            t.ndim != ndim
            or t.shape[:axis] + t.shape[axis + 1 :]
            != tensors[0].shape[:axis] + tensors[0].shape[axis + 1 :]
        ):
            raise ValueError(
                f"concatenate: shapes {[t.shape for t in tensors]} differ outside axis {axis}"
            )
    return Concatenate.apply(*tensors, axis=axis)


def stack(tensors: Sequence[Tensor], axis: int = 0) -> Tensor:
    """Stack tensors of one shape along a new ``axis``."""
    tensors = _check_joinable("stack", tensors, axis)
    shapes = {t.shape for t in tensors}
    if len(shapes) > 1:
        raise ValueError(
            f"stack: all tensors must have one shape, got {[t.shape for t in tensors]}"
        )
    ndim = tensors[0].ndim + 1
    if not -ndim <= axis < ndim:
        raise ValueError(f"stack: axis {axis} is out of range for {ndim} dimensions")
    return Stack.apply(*tensors, axis=axis % ndim)
