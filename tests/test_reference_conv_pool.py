"""conv2d, max_pool2d and avg_pool2d equal naive loop implementations, forward and backward.

The references below follow the definitions element by element in plain Python loops (no
im2col, no strides tricks), including their backward passes, which scatter each upstream
gradient entry back with explicit loops. Geometries (batch, channels, image and kernel sizes,
stride, padding, int or pair arguments, overlapping and non-square windows) are drawn by
Hypothesis; values are float64, and max-pool inputs are a permutation of distinct values so no
window has a tie.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinygrad_cnn import Tensor, avg_pool2d, conv2d, max_pool2d
from tinygrad_cnn.ops import conv as conv_module

Pair = tuple[int, int]


# ---------------------------------------------------------------------- naive references
def out_size(size: int, kernel: int, stride: int, padding: int = 0) -> int:
    """floor((size + 2 padding - kernel) / stride) + 1."""
    return (size + 2 * padding - kernel) // stride + 1


def naive_conv2d(
    x: np.ndarray, w: np.ndarray, b: np.ndarray | None, stride: Pair, padding: Pair
) -> np.ndarray:
    """Convolution by its definition, zero padding as out-of-range indices that are skipped.

    out[n, o, i, j] = b[o] + sum over c, u, v of x[n, c, i*sh + u - ph, j*sw + v - pw] w[o, c, u, v]
    """
    n_images, channels, height, width = x.shape
    n_out, _, kh, kw = w.shape
    oh, ow = out_size(height, kh, stride[0], padding[0]), out_size(width, kw, stride[1], padding[1])
    out = np.zeros((n_images, n_out, oh, ow))
    for n in range(n_images):
        for o in range(n_out):
            for i in range(oh):
                for j in range(ow):
                    total = 0.0 if b is None else b[o]
                    for c in range(channels):
                        for u in range(kh):
                            for v in range(kw):
                                row = i * stride[0] + u - padding[0]
                                col = j * stride[1] + v - padding[1]
                                if 0 <= row < height and 0 <= col < width:
                                    total += x[n, c, row, col] * w[o, c, u, v]
                    out[n, o, i, j] = total
    return out


def naive_conv2d_backward(
    x: np.ndarray, w: np.ndarray, g: np.ndarray, stride: Pair, padding: Pair
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients (dx, dw, db) of ``sum(g * naive_conv2d(x, w, b))``, by the chain rule per term."""
    n_images, channels, height, width = x.shape
    n_out, _, kh, kw = w.shape
    _, _, oh, ow = g.shape
    dx, dw, db = np.zeros_like(x), np.zeros_like(w), np.zeros(n_out)
    for n in range(n_images):
        for o in range(n_out):
            for i in range(oh):
                for j in range(ow):
                    db[o] += g[n, o, i, j]
                    for c in range(channels):
                        for u in range(kh):
                            for v in range(kw):
                                row = i * stride[0] + u - padding[0]
                                col = j * stride[1] + v - padding[1]
                                if 0 <= row < height and 0 <= col < width:
                                    dx[n, c, row, col] += g[n, o, i, j] * w[o, c, u, v]
                                    dw[o, c, u, v] += g[n, o, i, j] * x[n, c, row, col]
    return dx, dw, db


def naive_pool_windows(x: np.ndarray, kernel: Pair, stride: Pair):
    """Yield (n, c, i, j, [(row, col), ...]) for every pooling window, positions row-major."""
    n_images, channels, height, width = x.shape
    oh, ow = out_size(height, kernel[0], stride[0]), out_size(width, kernel[1], stride[1])
    for n in range(n_images):
        for c in range(channels):
            for i in range(oh):
                for j in range(ow):
                    positions = [
                        (i * stride[0] + u, j * stride[1] + v)
                        for u in range(kernel[0])
                        for v in range(kernel[1])
                    ]
                    yield n, c, i, j, positions


def pooled_shape(x: np.ndarray, kernel: Pair, stride: Pair) -> tuple[int, int, int, int]:
    n, c, h, w = x.shape
    return n, c, out_size(h, kernel[0], stride[0]), out_size(w, kernel[1], stride[1])


