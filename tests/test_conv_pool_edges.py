"""conv2d and max_pool2d where the small drawn cases of the property tests never go.

- conv2d with only some of its inputs requiring grad (a frozen weight, an input image that
  needs no gradient, a bias alone), in each of its four layouts ("rows", "columns",
  "banded", "winograd", see ``_conv_layout`` in ops/conv.py): each layout's backward shares
  work between its kernels, so every subset is a path of its own;
- conv2d past the chunk thresholds of its patch-matrix products, with the real constants
  (``PATCH_CHUNK_BYTES``, ``CHUNK_MULTIPLY_ADDS``) and the smallest batch that crosses each,
  computed from them;
- max_pool2d with windows of exactly 256 and 257 positions, either side of where the code of
  each window's argmax outgrows one byte, the maximum (or a NaN) at the last positions;
- empty convolutions: no filters, no images, neither, in each im2col layout.

Every property runs in float64. The references are the same convolution with every input
requiring grad, or with the chunking switched off, and PyTorch where it is installed.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view

import tinygrad_cnn as tc
from tinygrad_cnn import Tensor
from tinygrad_cnn.ops import conv as conv_module
from tinygrad_cnn.ops.conv import Conv2dWeightGrad

Pair = tuple[int, int]
Shape = tuple[int, ...]

# One geometry per layout: (images, weight, stride, padding). 3x3 filters at stride 1 with
# 16 channels in and out and 128 tiles of 4 x 4 outputs take "winograd" (here 8 images of
# 4 x 4 tiles, the last column of tiles partial); with at most 4 filters and stride 1 conv2d
# takes "banded"; otherwise "columns" when the output is wider than kw * C along a row at
# stride 1 there, else "rows".
LAYOUTS: dict[str, tuple[Shape, Shape, Pair, Pair]] = {
    "banded": ((2, 2, 9, 11), (3, 2, 4, 3), (1, 1), (1, 2)),
    "columns": ((2, 1, 9, 11), (6, 1, 3, 2), (1, 1), (0, 1)),
    "rows": ((2, 5, 9, 11), (6, 5, 3, 3), (2, 1), (1, 0)),
    "winograd": ((8, 16, 16, 16), (16, 16, 3, 3), (1, 1), (1, 0)),
}
NAMES = ("x", "w", "b")


def _subsets(names: tuple[str, ...]) -> list[tuple[str, ...]]:
    return [s for k in range(1, len(names) + 1) for s in itertools.combinations(names, k)]


# Every non-empty subset of {x, w, b}, and of {x, w} without a bias.
SUBSETS = [(True, s) for s in _subsets(NAMES)] + [(False, s) for s in _subsets(NAMES[:2])]


def _conv_arrays(layout: str, bias: bool, seed: int = 0) -> tuple[list[np.ndarray], Pair, Pair]:
    x_shape, w_shape, stride, padding = LAYOUTS[layout]
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(x_shape), rng.standard_normal(w_shape)]
    if bias:
        arrays.append(rng.standard_normal(w_shape[0]))
    return arrays, stride, padding


def _conv_grads(
    arrays: list[np.ndarray],
    requires: tuple[str, ...],
    stride: Pair,
    padding: Pair,
    upstream: np.ndarray | None = None,
    create_graph: bool = False,
) -> tuple[str, np.ndarray, list[np.ndarray | None]]:
    """conv2d's layout, output and each input's ``.grad`` (None when it got none) after
    backward of ``upstream`` (default: a fixed random one)."""
    names = NAMES[: len(arrays)]
    tensors = [Tensor(a, requires_grad=n in requires) for a, n in zip(arrays, names, strict=True)]
    out = tc.conv2d(*tensors, stride=stride, padding=padding)
    layout = out._ctx.layout  # (backward frees what the node saved)
    if upstream is None:
        upstream = np.random.default_rng(1).standard_normal(out.shape)
    out.backward(upstream, create_graph=create_graph)
    grads = [None if t.grad is None else t.grad.numpy() for t in tensors]
    return layout, out.numpy(), grads


def _torch_conv_grads(
    arrays: list[np.ndarray],
    requires: tuple[str, ...],
    stride: Pair,
    padding: Pair,
    upstream: np.ndarray | None = None,
) -> tuple[np.ndarray, list[np.ndarray | None]]:
    """The same in PyTorch (the upstream default is the same fixed random one)."""
    torch = pytest.importorskip("torch")
    names = NAMES[: len(arrays)]
    tensors = [
        torch.tensor(a, requires_grad=n in requires) for a, n in zip(arrays, names, strict=True)
    ]
    out = torch.nn.functional.conv2d(*tensors, stride=stride, padding=padding)
    if upstream is None:
        upstream = np.random.default_rng(1).standard_normal(tuple(out.shape))
    out.backward(torch.tensor(upstream))
    grads = [None if t.grad is None else t.grad.numpy() for t in tensors]
    return out.detach().numpy(), grads


def _assert_same_grads(
    ours: list[np.ndarray | None], theirs: list[np.ndarray | None], tolerance: float
) -> None:
    for name, mine, reference in zip(NAMES, ours, theirs, strict=False):
        assert (mine is None) == (reference is None), f"{name}: {mine} but expected {reference}"
        if mine is not None:
            assert mine.shape == reference.shape and mine.dtype == reference.dtype, name
            np.testing.assert_allclose(
                mine, reference, rtol=tolerance, atol=tolerance, err_msg=name
            )


# ---------------------------------------------------------------------- some inputs need no grad
@pytest.mark.parametrize("create_graph", [False, True])
@pytest.mark.parametrize(("bias", "requires"), SUBSETS)
@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_conv2d_gives_each_input_that_requires_grad_the_gradient_it_gets_when_all_do(
    layout: str, bias: bool, requires: tuple[str, ...], create_graph: bool
) -> None:
    """...and the inputs that do not require grad get none (``.grad is None``)."""
    arrays, stride, padding = _conv_arrays(layout, bias)
    _, _, every = _conv_grads(arrays, NAMES, stride, padding)
    expected = [g if name in requires else None for name, g in zip(NAMES, every, strict=False)]
    used, _, grads = _conv_grads(arrays, requires, stride, padding, create_graph=create_graph)
    assert used == layout
    _assert_same_grads(grads, expected, 1e-12)


@pytest.mark.parametrize(("bias", "requires"), SUBSETS)
@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_conv2d_gradients_of_some_inputs_match_torch(
    layout: str, bias: bool, requires: tuple[str, ...]
) -> None:
    arrays, stride, padding = _conv_arrays(layout, bias, seed=2)
    theirs_out, theirs = _torch_conv_grads(arrays, requires, stride, padding)
    used, ours_out, ours = _conv_grads(arrays, requires, stride, padding)
    assert used == layout
    np.testing.assert_allclose(ours_out, theirs_out, rtol=1e-10, atol=1e-12)
    _assert_same_grads(ours, theirs, 1e-10)


# ---------------------------------------------------------------------- past the chunk thresholds
def _columns_slice(filters: int, patch_rows: int) -> int:
    """Output pixels per slice of the columns layout's weight/bias-gradient product
    (``_long_sum_matmul`` of (O, N*OH*OW) by (N*OH*OW, C*kh*kw + 1 with a bias))."""
    return max(1, int(conv_module.CHUNK_MULTIPLY_ADDS) // (filters * patch_rows))


def _rows_images_per_chunk(per_image_floats: int, itemsize: int) -> int:
    """The most images one chunk of the rows layout's patch matrix holds (forward and weight
    gradient): one image more makes two chunks."""
    return max(1, int(conv_module.PATCH_CHUNK_BYTES) // (per_image_floats * itemsize))


def _lenet_conv1_batch() -> int:
    """LeNet's conv1 (1 -> 32 filters of 3 x 3 with a bias, 28 x 28, "columns"): the smallest
    batch whose N * 26 * 26 output pixels need more than one slice."""
    return _columns_slice(32, 1 * 3 * 3 + 1) // (26 * 26) + 1


def _lenet5_conv2_batch() -> int:
    """LeNet-5's conv2 (6 -> 16 filters of 5 x 5, 14 x 14, "rows"): the smallest batch whose
    patch matrix (10 * 10 * 5 * 5 * 6 floats per image) takes more than one chunk."""
    return _rows_images_per_chunk(10 * 10 * 5 * 5 * 6, 8) + 1


# name: (images, weight, layout, the smallest batch past the threshold)
CHUNKED = {
    "lenet-conv1-columns": ((1, 28, 28), (32, 1, 3, 3), "columns", _lenet_conv1_batch),
    "lenet5-conv2-rows": ((6, 14, 14), (16, 6, 5, 5), "rows", _lenet5_conv2_batch),
}
NO_CHUNKS = 1 << 62  # a threshold no test-sized product reaches


def _chunked_arrays(name: str) -> list[np.ndarray]:
    image, w_shape, _, batch = CHUNKED[name]
    rng = np.random.default_rng(4)
    return [
        rng.standard_normal((batch(), *image)),
        rng.standard_normal(w_shape),
        rng.standard_normal(w_shape[0]),
    ]


def _unchunked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(conv_module, "CHUNK_MULTIPLY_ADDS", NO_CHUNKS)
    monkeypatch.setattr(conv_module, "PATCH_CHUNK_BYTES", NO_CHUNKS)


@pytest.mark.parametrize("requires", [NAMES, ("w",), ("b",)])
@pytest.mark.parametrize("name", sorted(CHUNKED))
def test_conv2d_past_its_chunk_threshold_equals_the_unchunked_products(
    name: str, requires: tuple[str, ...], monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the real thresholds (and the smallest batch past each, from the constants) the
    output and the gradients equal those of one product over the whole batch. The weight or
    bias gradient alone takes paths of its own (the columns layout's bias comes out of the
    weight gradient's product)."""
    arrays = _chunked_arrays(name)
    used, out, grads = _conv_grads(arrays, requires, (1, 1), (0, 0))
    assert used == CHUNKED[name][2]
    _unchunked(monkeypatch)
    _, expected_out, expected = _conv_grads(arrays, requires, (1, 1), (0, 0))
    np.testing.assert_allclose(out, expected_out, rtol=1e-10, atol=1e-10)
    _assert_same_grads(grads, expected, 1e-10)


