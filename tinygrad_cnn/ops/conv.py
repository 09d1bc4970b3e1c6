"""Convolution over NCHW images, vectorised: no Python loop ever runs over pixels.

Tensors are NCHW to the user (as in PyTorch). ``conv2d`` is one BLAS matrix product over a
matrix copied out of a strided view of the input, in one of three memory layouts chosen by
the shape of the problem, or for 3x3 filters with many channels Winograd's algorithm
(:mod:`tinygrad_cnn.ops.winograd`): :class:`Conv2d` states the math and picks the layout,
and each layout (:class:`_RowsLayout`, :class:`_ColumnsLayout`, :class:`_BandedLayout`,
:class:`_WinogradLayout`) is one unit with its forward and its backward kernels side by
side. Backward is made of registered ops (:class:`Conv2dInputGrad`,
:class:`Conv2dWeightGrad`, :class:`Conv2dBiasGrad`), each with its own backward in
convolutions, so a gradient can be differentiated again; inside a conv2d node's backward
they run that node's layout kernels. The output is an NCHW *view* of whatever memory layout
suits the product. numpy's elementwise ops and the pools keep their input's memory layout,
so the next conv usually finds its input already laid out as it wants. Backward loops only
over the kernel's (or a Winograd tile's) positions. The window geometry and argument checks
shared with pooling live in :mod:`tinygrad_cnn.ops.window`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import as_strided

from tinygrad_cnn.function import Function
from tinygrad_cnn.ops import winograd
from tinygrad_cnn.ops.conv_options import dilate_weight, resolve_padding
from tinygrad_cnn.ops.movement import concatenate
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


class Conv2d(Function):
    """out[n, o] = sum over c, i, j of x[n, c, s*y + i, s*x + j] * w[o, c, i, j] (+ bias[o]).

    im2col: every kernel window becomes one row of a matrix, and the convolution is one matrix
    product (BLAS). Backward is three kernel ops, each a registered op with its own backward:
    dX = :class:`Conv2dInputGrad` (col2im(g @ W), a transposed convolution), dW =
    :class:`Conv2dWeightGrad` (g^T @ patches) and dbias = :class:`Conv2dBiasGrad` (g summed
    over N, OH, OW). They read the arrays this node's layout saved (through a
    :class:`_Saved`), so first-order backward runs the same numpy as a single kernel would.

    The patch matrix is copied out of a strided view of the input, and that copy is fast when
    it reads long contiguous runs. :func:`_conv_layout` picks one of four layouts per call
    (``self.layout`` names it), each a unit with its forward and backward kernels side by
    side that saves what its backward needs on this node:

    * ``"winograd"`` (3x3 filters at stride 1, many channels, :class:`_WinogradLayout`):
      no patch matrix, Winograd's F(4x4, 3x3) with 4x fewer multiplications;
    * ``"rows"`` (many channels, :class:`_RowsLayout`): patches from channels-last memory;
    * ``"columns"`` (few channels, :class:`_ColumnsLayout`): transposed patches from NCHW
      memory;
    * ``"banded"`` (a few filters, stride 1, :class:`_BandedLayout`): no patch matrix, image
      rows times a banded matrix of the filters.

    numpy's elementwise ops and the pools keep their input's memory layout, so the next op
    usually finds the layout it wants without a copy.
    """

    new_gradients = True

    def forward(
        self,
        x: np.ndarray,
        w: np.ndarray,
        b: np.ndarray | None = None,
        *,
        stride: Pair,
        padding: Pair,
    ) -> np.ndarray:
        self.layout = _conv_layout(x, w, stride, padding, self.is_recorded)
        return _LAYOUTS[self.layout].forward(self, x, w, b, stride, padding)

    def backward(self, g: Tensor) -> tuple[Tensor | None, ...]:
        x, w = self.inputs[0], self.inputs[1]
        geometry = {"stride": self.attrs["stride"], "padding": self.attrs["padding"]}
        saved = _Saved(self)
        grad_x = grad_w = grad_b = None
        try:
            if self.needs_input_grad[1]:
                grad_w = Conv2dWeightGrad.apply(
                    x, g, weight_shape=w.shape, layout=saved, **geometry
                )
            if len(self.inputs) == 3 and self.needs_input_grad[2]:
                grad_b = Conv2dBiasGrad.apply(g, layout=saved)
            if self.needs_input_grad[0]:
                grad_x = Conv2dInputGrad.apply(g, w, input_shape=x.shape, layout=saved, **geometry)
        finally:
            saved.forget()  # recorded kernel ops keep the layout's name, not its arrays
        return (grad_x, grad_w, grad_b) if len(self.inputs) == 3 else (grad_x, grad_w)


class _Saved:
    """What a conv2d node's layout saved in forward, lent to the kernel ops of its backward.

    Passed as the kernel ops' ``layout`` attribute (shown by its layout's name). Its arrays
    are constants of the derivative (a layout of the weight, or a cache of the input's
    data, which the weight-gradient op also takes as a Tensor input), and they are only read
    by the kernel ops' forwards inside that node's backward; :meth:`forget` drops them after.
    It also keeps the upstream gradient's matrix form, computed once for the three kernels,
    and a gradient one kernel computed along with its own for a later one (the columns
    layout's bias gradient comes out of the weight gradient's product; the Winograd layout
    computes the input gradient beside the weight gradient).
    """

    __slots__ = ("_g", "_g_matrix", "_kept", "layout", "node")

    def __init__(self, node: Conv2d) -> None:
        self.node: Conv2d | None = node
        self.layout = node.layout
        self._g = self._g_matrix = None
        self._kept: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def g_matrix(self, g: np.ndarray) -> np.ndarray:
        """The layout's matrix form of the upstream gradient ``g`` (computed once per g)."""
        if self._g is not g:
            self._g, self._g_matrix = g, _LAYOUTS[self.layout].g_matrix(g)
        return self._g_matrix

    def keep(self, kind: str, g: np.ndarray, grad: np.ndarray) -> None:
        """Keep the ``kind`` gradient ("bias", "input") computed for upstream ``g``."""
        self._kept[kind] = (g, grad)

    def kept(self, kind: str, g: np.ndarray) -> np.ndarray | None:
        """The ``kind`` gradient kept for this very ``g``, else None."""
        upstream, grad = self._kept.get(kind, (None, None))
        return grad if upstream is g else None

    def forget(self) -> None:
        self.node = self._g = self._g_matrix = None
        self._kept = {}

    def __repr__(self) -> str:
        return self.layout


