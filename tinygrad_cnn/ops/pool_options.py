"""The pools' options beyond the tuned default call: padding, ceil_mode, dilation, divisors
and indices, with PyTorch's output sizes and semantics.

Geometry only (numpy): the wrappers in :mod:`tinygrad_cnn.ops.pool` pad the input with the
``pad`` op (-inf for max, 0 for average) by the amounts computed here and run the existing
pooling ops on it, so every option differentiates to any order like the default call.
"""

from __future__ import annotations

import numpy as np

from tinygrad_cnn.ops.window import Pair


def check_padding(op: str, kernel: Pair, padding: Pair) -> None:
    """PyTorch's rule: padding at most half the kernel size (so no window is all padding)."""
    if padding[0] > kernel[0] // 2 or padding[1] > kernel[1] // 2:
        raise ValueError(
            f"{op}: padding should be at most half of kernel size, got padding {padding} "
            f"and kernel_size {kernel}"
        )


def output_size(
    op: str,
    shape: tuple[int, ...],
    kernel: Pair,
    stride: Pair,
    padding: Pair,
    dilation: Pair,
    ceil_mode: bool,
) -> Pair:
    """PyTorch's pooling output size along H and W.

    ``(H + 2p - d (k - 1) - 1 + (s - 1 if ceil_mode)) // s + 1``, minus one in ceil mode when
    the last window would start past the input and its left padding.
    """
    sizes = []
    for d in range(2):
        size, k, s, p, dil = shape[2 + d], kernel[d], stride[d], padding[d], dilation[d]
        out = (size + 2 * p - dil * (k - 1) - 1 + (s - 1 if ceil_mode else 0)) // s + 1
        if ceil_mode and (out - 1) * s >= size + p:
            out -= 1
        sizes.append(out)
    if min(sizes) < 1:
        raise ValueError(
            f"{op}: input of shape {shape} is too small for kernel_size {kernel}, stride "
            f"{stride}, padding {padding} and dilation {dilation}: output size {tuple(sizes)}"
        )
    return sizes[0], sizes[1]


def pad_widths(
    shape: tuple[int, ...],
    kernel: Pair,
    stride: Pair,
    padding: Pair,
    dilation: Pair,
    out_hw: Pair,
) -> tuple[tuple[int, int], ...]:
    """``pad`` widths for (N, C, H, W) after which floor-mode windows give ``out_hw`` outputs.

    The left/top padding is ``padding``; the right/bottom one is what the last window needs
    (ceil mode can need more than ``padding``; floor mode may need less).
    """
    right = [
        (out_hw[d] - 1) * stride[d] + dilation[d] * (kernel[d] - 1) + 1 - shape[2 + d] - padding[d]
        for d in range(2)
    ]
    return (0, 0), (0, 0), (padding[0], max(right[0], 0)), (padding[1], max(right[1], 0))


def dilated_windows(
    kernel: Pair, stride: Pair, dilation: Pair, out_hw: Pair
) -> list[tuple[slice, ...]]:
    """For each kernel position (row-major), the (N, C, OH, OW) slice of the padded input."""
    every = slice(None)
    return [
        (
            every,
            every,
            slice(i * dilation[0], i * dilation[0] + stride[0] * (out_hw[0] - 1) + 1, stride[0]),
            slice(j * dilation[1], j * dilation[1] + stride[1] * (out_hw[1] - 1) + 1, stride[1]),
        )
        for i in range(kernel[0])
        for j in range(kernel[1])
    ]


def max_indices(
    padded: np.ndarray,
    input_hw: Pair,
    kernel: Pair,
    stride: Pair,
    padding: Pair,
    dilation: Pair,
    out_hw: Pair,
) -> np.ndarray:
    """PyTorch's ``return_indices``: the flat index (row * W + col) in each input plane of
    each window's maximum, int64 of shape (N, C, OH, OW).

    As PyTorch's kernel: the first maximum in row-major window order, the last NaN if the
    window holds NaN, and the first position inside the input if every value is -inf.
    """
    windows = dilated_windows(kernel, stride, dilation, out_hw)
    values = np.stack([padded[w] for w in windows], axis=-1)
    hp, wp = padded.shape[2:]
    valid = np.zeros((1, 1, hp, wp), dtype=bool)
    valid[:, :, padding[0] : padding[0] + input_hw[0], padding[1] : padding[1] + input_hw[1]] = 1
    inside = np.stack([valid[w] for w in windows], axis=-1)
    with np.errstate(invalid="ignore"):
        best = (values == values.max(axis=-1, keepdims=True)) & inside
    position = np.argmax(best, axis=-1)
    nan = np.isnan(values)
    if nan.any():
        last_nan = nan.shape[-1] - 1 - np.argmax(nan[..., ::-1], axis=-1)
        position = np.where(nan.any(axis=-1), last_nan, position)
    rows = np.arange(out_hw[0])[:, None] * stride[0] + (position // kernel[1]) * dilation[0]
    cols = np.arange(out_hw[1])[None, :] * stride[1] + (position % kernel[1]) * dilation[1]
    return ((rows - padding[0]) * input_hw[1] + cols - padding[1]).astype(np.int64)


def avg_divisors(
    input_hw: Pair,
    kernel: Pair,
    stride: Pair,
    padding: Pair,
    out_hw: Pair,
    count_include_pad: bool,
    divisor_override: int | None,
) -> np.ndarray:
    """The (OH, OW) divisor of each average-pool window, as PyTorch.

    With ``count_include_pad`` the window's size clipped to the padded input (never the extra
    cells ceil mode adds past the right padding); without, only its cells inside the input;
    ``divisor_override`` replaces both.
    """
    if divisor_override is not None:
        return np.full(out_hw, float(divisor_override))
    sizes = []
    for d in range(2):
        start = np.arange(out_hw[d]) * stride[d] - padding[d]
        end = np.minimum(start + kernel[d], input_hw[d] + padding[d])
        if not count_include_pad:
            start, end = np.maximum(start, 0), np.minimum(end, input_hw[d])
        sizes.append(end - start)
    return np.outer(sizes[0], sizes[1]).astype(np.float64)