def naive_max_pool2d(
    x: np.ndarray, g: np.ndarray | None, kernel: Pair, stride: Pair
) -> tuple[np.ndarray, np.ndarray]:
    """Max pooling and, for upstream ``g`` (or ones), dx: g goes to the first maximum."""
    out = np.zeros(pooled_shape(x, kernel, stride))
    g = np.ones_like(out) if g is None else g
    dx = np.zeros_like(x)
    for n, c, i, j, positions in naive_pool_windows(x, kernel, stride):
        best = positions[0]
        for row, col in positions[1:]:
            if x[n, c, row, col] > x[n, c, best[0], best[1]]:
                best = (row, col)
        out[n, c, i, j] = x[n, c, best[0], best[1]]
        dx[n, c, best[0], best[1]] += g[n, c, i, j]
    return out, dx


def naive_avg_pool2d(
    x: np.ndarray, g: np.ndarray, kernel: Pair, stride: Pair
) -> tuple[np.ndarray, np.ndarray]:
    """Average pooling and dx for upstream ``g``: each window element gets g / window size."""
    out = np.zeros(pooled_shape(x, kernel, stride))
    dx = np.zeros_like(x)
    for n, c, i, j, positions in naive_pool_windows(x, kernel, stride):
        total = 0.0
        for row, col in positions:
            total += x[n, c, row, col]
        out[n, c, i, j] = total / len(positions)
        for row, col in positions:
            dx[n, c, row, col] += g[n, c, i, j] / len(positions)
    return out, dx


# ---------------------------------------------------------------------- geometries
@dataclass(frozen=True)
class ConvCase:
    x: np.ndarray
    w: np.ndarray
    b: np.ndarray | None
    g: np.ndarray
    stride: Pair
    padding: Pair
    stride_arg: int | Pair
    padding_arg: int | Pair


@dataclass(frozen=True)
class PoolCase:
    x: np.ndarray
    g: np.ndarray
    kernel: Pair
    stride: Pair
    kernel_arg: int | Pair
    stride_arg: int | Pair | None


def as_argument(draw: st.DrawFn, value: Pair) -> int | Pair:
    """An equal pair may be passed as one int; any pair may be passed as a tuple."""
    if value[0] == value[1] and draw(st.booleans()):
        return value[0]
    return value


@st.composite
def conv_cases(draw: st.DrawFn) -> ConvCase:
    # Up to 6 filters: conv2d picks its "banded" layout for at most 4, "rows" or "columns"
    # above, so every layout is drawn.
    n, c, o = draw(st.integers(1, 2)), draw(st.integers(1, 3)), draw(st.integers(1, 6))
    kernel = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    padding = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
    size = tuple(
        draw(st.integers(max(1, kernel[d] - 2 * padding[d]), kernel[d] + 4)) for d in range(2)
    )
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = rng.standard_normal((n, c, *size))
    w = rng.standard_normal((o, c, *kernel))
    b = rng.standard_normal(o) if draw(st.booleans()) else None
    oh, ow = (out_size(size[d], kernel[d], stride[d], padding[d]) for d in range(2))
    g = rng.standard_normal((n, o, oh, ow))
    return ConvCase(
        x, w, b, g, stride, padding, as_argument(draw, stride), as_argument(draw, padding)
    )


@st.composite
def pool_cases(draw: st.DrawFn) -> PoolCase:
    n, c = draw(st.integers(1, 2)), draw(st.integers(1, 3))
    kernel = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    stride_arg = draw(
        st.none() | st.integers(1, 3) | st.tuples(st.integers(1, 3), st.integers(1, 3))
    )
    if stride_arg is None:
        stride = kernel
    elif isinstance(stride_arg, int):
        stride = (stride_arg, stride_arg)
    else:
        stride = stride_arg
    size = tuple(draw(st.integers(kernel[d], kernel[d] + 5)) for d in range(2))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    count = n * c * size[0] * size[1]
    # Distinct values in a random order: no window has a tie.
    x = (rng.permutation(count) / count - 0.5).reshape(n, c, *size)
    g = rng.standard_normal(pooled_shape(x, kernel, stride))
    return PoolCase(x, g, kernel, stride, as_argument(draw, kernel), stride_arg)