@pytest.mark.parametrize("name", sorted(CHUNKED))
def test_conv2d_past_its_chunk_threshold_matches_torch(name: str) -> None:
    arrays = _chunked_arrays(name)
    theirs_out, theirs = _torch_conv_grads(arrays, NAMES, (1, 1), (0, 0))
    _, ours_out, ours = _conv_grads(arrays, NAMES, (1, 1), (0, 0))
    np.testing.assert_allclose(ours_out, theirs_out, rtol=1e-10, atol=1e-10)
    _assert_same_grads(ours, theirs, 1e-10)


def _weight_grad_kernel_case() -> tuple[np.ndarray, np.ndarray]:
    """LeNet conv1's input and upstream gradient, with the smallest batch whose patches
    (26 * 26 * 3 * 3 floats per image) take more than one chunk of the rows kernels."""
    batch = _rows_images_per_chunk(26 * 26 * 3 * 3 * 1, 8) + 1
    rng = np.random.default_rng(5)
    return rng.standard_normal((batch, 1, 28, 28)), rng.standard_normal((batch, 32, 26, 26))


def _weight_grad_kernel(x: np.ndarray, g: np.ndarray) -> np.ndarray:
    out = Conv2dWeightGrad.apply(
        Tensor(x), Tensor(g), stride=(1, 1), padding=(0, 0), weight_shape=(32, 1, 3, 3)
    )
    return out.numpy()


