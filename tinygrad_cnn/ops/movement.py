"""Shape ops: reshape, permute, broadcast, indexing, padding, copying, joining and splitting.

None of them changes a value, so each backward only moves the gradient back to where the
value came from. The functions follow PyTorch's signatures and semantics (``dim``, negative
dims, ``transpose`` swapping two dims, ``squeeze`` keeping a dim that is not size 1,
PyTorch's indexing rules); ``view``, ``transpose``, ``t``, ``expand``, ``repeat``, ``flip``,
``split``, ``chunk`` and ``unbind`` are made of the registered ops below.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from tinygrad_cnn.function import Function
from tinygrad_cnn.tensor import Tensor


class Reshape(Function):
    """out = x viewed with ``shape``; the gradient is reshaped back."""

    views_upstream = True

    def forward(self, x: np.ndarray, *, shape: tuple[int, ...]) -> np.ndarray:
        return x.reshape(shape)

    def backward(self, g: Tensor) -> tuple[Tensor]:
        return (Reshape.apply(g, shape=self.inputs[0].shape),)


class Permute(Function):
    """out = x with its axes reordered by ``axes``; the gradient gets the inverse order."""

    views_upstream = True

    def forward(self, x: np.ndarray, *, axes: tuple[int, ...]) -> np.ndarray:
        return x.transpose(axes)

    def backward(self, g: Tensor) -> tuple[Tensor]:
        return (Permute.apply(g, axes=inverse_permutation(self.attrs["axes"])),)


def inverse_permutation(axes: Sequence[int]) -> tuple[int, ...]:
    """The axes order that undoes ``transpose(axes)``: ``inverse[axes[i]] = i``.

    (Pure Python: ``np.argsort`` of a short tuple costs several microseconds, in every backward
    of a permute and every layout-preserving buffer.)
    """
    return tuple(sorted(range(len(axes)), key=axes.__getitem__))


class BroadcastTo(Function):
    """out = x broadcast to ``shape``; the engine sums the gradient back over new axes."""

    name = "broadcast_to"

    def forward(self, x: np.ndarray, *, shape: tuple[int, ...]) -> np.ndarray:
        return np.broadcast_to(x, shape)

    def backward(self, g: Tensor) -> tuple[Tensor]:
        return (g,)


class GetItem(Function):
    """out = x[index] with PyTorch's semantics (see :func:`getitem`).

    ``index`` is already normalized by :func:`getitem`. Without integer or boolean arrays
    (basic indexing) the output is numpy's ``x[index]``. With them, the index is applied in
    two steps as PyTorch does: first the ints, slices and ``None`` (arrays replaced by full
    slices), then the arrays on what is left. Backward scatters the gradient into zeros
    (:class:`GetItemBackward`); repeated integer indices add up.
    """

    def forward(self, x: np.ndarray, *, index: Any) -> np.ndarray:
        self.steps = _index_steps(index)  # (read by the ONNX export rule too)
        basic, advanced = self.steps
        try:
            out = x[basic] if basic is not None else x
            return np.asarray(out if advanced is None else out[advanced])
        except IndexError as error:
            raise IndexError(f"getitem: {error} (tensor of shape {x.shape})") from None

    def backward(self, g: Tensor) -> tuple[Tensor]:
        return (GetItemBackward.apply(g, index=self.attrs["index"], shape=self.inputs[0].shape),)


class GetItemBackward(Function):
    """out = zeros of ``shape`` with g added at ``[index]``: the adjoint of :class:`GetItem`.

    ``index`` is normalized as :func:`getitem` does, and ``g`` has the shape of
    ``zeros(shape)[index]``. Where an integer array repeats a position, the g elements that
    land there add up. Backward is ``getitem`` of the gradient at the same ``index``.
    """

    name = "getitem_backward"

    def forward(self, g: np.ndarray, *, index: Any, shape: tuple[int, ...]) -> np.ndarray:
        out = np.zeros(shape, dtype=g.dtype)
        basic, advanced = _index_steps(index)
        if advanced is None:
            out[basic] = g
            return out
        target = out[basic] if basic is not None else out  # a view: basic indexing
        if all(p.dtype == bool for p in advanced if isinstance(p, np.ndarray)):
            target[advanced] = g  # masks select each element once
        else:
            np.add.at(target, advanced, g)
        return out

    def backward(self, g: Tensor) -> tuple[Tensor]:
        return (GetItem.apply(g, index=self.attrs["index"]),)


class Pad(Function):
    """out = x padded with ``value``, ``pad_width`` one (before, after) pair per axis.

    Backward is the slice of the gradient without the padding (a ``getitem``).
    """

    def forward(
        self, x: np.ndarray, *, pad_width: tuple[tuple[int, int], ...], value: float
    ) -> np.ndarray:
        return np.pad(x, pad_width, mode="constant", constant_values=value)

    def backward(self, g: Tensor) -> tuple[Tensor]:
        inner = tuple(
            slice(before, g.shape[i] - after)
            for i, (before, after) in enumerate(self.attrs["pad_width"])
        )
        return (GetItem.apply(g, index=inner),)


class Concatenate(Function):
    """out = the inputs joined along ``axis``; each gets its slice of the gradient."""

    def forward(self, *xs: np.ndarray, axis: int) -> np.ndarray:
        return np.concatenate(xs, axis=axis)

    def backward(self, g: Tensor) -> tuple[Tensor | None, ...]:
        axis = self.attrs["axis"]
        before = (slice(None),) * axis
        grads: list[Tensor | None] = []
        start = 0
        for x, needed in zip(self.inputs, self.needs_input_grad, strict=True):
            stop = start + x.shape[axis]
            grads.append(GetItem.apply(g, index=(*before, slice(start, stop))) if needed else None)
            start = stop
        return tuple(grads)


class Clone(Function):
    """out = a copy of x in new (C-contiguous) memory; the gradient passes through."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        return x.copy()

    def backward(self, g: Tensor) -> tuple[Tensor]:
        return (g,)


