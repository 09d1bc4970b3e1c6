"""``torch.nn.functional.pad`` (constant, reflect, replicate, circular) and
``adaptive_avg_pool2d``, composed from registered ops (slicing, indexing, ``pad``, ``mean``,
``concatenate``).

The non-constant modes gather along each padded axis with an integer index array (each output
position reads one input position), so the gradient sums back through the indexing op.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from tinygrad_cnn.ops.movement import concatenate
from tinygrad_cnn.ops.movement import pad as constant_pad
from tinygrad_cnn.tensor import Tensor

MODES = ("constant", "reflect", "replicate", "circular")


def pad(
    input: Tensor, pad: Sequence[int], mode: str = "constant", value: float | None = None
) -> Tensor:
    """Pad the last ``len(pad) // 2`` axes, as ``torch.nn.functional.pad``.

    ``pad`` lists ``(left, right)`` amounts from the LAST axis backwards:
    ``(last_left, last_right, second_last_left, second_last_right, ...)``.

    Parameters
    ----------
    input : Tensor
        Any shape for ``'constant'``; for the other modes ``k = len(pad) // 2`` axes (1 to 3)
        are padded of an input with ``k + 1`` or ``k + 2`` dimensions (unbatched or batched).
    pad : sequence of int
        Even length, at most ``2 * input.ndim``. Negative amounts crop (constant mode).
    mode : {'constant', 'reflect', 'replicate', 'circular'}
        ``'reflect'`` mirrors without repeating the edge (amount < size), ``'replicate'``
        repeats the edge, ``'circular'`` wraps around (amount <= size).
    value : float, optional
        Fill value of ``'constant'`` (default 0).

    Returns
    -------
    Tensor
        Each padded axis grows by ``left + right``.
    """
    if not isinstance(input, Tensor):
        raise TypeError(f"pad: expected a Tensor, got {type(input).__name__}")
    amounts = _amounts(pad, input.ndim)
    if mode not in MODES:
        raise ValueError(f"pad: mode must be one of {MODES}, got {mode!r}")
    k = len(amounts)
    axes = [input.ndim - 1 - i for i in range(k)]
    if mode == "constant":
        return _constant(input, axes, amounts, 0.0 if value is None else value)
    if value not in (None, 0, 0.0):
        raise ValueError(f"pad: value is only for mode='constant', got value={value!r} in {mode!r}")
    if not 1 <= k <= 3 or input.ndim not in (k + 1, k + 2):
        raise ValueError(
            f"pad: mode {mode!r} pads 1 to 3 trailing axes of an input with 1 or 2 more "
            f"dimensions (a batch and channels), got {k} padded axes of shape {input.shape}"
        )
    out = input
    for axis, (left, right) in zip(axes, amounts, strict=True):
        size = input.shape[axis]
        out = out[(slice(None),) * axis + (_source_positions(mode, size, left, right),)]
    return out


def _amounts(pad: Any, ndim: int) -> list[tuple[int, int]]:
    if not isinstance(pad, Sequence) or isinstance(pad, str):
        raise TypeError(f"pad: pad must be a sequence of ints, got {type(pad).__name__}")
    values = list(pad)
    if any(isinstance(v, bool) or not isinstance(v, int | np.integer) for v in values):
        raise TypeError(f"pad: pad must hold ints, got {tuple(pad)!r}")
    if len(values) % 2 or len(values) > 2 * ndim:
        raise ValueError(
            f"pad: pad must have an even length of at most 2 * ndim = {2 * ndim}, got "
            f"{len(values)} values"
        )
    return [(int(values[2 * i]), int(values[2 * i + 1])) for i in range(len(values) // 2)]


def _constant(x: Tensor, axes: list[int], amounts: list[tuple[int, int]], value: float) -> Tensor:
    crop = [slice(None)] * x.ndim
    widths = [(0, 0)] * x.ndim
    for axis, (left, right) in zip(axes, amounts, strict=True):
        size = x.shape[axis]
        start, stop = max(-left, 0), size - max(-right, 0)
        if stop - start + max(left, 0) + max(right, 0) < 0 or stop < start:
            raise ValueError(
                f"pad: padding ({left}, {right}) of an axis of size {size} leaves a negative size"
            )
        crop[axis] = slice(start, stop)
        widths[axis] = (max(left, 0), max(right, 0))
    if any(c != slice(None) for c in crop):
        x = x[tuple(crop)]
    if any(w != (0, 0) for w in widths):
        x = constant_pad(x, widths, value)
    return x


def _source_positions(mode: str, size: int, left: int, right: int) -> np.ndarray:
    """For each output position along one axis, the input position it reads."""
    if left < 0 or right < 0:
        raise ValueError(f"pad: mode {mode!r} needs non-negative amounts, got ({left}, {right})")
    positions = np.arange(-left, size + right)
    if mode == "replicate":
        if size == 0:
            raise ValueError("pad: mode 'replicate' cannot pad an empty axis")
        return np.clip(positions, 0, size - 1)
    if mode == "reflect":
        if left >= size or right >= size:
            raise ValueError(
                f"pad: mode 'reflect' needs amounts smaller than the axis size {size}, got "
                f"({left}, {right})"
            )
        positions = np.abs(positions)
        return np.where(positions > size - 1, 2 * (size - 1) - positions, positions)
    if left > size or right > size:
        raise ValueError(
            f"pad: mode 'circular' needs amounts at most the axis size {size}, got "
            f"({left}, {right})"
        )
    return positions % size


def adaptive_avg_pool2d(input: Tensor, output_size: int | Sequence[int | None] | None) -> Tensor:
    """Average over windows that tile the image into ``output_size`` cells, as PyTorch:
    cell ``i`` of ``n`` along an axis of size ``H`` covers ``floor(i H / n)`` to
    ``ceil((i + 1) H / n)`` (windows may overlap when ``H`` is not a multiple of ``n``).

    Parameters
    ----------
    input : Tensor
        ``(N, C, H, W)`` or ``(C, H, W)``.
    output_size : int, None or pair of (int or None)
        ``(oh, ow)``; an int for both; None keeps that axis's size.

    Returns
    -------
    Tensor
        ``(N, C, oh, ow)`` or ``(C, oh, ow)``.
    """
    if not isinstance(input, Tensor):
        raise TypeError(f"adaptive_avg_pool2d: expected a Tensor, got {type(input).__name__}")
    if input.ndim not in (3, 4):
        raise ValueError(
            f"adaptive_avg_pool2d: expected (N, C, H, W) or (C, H, W), got shape {input.shape}"
        )
    if not np.issubdtype(input.dtype, np.floating):
        raise TypeError(f"adaptive_avg_pool2d: expected a floating tensor, got {input.dtype}")
    sizes = (output_size, output_size) if not isinstance(output_size, Sequence) else output_size
    if len(sizes) != 2:
        raise ValueError(f"adaptive_avg_pool2d: output_size must be a pair, got {output_size!r}")
    out = input
    for axis, n in zip((input.ndim - 2, input.ndim - 1), sizes, strict=True):
        out = _adaptive_mean(out, axis, input.shape[axis] if n is None else n)
    return out


def _adaptive_mean(x: Tensor, axis: int, n: Any) -> Tensor:
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise ValueError(f"adaptive_avg_pool2d: output sizes must be positive ints, got {n!r}")
    size = x.shape[axis]
    if size == 0:
        raise ValueError(f"adaptive_avg_pool2d: cannot pool an empty axis of shape {x.shape}")
    if size % n == 0:  # equal windows: one reshape and one mean
        shape = (*x.shape[:axis], n, size // n, *x.shape[axis + 1 :])
        return x.reshape(shape).mean(axis + 1)
    lead = (slice(None),) * axis
    cells = []
    for i in range(n):
        start, stop = (i * size) // n, -((-(i + 1) * size) // n)
        cells.append(x[(*lead, slice(start, stop))].mean(axis, keepdim=True))
    return concatenate(cells, axis)
