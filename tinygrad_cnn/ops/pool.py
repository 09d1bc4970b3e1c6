"""Max and average pooling over NCHW images, by strided slices: one pass per window position.

Neither pool copies its windows out (no im2col): forward and backward loop only over the
kh * kw window positions, each an output-sized strided slice of the input (see
:func:`~tinygrad_cnn.ops.window.window_slices`). Every buffer keeps the input's memory
layout, so a pool after a channels-last conv output stays channels-last.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_cnn.function import Function
from tinygrad_cnn.ops import pool_options
from tinygrad_cnn.ops.movement import inverse_permutation, stack
from tinygrad_cnn.ops.window import (
    Pair,
    check_image,
    check_window_fits,
    conv_output_size,
    image_chunks,
    pair,
    window_slices,
)
from tinygrad_cnn.tensor import Tensor

POOL_CHUNK_BYTES = 2 << 20  # of max_pool2d's input: a few images, whose buffers stay in cache


class MaxPool2d(Function):
    """out[n, c, i, j] = max of the window at (i*sh, j*sw).

    Gradient: to the FIRST maximum of each window in row-major order (as PyTorch); other
    tied maxima get zero. A window holding NaN outputs NaN and sends its gradient to its last
    NaN (as PyTorch). Forward and backward take a few passes per kernel position over
    output-sized strided slices (no im2col copy, no argmax over a copied window axis).

    Forward records, for each output, which window position held the maximum: one byte per
    output (a "code", as PyTorch's indices but 8x smaller). Backward then reads only that code
    and the upstream gradient, never the input, which after a conv is the largest activation
    of the network and has usually left the cache by the time backward runs.
    """

    name = "max_pool2d"
    new_gradients = True

    def forward(self, x: np.ndarray, *, kernel_size: Pair, stride: Pair) -> np.ndarray:
        windows = window_slices(kernel_size, stride, conv_output_size(x.shape, kernel_size, stride))
        out = np.empty_like(x[windows[0]])  # keeps x's memory layout, like every buffer below
        # A few images at a time, so that a chunk's buffers stay in cache over the window
        # positions (LeNet's first pool at batch 256: 7.2 -> 5.5 ms; docs/performance.md).
        chunks = image_chunks(len(x), x[:1].nbytes, POOL_CHUNK_BYTES)
        if not self.is_recorded:  # no backward: the maximum alone, no positions
            for images in chunks:
                _window_maximum(x[images], windows, out[images])
            return out
        code = np.empty_like(out, dtype=np.uint8 if len(windows) <= 256 else np.intp)
        for images in chunks:
            _maximum_and_position(x[images], windows, out[images], code[images])
        if np.isnan(out.max(initial=-np.inf)):  # rare: route NaN windows' gradients as PyTorch
            for position, window in enumerate(windows):
                np.copyto(code, position, where=np.isnan(x[window]))
        self.x = x  # for the shape and memory layout of the gradient; its values are not read
        self.code = code
        return out

    def backward(self, g: Tensor) -> tuple[Tensor]:
        code = Tensor._from_op(self.code, None)  # positions: constants of the derivative
        return (
            MaxPool2dRoute.apply(
                g,
                code,
                kernel_size=self.attrs["kernel_size"],
                stride=self.attrs["stride"],
                input_shape=self.x.shape,
                memory_order=memory_order(self.x),
            ),
        )


class MaxPool2dRoute(Function):
    """max_pool2d's input gradient: g (N, C, OH, OW) routed to the window positions ``code``.

    ``grad[window p of output (n, c, i, j)] += g[n, c, i, j]`` where ``code[n, c, i, j] == p``
    (p row-major in the kh x kw window). ``code`` (an integer Tensor, not differentiable) is
    what :class:`MaxPool2d` recorded; ``input_shape`` and ``memory_order`` (see
    :func:`memory_order`) give the gradient the pool input's shape and memory layout. Linear
    in g: its backward gathers from the same positions (:class:`MaxPool2dGather`).
    """

    name = "max_pool2d_route"
    new_gradients = True

    def forward(
        self,
        g: np.ndarray,
        code: np.ndarray,
        *,
        kernel_size: Pair,
        stride: Pair,
        input_shape: tuple[int, ...],
        memory_order: tuple[int, ...],
    ) -> np.ndarray:
        kernel = kernel_size
        windows = window_slices(kernel, stride, code.shape[2:])
        overlapping = stride[0] < kernel[0] or stride[1] < kernel[1]
        # Every buffer takes x's memory layout (channels-last after a conv): numpy runs an
        # elementwise op over mixed layouts several times slower.
        if not _same_memory_order(g, code):  # e.g. an NCHW gradient from flatten: one copy
            g_in_code_layout = np.empty_like(code, dtype=g.dtype)  # beats a pass over mixed
            g_in_code_layout[...] = g  # layouts per window position
            g = g_in_code_layout
        grad = _gradient_buffer(
            input_shape, memory_order, g.dtype, kernel, stride, code.shape[2:], overlapping
        )
        selected = np.empty_like(code, dtype=bool)
        for position, window in enumerate(windows):
            np.equal(code, position, out=selected)
            if overlapping:
                grad[window] += g * selected
            else:
                np.multiply(g, selected, out=grad[window])
        return grad

    def backward(self, u: Tensor) -> tuple[Tensor, None]:
        attrs = self.attrs
        gathered = MaxPool2dGather.apply(
            u, self.inputs[1], kernel_size=attrs["kernel_size"], stride=attrs["stride"]
        )
        return gathered, None


class MaxPool2dGather(Function):
    """out[n, c, i, j] = u[window position code[n, c, i, j] of the window at (i*sh, j*sw)].

    The transpose of :class:`MaxPool2dRoute` (the max pool's forward, given where the maxima
    are): u (N, C, H, W) in, (N, C, OH, OW) out, in ``code``'s memory layout. Its backward
    routes back (:class:`MaxPool2dRoute`).
    """

    name = "max_pool2d_gather"
    new_gradients = True

    def forward(
        self, u: np.ndarray, code: np.ndarray, *, kernel_size: Pair, stride: Pair
    ) -> np.ndarray:
        out = np.zeros_like(code, dtype=u.dtype)
        for position, window in enumerate(window_slices(kernel_size, stride, code.shape[2:])):
            np.copyto(out, u[window], where=code == position)
        return out

    def backward(self, v: Tensor) -> tuple[Tensor, None]:
        u, code = self.inputs
        routed = MaxPool2dRoute.apply(
            v,
            code,
            kernel_size=self.attrs["kernel_size"],
            stride=self.attrs["stride"],
            input_shape=u.shape,
            memory_order=memory_order(u.data),
        )
        return routed, None


def _window_maximum(x: np.ndarray, windows: list[tuple[slice, ...]], out: np.ndarray) -> None:
    """Write into ``out`` the maximum of each window of ``x`` (NaN if the window holds one)."""
    if len(windows) == 1:
        out[...] = x[windows[0]]
        return
    np.maximum(x[windows[0]], x[windows[1]], out=out)
    for window in windows[2:]:
        np.maximum(out, x[window], out=out)


def _maximum_and_position(
    x: np.ndarray, windows: list[tuple[slice, ...]], out: np.ndarray, code: np.ndarray
) -> None:
    """Write into ``out`` the maximum of each window of ``x`` and into ``code`` the window
    position that first held it (NaN windows are the caller's)."""
    # best and running take turns holding the maximum so far; out is the one that holds it
    # after the last turn (one turn per window position after the first), so no copy is left
    running = np.empty_like(out)  # out's memory layout (x's), like every buffer below
    best, running = (out, running) if len(windows) % 2 == 1 else (running, out)
    best[...] = x[windows[0]]
    code[...] = 0
    greater = np.empty_like(best, dtype=bool)
    position_if_greater = np.empty_like(code)
    for position, window in enumerate(windows[1:], start=1):
        np.maximum(best, x[window], out=running)  # propagates NaN
        # Strictly greater (ties keep the first maximum) exactly where the maximum changed:
        # comparing the two contiguous buffers is cheaper than re-reading the strided
        # window (docs/performance.md). (NaN windows are set by the caller.)
        np.not_equal(running, best, out=greater)
        # The positions grow, so "the last position that was greater" is a maximum of
        # position * greater: two vectorised passes over bytes, where np.copyto(where=)
        # is much slower. (Read as uint8, the bools skip numpy's cast loop and take the
        # vectorised one. Timings: docs/performance.md.)
        np.multiply(greater.view(np.uint8), code.dtype.type(position), out=position_if_greater)
        np.maximum(code, position_if_greater, out=code)
        best, running = running, best


def memory_order(x: np.ndarray) -> tuple[int, ...]:
    """The axes of ``x`` from the outermost in memory to the innermost (largest stride first).

    ``(0, 2, 3, 1)`` for an NCHW view of channels-last memory; ties keep the axes' order.
    """
    return tuple(sorted(range(x.ndim), key=lambda axis: -abs(x.strides[axis])))


def _in_memory_order(
    shape: tuple[int, ...], order: tuple[int, ...], dtype: np.dtype, zero: bool
) -> np.ndarray:
    """An array of ``shape`` laid out in memory as ``order`` says (zeros, or uninitialised)."""
    make = np.zeros if zero else np.empty
    return make([shape[axis] for axis in order], dtype=dtype).transpose(inverse_permutation(order))


def _same_memory_order(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether ``a`` and ``b`` (same shape, any dtypes) lay their elements out alike."""
    return [s // a.itemsize for s in a.strides] == [s // b.itemsize for s in b.strides]


def _gradient_buffer(
    shape: tuple[int, ...],
    order: tuple[int, ...],
    dtype: np.dtype,
    kernel: Pair,
    stride: Pair,
    out_hw: Pair,
    overlapping: bool,
) -> np.ndarray:
    """The pool's input gradient buffer, in x's memory layout, before any window writes to it.

    Non-overlapping windows write every element they cover exactly once, so only the rows and
    columns no window covers (floor mode drops them) need zeros: this skips zero-filling a
    buffer the size of the input (5.5 MB for lenet's first pool) at every step.
    """
    if overlapping:
        return _in_memory_order(shape, order, dtype, zero=True)
    grad = _in_memory_order(shape, order, dtype, zero=False)
    covered_h, covered_w = (out_hw[d] * stride[d] for d in range(2))
    grad[:, :, covered_h:, :] = 0
    grad[:, :, :, covered_w:] = 0
    if stride[0] > kernel[0]:  # gaps between windows along H
        for offset in range(kernel[0], stride[0]):
            grad[:, :, offset :: stride[0], :] = 0
    if stride[1] > kernel[1]:
        for offset in range(kernel[1], stride[1]):
            grad[:, :, :, offset :: stride[1]] = 0
    return grad


class AvgPool2d(Function):
    """out[n, c, i, j] = mean of the window at (i*sh, j*sw); each element gets g / (kh*kw)."""

    name = "avg_pool2d"
    new_gradients = True

    def forward(self, x: np.ndarray, *, kernel_size: Pair, stride: Pair) -> np.ndarray:
        slices = window_slices(kernel_size, stride, conv_output_size(x.shape, kernel_size, stride))
        total = np.array(x[slices[0]])
        for window in slices[1:]:
            total += x[window]
        self.x = x
        return total / np.asarray(len(slices), dtype=x.dtype)

    def backward(self, g: Tensor) -> tuple[Tensor]:
        return (
            AvgPool2dSpread.apply(
                g,
                kernel_size=self.attrs["kernel_size"],
                stride=self.attrs["stride"],
                input_shape=self.x.shape,
                memory_order=memory_order(self.x),
            ),
        )


class AvgPool2dSpread(Function):
    """avg_pool2d's input gradient: each g[n, c, i, j] / (kh*kw) added to its whole window.

    g (N, C, OH, OW) in, ``input_shape`` out (laid out in memory as ``memory_order``). Its
    transpose is average pooling itself, so its backward is ``avg_pool2d`` of the upstream.
    """

    name = "avg_pool2d_spread"
    new_gradients = True

    def forward(
        self,
        g: np.ndarray,
        *,
        kernel_size: Pair,
        stride: Pair,
        input_shape: tuple[int, ...],
        memory_order: tuple[int, ...],
    ) -> np.ndarray:
        grad = _in_memory_order(input_shape, memory_order, g.dtype, zero=True)
        share = g / np.asarray(kernel_size[0] * kernel_size[1], dtype=g.dtype)
        for window in window_slices(kernel_size, stride, g.shape[2:]):
            grad[window] += share
        return grad

    def backward(self, u: Tensor) -> tuple[Tensor]:
        return (
            AvgPool2d.apply(u, kernel_size=self.attrs["kernel_size"], stride=self.attrs["stride"]),
        )


# ---------------------------------------------------------------------- wrappers
def _pool(op: type[Function], x: Tensor, kernel_size: Any, stride: Any) -> Tensor:
    check_image(op.name, x)
    kernel = pair(op.name, "kernel_size", kernel_size, 1)
    stride = kernel if stride is None else pair(op.name, "stride", stride, 1)
    check_window_fits(op.name, x.shape, kernel, (0, 0))
    return op.apply(x, kernel_size=kernel, stride=stride)


def _check_flag(op: str, name: str, value: Any) -> bool:
    if not isinstance(value, bool | np.bool_):
        raise TypeError(f"{op}: {name} must be a bool, got {value!r}")
    return bool(value)


def _geometry(
    op: str, x: Tensor, kernel_size: Any, stride: Any, padding: Any, dilation: Any, ceil_mode: Any
) -> tuple[Pair, Pair, Pair, Pair, Pair, tuple[tuple[int, int], ...]]:
    """Checked kernel, stride, padding, dilation, output size and the ``pad`` widths."""
    check_image(op, x)
    kernel = pair(op, "kernel_size", kernel_size, 1)
    stride = kernel if stride is None else pair(op, "stride", stride, 1)
    padding = pair(op, "padding", padding, 0)
    dilation = pair(op, "dilation", dilation, 1)
    ceil_mode = _check_flag(op, "ceil_mode", ceil_mode)
    pool_options.check_padding(op, kernel, padding)
    out_hw = pool_options.output_size(op, x.shape, kernel, stride, padding, dilation, ceil_mode)
    widths = pool_options.pad_widths(x.shape, kernel, stride, padding, dilation, out_hw)
    return kernel, stride, padding, dilation, out_hw, widths


def max_pool2d(
    x: Tensor,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    dilation: Any = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
) -> Tensor | tuple[Tensor, Tensor]:
    """2-D max pooling; the gradient goes to the first maximum of each window (row-major).

    ``torch.nn.functional.max_pool2d``'s arguments, defaults and semantics. The default call
    is one :class:`MaxPool2d` op; padding and ceil mode pad the input with -inf (the ``pad``
    op) first, and dilation pools the stacked dilated windows, so every option
    differentiates to any order.

    Parameters
    ----------
    x : Tensor, shape (N, C, H, W)
    kernel_size : int or (int, int)
    stride : int or (int, int), optional
        Defaults to ``kernel_size``.
    padding : int or (int, int), default 0
        Implicit -inf padding on each side, at most half the kernel size.
    dilation : int or (int, int), default 1
        Spacing between window elements.
    ceil_mode : bool, default False
        Round the output size up (a last, partial window, which must start inside the input
        or its left padding) instead of down (windows that do not fit are dropped).
    return_indices : bool, default False
        Also return the int64 flat index (``row * W + col``) in its input plane of each
        window's maximum, as PyTorch (for ``max_unpool2d``).

    Returns
    -------
    Tensor, shape (N, C, OH, OW), with
    OH = (H + 2 * padding - dilation * (kh - 1) - 1) // sh + 1 (rounded up in ceil mode);
    and with ``return_indices``, the (N, C, OH, OW) int64 indices as a second Tensor.
    """
    return_indices = _check_flag("max_pool2d", "return_indices", return_indices)
    if padding == 0 and dilation == 1 and ceil_mode is False and not return_indices:
        return _pool(MaxPool2d, x, kernel_size, stride)
    kernel, stride, padding, dilation, out_hw, widths = _geometry(
        "max_pool2d", x, kernel_size, stride, padding, dilation, ceil_mode
    )
    padded = x.pad(widths, value=-np.inf) if any(w != (0, 0) for w in widths) else x
    out = _max_pool_padded(padded, kernel, stride, dilation, out_hw)
    if not return_indices:
        return out
    indices = pool_options.max_indices(
        padded.data, x.shape[2:], kernel, stride, padding, dilation, out_hw
    )
    return out, Tensor(indices)


def _max_pool_padded(x: Tensor, kernel: Pair, stride: Pair, dilation: Pair, out_hw: Pair) -> Tensor:
    """Max pool of an already padded input whose floor-mode windows give ``out_hw``."""
    if dilation == (1, 1):
        return MaxPool2d.apply(x, kernel_size=kernel, stride=stride)
    # Dilated windows: stack each kernel position's strided slice on a last axis, and max
    # pool that axis (the MaxPool2d op keeps PyTorch's tie and NaN rules and its backward).
    windows = pool_options.dilated_windows(kernel, stride, dilation, out_hw)
    n, c = x.shape[:2]
    size = kernel[0] * kernel[1]
    stacked = stack([x[w] for w in windows], axis=-1).reshape(n, c, out_hw[0] * out_hw[1], size)
    pooled = MaxPool2d.apply(stacked, kernel_size=(1, size), stride=(1, size))
    return pooled.reshape(n, c, *out_hw)


def avg_pool2d(
    x: Tensor,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: int | None = None,
) -> Tensor:
    """2-D average pooling: ``torch.nn.functional.avg_pool2d``'s arguments and semantics.

    The default call is one :class:`AvgPool2d` op; padding and ceil mode pad the input with
    zeros (the ``pad`` op) first and scale each output by its window's divisor (a constant),
    so every option differentiates to any order.

    Parameters
    ----------
    x : Tensor, shape (N, C, H, W)
    kernel_size : int or (int, int)
    stride : int or (int, int), optional
        Defaults to ``kernel_size``.
    padding : int or (int, int), default 0
        Implicit zero padding on each side, at most half the kernel size.
    ceil_mode : bool, default False
        Round the output size up, as :func:`max_pool2d`.
    count_include_pad : bool, default True
        Divide by the window's size including the padding (but never the cells ceil mode
        adds past it); False: by its number of cells inside the input.
    divisor_override : int, optional
        Divide every window's sum by this instead (non-zero).

    Returns
    -------
    Tensor, shape (N, C, OH, OW), OH as :func:`max_pool2d` with dilation 1.
    """
    count_include_pad = _check_flag("avg_pool2d", "count_include_pad", count_include_pad)
    if divisor_override is not None and (
        isinstance(divisor_override, bool)
        or not isinstance(divisor_override, int | np.integer)
        or divisor_override == 0
    ):
        raise ValueError(
            f"avg_pool2d: divisor_override must be a non-zero int, got {divisor_override!r}"
        )
    if padding == 0 and ceil_mode is False and divisor_override is None:
        return _pool(AvgPool2d, x, kernel_size, stride)
    kernel, stride, padding, _, out_hw, widths = _geometry(
        "avg_pool2d", x, kernel_size, stride, padding, 1, ceil_mode
    )
    padded = x.pad(widths) if any(w != (0, 0) for w in widths) else x
    out = AvgPool2d.apply(padded, kernel_size=kernel, stride=stride)
    divisors = pool_options.avg_divisors(
        x.shape[2:], kernel, stride, padding, out_hw, count_include_pad, divisor_override
    )
    scale = (kernel[0] * kernel[1]) / divisors
    if np.all(scale == 1.0):
        return out
    return out * Tensor(scale.astype(x.dtype))