class Stack(Function):
    """out = the inputs stacked along a new ``axis``; each gets its slice of the gradient."""

    def forward(self, *xs: np.ndarray, axis: int) -> np.ndarray:
        return np.stack(xs, axis=axis)

    def backward(self, g: Tensor) -> tuple[Tensor | None, ...]:
        before = (slice(None),) * self.attrs["axis"]
        return tuple(
            GetItem.apply(g, index=(*before, i)) if needed else None
            for i, needed in enumerate(self.needs_input_grad)
        )


# ---------------------------------------------------------------------- argument checks
def _check_tensor(op: str, x: Any) -> None:
    """Raise TypeError when the input of ``op`` is not a Tensor."""
    if not isinstance(x, Tensor):  # any other input (None too) is a TypeError naming the op
        raise TypeError(f"{op}: input must be a Tensor, got {type(x).__name__}")


def _check_int(op: str, name: str, value: Any) -> int:
    """``value`` as an int; bools, floats and other types raise TypeError."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise TypeError(f"{op}: {name} must be an int, got {value!r}")
    return int(value)


def _ints(op: str, what: str, values: Sequence[Any]) -> tuple[int, ...]:
    """``values`` as a tuple of ints; floats and other types raise instead of truncating."""
    if isinstance(values, int | np.integer) and not isinstance(values, bool):
        values = (values,)
    if not isinstance(values, Sequence | np.ndarray) or isinstance(values, str):
        raise TypeError(f"{op}: {what} must be a sequence of integers, got {values!r}")
    if any(isinstance(v, bool) or not isinstance(v, int | np.integer) for v in values):
        raise TypeError(f"{op}: {what} must be integers, got {tuple(values)!r}")
    return tuple(int(v) for v in values)


def wrap_dim(op: str, dim: Any, ndim: int, name: str = "dim") -> int:
    """``dim`` in ``[0, ndim)``, negative dims counting from the end (PyTorch's rule).

    A 0-d tensor accepts dims ``-1`` and ``0``, as in PyTorch.
    """
    dim = _check_int(op, name, dim)
    n = max(ndim, 1)
    if not -n <= dim < n:
        raise ValueError(
            f"{op}: {name} {dim} is out of range for a tensor with {ndim} dimensions "
            f"(expected -{n}..{n - 1})"
        )
    return dim % n


def _dim_or_axis(op: str, dim: Any, axis: Any, default: Any = 0) -> Any:
    """PyTorch's ``dim`` or numpy's ``axis`` (one of them), else ``default``."""
    if axis is None:
        return default if dim is None else dim
    if dim is not None and dim != axis:
        raise TypeError(f"{op}: got both dim={dim!r} and axis={axis!r}; pass one of them")
    return axis


def _dims(op: str, dims: Any, ndim: int) -> tuple[int, ...]:
    """One dim or a sequence of distinct dims, each wrapped by :func:`wrap_dim`."""
    wrapped = tuple(wrap_dim(op, d, ndim) for d in _ints(op, "dims", dims))
    if len(set(wrapped)) != len(wrapped):
        raise ValueError(f"{op}: dims {tuple(dims)} name one dim more than once")
    return wrapped


# ---------------------------------------------------------------------- indexing
# torch reads a short list holding any of these as a tuple of indices (x[[[0, 1], [1, 2]]] is
# x[[0, 1], [1, 2]]), numpy as one array; lists of 32 or more entries are one array in both.
_TUPLE_LIKE_LIST_LIMIT = 32

_INDEX_PARTS = (int, np.integer, np.bool_, slice, type(None), type(Ellipsis), np.ndarray)


def _normalize_index(index: Any) -> Any:
    """Check an index and bring its parts to ints, bools, slices, None, ``...`` and arrays.

    Tensors, lists and tuples inside an index become arrays; 0-d integer (boolean) arrays
    become ints (bools), as PyTorch treats a 0-d tensor index as a number.
    """
    if isinstance(index, list) and len(index) < _TUPLE_LIKE_LIST_LIMIT:
        if any(_is_sequence_like(part) for part in index):
            raise TypeError(
                "getitem: a list index holding lists, Tensors, arrays, slices, None or "
                "Ellipsis is read as a tuple of indices by PyTorch and as one array by numpy; "
                "write x[tuple(index)] for several indices or x[np.array(index)] for one array"
            )
    parts = index if isinstance(index, tuple) else (index,)
    out = [_normalize_index_part(part) for part in parts]
    return tuple(out) if isinstance(index, tuple) else out[0]


def _is_sequence_like(part: Any) -> bool:
    return (
        (
            isinstance(part, Tensor | np.ndarray | Sequence | slice)
            and not isinstance(part, str | bytes)
        )
        or part is None
        or part is Ellipsis
    )


def _normalize_index_part(part: Any) -> Any:
    if isinstance(part, Tensor):
        part = part.data
    elif isinstance(part, list | tuple):
        part = np.asarray(part)
        if part.size == 0:
            part = part.astype(np.intp)  # [] is an empty integer index, not a float array
    if isinstance(part, np.ndarray):
        if part.dtype == bool:
            return bool(part) if part.ndim == 0 else part
        if part.dtype == np.uint8:
            raise TypeError(
                "getitem: a uint8 index array is a mask to PyTorch (deprecated) and integer "
                "positions to numpy; use a bool array for a mask, int64 for positions"
            )
        if not np.issubdtype(part.dtype, np.integer):
            raise TypeError(f"getitem: index arrays must be integers or booleans, got {part.dtype}")
        return int(part) if part.ndim == 0 else part
    if isinstance(part, np.bool_):
        return bool(part)
    if isinstance(part, np.integer):
        return int(part)
    if isinstance(part, float | np.floating):
        raise TypeError(f"getitem: indices must be ints, slices or arrays, got the float {part}")
    if isinstance(part, slice):
        return _normalize_slice(part)
    if not isinstance(part, _INDEX_PARTS):  # e.g. "a": a TypeError naming getitem
        raise TypeError(
            f"getitem: indices must be ints, slices, None, Ellipsis or integer/boolean "
            f"arrays, got {type(part).__name__} {part!r}"
        )
    return part


def _normalize_slice(part: slice) -> slice:
    bounds = []
    for bound in (part.start, part.stop, part.step):
        if isinstance(bound, Tensor) and bound.numel() == 1:
            bound = bound.data.reshape(())[()]
        if bound is not None and (
            isinstance(bound, bool | np.bool_) or not isinstance(bound, int | np.integer)
        ):
            raise TypeError(f"getitem: slice bounds must be ints or None, got {part!r}")
        bounds.append(None if bound is None else int(bound))
    if bounds[2] == 0:
        raise ValueError(f"getitem: slice step cannot be zero, got {part!r}")
    return slice(*bounds)


def _index_steps(index: Any) -> tuple[Any, Any]:
    """PyTorch's indexing as (basic, advanced): ``x[basic][advanced]``, tuples or None (skip).

    PyTorch first applies ints, slices and ``None`` (an int removes its dim whatever else the
    index holds) and then indexes what is left with the arrays. numpy instead counts ints as
    advanced indices when arrays are present, which moves the broadcast dims elsewhere:
    ``x[0, :, [1, 2]]`` on shape (3, 4, 5) is (4, 2) in PyTorch, (2, 4) in numpy. A Python
    bool adds a size-1 dim that a one-entry mask then keeps (True) or empties (False).
    """
    parts = index if isinstance(index, tuple) else (index,)
    if not any(isinstance(p, np.ndarray | bool) for p in parts):
        return parts, None
    basic: list[Any] = []
    advanced: list[Any] = []
    for part in parts:
        if isinstance(part, bool):
            basic.append(None)
            advanced.append(np.array([part]))
        elif isinstance(part, np.ndarray):
            basic.extend([slice(None)] * (part.ndim if part.dtype == bool else 1))
            advanced.append(part)
        elif part is None or isinstance(part, slice):
            basic.append(part)
            advanced.append(slice(None))
        elif part is Ellipsis:  # covers as many dims in both steps
            basic.append(part)
            advanced.append(part)
        else:  # an int: applied by the first step, gone from the second
            basic.append(part)
    if all(p is Ellipsis or p == slice(None) for p in basic):
        return None, tuple(advanced)
    return tuple(basic), tuple(advanced)


def getitem(x: Tensor, index: Any) -> Tensor:
    """``x[index]`` with PyTorch's semantics.

    Ints, slices (negative steps too, which PyTorch refuses), ``None``, ``...``, integer and
    boolean arrays, lists and Tensors. Where PyTorch and numpy differ, PyTorch's result:
    an int always removes its dim first (``x[0, :, [1, 2]]`` has shape ``(d1, 2)``), a 0-d
    integer Tensor counts as an int. Raises ``TypeError`` for the cases PyTorch itself reads
    ambiguously: a short list holding sequences (``x[[[0, 1], [1, 2]]]``) and uint8 arrays.
    """
    _check_tensor("getitem", x)
    return GetItem.apply(x, index=_normalize_index(index))


# ---------------------------------------------------------------------- shapes
def reshape(x: Tensor, shape: Sequence[int]) -> Tensor:
    """``x`` with a new shape of the same size; one entry may be -1."""
    return _reshape("reshape", x, shape)


def view(x: Tensor, shape: Sequence[int]) -> Tensor:
    """:func:`reshape` under PyTorch's name.

    A superset of PyTorch's ``view``: where PyTorch refuses a tensor whose memory layout
    does not allow a view (``x.t().view(-1)``), this returns a copy, like ``reshape``.
    """
    return _reshape("view", x, shape)


def _reshape(op: str, x: Tensor, shape: Sequence[int]) -> Tensor:
    _check_tensor(op, x)
    shape = _ints(op, "shape", shape)
    size, requested = x.numel(), shape
    known = math.prod(n for n in shape if n != -1)  # the size without the one -1 entry
    if shape.count(-1) == 1 and known > 0 and size % known == 0:
        shape = tuple(size // known if n == -1 else n for n in shape)
    if any(n < 0 for n in shape) or math.prod(shape) != size:
        raise ValueError(
            f"{op}: cannot reshape a tensor of shape {x.shape} (size {size}) into {requested}"
        )
    if shape == x.shape:
        return x
    return Reshape.apply(x, shape=shape)


def flatten(x: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Merge the dims ``start_dim`` to ``end_dim`` (inclusive) into one; 0-d gives ``(1,)``."""
    _check_tensor("flatten", x)
    start = wrap_dim("flatten", start_dim, x.ndim, "start_dim")
    end = wrap_dim("flatten", end_dim, x.ndim, "end_dim")
    if x.ndim == 0:
        return reshape(x, (1,))
    if start > end:
        raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim}")
    merged = math.prod(x.shape[start : end + 1])
    return reshape(x, (*x.shape[:start], merged, *x.shape[end + 1 :]))