BANDED_MAX_FILTERS = 4  # the banded layout pays W/kw times the multiplications per filter
BANDED_MAX_ENTRIES = 1 << 20  # and holds a (C*kh*W, O*OW) matrix


WINOGRAD_MIN_CHANNELS = 16  # below these, its 36 products per call are too small to beat
WINOGRAD_MIN_TILES = 128  # im2col's one: N * ceil(OH/4) * ceil(OW/4) (docs/performance.md)
# The share of its tiles' 4 x 4 outputs that a convolution uses (11 x 11 of 12 x 12: 0.84)
# below which the wasted ones cost more than Winograd saves: its forward and backward gain
# down to 0.75, its forward alone (an inference) only from about 0.9 (docs/performance.md).
WINOGRAD_MIN_FILL = 0.75
WINOGRAD_MIN_FILL_FORWARD_ONLY = 0.9


def _conv_layout(
    x: np.ndarray, w: np.ndarray, stride: Pair, padding: Pair, recorded: bool = True
) -> str:
    """Which layout suits this convolution: "winograd", "rows", "columns" or "banded".

    ``recorded``: whether backward will run (the node is recorded). Not "banded" when x
    may hold an infinity or NaN (:func:`_all_finite`): the band's zeros would multiply it
    (0 * inf is NaN) into outputs whose patches do not contain it.
    """
    if _winograd_suits(x, w, stride, padding, recorded):
        return "winograd"
    c, o, (kh, kw) = x.shape[1], w.shape[0], w.shape[2:]
    ow = conv_output_size(x.shape, (kh, kw), stride, padding)[1]
    width = x.shape[3] + 2 * padding[1]
    image_rows_contiguous = padding != (0, 0) or x.strides[3] == x.itemsize  # pad copies
    if (
        stride == (1, 1)
        and o <= BANDED_MAX_FILTERS
        and c * kh * width * ow * o <= BANDED_MAX_ENTRIES
        and image_rows_contiguous
        and _all_finite(x)
    ):
        return "banded"
    if stride[1] == 1 and ow > kw * c and image_rows_contiguous:
        return "columns"
    return "rows"


def _winograd_suits(
    x: np.ndarray, w: np.ndarray, stride: Pair, padding: Pair, recorded: bool
) -> bool:
    """A 3x3 convolution at stride 1 with many channels and well-filled tiles, of finite
    float32 or float64 values: Winograd's transforms would spread an infinity or NaN over its
    tile (and :func:`_all_finite`'s false alarm past ~1e19 keeps their sums from overflowing)."""
    if w.shape[2:] != (3, 3) or stride != (1, 1) or x.dtype not in winograd.DTYPES:
        return False
    if min(x.shape[1], w.shape[0]) < WINOGRAD_MIN_CHANNELS:
        return False
    oh, ow = conv_output_size(x.shape, (3, 3), stride, padding)
    th, tw = winograd.tile_counts((oh, ow))
    fill = oh * ow / (winograd.TILE**2 * th * tw)
    if fill < (WINOGRAD_MIN_FILL if recorded else WINOGRAD_MIN_FILL_FORWARD_ONLY):
        return False
    return x.shape[0] * th * tw >= WINOGRAD_MIN_TILES and _all_finite(w) and _all_finite(x)


def _all_finite(x: np.ndarray) -> bool:
    """Whether x holds no infinity or NaN; a false alarm on finite values past ~1e19 is safe.

    The sum of squares is finite exactly then (short of overflow), and BLAS's dot product
    computes it in half the time of ``x.sum()`` for a contiguous ``x``.
    """
    if not x.flags.c_contiguous:
        return bool(np.isfinite(x.sum()))
    flat = x.reshape(-1)
    return bool(np.isfinite(np.dot(flat, flat)))


# ---------------------------------------------------------------------- rows: channels-last
# The rows layout's largest patch buffer: LeNet conv2's 64 images, or a CIFAR conv's, fit
# whole; a larger matrix is split into chunks of equal size that still sit in the 32 MiB L3
# (2 MiB to the whole matrix compared in docs/performance.md).
PATCH_CHUNK_BYTES = 20 << 20
# The input gradient's chunks, in bytes of the upstream gradient: LeNet's conv2 at batch 64
# in one, at batch 256 in four (16.8 -> 12.2 ms, docs/performance.md).
INPUT_GRAD_CHUNK_BYTES = 2 << 20


