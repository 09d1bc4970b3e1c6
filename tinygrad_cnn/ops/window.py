"""Window geometry and argument checks shared by convolution, pooling and their layers.

A window op (``conv2d``, ``max_pool2d``, ``avg_pool2d``) slides a kh x kw window over NCHW
images with a stride, after optional zero padding. This module holds what they share: the
output size, the strided slice of the input that each kernel position covers, and the checks
of their arguments (``pair`` is also what :mod:`tinygrad_cnn.nn.layers` validates with).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_cnn.tensor import Tensor

Pair = tuple[int, int]


def _kernel_slice(offset: int, stride: int, count: int) -> slice:
    """The input positions that kernel offset ``offset`` touches over ``count`` outputs."""
    return slice(offset, offset + stride * (count - 1) + 1, stride)


def window_slices(kernel: Pair, stride: Pair, out_hw: Pair) -> list[tuple[slice, ...]]:
    """For each kernel position (row-major), the (N, C, OH, OW) slice of the input it covers.

    ``x[window_slices(...)[p]][n, c, i, j]`` is element ``p`` of the window at ``(i*sh, j*sw)``.
    """
    every = slice(None)
    return [
        (
            every,
            every,
            _kernel_slice(i, stride[0], out_hw[0]),
            _kernel_slice(j, stride[1], out_hw[1]),
        )
        for i in range(kernel[0])
        for j in range(kernel[1])
    ]


def image_chunks(count: int, bytes_per_image: int, limit: int) -> list[slice]:
    """``range(count)`` images in as few chunks of equal size as keep each within ``limit``
    bytes (one image per chunk at least): e.g. 256 images of 86 KB within 2 MiB are ten chunks
    of 24 images and one of 16."""
    chunks = max(1, -(-count * bytes_per_image // limit))
    step = max(1, -(-count // chunks))  # images per chunk, the chunks as even as they can be
    return [slice(start, min(count, start + step)) for start in range(0, count, step)]


def conv_output_size(
    shape: tuple[int, ...], kernel: Pair, stride: Pair, padding: Pair = (0, 0)
) -> Pair:
    """Output height and width: floor((H + 2p - k) / s) + 1, as in PyTorch."""
    return tuple((shape[2 + d] + 2 * padding[d] - kernel[d]) // stride[d] + 1 for d in range(2))


def pair(op: str, name: str, value: Any, minimum: int) -> Pair:
    """Validate an int-or-pair argument such as ``stride=2`` or ``padding=(1, 0)``."""
    if type(value) is int and value >= minimum:  # the common cases, checked in one line each
        return value, value
    if type(value) is tuple and len(value) == 2 and type(value[0]) is type(value[1]) is int:
        if value[0] >= minimum and value[1] >= minimum:
            return value
    values = value if isinstance(value, tuple | list) else (value, value)
    if len(values) != 2 or any(
        isinstance(v, bool) or not isinstance(v, int | np.integer) for v in values
    ):
        raise TypeError(f"{op}: {name} must be an int or a pair of ints, got {value!r}")
    if any(v < minimum for v in values):
        kind = "positive" if minimum == 1 else "non-negative"
        raise ValueError(f"{op}: {name} must be {kind}, got {value!r}")
    return int(values[0]), int(values[1])


def check_image(op: str, x: Tensor) -> None:
    """Raise unless ``x`` is a floating-point Tensor of shape (N, C, H, W)."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: input must be a Tensor, got {type(x).__name__}")
    if x.ndim != 4:
        raise ValueError(f"{op}: input must have shape (N, C, H, W), got shape {x.shape}")
    if not np.issubdtype(x.dtype, np.floating):
        raise TypeError(f"{op}: input must be floating point, got {x.dtype}")


def check_window_fits(op: str, x_shape: tuple[int, ...], kernel: Pair, padding: Pair) -> None:
    """Raise unless a ``kernel`` window fits in the padded (H, W) of ``x_shape``."""
    padded = (x_shape[2] + 2 * padding[0], x_shape[3] + 2 * padding[1])
    if kernel[0] > padded[0] or kernel[1] > padded[1]:
        raise ValueError(
            f"{op}: kernel size {kernel} is larger than the padded input size {padded} "
            f"(input shape {x_shape}, padding {padding})"
        )