def squeeze(x: Tensor, dim: int | Sequence[int] | None = None) -> Tensor:
    """Remove size-1 dims: all of them (``dim=None``), or those of ``dim`` (an int or a tuple).

    As in PyTorch, a named dim whose size is not 1 is kept, not an error.
    """
    _check_tensor("squeeze", x)
    if dim is None:
        dims: tuple[int, ...] = tuple(range(x.ndim))
    elif isinstance(dim, Sequence | np.ndarray) and not isinstance(dim, str):
        dims = _dims("squeeze", dim, x.ndim)
    else:
        dims = (wrap_dim("squeeze", dim, x.ndim),)
    if x.ndim == 0:
        return x
    gone = {d for d in dims if x.shape[d] == 1}
    return reshape(x, tuple(n for i, n in enumerate(x.shape) if i not in gone))


def unsqueeze(x: Tensor, dim: int) -> Tensor:
    """Insert a size-1 dim at position ``dim`` (``-1`` appends one, as in PyTorch)."""
    _check_tensor("unsqueeze", x)
    dim = wrap_dim("unsqueeze", dim, x.ndim + 1)
    return reshape(x, (*x.shape[:dim], 1, *x.shape[dim:]))


def permute(x: Tensor, dims: Sequence[int] | None = None) -> Tensor:
    """Reorder the dims; ``None`` reverses them (like ``numpy.transpose``)."""
    _check_tensor("permute", x)
    if dims is None:  # reversed (x.T): always a permutation
        return x if x.ndim < 2 else Permute.apply(x, axes=tuple(range(x.ndim))[::-1])
    dims = _ints("permute", "dims", dims)
    if sorted(a % max(x.ndim, 1) for a in dims) != list(range(x.ndim)) or any(
        not -x.ndim <= a < x.ndim for a in dims
    ):
        raise ValueError(f"permute: {dims} is not a permutation of the dims of shape {x.shape}")
    dims = tuple(a % x.ndim for a in dims)
    if dims == tuple(range(x.ndim)):
        return x
    return Permute.apply(x, axes=dims)