def test_the_weight_gradient_kernel_alone_past_its_chunk_threshold(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Outside a conv2d node's backward (a second derivative, gradgradcheck) the weight
    gradient runs the rows kernels on any input, so LeNet's conv1 too: the same result as
    one product, and as PyTorch's."""
    x, g = _weight_grad_kernel_case()
    ours = _weight_grad_kernel(x, g)
    with monkeypatch.context() as patched:
        _unchunked(patched)
        np.testing.assert_allclose(ours, _weight_grad_kernel(x, g), rtol=1e-10, atol=1e-10)
    torch = pytest.importorskip("torch")
    theirs = torch.nn.grad.conv2d_weight(torch.tensor(x), (32, 1, 3, 3), torch.tensor(g))
    np.testing.assert_allclose(ours, theirs.numpy(), rtol=1e-10, atol=1e-10)


# ---------------------------------------------------------------------- max_pool2d 256/257
def numpy_max_pool2d(
    x: np.ndarray, kernel: Pair, stride: Pair
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Max pooling by ``np.argmax`` over each window's row-major positions.

    Returns the output, each window's winning position (the first maximum; in a window
    holding NaN, its last NaN, as PyTorch) and, for it, the (row, column) in the image.
    """
    (kh, kw), (sh, sw) = kernel, stride
    windows = sliding_window_view(x, kernel, axis=(2, 3))[:, :, ::sh, ::sw]
    flat = windows.reshape(*windows.shape[:4], kh * kw)
    nan = np.isnan(flat)
    last_nan = kh * kw - 1 - np.argmax(nan[..., ::-1], axis=-1)
    position = np.where(nan.any(axis=-1), last_nan, np.argmax(flat, axis=-1))
    out = np.take_along_axis(flat, position[..., None], axis=-1)[..., 0]
    oh, ow = position.shape[2:]
    rows = np.arange(oh)[:, None] * sh + position // kw
    columns = np.arange(ow)[None, :] * sw + position % kw
    return out, position, np.stack([rows, columns])


def numpy_max_pool2d_grad(x: np.ndarray, g: np.ndarray, kernel: Pair, stride: Pair) -> np.ndarray:
    """Each upstream entry added to its window's winning element."""
    _, _, (rows, columns) = numpy_max_pool2d(x, kernel, stride)
    n, c = np.indices(g.shape[:2])
    grad = np.zeros_like(x)
    np.add.at(grad, (n[..., None, None], c[..., None, None], rows, columns), g)
    return grad


def _pool_input(kernel: Pair, stride: Pair, nan: bool) -> np.ndarray:
    """Two channels of 4 windows each (and a row and a column no window covers), distinct
    values, each window's maximum placed at chosen positions: the last, the one before it,
    the first, the middle. With ``nan``, NaNs at the first and last positions of one window
    and at a middle position of another."""
    (kh, kw), (sh, sw) = kernel, stride
    across = (1, 4) if kh > 1 and kw == 1 else (4, 1) if kh == 1 else (2, 2)
    shape = (1, 2, sh * (across[0] - 1) + kh + 1, sw * (across[1] - 1) + kw + 1)
    rng = np.random.default_rng(6)
    x = -rng.permutation(int(np.prod(shape))).reshape(shape) / np.prod(shape)  # in (-1, 0]
    size = kh * kw
    winners = [size - 1, size - 2, 0, size // 2, size - 1, 1, size - 3, size - 1]
    for k, (c, i, j) in enumerate(itertools.product(range(2), range(across[0]), range(across[1]))):
        position = winners[k]
        x[0, c, i * sh + position // kw, j * sw + position % kw] = 1.0 + k
    if nan:
        for position in (0, size - 1):
            x[0, 0, position // kw, position % kw] = np.nan
        x[0, 1, (size // 3) // kw, (size // 3) % kw] = np.nan
    return x


# (kernel, stride): 256 positions, the most one byte holds, and 257 in a column or a row;
# windows side by side, and overlapping ones (stride 1).
POOLS = [
    ((16, 16), (16, 16)),
    ((16, 16), (1, 1)),
    ((257, 1), (257, 1)),
    ((257, 1), (1, 1)),
    ((1, 257), (1, 257)),
    ((1, 257), (1, 1)),
]


def _pool_ids(value: Any) -> str:
    return "x".join(map(str, value))


@pytest.mark.parametrize("nan", [False, True], ids=["finite", "nan"])
@pytest.mark.parametrize(("kernel", "stride"), POOLS, ids=_pool_ids)
def test_max_pool2d_with_256_or_257_window_positions_equals_numpy_argmax(
    kernel: Pair, stride: Pair, nan: bool
) -> None:
    """Forward, the gradient (each upstream entry to its window's first maximum, or last
    NaN), and the gradient's derivative in the upstream (a gather from the same elements),
    where each window's argmax is stored in one byte (256 positions) or more (257)."""
    x_data = _pool_input(kernel, stride, nan)
    expected, position, (rows, columns) = numpy_max_pool2d(x_data, kernel, stride)
    assert position.max() == kernel[0] * kernel[1] - 1  # the last position wins somewhere
    x = Tensor(x_data, requires_grad=True)
    out = tc.max_pool2d(x, kernel, stride)
    assert out._ctx.code.itemsize == (1 if kernel[0] * kernel[1] <= 256 else np.intp(0).itemsize)
    rng = np.random.default_rng(7)
    g = Tensor(rng.standard_normal(out.shape), requires_grad=True)
    (grad,) = tc.grad(out, x, g, create_graph=True)
    u = rng.standard_normal(x_data.shape)
    (grad * Tensor(u)).sum().backward()
    np.testing.assert_array_equal(out.numpy(), expected)
    reference = numpy_max_pool2d_grad(x_data, g.data, kernel, stride)
    # (overlapping windows add into one element in another order: rounding apart)
    np.testing.assert_allclose(grad.numpy(), reference, rtol=1e-14, atol=1e-15)
    n, c = np.indices(position.shape[:2])
    gathered = u[n[..., None, None], c[..., None, None], rows, columns]
    np.testing.assert_array_equal(g.grad.numpy(), gathered)


@pytest.mark.parametrize("nan", [False, True], ids=["finite", "nan"])
@pytest.mark.parametrize(("kernel", "stride"), POOLS, ids=_pool_ids)
def test_max_pool2d_with_256_or_257_window_positions_matches_torch(
    kernel: Pair, stride: Pair, nan: bool
) -> None:
    torch = pytest.importorskip("torch")
    x_data = _pool_input(kernel, stride, nan)
    x = Tensor(x_data, requires_grad=True)
    out = tc.max_pool2d(x, kernel, stride)
    g = np.random.default_rng(8).standard_normal(out.shape)
    out.backward(g)
    theirs_x = torch.tensor(x_data, requires_grad=True)
    theirs = torch.nn.functional.max_pool2d(theirs_x, kernel, stride)
    theirs.backward(torch.tensor(g))
    np.testing.assert_array_equal(out.numpy(), theirs.detach().numpy())
    np.testing.assert_allclose(x.grad.numpy(), theirs_x.grad.numpy(), rtol=1e-15, atol=0)


# ---------------------------------------------------------------------- empty convolutions
# As LAYOUTS, but the columns layout at stride (2, 1), so that no filter at all (O = 0 <= 4)
# does not make conv2d take "banded"; no "winograd" (fewer than 128 tiles, or channels).
EMPTY_LAYOUTS: dict[str, tuple[Shape, Shape, Pair, Pair]] = {
    **{name: geometry for name, geometry in LAYOUTS.items() if name != "winograd"},
    "columns": ((2, 1, 9, 11), (6, 1, 3, 2), (2, 1), (0, 1)),
}
# (images, filters): no images, no filters, neither.
EMPTY = [(0, None), (2, 0), (0, 0)]


def _empty_arrays(layout: str, batch: int, filters: int | None) -> list[np.ndarray]:
    x_shape, w_shape, _, _ = EMPTY_LAYOUTS[layout]
    o = w_shape[0] if filters is None else filters
    rng = np.random.default_rng(9)
    return [
        rng.standard_normal((batch, *x_shape[1:])),
        rng.standard_normal((o, *w_shape[1:])),
        rng.standard_normal(o),
    ]


@pytest.mark.parametrize("create_graph", [False, True])
@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize(("batch", "filters"), EMPTY)
@pytest.mark.parametrize("layout", sorted(EMPTY_LAYOUTS))
def test_an_empty_conv2d_has_the_right_shape_and_zero_gradients(
    layout: str, batch: int, filters: int | None, bias: bool, create_graph: bool
) -> None:
    """No images or no filters: an empty output of shape (N, O, OH, OW), and every input
    that requires grad gets a gradient of its shape and dtype, all zeros."""
    arrays = _empty_arrays(layout, batch, filters)[: 3 if bias else 2]
    _, w_shape, stride, padding = EMPTY_LAYOUTS[layout]
    used, out, grads = _conv_grads(arrays, NAMES, stride, padding, create_graph=create_graph)
    assert used == layout
    oh, ow = (
        (arrays[0].shape[2 + d] + 2 * padding[d] - w_shape[2 + d]) // stride[d] + 1 for d in (0, 1)
    )
    assert out.shape == (arrays[0].shape[0], arrays[1].shape[0], oh, ow) and out.size == 0
    for name, grad, array in zip(NAMES, grads, arrays, strict=False):
        assert grad is not None, f"{name} requires grad but got none"
        assert grad.shape == array.shape and grad.dtype == array.dtype, name
        assert not np.any(grad), name


@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("layout", sorted(EMPTY_LAYOUTS))
def test_a_conv2d_of_no_images_matches_torch(layout: str, bias: bool) -> None:
    """(PyTorch refuses a weight with no filters, so only the empty batch is compared.)"""
    arrays = _empty_arrays(layout, 0, None)[: 3 if bias else 2]
    _, _, stride, padding = EMPTY_LAYOUTS[layout]
    theirs_out, theirs = _torch_conv_grads(arrays, NAMES, stride, padding)
    used, ours_out, ours = _conv_grads(arrays, NAMES, stride, padding)
    assert used == layout
    assert ours_out.shape == theirs_out.shape
    _assert_same_grads(ours, theirs, 0.0)
