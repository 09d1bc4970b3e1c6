"""conv2d's options beyond the tuned default call: string padding and dilation.

Both are compositions of registered ops (``pad``, ``reshape``, slicing), so a convolution that
uses them differentiates to any order like the default one. ``groups`` is handled in
:func:`tinygrad_cnn.ops.conv.conv2d` (one convolution per block of channels).
"""

from __future__ import annotations

from typing import Any

from tinygrad_cnn.ops.movement import pad
from tinygrad_cnn.ops.window import Pair, pair
from tinygrad_cnn.tensor import Tensor

PADDING_STRINGS = ("same", "valid")


def resolve_padding(
    op: str, x: Tensor, kernel: tuple[int, ...], stride: Pair, padding: Any, dilation: Pair
) -> tuple[Tensor, Pair]:
    """``x`` and the symmetric numeric padding that implement ``padding``.

    Numeric padding passes through; ``'valid'`` is 0; ``'same'`` (stride 1 only) pads
    ``dilation * (k - 1)`` in total along each axis, ``total // 2`` on the left/top and the
    rest on the right/bottom, as PyTorch: the extra right/bottom row or column is added to
    ``x`` with the ``pad`` op, the rest returned as the symmetric padding.

    Returns
    -------
    x : Tensor, shape (N, C, H + extra_h, W + extra_w)
    padding : (int, int)
    """
    if not isinstance(padding, str):
        return x, pair(op, "padding", padding, 0)
    if padding not in PADDING_STRINGS:
        raise ValueError(
            f"{op}: padding must be an int, a pair of ints, 'same' or 'valid', got {padding!r}"
        )
    if padding == "valid":
        return x, (0, 0)
    if stride != (1, 1):
        raise ValueError(
            f"{op}: padding='same' is not supported for strided convolutions, got stride {stride}"
        )
    totals = [dilation[d] * (kernel[d] - 1) for d in range(2)]
    left = (totals[0] // 2, totals[1] // 2)
    extra = [totals[d] - 2 * left[d] for d in range(2)]
    if any(extra):
        x = pad(x, ((0, 0), (0, 0), (0, extra[0]), (0, extra[1])))
    return x, left


def same_padding_amounts(kernel: Pair, dilation: Pair) -> tuple[int, int, int, int]:
    """``padding='same'`` as ``torch.nn.functional.pad`` amounts (left, right, top, bottom)."""
    totals = [dilation[d] * (kernel[d] - 1) for d in range(2)]
    return (totals[1] // 2, totals[1] - totals[1] // 2, totals[0] // 2, totals[0] - totals[0] // 2)


def dilate_weight(weight: Tensor, dilation: Pair) -> Tensor:
    """The kernel with ``dilation - 1`` zeros between neighbouring elements along each axis.

    (O, C, kh, kw) -> (O, C, dh * (kh - 1) + 1, dw * (kw - 1) + 1): a convolution with it is
    the dilated convolution. Built by reshape (a size-1 axis after each kernel axis), pad (the
    zeros) and a reshape and slice back, so its gradient is the strided slice of the dilated
    kernel's gradient.
    """
    o, c, kh, kw = weight.shape
    dh, dw = dilation
    spread = pad(
        weight.reshape(o, c, kh, 1, kw, 1),
        ((0, 0), (0, 0), (0, 0), (0, dh - 1), (0, 0), (0, dw - 1)),
    )
    return spread.reshape(o, c, kh * dh, kw * dw)[:, :, : dh * (kh - 1) + 1, : dw * (kw - 1) + 1]