def transpose(x: Tensor, dim0: int, dim1: int) -> Tensor:
    """Swap the dims ``dim0`` and ``dim1`` (PyTorch's ``transpose``, not numpy's).

    To reorder every dim at once, as ``numpy.transpose(x, axes)`` does, use :func:`permute`.
    """
    _check_tensor("transpose", x)
    a, b = wrap_dim("transpose", dim0, x.ndim, "dim0"), wrap_dim("transpose", dim1, x.ndim, "dim1")
    if a == b or x.ndim < 2:
        return x
    order = list(range(x.ndim))
    order[a], order[b] = b, a
    return Permute.apply(x, axes=tuple(order))


def t(x: Tensor) -> Tensor:
    """The transpose of a matrix; a 0-d or 1-d tensor is returned as it is (as in PyTorch)."""
    _check_tensor("t", x)
    if x.ndim > 2:
        raise ValueError(
            f"t: expects a tensor with <= 2 dimensions, got shape {x.shape}; use "
            f"transpose(dim0, dim1) or permute"
        )
    return transpose(x, 0, -1)


def broadcast_to(x: Tensor, shape: Sequence[int]) -> Tensor:
    """``x`` broadcast to ``shape`` with numpy's rules."""
    _check_tensor("broadcast_to", x)
    shape = _ints("broadcast_to", "shape", shape)
    return _broadcast("broadcast_to", x, shape)


