"""Convolution and pooling over NCHW images, vectorised: no Python loop ever runs over pixels.

Tensors are NCHW to the user (as in PyTorch). ``conv2d`` is one BLAS matrix product over a
matrix copied out of a strided view of the input, in one of three layouts chosen by the shape
of the problem (see :class:`Conv2d`); its output is an NCHW *view* of whatever memory layout
suits the product. numpy's elementwise ops and the pools keep their input's memory layout,
so the next conv usually finds its input already laid out as it wants. Backward loops only
over the kh * kw kernel positions, and pooling only over the window positions.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import as_strided

from tinygrad_cnn.function import Function
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


class Conv2d(Function):
    """out[n, o] = sum over c, i, j of x[n, c, s*y + i, s*x + j] * w[o, c, i, j] (+ bias[o]).

    im2col: every kernel window becomes one row of a matrix, and the convolution is one matrix
    product (BLAS). Backward: dW = g^T @ patches, dbias = g summed over N, OH, OW and
    dX = col2im(g @ W), adding one strided slice per kernel position.

    The patch matrix is copied out of a strided view of the input, and that copy is fast when
    it reads long contiguous runs. Three layouts, picked per call:

    * rows (many channels): patches (N*OH*OW, kh*kw*C) from channels-last (NHWC) memory, runs
      of kw*C floats; the output is an NCHW view of NHWC memory. The patch matrix is never
      whole: a few images at a time are copied into one buffer of about 2 MiB and multiplied
      while that buffer is still in cache, in forward and again for the weight gradient.
    * columns (few channels, e.g. the 1-channel MNIST input): patches^T (C*kh*kw, N*OH*OW)
      from NCHW memory, runs of OW floats along image rows; the product is taken transposed
      so that the output is channels-last too (pooling after it then reads C contiguous
      floats, which measured 3-4% faster on LeNet than a CNHW output).

    * banded (a few filters, stride 1, e.g. the seed CNN's 3 filters of 8 x 8): no patch
      matrix at all. Each output row reads kh whole image rows, (N*OH, C*kh*W) copied in runs
      of W floats, times a banded matrix (C*kh*W, O*OW) that holds every filter at every
      horizontal offset. That is W/kw times the multiplications of im2col, which with so few
      filters costs less than copying kw*OW/W times more data. The output is an NCHW view
      of (N, OH, O, OW) memory: pooling channels-last memory with 3 channels reads runs of 3
      floats, and the seed CNN's max pool ran twice as fast on runs along W.

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
        self.layout = _conv_layout(x, w, stride, padding)
        forward = {
            "rows": self._forward_rows,
            "columns": self._forward_columns,
            "banded": self._forward_banded,
        }[self.layout]
        return forward(x, w, b, stride, padding)

    def backward(self, g: np.ndarray) -> tuple[np.ndarray | None, ...]:
        backward = {
            "rows": self._backward_rows,
            "columns": self._backward_columns,
            "banded": self._backward_banded,
        }[self.layout]
        grads = backward(g)
        return grads if len(self.inputs) == 3 else grads[:2]

    # -------------------------------------------------------------- rows: channels-last
    def _forward_rows(
        self, x: np.ndarray, w: np.ndarray, b: np.ndarray | None, stride: Pair, padding: Pair
    ) -> np.ndarray:
        n, c, h, width = x.shape
        o, _, kh, kw = w.shape
        ph, pw = padding
        oh, ow = conv_output_size(x.shape, (kh, kw), stride, padding)
        if ph or pw:
            padded = np.zeros((n, h + 2 * ph, width + 2 * pw, c), dtype=x.dtype)
            padded[:, ph : ph + h, pw : pw + width] = x.transpose(0, 2, 3, 1)
        else:
            padded = np.ascontiguousarray(x.transpose(0, 2, 3, 1))  # no copy after a conv
        self.padded = padded  # backward copies the patches again rather than keep them
        self.w_rows = w.transpose(0, 2, 3, 1).reshape(o, kh * kw * c)
        w_columns = self.w_rows.T
        out = np.empty((n * oh * ow, o), dtype=x.dtype)
        for images, patches in self._patch_chunks((oh, ow)):
            np.matmul(patches, w_columns, out=out[images.start * oh * ow : images.stop * oh * ow])
        if b is not None:
            out += b
        return out.reshape(n, oh, ow, o).transpose(0, 3, 1, 2)

    def _patch_chunks(self, out_hw: Pair) -> Iterator[tuple[slice, np.ndarray]]:
        """The patch matrix, a few images at a time: (images, their (rows, kh*kw*C) patches).

        Each chunk is copied into the same buffer of about PATCH_CHUNK_BYTES, so that the
        product reads it from the cache. A whole patch matrix (9 MB for LeNet's conv2) was
        written to memory the cache had lost, kept until backward and read from DRAM twice:
        copying each chunk twice (forward and backward) made LeNet's training about 3% faster
        (alternated A/B runs, see docs/performance.md).
        """
        n, _, _, c = self.padded.shape
        kh, kw = self.inputs[1].shape[2:]
        (sh, sw), (oh, ow) = self.attrs["stride"], out_hw
        bn, bh, bw, bc = self.padded.strides
        windows = as_strided(
            self.padded,
            shape=(n, oh, ow, kh, kw, c),
            strides=(bn, bh * sh, bw * sw, bh, bw, bc),
            writeable=False,
        )
        per_image = oh * ow * kh * kw * c
        step = max(1, PATCH_CHUNK_BYTES // max(1, per_image * self.padded.itemsize))
        buffer = np.empty(min(n, step) * per_image, dtype=self.padded.dtype)
        for start in range(0, n, step):
            images = slice(start, min(n, start + step))
            count = images.stop - start
            chunk = buffer[: count * per_image]
            chunk.reshape(windows[images].shape)[...] = windows[images]
            yield images, chunk.reshape(count * oh * ow, kh * kw * c)

    def _backward_rows(self, g: np.ndarray) -> tuple[np.ndarray | None, ...]:
        o, c, kh, kw = self.inputs[1].shape
        n, _, oh, ow = g.shape
        rows = g.transpose(0, 2, 3, 1).reshape(n * oh * ow, o)
        grad_x = grad_w = grad_b = None
        if self.needs_input_grad[1]:
            grad_w = np.zeros((o, kh * kw * c), dtype=g.dtype)
            for images, patches in self._patch_chunks((oh, ow)):
                grad_w += rows[images.start * oh * ow : images.stop * oh * ow].T @ patches
            grad_w = np.ascontiguousarray(grad_w.reshape(o, kh, kw, c).transpose(0, 3, 1, 2))
        if len(self.inputs) == 3 and self.needs_input_grad[2]:
            grad_b = _column_sums(rows)
        if self.needs_input_grad[0]:
            # col2im, one kernel position at a time: the (N*OH*OW, C) gradient of the pixels
            # that position saw is one small GEMM, added to its strided slice of the input.
            # (One big GEMM then strided reads of its (kh, kw, C) blocks was 20% slower.)
            w_blocks = self.w_rows.reshape(o, kh * kw, c)
            stride, (ph, pw) = self.attrs["stride"], self.attrs["padding"]
            padded = np.zeros(self.padded.shape, dtype=g.dtype).transpose(0, 3, 1, 2)  # NCHW view
            for position, window in enumerate(window_slices((kh, kw), stride, (oh, ow))):
                pixels = (rows @ w_blocks[:, position]).reshape(n, oh, ow, c)
                padded[window] += pixels.transpose(0, 3, 1, 2)
            _, _, hp, wp = padded.shape
            grad_x = padded[:, :, ph : hp - ph, pw : wp - pw]
        return grad_x, grad_w, grad_b

    # -------------------------------------------------------------- columns: few channels
    def _forward_columns(
        self, x: np.ndarray, w: np.ndarray, b: np.ndarray | None, stride: Pair, padding: Pair
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
        # bias: the product adds it, and backward's weight gradient holds its gradient. A
        # separate `out += b` over a (N*OH*OW, O) output with O = 32 cost twice the product.
        patch_size = c * kh * kw
        self.columns_matrix = np.empty((patch_size + (b is not None), n * oh * ow), x.dtype)
        self.columns_matrix[:patch_size].reshape(columns.shape)[...] = columns
        self.w_matrix = w.reshape(o, patch_size)
        if b is not None:
            self.columns_matrix[patch_size] = 1
            self.w_matrix = np.concatenate([self.w_matrix, b[:, None]], axis=1)
        self.padded_shape = x.shape
        out = self.columns_matrix.T @ self.w_matrix.T  # (N*OH*OW, O): channels-last
        return out.reshape(n, oh, ow, o).transpose(0, 3, 1, 2)

    def _backward_columns(self, g: np.ndarray) -> tuple[np.ndarray | None, ...]:
        o, c, kh, kw = self.inputs[1].shape
        n, _, oh, ow = g.shape
        g_matrix = g.transpose(1, 0, 2, 3).reshape(o, n * oh * ow)
        patch_size = c * kh * kw
        grad_x = grad_w = grad_b = None
        if any(self.needs_input_grad[1:]):
            grad_wb = _long_sum_matmul(g_matrix, self.columns_matrix.T)  # (O, patch_size [+ 1])
            grad_w = np.ascontiguousarray(grad_wb[:, :patch_size]).reshape(o, c, kh, kw)
            if len(self.inputs) == 3:
                grad_b = grad_wb[:, patch_size].copy()
        if self.needs_input_grad[0]:
            w_matrix = self.w_matrix[:, :patch_size]
            grad_columns = (w_matrix.T @ g_matrix).reshape(c, kh * kw, n, oh, ow)
            _, _, hp, wp = self.padded_shape
            stride, (ph, pw) = self.attrs["stride"], self.attrs["padding"]
            padded = np.zeros((c, n, hp, wp), dtype=g.dtype).transpose(1, 0, 2, 3)  # NCHW view
            for position, window in enumerate(window_slices((kh, kw), stride, (oh, ow))):
                padded[window] += grad_columns[:, position].transpose(1, 0, 2, 3)
            grad_x = padded[:, :, ph : hp - ph, pw : wp - pw]
        return grad_x, grad_w, grad_b

    # -------------------------------------------------------------- banded: a few filters
    def _forward_banded(
        self, x: np.ndarray, w: np.ndarray, b: np.ndarray | None, stride: Pair, padding: Pair
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
        self.image_rows = image_rows.reshape(n * oh, c * kh * width)
        self.band = np.zeros((c * kh * width, o * ow), dtype=w.dtype)
        diagonals = _band_diagonals(self.band, c, kh, kw, width, o, ow)
        diagonals[...] = w.transpose(3, 1, 2, 0)[..., None]  # every weight at every offset x
        self.padded_shape = x.shape
        out = (self.image_rows @ self.band).reshape(n, oh, o, ow)
        if b is not None:
            out += b[:, None]
        return out.transpose(0, 2, 1, 3)

    def _backward_banded(self, g: np.ndarray) -> tuple[np.ndarray | None, ...]:
        o, c, kh, kw = self.inputs[1].shape
        n, _, oh, ow = g.shape
        g_rows = g.transpose(0, 2, 1, 3).reshape(n * oh, o * ow)
        grad_x = grad_w = grad_b = None
        _, _, hp, width = self.padded_shape
        if self.needs_input_grad[1]:
            grad_band = self.image_rows.T @ g_rows
            # Every filter weight sits in the band once per horizontal offset: sum them.
            per_offset = _band_diagonals(grad_band, c, kh, kw, width, o, ow)
            grad_w = np.ascontiguousarray(per_offset.sum(axis=4).transpose(3, 1, 2, 0))
        if len(self.inputs) == 3 and self.needs_input_grad[2]:
            grad_b = g_rows.reshape(-1, o, ow).sum(axis=(0, 2))
        if self.needs_input_grad[0]:
            grad_rows = (g_rows @ self.band.T).reshape(n, oh, c, kh, width)
            padded = np.zeros((n, c, hp, width), dtype=g.dtype)
            for i in range(kh):
                padded[:, :, i : i + oh, :] += grad_rows[:, :, :, i, :].transpose(0, 2, 1, 3)
            (ph, pw) = self.attrs["padding"]
            grad_x = padded[:, :, ph : hp - ph, pw : width - pw]
        return grad_x, grad_w, grad_b


PATCH_CHUNK_BYTES = 1 << 21  # rows layout's patch buffer: 15 of LeNet conv2's images (8 or
# 16 measured alike; 4 and 32 images per chunk were 1-2% slower)
CHUNK_MULTIPLY_ADDS = 1 << 19  # slice size of _long_sum_matmul: half of OpenBLAS's threshold


def _long_sum_matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a @ b`` for a small output and a long inner dimension, e.g. (32, 43264) @ (43264, 10).

    OpenBLAS splits a product's output between its threads, not its sum, and for such shapes
    two threads ran 3-4x slower than one. It runs a product of fewer than about 2**20
    multiply-adds on one thread (measured here: LeNet's conv1 weight gradient took 160 us in
    slices of 1.0M multiply-adds and 620 us in slices of 1.05M), so the product is summed
    over slices of half that.
    """
    m, inner = a.shape
    chunk = max(1, CHUNK_MULTIPLY_ADDS // max(1, m * b.shape[1]))
    if inner <= chunk:
        return a @ b
    total = a[:, :chunk] @ b[:chunk]
    for start in range(chunk, inner, chunk):
        total += a[:, start : start + chunk] @ b[start : start + chunk]
    return total


def _column_sums(matrix: np.ndarray) -> np.ndarray:
    """The sum of each column of an (M, O) matrix, as the BLAS product ``ones(M) @ matrix``.

    For a bias gradient (M = N*OH*OW rows) this is 4-5x faster than numpy's axis-0 reduction.
    """
    return np.ones(matrix.shape[0], dtype=matrix.dtype) @ matrix


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


BANDED_MAX_FILTERS = 4  # the banded layout pays W/kw times the multiplications per filter
BANDED_MAX_ENTRIES = 1 << 20  # and holds a (C*kh*W, O*OW) matrix


def _conv_layout(x: np.ndarray, w: np.ndarray, stride: Pair, padding: Pair) -> str:
    """Which im2col layout suits this convolution: "rows", "columns" or "banded"."""
    c, o, (kh, kw) = x.shape[1], w.shape[0], w.shape[2:]
    ow = conv_output_size(x.shape, (kh, kw), stride, padding)[1]
    width = x.shape[3] + 2 * padding[1]
    image_rows_contiguous = padding != (0, 0) or x.strides[3] == x.itemsize  # pad copies
    if (
        stride == (1, 1)
        and o <= BANDED_MAX_FILTERS
        and c * kh * width * ow * o <= BANDED_MAX_ENTRIES
        and image_rows_contiguous
    ):
        return "banded"
    if stride[1] == 1 and ow > kw * c and image_rows_contiguous:
        return "columns"
    return "rows"


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
        out = np.array(x[windows[0]])  # keeps x's memory layout, like every buffer below
        running = np.empty_like(out)  # out and running take turns holding the maximum so far
        code = np.zeros_like(out, dtype=np.uint8 if len(windows) <= 256 else np.intp)
        greater = np.empty_like(out, dtype=bool)
        position_if_greater = np.empty_like(code)
        for position, window in enumerate(windows[1:], start=1):
            np.maximum(out, x[window], out=running)  # propagates NaN
            # Strictly greater (ties keep the first maximum) exactly where the maximum changed:
            # comparing the two contiguous buffers is 2.5x faster than re-reading the strided
            # window. (NaN windows are set right below.)
            np.not_equal(running, out, out=greater)
            # The positions grow, so "the last position that was greater" is a maximum of
            # position * greater: two passes over bytes, where np.copyto(where=) took 15x longer.
            # (Read as uint8, the bools skip numpy's cast loop: 6 instead of 19 us per pass.)
            np.multiply(greater.view(np.uint8), code.dtype.type(position), out=position_if_greater)
            np.maximum(code, position_if_greater, out=code)
            out, running = running, out
        if np.isnan(out.max(initial=-np.inf)):  # rare: route NaN windows' gradients as PyTorch
            for position, window in enumerate(windows):
                np.copyto(code, position, where=np.isnan(x[window]))
        self.x = x  # for the shape and memory layout of the gradient; its values are not read
        self.code = code
        return out

    def backward(self, g: np.ndarray) -> tuple[np.ndarray]:
        kernel, stride = self.attrs["kernel_size"], self.attrs["stride"]
        code = self.code
        windows = window_slices(kernel, stride, code.shape[2:])
        overlapping = stride[0] < kernel[0] or stride[1] < kernel[1]
        # Every buffer takes x's memory layout (channels-last after a conv): numpy runs an
        # elementwise op over mixed layouts several times slower.
        if not _same_memory_order(g, code):  # e.g. an NCHW gradient from flatten: one copy
            g_in_code_layout = np.empty_like(code, dtype=g.dtype)  # beats a pass over mixed
            g_in_code_layout[...] = g  # layouts per window position
            g = g_in_code_layout
        grad = _gradient_buffer(self.x, g.dtype, kernel, stride, code.shape[2:], overlapping)
        selected = np.empty_like(code, dtype=bool)
        for position, window in enumerate(windows):
            np.equal(code, position, out=selected)
            if overlapping:
                grad[window] += g * selected
            else:
                np.multiply(g, selected, out=grad[window])
        return (grad,)


def _same_memory_order(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether ``a`` and ``b`` (same shape, any dtypes) lay their elements out alike."""
    return [s // a.itemsize for s in a.strides] == [s // b.itemsize for s in b.strides]


def _gradient_buffer(
    x: np.ndarray, dtype: np.dtype, kernel: Pair, stride: Pair, out_hw: Pair, overlapping: bool
) -> np.ndarray:
    """The pool's input gradient buffer, in x's memory layout, before any window writes to it.

    Non-overlapping windows write every element they cover exactly once, so only the rows and
    columns no window covers (floor mode drops them) need zeros: this skips zero-filling a
    buffer the size of the input (5.5 MB for lenet's first pool) at every step.
    """
    if overlapping:
        return np.zeros_like(x, dtype=dtype)
    grad = np.empty_like(x, dtype=dtype)
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

    def backward(self, g: np.ndarray) -> tuple[np.ndarray]:
        kernel, stride = self.attrs["kernel_size"], self.attrs["stride"]
        grad = np.zeros_like(self.x, dtype=g.dtype)  # keeps x's memory layout
        share = g / np.asarray(kernel[0] * kernel[1], dtype=g.dtype)
        for window in window_slices(kernel, stride, g.shape[2:]):
            grad[window] += share
        return (grad,)


# ---------------------------------------------------------------------- validation and wrappers
def conv_output_size(
    shape: tuple[int, ...], kernel: Pair, stride: Pair, padding: Pair = (0, 0)
) -> Pair:
    """Output height and width: floor((H + 2p - k) / s) + 1, as in PyTorch."""
    return tuple((shape[2 + d] + 2 * padding[d] - kernel[d]) // stride[d] + 1 for d in range(2))


def pair(op: str, name: str, value: Any, minimum: int) -> Pair:
    """Validate an int-or-pair argument such as ``stride=2`` or ``padding=(1, 0)``."""
    values = value if isinstance(value, tuple | list) else (value, value)
    if len(values) != 2 or any(
        isinstance(v, bool) or not isinstance(v, int | np.integer) for v in values
    ):
        raise TypeError(f"{op}: {name} must be an int or a pair of ints, got {value!r}")
    if any(v < minimum for v in values):
        kind = "positive" if minimum == 1 else "non-negative"
        raise ValueError(f"{op}: {name} must be {kind}, got {value!r}")
    return int(values[0]), int(values[1])


def _check_image(op: str, x: Tensor) -> None:
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: input must be a Tensor, got {type(x).__name__}")
    if x.ndim != 4:
        raise ValueError(f"{op}: input must have shape (N, C, H, W), got shape {x.shape}")
    if not np.issubdtype(x.dtype, np.floating):
        raise TypeError(f"{op}: input must be floating point, got {x.dtype}")


def _check_window_fits(op: str, x_shape: tuple[int, ...], kernel: Pair, padding: Pair) -> None:
    padded = (x_shape[2] + 2 * padding[0], x_shape[3] + 2 * padding[1])
    if kernel[0] > padded[0] or kernel[1] > padded[1]:
        raise ValueError(
            f"{op}: kernel size {kernel} is larger than the padded input size {padded} "
            f"(input shape {x_shape}, padding {padding})"
        )


def conv2d(
    x: Tensor, weight: Tensor, bias: Tensor | None = None, stride: Any = 1, padding: Any = 0
) -> Tensor:
    """2-D convolution (cross-correlation, as in PyTorch) of a batch of images.

    Parameters
    ----------
    x : Tensor, shape (N, C, H, W)
    weight : Tensor, shape (O, C, kh, kw)
    bias : Tensor, shape (O,), optional
    stride, padding : int or (int, int)
        Step between windows (positive) and zero padding on each side (non-negative).

    Returns
    -------
    Tensor, shape (N, O, OH, OW) with OH = (H + 2 * padding - kh) // stride + 1.
    """
    _check_image("conv2d", x)
    if not isinstance(weight, Tensor):
        raise TypeError(f"conv2d: weight must be a Tensor, got {type(weight).__name__}")
    if weight.ndim != 4:
        raise ValueError(f"conv2d: weight must have shape (O, C, kh, kw), got shape {weight.shape}")
    if 0 in weight.shape[2:]:  # fuzzing found: a 0-wide kernel silently gave zeros
        raise ValueError(f"conv2d: kernel sides must be positive, got weight shape {weight.shape}")
    if weight.shape[1] != x.shape[1]:
        raise ValueError(
            f"conv2d: input has {x.shape[1]} channels (shape {x.shape}) but weight expects "
            f"{weight.shape[1]} (shape {weight.shape})"
        )
    stride, padding = pair("conv2d", "stride", stride, 1), pair("conv2d", "padding", padding, 0)
    _check_window_fits("conv2d", x.shape, weight.shape[2:], padding)
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
    return Conv2d.apply(*inputs, stride=stride, padding=padding)


def _pool(op: type[Function], x: Tensor, kernel_size: Any, stride: Any) -> Tensor:
    _check_image(op.name, x)
    kernel = pair(op.name, "kernel_size", kernel_size, 1)
    stride = kernel if stride is None else pair(op.name, "stride", stride, 1)
    _check_window_fits(op.name, x.shape, kernel, (0, 0))
    return op.apply(x, kernel_size=kernel, stride=stride)


def max_pool2d(x: Tensor, kernel_size: Any, stride: Any = None) -> Tensor:
    """2-D max pooling; the gradient goes to the first maximum of each window (row-major).

    Parameters
    ----------
    x : Tensor, shape (N, C, H, W)
    kernel_size : int or (int, int)
    stride : int or (int, int), optional
        Defaults to ``kernel_size``. Windows that do not fit are dropped (floor), as in PyTorch.

    Returns
    -------
    Tensor, shape (N, C, (H - kh) // sh + 1, (W - kw) // sw + 1)
    """
    return _pool(MaxPool2d, x, kernel_size, stride)


def avg_pool2d(x: Tensor, kernel_size: Any, stride: Any = None) -> Tensor:
    """2-D average pooling; same shapes and defaults as :func:`max_pool2d`."""
    return _pool(AvgPool2d, x, kernel_size, stride)
