"""conv2d's Winograd layout (F(4x4, 3x3), ops/winograd.py) against its im2col layouts.

The property tests draw small geometries, which conv2d would never send to Winograd, so they
lower its thresholds (``WINOGRAD_MIN_CHANNELS``, ``WINOGRAD_MIN_TILES``, the fills) and compare
output, gradients and second derivatives, in float64, with the same convolution forced onto
the im2col layouts. Then: where the layout is chosen (the real thresholds, non-finite
values, dtypes), float32's rounding, and an upstream gradient holding an infinity or NaN
(backward then takes the rows kernels, so it matches them exactly).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_cnn as tc
from tinygrad_cnn import Tensor
from tinygrad_cnn.ops import conv as conv_module
from tinygrad_cnn.ops import winograd
from tinygrad_cnn.testing import arrays

Pair = tuple[int, int]


@contextmanager
def _winograd(enabled: bool, *, any_size: bool = True) -> Iterator[None]:
    """conv2d with the Winograd layout for every 3x3 stride-1 convolution (``any_size``:
    no thresholds), or never."""
    with pytest.MonkeyPatch.context() as patch:
        if not enabled:
            patch.setattr(conv_module, "_winograd_suits", lambda *_: False)
        elif any_size:
            patch.setattr(conv_module, "WINOGRAD_MIN_CHANNELS", 1)
            patch.setattr(conv_module, "WINOGRAD_MIN_TILES", 1)
            patch.setattr(conv_module, "WINOGRAD_MIN_FILL", 0)
            patch.setattr(conv_module, "WINOGRAD_MIN_FILL_FORWARD_ONLY", 0)
        yield


def _conv(
    arrays_: list[np.ndarray], padding: Pair, upstream: np.ndarray | None = None
) -> tuple[str, np.ndarray, list[np.ndarray]]:
    """conv2d's layout, output and every input's gradient for ``upstream`` (default: ones)."""
    tensors = [Tensor(a, requires_grad=True) for a in arrays_]
    out = tc.conv2d(*tensors, padding=padding)
    layout = out._ctx.layout
    out.backward(np.ones(out.shape, out.dtype) if upstream is None else upstream)
    return layout, out.numpy(), [t.grad.numpy() for t in tensors]


@st.composite
def _geometries(draw: st.DrawFn) -> tuple[list[np.ndarray], Pair, np.ndarray]:
    """Images, 3x3 filters and (half of the time) a bias, a padding the filters fit in, and
    an upstream gradient: sizes that leave partial tiles at the bottom and right."""
    n, c, o = draw(st.integers(1, 3)), draw(st.integers(1, 4)), draw(st.integers(1, 4))
    padding = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
    h = draw(st.integers(max(1, 3 - 2 * padding[0]), 11))
    w = draw(st.integers(max(1, 3 - 2 * padding[1]), 11))
    inputs = [draw(arrays((n, c, h, w))), draw(arrays((o, c, 3, 3)))]
    if draw(st.booleans()):
        inputs.append(draw(arrays((o,))))
    out_shape = (n, o, h + 2 * padding[0] - 2, w + 2 * padding[1] - 2)
    return inputs, padding, draw(arrays(out_shape))


@given(_geometries())
def test_winograd_gives_the_output_and_gradients_of_im2col(
    case: tuple[list[np.ndarray], Pair, np.ndarray],
) -> None:
    inputs, padding, upstream = case
    with _winograd(False):
        used, expected_out, expected = _conv(inputs, padding, upstream)
    with _winograd(True):
        layout, out, grads = _conv(inputs, padding, upstream)
    assert layout == "winograd" and used != "winograd"
    np.testing.assert_allclose(out, expected_out, rtol=1e-10, atol=1e-10)
    for mine, reference in zip(grads, expected, strict=True):
        assert mine.shape == reference.shape and mine.dtype == reference.dtype
        np.testing.assert_allclose(mine, reference, rtol=1e-10, atol=1e-10)


@given(_geometries(), st.data())
def test_winograd_gradients_differentiate_again_as_im2col_ones(
    case: tuple[list[np.ndarray], Pair, np.ndarray], data: st.DataObject
) -> None:
    """d/d(inputs) of <dL/dx, r> + <dL/dw, s>, with create_graph (a Hessian-vector product)."""
    inputs, padding, upstream = case
    r = data.draw(arrays(inputs[0].shape))
    s = data.draw(arrays(inputs[1].shape))

    def second(enabled: bool) -> list[np.ndarray]:
        with _winograd(enabled):
            tensors = [Tensor(a, requires_grad=True) for a in inputs]
            out = tc.conv2d(*tensors, padding=padding)
            loss = (out * Tensor(upstream)).sum() + (out * out).sum()
            grad_x, grad_w = tc.autograd.grad(loss, tensors[:2], create_graph=True)
            ((grad_x * Tensor(r)).sum() + (grad_w * Tensor(s)).sum()).backward()
            return [t.grad.numpy() for t in tensors]

    for mine, reference in zip(second(True), second(False), strict=True):
        np.testing.assert_allclose(mine, reference, rtol=1e-9, atol=1e-9)


# ---------------------------------------------------------------------- chunks of images
def _chunked_case() -> tuple[list[np.ndarray], np.ndarray]:
    """LeNet's conv2 (32 -> 64 channels, 13 x 13: 9 tiles an image) in float64, with the
    smallest batch whose per-position products pass ``CHUNK_BYTES``: two chunks."""
    per_image = 36 * 9 * 64 * 8
    batch = winograd.CHUNK_BYTES // per_image + 1
    rng = np.random.default_rng(3)
    inputs = [rng.standard_normal((batch, 32, 13, 13)), rng.standard_normal((64, 32, 3, 3))]
    inputs.append(rng.standard_normal(64))
    return inputs, rng.standard_normal((batch, 64, 11, 11))


@pytest.mark.parametrize("requires", [(0, 1, 2), (0,), (1,), (0, 2)])
def test_winograd_in_chunks_of_images_equals_one_chunk(requires: tuple[int, ...]) -> None:
    """With the real CHUNK_BYTES (two chunks) and with one chunk: the same output and
    gradients, whichever inputs need one (the input gradient is computed beside the weight
    gradient when both are, alone otherwise)."""
    inputs, upstream = _chunked_case()
    assert len(winograd.image_chunks_of((len(upstream), 14, 14, 32), 64, 8)) == 2
    assert len(winograd.image_chunks_of((len(upstream) - 1, 14, 14, 32), 64, 8)) == 1

    def run() -> tuple[str, np.ndarray, list[np.ndarray | None]]:
        tensors = [Tensor(a, requires_grad=k in requires) for k, a in enumerate(inputs)]
        out = tc.conv2d(*tensors)
        layout = out._ctx.layout
        out.backward(upstream)
        return layout, out.numpy(), [None if t.grad is None else t.grad.numpy() for t in tensors]

    layout, out, grads = run()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(winograd, "CHUNK_BYTES", 1 << 62)
        _, expected_out, expected = run()
    assert layout == "winograd"
    np.testing.assert_allclose(out, expected_out, rtol=1e-12, atol=1e-12)
    for k, (mine, reference) in enumerate(zip(grads, expected, strict=True)):
        assert (mine is None) == (k not in requires) == (reference is None)
        if mine is not None:
            np.testing.assert_allclose(mine, reference, rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------------- where it is chosen
def _layout(x_shape: tuple[int, ...], w_shape: tuple[int, ...], **kwargs: object) -> str:
    """The layout conv2d takes for ones of these shapes; ``recorded=False``: under no_grad."""
    dtype, recorded = kwargs.pop("dtype", np.float32), kwargs.pop("recorded", True)
    x = Tensor(np.ones(x_shape, dtype), requires_grad=True)
    w = Tensor(np.ones(w_shape, dtype), requires_grad=True)
    if recorded:
        return tc.conv2d(x, w, **kwargs)._ctx.layout
    seen = []
    original = conv_module._conv_layout

    def spy(*args: object) -> str:
        seen.append(original(*args))
        return seen[-1]

    with pytest.MonkeyPatch.context() as patch, tc.no_grad():
        patch.setattr(conv_module, "_conv_layout", spy)
        tc.conv2d(x, w, **kwargs)
    return seen[0]


def test_the_real_thresholds_choose_winograd_from_the_tiles_and_the_channels() -> None:
    channels, tiles = conv_module.WINOGRAD_MIN_CHANNELS, conv_module.WINOGRAD_MIN_TILES
    # 8 x 8 outputs are 2 x 2 tiles of 4 x 4 outputs per image, 9 x 8 are 3 x 2.
    images = tiles // 4
    assert tiles % 4 == 0
    assert _layout((images, channels, 8, 8), (channels, channels, 3, 3), padding=1) == "winograd"
    assert _layout((images - 1, channels, 8, 8), (channels, channels, 3, 3), padding=1) == "rows"
    assert _layout((images, channels - 1, 8, 8), (channels, channels - 1, 3, 3), padding=1) == (
        "rows"
    )
    assert _layout((images, channels, 8, 8), (channels - 1, channels, 3, 3), padding=1) == "rows"
    assert _layout((images - 1, channels, 9, 8), (channels, channels, 3, 3), padding=1) == (
        "winograd"
    )


def test_winograd_is_chosen_where_the_outputs_fill_enough_of_their_tiles() -> None:
    """LeNet's conv2 (11 x 11 outputs of 12 x 12 in tiles: 0.84) in training, not in an
    inference (forward alone gains only from about 0.9); 13 x 13 of 16 x 16 (0.66) never."""
    assert conv_module.WINOGRAD_MIN_FILL <= 121 / 144 < conv_module.WINOGRAD_MIN_FILL_FORWARD_ONLY
    lenet = ((64, 32, 13, 13), (64, 32, 3, 3))
    assert _layout(*lenet) == "winograd"
    assert _layout(*lenet, recorded=False) == "rows"
    assert _layout((64, 32, 16, 16), (64, 32, 3, 3), padding=1, recorded=False) == "winograd"
    assert _layout((64, 32, 15, 15), (64, 32, 3, 3)) == "rows"


@pytest.mark.parametrize(
    ("kwargs", "w_shape"),
    [
        ({"stride": 2}, (16, 16, 3, 3)),
        ({"dilation": 2}, (16, 16, 3, 3)),  # (a 5x5 kernel with zeros)
        ({}, (16, 16, 3, 2)),
        ({}, (16, 16, 5, 5)),
        ({"dtype": np.float16}, (16, 16, 3, 3)),
    ],
)
def test_winograd_is_not_chosen_outside_3x3_filters_at_stride_1_in_float32_or_64(
    kwargs: dict[str, object], w_shape: tuple[int, ...]
) -> None:
    assert _layout((64, 16, 16, 16), w_shape, **kwargs) != "winograd"


@pytest.mark.parametrize("where", ["x", "w"])
@pytest.mark.parametrize("value", [np.inf, -np.inf, np.nan, 1e30])
def test_winograd_is_not_chosen_for_values_its_transforms_would_spread_or_overflow(
    where: str, value: float
) -> None:
    """An infinity or NaN in a tile would reach every output of the tile, and 1e30 * 1e30
    overflows float32: conv2d takes the rows layout, as PyTorch's direct convolution."""
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((16, 16, 8, 8)), rng.standard_normal((16, 16, 3, 3))
    (x if where == "x" else w)[0, 0, 1, 1] = value
    tensors = [Tensor(a.astype(np.float32), requires_grad=True) for a in (x, w)]
    out = tc.conv2d(*tensors, padding=1)
    assert out._ctx.layout == "rows"
    torch = pytest.importorskip("torch")
    expected = torch.nn.functional.conv2d(*(torch.tensor(t.numpy()) for t in tensors), padding=1)
    np.testing.assert_allclose(out.numpy(), expected.numpy(), rtol=1e-5, atol=1e-5)