def _broadcast(op: str, x: Tensor, shape: tuple[int, ...]) -> Tensor:
    try:
        if np.broadcast_shapes(x.shape, shape) != shape:
            raise ValueError
    except ValueError:
        raise ValueError(f"{op}: cannot broadcast shape {x.shape} to {shape}") from None
    if shape == x.shape:
        return x
    return BroadcastTo.apply(x, shape=shape)


def expand(x: Tensor, sizes: Sequence[int]) -> Tensor:
    """PyTorch's ``expand``: broadcast to ``sizes``, where ``-1`` keeps that dim's size.

    New leading dims come first and cannot be ``-1``; the gradient is summed back.
    """
    _check_tensor("expand", x)
    sizes = _ints("expand", "sizes", sizes)
    new = len(sizes) - x.ndim
    if new < 0:
        raise ValueError(f"expand: {sizes} has fewer dims than the tensor of shape {x.shape}")
    if any(n == -1 for n in sizes[:new]):
        raise ValueError(f"expand: -1 is not allowed in a new leading dim, got {sizes}")
    shape = tuple(x.shape[i - new] if n == -1 and i >= new else n for i, n in enumerate(sizes))
    if any(n < 0 for n in shape):
        raise ValueError(f"expand: sizes must be non-negative or -1, got {sizes}")
    return _broadcast("expand", x, shape)