class _RowsLayout:
    """Patches (N*OH*OW, kh*kw*C) from channels-last (NHWC) memory, copied in runs of kw*C floats.

    For many channels. The output is an NCHW view of NHWC memory. The patch matrix is not
    kept: it is copied in forward and again for the weight gradient, in chunks of images of at
    most PATCH_CHUNK_BYTES (one chunk for most batches), each multiplied while still in cache.
    """

    @staticmethod
    def forward(
        node: Conv2d,
        x: np.ndarray,
        w: np.ndarray,
        b: np.ndarray | None,
        stride: Pair,
        padding: Pair,
    ) -> np.ndarray:
        n, c = x.shape[:2]
        o, _, kh, kw = w.shape
        oh, ow = conv_output_size(x.shape, (kh, kw), stride, padding)
        padded = _channels_last_padded(x, padding)
        node.padded = padded  # backward copies the patches again rather than keep them
        node.w_rows = w.transpose(0, 2, 3, 1).reshape(o, kh * kw * c)
        w_columns = node.w_rows.T
        out = np.empty((n * oh * ow, o), dtype=x.dtype)
        for images, patches in _RowsLayout.patch_chunks(padded, (kh, kw), stride, (oh, ow)):
            np.matmul(patches, w_columns, out=out[images.start * oh * ow : images.stop * oh * ow])
        if b is not None:
            out += b
        return out.reshape(n, oh, ow, o).transpose(0, 3, 1, 2)

    @staticmethod
    def g_matrix(g: np.ndarray) -> np.ndarray:
        """The upstream gradient as (N*OH*OW, O) rows."""
        n, o, oh, ow = g.shape
        return g.transpose(0, 2, 3, 1).reshape(n * oh * ow, o)

    @staticmethod
    def weight_grad(saved: _Saved, g: np.ndarray) -> np.ndarray:
        node = saved.node
        return _rows_weight_grad(
            node.padded, saved.g_matrix(g), node.inputs[1].shape, node.attrs["stride"], g.shape
        )

    @staticmethod
    def bias_grad(saved: _Saved, g: np.ndarray) -> np.ndarray:
        return _column_sums(saved.g_matrix(g))

    @staticmethod
    def input_grad(saved: _Saved, g: np.ndarray) -> np.ndarray:
        node = saved.node
        return _rows_input_grad(
            saved.g_matrix(g), node.w_rows, node.padded.shape, node.inputs[1].shape,
            node.attrs["stride"], node.attrs["padding"], g.shape,
        )  # fmt: skip

    @staticmethod
    def patch_chunks(
        padded: np.ndarray, kernel: Pair, stride: Pair, out_hw: Pair
    ) -> Iterator[tuple[slice, np.ndarray]]:
        """The patch matrix in chunks of images: (images, their (rows, kh*kw*C) patches).

        ``padded`` is the channels-last padded input. The matrix is split into as few chunks
        of equal size as keep each within PATCH_CHUNK_BYTES, each copied into the same buffer
        and multiplied while it is in cache. Copying the patches twice (forward, and backward
        for the weight gradient) measured cheaper than keeping the matrix until backward
        (fourth round). Fewer, larger chunks beat many small ones (fifth round): each copy
        runs beside OpenBLAS's spin-waiting worker thread, which slows it 3x (timings of both:
        docs/performance.md).
        """
        n, _, _, c = padded.shape
        kh, kw = kernel
        (sh, sw), (oh, ow) = stride, out_hw
        bn, bh, bw, bc = padded.strides
        windows = as_strided(
            padded,
            shape=(n, oh, ow, kh, kw, c),
            strides=(bn, bh * sh, bw * sw, bh, bw, bc),
            writeable=False,
        )
        per_image = oh * ow * kh * kw * c
        chunks = image_chunks(n, per_image * padded.itemsize, PATCH_CHUNK_BYTES)
        largest = chunks[0].stop if chunks else 0  # (the first chunk is never smaller)
        buffer = np.empty(largest * per_image, dtype=padded.dtype)
        for images in chunks:
            count = images.stop - images.start
            chunk = buffer[: count * per_image]
            chunk.reshape(windows[images].shape)[...] = windows[images]
            yield images, chunk.reshape(count * oh * ow, kh * kw * c)


def _channels_last_padded(x: np.ndarray, padding: Pair) -> np.ndarray:
    """The NCHW images ``x`` zero-padded, in (N, H + 2ph, W + 2pw, C) channels-last memory."""
    n, c, h, width = x.shape
    ph, pw = padding
    if ph or pw:
        padded = np.zeros((n, h + 2 * ph, width + 2 * pw, c), dtype=x.dtype)
        padded[:, ph : ph + h, pw : pw + width] = x.transpose(0, 2, 3, 1)
        return padded
    return np.ascontiguousarray(x.transpose(0, 2, 3, 1))  # no copy after a conv


def _rows_weight_grad(
    padded: np.ndarray, rows: np.ndarray, w_shape: tuple[int, ...], stride: Pair, g_shape: tuple
) -> np.ndarray:
    """dW (O, C, kh, kw) = rows^T @ patches, from the channels-last padded input, by chunks."""
    o, c, kh, kw = w_shape
    oh, ow = g_shape[2:]
    grad_w = np.zeros((o, kh * kw * c), dtype=rows.dtype)
    for images, patches in _RowsLayout.patch_chunks(padded, (kh, kw), stride, (oh, ow)):
        grad_w += rows[images.start * oh * ow : images.stop * oh * ow].T @ patches
    return np.ascontiguousarray(grad_w.reshape(o, kh, kw, c).transpose(0, 3, 1, 2))