# ---------------------------------------------------------------------- rounding and specials
def test_winograd_float32_rounding_stays_within_its_documented_bound() -> None:
    """CIFAR's second convolution (32 -> 64 channels, 16 x 16, padding 1) in float32: within
    2e-5 of the largest value of the float64 result (measured: about 5e-6), as are its
    gradients."""
    rng = np.random.default_rng(1)
    inputs = [rng.standard_normal((8, 32, 16, 16)), rng.standard_normal((64, 32, 3, 3)) / 17]
    upstream = rng.standard_normal((8, 64, 16, 16))
    with _winograd(False):
        _, exact_out, exact = _conv(inputs, (1, 1), upstream)
    single = [a.astype(np.float32) for a in inputs]
    layout, out, grads = _conv(single, (1, 1), upstream.astype(np.float32))
    assert layout == "winograd"
    for mine, reference in zip([out, *grads], [exact_out, *exact], strict=True):
        assert mine.dtype == np.float32
        assert np.abs(mine - reference).max() <= 2e-5 * np.abs(reference).max()


@pytest.mark.parametrize("value", [np.inf, -np.inf, np.nan])
def test_a_non_finite_upstream_gradient_takes_the_rows_kernels(value: float) -> None:
    """Its infinity or NaN reaches exactly the gradients the rows layout sends it to."""
    rng = np.random.default_rng(2)
    inputs = [rng.standard_normal((2, 4, 7, 6)), rng.standard_normal((5, 4, 3, 3))]
    inputs.append(rng.standard_normal(5))
    upstream = rng.standard_normal((2, 5, 7, 6))
    upstream[1, 2, 3, 4] = value
    with _winograd(False):
        _, _, expected = _conv(inputs, (1, 1), upstream)
    with _winograd(True):
        layout, _, grads = _conv(inputs, (1, 1), upstream)
    assert layout == "winograd"
    for mine, reference in zip(grads, expected, strict=True):
        np.testing.assert_array_equal(mine, reference)