def repeat(x: Tensor, sizes: Sequence[int]) -> Tensor:
    """PyTorch's ``repeat``: tile ``x`` ``sizes[i]`` times along dim ``i`` (like ``np.tile``).

    ``sizes`` may be longer than ``x.ndim`` (new leading dims). Made of reshape and expand,
    so the gradient sums the copies back.
    """
    _check_tensor("repeat", x)
    sizes = _ints("repeat", "sizes", sizes)
    if len(sizes) < x.ndim:
        raise ValueError(
            f"repeat: sizes {sizes} must have at least one entry per dim of shape {x.shape}"
        )
    if any(n < 0 for n in sizes):
        raise ValueError(f"repeat: sizes must be non-negative, got {sizes}")
    shape = (1,) * (len(sizes) - x.ndim) + x.shape
    pairs = [(1, n) for n in shape]
    spread = reshape(x, [v for pair in pairs for v in pair])
    tiled = _broadcast(
        "repeat", spread, tuple(v for r, n in zip(sizes, shape, strict=True) for v in (r, n))
    )
    return reshape(tiled, tuple(r * n for r, n in zip(sizes, shape, strict=True)))


def flip(x: Tensor, dims: int | Sequence[int]) -> Tensor:
    """Reverse the order of the elements along ``dims`` (an int or a tuple of distinct dims)."""
    _check_tensor("flip", x)
    flipped = set(_dims("flip", dims, x.ndim))
    if not flipped or x.ndim == 0:
        return x
    return GetItem.apply(
        x,
        index=tuple(slice(None, None, -1) if d in flipped else slice(None) for d in range(x.ndim)),
    )