def _rows_input_grad(
    rows: np.ndarray,
    w_rows: np.ndarray,
    padded_shape: tuple[int, ...],
    w_shape: tuple[int, ...],
    stride: Pair,
    padding: Pair,
    g_shape: tuple[int, ...],
) -> np.ndarray:
    """dX (N, C, H, W) = col2im(rows @ W), one kernel position at a time.

    The (N*OH*OW, C) gradient of the pixels a kernel position saw is one small GEMM, added to
    its strided slice of the (channels-last) padded input. (One big GEMM into an
    (N*OH*OW, kh*kw*C) buffer, then strided reads of its (kh, kw, C) blocks, is slower:
    docs/performance.md.) Large batches go a few images at a time (INPUT_GRAD_CHUNK_BYTES of
    ``rows``), so that a chunk's rows and gradient stay in cache over the kernel positions.
    """
    o, c, kh, kw = w_shape
    n, _, oh, ow = g_shape
    ph, pw = padding
    w_blocks = w_rows.reshape(o, kh * kw, c)
    windows = window_slices((kh, kw), stride, (oh, ow))
    padded = np.empty(padded_shape, dtype=rows.dtype).transpose(0, 3, 1, 2)  # NCHW view
    for images in image_chunks(n, oh * ow * rows[:1].nbytes, INPUT_GRAD_CHUNK_BYTES):
        count = images.stop - images.start
        chunk_rows = rows[images.start * oh * ow : images.stop * oh * ow]
        chunk = padded[images]
        chunk[...] = 0  # (zeroed here, while in cache, rather than all at once)
        for position, window in enumerate(windows):
            pixels = (chunk_rows @ w_blocks[:, position]).reshape(count, oh, ow, c)
            chunk[window] += pixels.transpose(0, 3, 1, 2)
    _, _, hp, wp = padded.shape
    return padded[:, :, ph : hp - ph, pw : wp - pw]


def _column_sums(matrix: np.ndarray) -> np.ndarray:
    """The sum of each column of an (M, O) matrix, as the BLAS product ``ones(M) @ matrix``.

    For a bias gradient (M = N*OH*OW rows) BLAS's matrix-vector product is much faster than
    numpy's axis-0 reduction (timings: docs/performance.md).
    """
    return np.ones(matrix.shape[0], dtype=matrix.dtype) @ matrix


# ---------------------------------------------------------------------- columns: few channels
CHUNK_MULTIPLY_ADDS = 1 << 19  # slice size of _long_sum_matmul: half of OpenBLAS's threshold


class _ColumnsLayout:
    """Patches^T (C*kh*kw, N*OH*OW) from NCHW memory, copied in runs of OW floats along rows.

    For few channels, e.g. the 1-channel MNIST input. The product is taken transposed so
    that the output is channels-last too: pooling after it then reads C contiguous floats
    instead of every other pixel of a row (timings: docs/performance.md).
    """

    @staticmethod
    def forward(
        node: Conv2d,
        x: np.ndarray,
        w: np.ndarray,
        b: np.ndarray | None,
        stride: Pair,
        padding: Pair,
    ) -> np.ndarray:
        n, c, _, _ = x.shape
        o, _, kh, kw = w.shape
        (ph, pw), (sh, sw) = padding, stride
        oh, ow = conv_output_size(x.shape, (kh, kw), stride, padding)
        if ph or pw:
            x = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
        bn, bc, bh, bw = x.strides
        columns = as_strided(
            x,
            shape=(c, kh, kw, n, oh, ow),
            strides=(bc, bh, bw, bn, bh * sh, bw * sw),
            writeable=False,
        )
        # With a bias, the matrix gets a row of ones and the weights a column holding the
        # bias: the product adds it, and backward's weight gradient holds its gradient. With
        # few channels the product is cheap, and a separate `out += b` pass over the
        # (N*OH*OW, O) output would cost more than it (docs/performance.md).
        patch_size = c * kh * kw
        node.columns_matrix = np.empty((patch_size + (b is not None), n * oh * ow), x.dtype)
        node.columns_matrix[:patch_size].reshape(columns.shape)[...] = columns
        node.w_matrix = w.reshape(o, patch_size)
        if b is not None:
            node.columns_matrix[patch_size] = 1
            node.w_matrix = np.concatenate([node.w_matrix, b[:, None]], axis=1)
        node.padded_shape = x.shape
        out = node.columns_matrix.T @ node.w_matrix.T  # (N*OH*OW, O): channels-last
        return out.reshape(n, oh, ow, o).transpose(0, 3, 1, 2)

    @staticmethod
    def g_matrix(g: np.ndarray) -> np.ndarray:
        """The upstream gradient as an (O, N*OH*OW) matrix."""
        n, o, oh, ow = g.shape
        return g.transpose(1, 0, 2, 3).reshape(o, n * oh * ow)

    @staticmethod
    def weight_grad(saved: _Saved, g: np.ndarray) -> np.ndarray:
        """dW from one product with the patches; with a bias its gradient comes out of the
        same product (the row of ones), kept on ``saved`` for :meth:`bias_grad`."""
        node = saved.node
        o, c, kh, kw = node.inputs[1].shape
        patch_size = c * kh * kw
        grad_wb = _columns_weight_product(node.columns_matrix, g)  # (O, ps [+ 1])
        if len(node.inputs) == 3:
            saved.keep("bias", g, grad_wb[:, patch_size].copy())
        return np.ascontiguousarray(grad_wb[:, :patch_size]).reshape(o, c, kh, kw)

    @staticmethod
    def bias_grad(saved: _Saved, g: np.ndarray) -> np.ndarray:
        grad_b = saved.kept("bias", g)
        if grad_b is None:  # no weight gradient was asked for: the same product
            columns_matrix = saved.node.columns_matrix
            grad_b = _columns_weight_product(columns_matrix, g)[:, -1].copy()
        return grad_b

    @staticmethod
    def input_grad(saved: _Saved, g: np.ndarray) -> np.ndarray:
        node = saved.node
        _, c, kh, kw = node.inputs[1].shape
        n, _, oh, ow = g.shape
        w_matrix = node.w_matrix[:, : c * kh * kw]
        grad_columns = (w_matrix.T @ saved.g_matrix(g)).reshape(c, kh * kw, n, oh, ow)
        _, _, hp, wp = node.padded_shape
        stride, (ph, pw) = node.attrs["stride"], node.attrs["padding"]
        padded = np.zeros((c, n, hp, wp), dtype=g.dtype).transpose(1, 0, 2, 3)  # NCHW view
        for position, window in enumerate(window_slices((kh, kw), stride, (oh, ow))):
            padded[window] += grad_columns[:, position].transpose(1, 0, 2, 3)
        return padded[:, :, ph : hp - ph, pw : wp - pw]