def assert_close(ours: np.ndarray, reference: np.ndarray) -> None:
    np.testing.assert_allclose(ours, reference, rtol=1e-10, atol=1e-12)


# ---------------------------------------------------------------------- tests
@given(conv_cases())
def test_conv2d_equals_the_naive_loops(case: ConvCase) -> None:
    x, w = Tensor(case.x, requires_grad=True), Tensor(case.w, requires_grad=True)
    b = None if case.b is None else Tensor(case.b, requires_grad=True)
    out = conv2d(x, w, b, stride=case.stride_arg, padding=case.padding_arg)
    out.backward(case.g)

    assert_close(out.numpy(), naive_conv2d(case.x, case.w, case.b, case.stride, case.padding))
    dx, dw, db = naive_conv2d_backward(case.x, case.w, case.g, case.stride, case.padding)
    assert_close(x.grad, dx)
    assert_close(w.grad, dw)
    if b is not None:
        assert_close(b.grad, db)


@given(pool_cases())
def test_max_pool2d_equals_the_naive_loops(case: PoolCase) -> None:
    x = Tensor(case.x, requires_grad=True)
    out = max_pool2d(x, case.kernel_arg, case.stride_arg)
    out.backward(case.g)
    expected, dx = naive_max_pool2d(case.x, case.g, case.kernel, case.stride)
    assert_close(out.numpy(), expected)
    assert_close(x.grad, dx)


@given(pool_cases())
def test_avg_pool2d_equals_the_naive_loops(case: PoolCase) -> None:
    x = Tensor(case.x, requires_grad=True)
    out = avg_pool2d(x, case.kernel_arg, case.stride_arg)
    out.backward(case.g)
    expected, dx = naive_avg_pool2d(case.x, case.g, case.kernel, case.stride)
    assert_close(out.numpy(), expected)
    assert_close(x.grad, dx)