def clone(x: Tensor) -> Tensor:
    """A copy of ``x`` in new memory, differentiable (the gradient passes through)."""
    _check_tensor("clone", x)
    return Clone.apply(x)


def split(
    x: Tensor, split_size_or_sections: int | Sequence[int], dim: int = 0
) -> tuple[Tensor, ...]:
    """Split ``x`` along ``dim`` into pieces (views, each differentiable).

    An int gives pieces of that size (the last one smaller when the size does not divide);
    a list gives pieces of those sizes, which must add up to ``x.shape[dim]``.
    """
    _check_tensor("split", x)
    if x.ndim == 0:
        raise ValueError("split: expects a tensor with at least one dimension, got a 0-d tensor")
    dim = wrap_dim("split", dim, x.ndim)
    n = x.shape[dim]
    if isinstance(split_size_or_sections, Sequence | np.ndarray):
        sizes = _ints("split", "sections", split_size_or_sections)
        if any(s < 0 for s in sizes) or sum(sizes) != n:
            raise ValueError(
                f"split: section sizes {list(sizes)} must be non-negative and add up to {n}, "
                f"the size of dim {dim} of shape {x.shape}"
            )
    else:
        size = _check_int("split", "split_size", split_size_or_sections)
        if size < 0 or (size == 0 and n > 0):
            raise ValueError(
                f"split: split_size must be positive (0 only for an empty dim), got {size} "
                f"for dim {dim} of shape {x.shape}"
            )
        sizes = (n,) if size == 0 or n == 0 else tuple(min(size, n - i) for i in range(0, n, size))
    return _pieces(x, sizes, dim)


def _pieces(x: Tensor, sizes: Sequence[int], dim: int) -> tuple[Tensor, ...]:
    if len(sizes) == 1:
        return (x,)
    bounds = np.concatenate([[0], np.cumsum(sizes)])
    before = (slice(None),) * dim
    return tuple(
        GetItem.apply(x, index=(*before, slice(int(a), int(b))))
        for a, b in itertools.pairwise(bounds)
    )