def _columns_weight_product(columns_matrix: np.ndarray, g: np.ndarray) -> np.ndarray:
    """(O, C*kh*kw [+ 1]) = g as (O, N*OH*OW) times the patch columns' transpose, computed as
    the transpose of columns @ g's (N*OH*OW, O) rows: both operands then contiguous for the
    channels-last g a columns conv outputs, and 15-30 % faster (docs/performance.md)."""
    return _long_sum_matmul(columns_matrix, _RowsLayout.g_matrix(g)).T


def _long_sum_matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a @ b`` for a small output and a long inner dimension, e.g. (32, 43264) @ (43264, 10).

    OpenBLAS splits a product's output between its threads, not its sum, so for such shapes
    two threads are slower than one. It runs a product of fewer than about 2**20
    multiply-adds on one thread, so the product is summed over slices of half that (timings
    of LeNet's conv1 weight gradient: docs/performance.md).
    """
    m, inner = a.shape
    chunk = max(1, CHUNK_MULTIPLY_ADDS // max(1, m * b.shape[1]))
    if inner <= chunk:
        return a @ b
    total = a[:, :chunk] @ b[:chunk]
    for start in range(chunk, inner, chunk):
        total += a[:, start : start + chunk] @ b[start : start + chunk]
    return total


# ---------------------------------------------------------------------- banded: a few filters
class _BandedLayout:
    """No patch matrix: image rows times a banded matrix holding every filter at every offset.

    For a few filters at stride 1, e.g. the seed CNN's 3 filters of 8 x 8. Each output row
    reads kh whole image rows, (N*OH, C*kh*W) copied in runs of W floats, times a banded
    matrix (C*kh*W, O*OW) that holds every filter at every horizontal offset. That is W/kw
    times the multiplications of im2col, which with so few filters costs less than copying
    kw*OW/W times more data. The output is an NCHW view of (N, OH, O, OW) memory, so the pool
    after it reads runs along W, not the runs of 3 floats that channels-last memory with 3
    channels would give (timings: docs/performance.md).
    """

    @staticmethod
    def forward(
        node: Conv2d,
        x: np.ndarray,
        w: np.ndarray,
        b: np.ndarray | None,
        stride: Pair,
        padding: Pair,
    ) -> np.ndarray:
        n, c, _, _ = x.shape
        o, _, kh, kw = w.shape
        (ph, pw), (oh, ow) = padding, conv_output_size(x.shape, (kh, kw), stride, padding)
        if ph or pw:
            x = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
        width = x.shape[3]
        bn, bc, bh, bw = x.strides
        image_rows = as_strided(
            x, shape=(n, oh, c, kh, width), strides=(bn, bh, bc, bh, bw), writeable=False
        )
        node.image_rows = image_rows.reshape(n * oh, c * kh * width)
        node.band = np.zeros((c * kh * width, o * ow), dtype=w.dtype)
        diagonals = _band_diagonals(node.band, c, kh, kw, width, o, ow)
        diagonals[...] = w.transpose(3, 1, 2, 0)[..., None]  # every weight at every offset x
        node.padded_shape = x.shape
        out = (node.image_rows @ node.band).reshape(n, oh, o, ow)
        if b is not None:
            out += b[:, None]
        return out.transpose(0, 2, 1, 3)

    @staticmethod
    def g_matrix(g: np.ndarray) -> np.ndarray:
        """The upstream gradient as (N*OH, O*OW) rows."""
        n, o, oh, ow = g.shape
        return g.transpose(0, 2, 1, 3).reshape(n * oh, o * ow)

    @staticmethod
    def weight_grad(saved: _Saved, g: np.ndarray) -> np.ndarray:
        node = saved.node
        o, c, kh, kw = node.inputs[1].shape
        ow, width = g.shape[3], node.padded_shape[3]
        grad_band = node.image_rows.T @ saved.g_matrix(g)
        # Every filter weight sits in the band once per horizontal offset: sum them.
        per_offset = _band_diagonals(grad_band, c, kh, kw, width, o, ow)
        return np.ascontiguousarray(per_offset.sum(axis=4).transpose(3, 1, 2, 0))

    @staticmethod
    def bias_grad(saved: _Saved, g: np.ndarray) -> np.ndarray:
        n, o, oh, ow = g.shape  # (not reshape(-1, ...): with no filters, -1 is ambiguous)
        return saved.g_matrix(g).reshape(n * oh, o, ow).sum(axis=(0, 2))

    @staticmethod
    def input_grad(saved: _Saved, g: np.ndarray) -> np.ndarray:
        node = saved.node
        _, c, kh, _ = node.inputs[1].shape
        n, _, oh, _ = g.shape
        _, _, hp, width = node.padded_shape
        grad_rows = (saved.g_matrix(g) @ node.band.T).reshape(n, oh, c, kh, width)
        padded = np.zeros((n, c, hp, width), dtype=g.dtype)
        for i in range(kh):
            padded[:, :, i : i + oh, :] += grad_rows[:, :, :, i, :].transpose(0, 2, 1, 3)
        (ph, pw) = node.attrs["padding"]
        return padded[:, :, ph : hp - ph, pw : width - pw]


def _band_diagonals(
    band: np.ndarray, c: int, kh: int, kw: int, width: int, o: int, ow: int
) -> np.ndarray:
    """A (kw, C, kh, O, OW) view of the (C*kh*W, O*OW) band: where each weight sits in it.

    ``view[j, c, i, o, x]`` is the band entry at row ``(c*kh + i)*W + x + j`` (pixel x + j of
    image row i of channel c) and column ``o*OW + x`` (output pixel x of filter o): the entry
    that holds ``w[o, c, i, j]``. Moving one output pixel right moves one row down and one
    column right, so each (j, c, i, o) is a strided diagonal; no index arrays are needed, and
    no two view elements share an entry (the column fixes o and x, the row then fixes c, i, j).
    """
    row_step, column_step = band.strides
    return as_strided(
        band,
        shape=(kw, c, kh, o, ow),
        strides=(
            row_step,
            kh * width * row_step,
            width * row_step,
            ow * column_step,
            row_step + column_step,
        ),
    )


# ---------------------------------------------------------------------- winograd: 3x3, stride 1
class _WinogradLayout:
    """3x3 filters at stride 1 by Winograd's F(4x4, 3x3) (:mod:`tinygrad_cnn.ops.winograd`).

    For finite inputs with many channels: 4x fewer multiplications than im2col and a 4x
    smaller copy of the input. Saves the transformed tiles and filters for backward, and the
    padded input and weight rows for the rows kernels, which backward uses when the upstream
    gradient holds an infinity or NaN (Winograd's transforms would spread it over its tile).
    Its weight gradient computes the input gradient too when that is needed (one pass over
    chunks of images, sharing each chunk's transformed gradient), kept for the input
    gradient's op. The output is an NCHW view of channels-last memory, as the rows layout's.
    """

    @staticmethod
    def forward(
        node: Conv2d,
        x: np.ndarray,
        w: np.ndarray,
        b: np.ndarray | None,
        stride: Pair,
        padding: Pair,
    ) -> np.ndarray:
        out_hw = conv_output_size(x.shape, (3, 3), stride, padding)
        node.padded = winograd.padded_for_tiles(x, padding, out_hw)
        node.w_rows = w.transpose(0, 2, 3, 1).reshape(w.shape[0], 9 * x.shape[1])
        out, node.tiles, node.filters = winograd.convolve(node.padded, w, out_hw)
        if b is not None:
            out += b
        return out.transpose(0, 3, 1, 2)

    @staticmethod
    def g_matrix(g: np.ndarray) -> np.ndarray | None:
        """g itself, or None when it is not finite (backward then takes the rows kernels)."""
        return g if _all_finite(g) else None

    @staticmethod
    def weight_grad(saved: _Saved, g: np.ndarray) -> np.ndarray:
        node = saved.node
        if saved.g_matrix(g) is None:  # the rows kernel, on the tiles' larger padded input
            rows = _RowsLayout.g_matrix(g)  # (its windows lie in that buffer's top left)
            return _rows_weight_grad(node.padded, rows, node.inputs[1].shape, (1, 1), g.shape)
        with_input = node.needs_input_grad[0]
        grad_w, grad_padded = winograd.gradients(
            g, node.tiles, node.filters, node.padded.shape, padded_input=with_input
        )
        if with_input:
            saved.keep("input", g, _WinogradLayout.crop(node, grad_padded))
        return grad_w

    @staticmethod
    def bias_grad(saved: _Saved, g: np.ndarray) -> np.ndarray:
        return _column_sums(_RowsLayout.g_matrix(g))

    @staticmethod
    def input_grad(saved: _Saved, g: np.ndarray) -> np.ndarray:
        node = saved.node
        kept = saved.kept("input", g)
        if kept is not None:
            return kept
        if saved.g_matrix(g) is None:
            n, c, h, width = node.inputs[0].shape
            ph, pw = node.attrs["padding"]
            padded_shape = (n, h + 2 * ph, width + 2 * pw, c)
            return _rows_input_grad(
                _RowsLayout.g_matrix(g), node.w_rows, padded_shape, node.inputs[1].shape,
                (1, 1), (ph, pw), g.shape,
            )  # fmt: skip
        _, grad_padded = winograd.gradients(
            g, node.tiles, node.filters, node.padded.shape, weight=False
        )
        return _WinogradLayout.crop(node, grad_padded)

    @staticmethod
    def crop(node: Conv2d, grad_padded: np.ndarray) -> np.ndarray:
        """The input's (N, C, H, W) gradient: a view of the padded input's gradient."""
        h, width = node.inputs[0].shape[2:]
        ph, pw = node.attrs["padding"]
        return grad_padded[:, ph : ph + h, pw : pw + width].transpose(0, 3, 1, 2)


_LAYOUTS = {
    "rows": _RowsLayout,
    "columns": _ColumnsLayout,
    "banded": _BandedLayout,
    "winograd": _WinogradLayout,
}


# ---------------------------------------------------------------------- backward kernels
class Conv2dInputGrad(Function):
    """dX (N, C, H, W) of conv2d from g (N, O, OH, OW) and w (O, C, kh, kw): a transposed
    convolution, ``torch.nn.grad.conv2d_input(input_shape, w, g, stride, padding)``.

    Attributes ``stride``, ``padding``, ``input_shape`` (the convolution's input shape, which
    fixes the rows and columns that no window reached), and ``layout``: inside a conv2d
    node's backward, that node's :class:`_Saved`, whose layout of ``w`` it reads; otherwise
    None (the rows layout's kernel on ``w`` itself). It is linear in each input:
    d/dg = conv2d(u, w) and d/dw = conv2d_weight_grad(u, g).
    """

    name = "conv2d_input_grad"
    new_gradients = True

    def forward(
        self,
        g: np.ndarray,
        w: np.ndarray,
        *,
        stride: Pair,
        padding: Pair,
        input_shape: tuple[int, ...],
        layout: _Saved | None = None,
    ) -> np.ndarray:
        if layout is not None and layout.node is not None:
            return _LAYOUTS[layout.layout].input_grad(layout, g)
        n, c, h, width = input_shape
        o, _, kh, kw = w.shape
        (ph, pw), (_, _, oh, ow) = padding, g.shape
        rows = g.transpose(0, 2, 3, 1).reshape(n * oh * ow, o)
        w_rows = w.transpose(0, 2, 3, 1).reshape(o, kh * kw * c)
        padded_shape = (n, h + 2 * ph, width + 2 * pw, c)
        return _rows_input_grad(rows, w_rows, padded_shape, w.shape, stride, padding, g.shape)

    def backward(self, u: Tensor) -> tuple[Tensor | None, Tensor | None]:
        g, w = self.inputs
        stride, padding = self.attrs["stride"], self.attrs["padding"]
        grad_g = grad_w = None
        if self.needs_input_grad[0]:
            grad_g = Conv2d.apply(u, w, stride=stride, padding=padding)
        if self.needs_input_grad[1]:
            grad_w = Conv2dWeightGrad.apply(
                u, g, stride=stride, padding=padding, weight_shape=w.shape
            )
        return grad_g, grad_w


class Conv2dWeightGrad(Function):
    """dW (O, C, kh, kw) of conv2d from its input x (N, C, H, W) and g (N, O, OH, OW),
    ``torch.nn.grad.conv2d_weight(x, weight_shape, g, stride, padding)``.

    ``layout``: inside a conv2d node's backward, that node's :class:`_Saved`, whose patches
    of x (a cache of the same data as the input ``x``) it multiplies; otherwise None (the
    rows layout's kernel on ``x``). Linear in each input: d/dx = conv2d_input_grad(g, u) and
    d/dg = conv2d(x, u).
    """

    name = "conv2d_weight_grad"
    new_gradients = True

    def forward(
        self,
        x: np.ndarray,
        g: np.ndarray,
        *,
        stride: Pair,
        padding: Pair,
        weight_shape: tuple[int, ...],
        layout: _Saved | None = None,
    ) -> np.ndarray:
        if layout is not None and layout.node is not None:
            return _LAYOUTS[layout.layout].weight_grad(layout, g)
        n, o, oh, ow = g.shape
        rows = g.transpose(0, 2, 3, 1).reshape(n * oh * ow, o)
        return _rows_weight_grad(
            _channels_last_padded(x, padding), rows, weight_shape, stride, g.shape
        )

    def backward(self, u: Tensor) -> tuple[Tensor | None, Tensor | None]:
        x, g = self.inputs
        stride, padding = self.attrs["stride"], self.attrs["padding"]
        grad_x = grad_g = None
        if self.needs_input_grad[0]:
            grad_x = Conv2dInputGrad.apply(
                g, u, stride=stride, padding=padding, input_shape=x.shape
            )
        if self.needs_input_grad[1]:
            grad_g = Conv2d.apply(x, u, stride=stride, padding=padding)
        return grad_x, grad_g


class Conv2dBiasGrad(Function):
    """dbias (O,) of conv2d: g (N, O, OH, OW) summed over N, OH and OW.

    ``layout`` as for :class:`Conv2dWeightGrad` (the layout's sum: a BLAS product, or the
    column the weight gradient's product already holds). Backward: u broadcast back.
    """

    name = "conv2d_bias_grad"
    new_gradients = True

    def forward(self, g: np.ndarray, *, layout: _Saved | None = None) -> np.ndarray:
        if layout is not None and layout.node is not None:
            return _LAYOUTS[layout.layout].bias_grad(layout, g)
        return g.sum(axis=(0, 2, 3))

    def backward(self, u: Tensor) -> tuple[Tensor]:
        shape = self.inputs[0].shape
        return (u.reshape(1, shape[1], 1, 1).broadcast_to(shape),)


# ---------------------------------------------------------------------- wrapper
def conv2d(
    x: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: Any = 1,
    padding: Any = 0,
    dilation: Any = 1,
    groups: int = 1,
) -> Tensor:
    """2-D convolution (cross-correlation, as in PyTorch) of a batch of images.

    ``torch.nn.functional.conv2d``'s arguments, defaults and semantics. The default call
    (dilation 1, one group, numeric padding) is one :class:`Conv2d` op; the options are
    compositions of registered ops (:mod:`tinygrad_cnn.ops.conv_options`: padding, slicing,
    reshapes, concatenation around :class:`Conv2d`), so their gradients can be
    differentiated again too.

    Parameters
    ----------
    x : Tensor, shape (N, C, H, W)
    weight : Tensor, shape (O, C / groups, kh, kw)
    bias : Tensor, shape (O,), optional
    stride : int or (int, int)
        Step between windows (positive).
    padding : int, (int, int), 'valid' or 'same'
        Zero padding on each side (non-negative); ``'valid'`` is 0, ``'same'`` (stride 1
        only) pads so that the output has the input's size, one more on the right/bottom
        than on the left/top when ``dilation * (k - 1)`` is odd, as PyTorch.
    dilation : int or (int, int)
        Spacing between kernel elements (positive).
    groups : int
        Input and output channels split into ``groups`` blocks, each convolved separately
        (``groups == C`` is a depthwise convolution). C and O must be divisible by it.

    Returns
    -------
    Tensor, shape (N, O, OH, OW) with
    OH = (H + 2 * padding - dilation * (kh - 1) - 1) // stride + 1.
    """
    check_image("conv2d", x)
    if not isinstance(weight, Tensor):
        raise TypeError(f"conv2d: weight must be a Tensor, got {type(weight).__name__}")
    if weight.ndim != 4:
        raise ValueError(
            f"conv2d: weight must have shape (O, C, kh, kw) (C / groups with groups), got shape "
            f"{weight.shape}"
        )
    if 0 in weight.shape[2:]:  # kernel sides must be positive: a 0-wide one would give zeros
        raise ValueError(f"conv2d: kernel sides must be positive, got weight shape {weight.shape}")
    if isinstance(groups, bool) or not isinstance(groups, int | np.integer) or groups < 1:
        raise ValueError(f"conv2d: groups must be a positive int, got {groups!r}")
    if weight.shape[1] * groups != x.shape[1]:
        raise ValueError(
            f"conv2d: input has {x.shape[1]} channels (shape {x.shape}) but weight expects "
            f"{weight.shape[1] * groups} ({weight.shape[1]} per group times groups={groups}, "
            f"weight shape {weight.shape})"
        )
    if weight.shape[0] % groups:
        raise ValueError(
            f"conv2d: out channels {weight.shape[0]} (weight shape {weight.shape}) must be "
            f"divisible by groups={groups}"
        )
    stride = pair("conv2d", "stride", stride, 1)
    dilation = pair("conv2d", "dilation", dilation, 1)
    default = not isinstance(padding, str) and dilation == (1, 1) and groups == 1
    if default:
        padding = pair("conv2d", "padding", padding, 0)
        check_window_fits("conv2d", x.shape, weight.shape[2:], padding)
    inputs = [x, weight]
    if bias is not None:
        if not isinstance(bias, Tensor):
            raise TypeError(f"conv2d: bias must be a Tensor or None, got {type(bias).__name__}")
        if bias.shape != (weight.shape[0],):
            raise ValueError(f"conv2d: bias must have shape ({weight.shape[0]},), got {bias.shape}")
        inputs.append(bias)
    dtypes = {t.dtype for t in inputs}
    if len(dtypes) > 1:
        raise TypeError(
            f"conv2d: input, weight and bias must share one dtype, got {sorted(map(str, dtypes))}"
        )
    if default:
        return Conv2d.apply(*inputs, stride=stride, padding=padding)
    return _conv2d_options(x, weight, bias, stride, padding, dilation, int(groups))


def _conv2d_options(
    x: Tensor,
    weight: Tensor,
    bias: Tensor | None,
    stride: Pair,
    padding: Any,
    dilation: Pair,
    groups: int,
) -> Tensor:
    """conv2d with string padding, dilation or groups, composed of registered ops.

    'same'/'valid' become numeric padding (the input padded first on the right/bottom where
    'same' is asymmetric), dilation a dilated weight (zeros between its elements), and groups
    one :class:`Conv2d` per block of channels, concatenated.
    """
    x, padding = resolve_padding("conv2d", x, weight.shape[2:], stride, padding, dilation)
    if dilation != (1, 1):
        weight = dilate_weight(weight, dilation)
    check_window_fits("conv2d", x.shape, weight.shape[2:], padding)
    if groups == 1:
        inputs = (x, weight) if bias is None else (x, weight, bias)
        return Conv2d.apply(*inputs, stride=stride, padding=padding)
    c, o = x.shape[1] // groups, weight.shape[0] // groups
    outs = []
    for k in range(groups):
        block = (x[:, k * c : (k + 1) * c], weight[k * o : (k + 1) * o])
        if bias is not None:
            block += (bias[k * o : (k + 1) * o],)
        outs.append(Conv2d.apply(*block, stride=stride, padding=padding))
    return concatenate(outs, axis=1)