@pytest.mark.parametrize(
    ("layout", "x_shape", "w_shape", "stride", "padding"),
    [
        ("banded", (2, 2, 9, 11), (3, 2, 4, 3), (1, 1), (1, 2)),  # few filters, stride 1
        ("columns", (2, 1, 9, 11), (6, 1, 3, 2), (1, 1), (0, 1)),  # one channel, many filters
        ("rows", (2, 5, 9, 11), (6, 5, 3, 3), (2, 1), (1, 0)),  # many channels
        ("winograd", (2, 5, 9, 7), (6, 5, 3, 3), (1, 1), (1, 0)),  # 3x3, stride 1
    ],
)
def test_each_conv_layout_equals_the_naive_loops(
    layout: str,
    x_shape: tuple,
    w_shape: tuple,
    stride: Pair,
    padding: Pair,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """(Winograd's thresholds lowered, so that a small convolution takes it.)"""
    for threshold in ("CHANNELS", "TILES", "FILL"):
        monkeypatch.setattr(conv_module, f"WINOGRAD_MIN_{threshold}", 0)
    rng = np.random.default_rng(7)
    x = Tensor(rng.standard_normal(x_shape), requires_grad=True)
    w = Tensor(rng.standard_normal(w_shape), requires_grad=True)
    b = Tensor(rng.standard_normal(w_shape[0]), requires_grad=True)
    out = conv2d(x, w, b, stride=stride, padding=padding)
    assert out._ctx.layout == layout
    g = rng.standard_normal(out.shape)
    out.backward(g)
    assert_close(out.numpy(), naive_conv2d(x.data, w.data, b.data, stride, padding))
    dx, dw, db = naive_conv2d_backward(x.data, w.data, g, stride, padding)
    assert_close(x.grad, dx)
    assert_close(w.grad, dw)
    assert_close(b.grad, db)


@pytest.mark.parametrize("chunk_multiply_adds", [1, 5 * 7 * 7, 10**9])
def test_columns_weight_gradient_summed_over_slices_equals_the_naive_loops(
    monkeypatch: pytest.MonkeyPatch, chunk_multiply_adds: int
) -> None:
    """The columns layout sums its weight (and bias) gradient over slices of the long inner
    dimension (the N*OH*OW output pixels), in slices of about ``CHUNK_MULTIPLY_ADDS / (O *
    (C*kh*kw + 1))`` pixels. Small values make test-sized inputs take that path: one pixel per
    slice, 5 per slice (the 32 pixels are not a multiple of 5), and one slice for all."""
    monkeypatch.setattr(conv_module, "CHUNK_MULTIPLY_ADDS", chunk_multiply_adds)
    rng = np.random.default_rng(3)
    x = Tensor(rng.standard_normal((2, 1, 5, 6)), requires_grad=True)
    w = Tensor(rng.standard_normal((7, 1, 2, 3)), requires_grad=True)
    b = Tensor(rng.standard_normal(7), requires_grad=True)
    out = conv2d(x, w, b)
    assert out._ctx.layout == "columns"
    g = rng.standard_normal(out.shape)
    out.backward(g)
    dx, dw, db = naive_conv2d_backward(x.data, w.data, g, (1, 1), (0, 0))
    assert_close(x.grad, dx)
    assert_close(w.grad, dw)
    assert_close(b.grad, db)


@pytest.mark.parametrize("images_per_chunk", [1, 2, 5])
def test_rows_layout_in_chunks_of_images_equals_the_naive_loops(
    monkeypatch: pytest.MonkeyPatch, images_per_chunk: int
) -> None:
    """The rows layout copies its patch matrix a few images at a time into one buffer of
    about ``PATCH_CHUNK_BYTES``, in forward and again for the weight gradient. Small values
    make 5 test-sized images take that path: 1 image per chunk, 2 (the last chunk holds one),
    and all in one chunk."""
    rng = np.random.default_rng(5)
    x = Tensor(rng.standard_normal((5, 4, 7, 6)), requires_grad=True)
    w = Tensor(rng.standard_normal((6, 4, 3, 2)), requires_grad=True)
    b = Tensor(rng.standard_normal(6), requires_grad=True)
    per_image = 4 * 3 * 3 * 2 * 4 * x.data.itemsize  # OH * OW * kh * kw * C floats
    monkeypatch.setattr(conv_module, "PATCH_CHUNK_BYTES", images_per_chunk * per_image)
    out = conv2d(x, w, b, stride=2, padding=(1, 0))
    assert out._ctx.layout == "rows"
    g = rng.standard_normal(out.shape)
    out.backward(g)
    assert_close(out.numpy(), naive_conv2d(x.data, w.data, b.data, (2, 2), (1, 0)))
    dx, dw, db = naive_conv2d_backward(x.data, w.data, g, (2, 2), (1, 0))
    assert_close(x.grad, dx)
    assert_close(w.grad, dw)
    assert_close(b.grad, db)


def test_max_pool2d_with_more_than_256_window_positions_equals_the_naive_loops() -> None:
    """Forward stores the argmax position of each window in one byte up to 256 positions; a
    17 x 17 kernel (289 positions) needs a wider code, ties and NaN aside."""
    rng = np.random.default_rng(11)
    x_data = rng.permutation(2 * 3 * 18 * 19).reshape(2, 3, 18, 19) / 1000.0
    x = Tensor(x_data, requires_grad=True)
    out = max_pool2d(x, 17, 1)
    assert out._ctx.code.dtype == np.intp
    g = rng.standard_normal(out.shape)
    out.backward(g)
    expected, dx = naive_max_pool2d(x_data, g, (17, 17), (1, 1))
    assert_close(out.numpy(), expected)
    assert_close(x.grad, dx)


def test_overlapping_non_square_windows_share_inputs() -> None:
    """A fixed case the drawn ones also cover: kernel (3, 2), stride (1, 1) on a 4 x 5 image,
    where interior elements belong to up to six windows."""
    x = np.arange(20, dtype=np.float64).reshape(1, 1, 4, 5)
    g = np.ones((1, 1, 2, 4))
    tensor = Tensor(x, requires_grad=True)
    avg_pool2d(tensor, (3, 2), 1).backward(g)
    counts = np.array([[1, 2, 2, 2, 1], [2, 4, 4, 4, 2], [2, 4, 4, 4, 2], [1, 2, 2, 2, 1]])
    assert_close(tensor.grad[0, 0], counts / 6)
    assert_close(naive_avg_pool2d(x, g, (3, 2), (1, 1))[1][0, 0], counts / 6)