def chunk(x: Tensor, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:
    """Split ``x`` into ``chunks`` pieces along ``dim``, PyTorch's rule for their sizes.

    Each piece has ``ceil(size / chunks)`` entries, the last one fewer, so fewer than
    ``chunks`` pieces may come back (7 in 4 chunks gives 2, 2, 2, 1; 6 in 4 gives 2, 2, 2).
    """
    _check_tensor("chunk", x)
    chunks = _check_int("chunk", "chunks", chunks)
    if chunks <= 0:
        raise ValueError(f"chunk: chunks must be positive, got {chunks}")
    if x.ndim == 0:
        raise ValueError("chunk: expects a tensor with at least one dimension, got a 0-d tensor")
    dim = wrap_dim("chunk", dim, x.ndim)
    n = x.shape[dim]
    if n == 0:
        return _pieces(x, [0] * chunks, dim)
    return split(x, -(-n // chunks), dim)


def unbind(x: Tensor, dim: int = 0) -> tuple[Tensor, ...]:
    """The slices of ``x`` along ``dim``, that dim removed (what iterating over dim 0 gives)."""
    _check_tensor("unbind", x)
    if x.ndim == 0:
        raise ValueError("unbind: expects a tensor with at least one dimension, got a 0-d tensor")
    dim = wrap_dim("unbind", dim, x.ndim)
    before = (slice(None),) * dim
    return tuple(GetItem.apply(x, index=(*before, i)) for i in range(x.shape[dim]))


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


# ---------------------------------------------------------------------- joining
def promote_dtypes(dtypes: Sequence[np.dtype]) -> np.dtype:
    """PyTorch's result dtype of tensors of ``dtypes`` (no Python scalars involved).

    Any floating-point dtype wins over integers and bools (int64 with float32 gives float32,
    not numpy's float64); among floats the widest; otherwise numpy's integer promotion,
    which agrees with PyTorch's (uint8 with int8 gives int16, bool with int32 gives int32).
    """
    floats = [d for d in dtypes if np.issubdtype(d, np.floating)]
    return np.result_type(*(floats or dtypes))


def _check_joinable(op: str, tensors: Sequence[Tensor], dim: Any) -> list[Tensor]:
    """The tensors to join, cast to their common dtype (PyTorch's promotion)."""
    # A Tensor passed as the sequence is refused (it would be split into rows), and dim must
    # be an int (floats and strings never reach slicing).
    if isinstance(tensors, Tensor) or not isinstance(tensors, Sequence):
        raise TypeError(f"{op}: expected a list or tuple of Tensors, got {type(tensors).__name__}")
    _check_int(op, "dim", dim)
    if not tensors:
        raise ValueError(f"{op}: expected at least one tensor, got none")
    for t in tensors:
        if not isinstance(t, Tensor):
            raise TypeError(f"{op}: expected Tensors, got {type(t).__name__}")
    dtypes = {t.dtype for t in tensors}
    if len(dtypes) == 1:
        return list(tensors)
    common = promote_dtypes(list(dtypes))
    return [t.astype(common) for t in tensors]


def cat(tensors: Sequence[Tensor], dim: int | None = None, *, axis: int | None = None) -> Tensor:
    """Join tensors along an existing dim, 0 by default (``axis`` is accepted for ``dim``).

    Mixed dtypes are promoted as PyTorch does (float32 with float64 gives float64).
    """
    return _cat("cat", tensors, _dim_or_axis("cat", dim, axis))


def concatenate(
    tensors: Sequence[Tensor], axis: int | None = None, *, dim: int | None = None
) -> Tensor:
    """:func:`cat` under numpy's (and PyTorch's alias) name."""
    return _cat("concatenate", tensors, _dim_or_axis("concatenate", dim, axis))


def concat(tensors: Sequence[Tensor], dim: int | None = None, *, axis: int | None = None) -> Tensor:
    """:func:`cat` under PyTorch's other alias."""
    return _cat("concat", tensors, _dim_or_axis("concat", dim, axis))


def _cat(op: str, tensors: Sequence[Tensor], dim: Any) -> Tensor:
    tensors = _check_joinable(op, tensors, dim)
    ndim = tensors[0].ndim
    if ndim == 0:
        raise ValueError(f"{op}: zero-dimensional tensors cannot be concatenated; use stack")
    dim = wrap_dim(op, dim, ndim)
    for t in tensors:
        if (
            t.ndim != ndim
            or t.shape[:dim] + t.shape[dim + 1 :]
            != tensors[0].shape[:dim] + tensors[0].shape[dim + 1 :]
        ):
            raise ValueError(f"{op}: shapes {[t.shape for t in tensors]} differ outside dim {dim}")
    return Concatenate.apply(*tensors, axis=dim)


def stack(tensors: Sequence[Tensor], dim: int | None = None, *, axis: int | None = None) -> Tensor:
    """Stack tensors of one shape along a new dim, 0 by default (``axis`` accepted for ``dim``).

    Mixed dtypes are promoted as PyTorch does.
    """
    dim = _dim_or_axis("stack", dim, axis)
    tensors = _check_joinable("stack", tensors, dim)
    shapes = {t.shape for t in tensors}
    if len(shapes) > 1:
        raise ValueError(
            f"stack: all tensors must have one shape, got {[t.shape for t in tensors]}"
        )
    return Stack.apply(*tensors, axis=wrap_dim("stack", dim, tensors[0].ndim + 1))
