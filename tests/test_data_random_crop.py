"""transforms.RandomCrop: each image is a window of itself after torchvision's padding, each
image of a batch draws its own window, every window can occur, and the draws are seeded."""

from __future__ import annotations

import numpy as np
import pytest

from tinygrad_cnn import Tensor, manual_seed
from tinygrad_cnn.data.transforms import RandomCrop


def _distinct_images(count: int, channels: int, height: int, width: int) -> np.ndarray:
    """Images whose every pixel value occurs once (so a window is found at one offset only)."""
    values = np.arange(1, count * channels * height * width + 1, dtype=np.float64)
    return values.reshape(count, channels, height, width)


def _offset_of(crop: np.ndarray, padded: np.ndarray) -> tuple[int, int]:
    """The (top, left) of the window of ``padded`` (C, H, W) that equals ``crop`` (C, h, w)."""
    h, w = crop.shape[-2:]
    found = [
        (top, left)
        for top in range(padded.shape[-2] - h + 1)
        for left in range(padded.shape[-1] - w + 1)
        if np.array_equal(padded[:, top : top + h, left : left + w], crop)
    ]
    assert len(found) == 1, f"the crop is a window of the padded image at {found}"
    return found[0]


def test_each_image_is_a_window_of_itself_padded_and_every_window_occurs() -> None:
    images = _distinct_images(200, 2, 5, 6)
    crop = RandomCrop((5, 6), padding=2, fill=-1.0, generator=0)
    out = crop(images)
    assert out.shape == images.shape and out.dtype == images.dtype
    padded = np.pad(images, ((0, 0), (0, 0), (2, 2), (2, 2)), constant_values=-1.0)
    offsets = {_offset_of(out[i], padded[i]) for i in range(len(images))}
    assert offsets == {(top, left) for top in range(5) for left in range(5)}


def test_torchvision_padding_forms_and_modes_pad_as_np_pad() -> None:
    image = _distinct_images(1, 1, 4, 5)[0]
    # torchvision: one int for all sides, (left/right, top/bottom), (left, top, right, bottom)
    for padding, (top, bottom, left, right) in [
        (1, (1, 1, 1, 1)),
        ((2, 1), (1, 1, 2, 2)),
        ((1, 2, 3, 0), (2, 0, 1, 3)),
    ]:
        size = (4 + top + bottom, 5 + left + right)  # the whole padded image: one window
        for mode in RandomCrop.PADDING_MODES:
            out = RandomCrop(size, padding=padding, padding_mode=mode, fill=7)(image)
            kwargs = {"constant_values": 7} if mode == "constant" else {}
            expected = np.pad(image, ((0, 0), (top, bottom), (left, right)), mode=mode, **kwargs)
            np.testing.assert_array_equal(out, expected, err_msg=f"{padding} {mode}")


def test_pad_if_needed_pads_both_sides_by_the_shortfall() -> None:
    image = _distinct_images(1, 1, 3, 4)[0]
    out = RandomCrop((5, 6), pad_if_needed=True, generator=1)(image)
    padded = np.pad(image, ((0, 0), (2, 2), (2, 2)))
    _offset_of(out, padded)  # a 5x6 window of the image padded by 2 on every side
    with pytest.raises(ValueError, match="larger than the padded image"):
        RandomCrop((5, 6))(image)


def test_channels_share_a_window_and_leading_axes_are_kept() -> None:
    images = (
        np.repeat(_distinct_images(12, 1, 6, 6), 3, axis=1) * np.array([1, 10, 100])[:, None, None]
    )
    out = RandomCrop(4, generator=3)(images.reshape(3, 4, 3, 6, 6))
    assert out.shape == (3, 4, 3, 4, 4)
    flat = out.reshape(12, 3, 4, 4)
    np.testing.assert_array_equal(flat[:, 1], flat[:, 0] * 10)
    np.testing.assert_array_equal(flat[:, 2], flat[:, 0] * 100)
    assert len({_offset_of(flat[i], images[i]) for i in range(12)}) > 1  # not one shared draw


def test_draws_are_seeded_and_default_to_the_library_generator() -> None:
    images = _distinct_images(20, 1, 8, 8)
    first = RandomCrop(6, padding=1, generator=5)(images)
    np.testing.assert_array_equal(RandomCrop(6, padding=1, generator=5)(images), first)
    manual_seed(0)
    a = RandomCrop(6, padding=1)(images)
    manual_seed(0)
    np.testing.assert_array_equal(RandomCrop(6, padding=1)(images), a)
    rng = np.random.default_rng(9)
    crop = RandomCrop(6, padding=1, generator=rng)
    assert not np.array_equal(crop(images), crop(images))  # the generator's draws continue


def test_kinds_and_dtypes_are_kept() -> None:
    pixels = np.random.default_rng(0).integers(0, 256, (4, 1, 28, 28), dtype=np.uint8)
    out = RandomCrop(28, padding=2, generator=0)(pixels)
    assert out.dtype == np.uint8 and out.shape == pixels.shape
    tensor = RandomCrop(28, padding=2, generator=0)(Tensor(pixels.astype(np.float32)))
    assert isinstance(tensor, Tensor) and not tensor.requires_grad
    np.testing.assert_array_equal(tensor.numpy(), out.astype(np.float32))


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (lambda: RandomCrop(0), ValueError, "RandomCrop: size must be positive"),
        (lambda: RandomCrop((2, 2, 2)), TypeError, "RandomCrop: size must be an int or a pair"),
        (lambda: RandomCrop(True), TypeError, "size must be an int or a pair of ints"),
        (lambda: RandomCrop(2, padding=-1), ValueError, "padding must be an int >= 0"),
        (lambda: RandomCrop(2, padding=(1, 2, 3)), ValueError, "2 or 4 of them"),
        (lambda: RandomCrop(2, padding_mode="wrap"), ValueError, "padding_mode must be one of"),
        (lambda: RandomCrop(2, fill="black"), TypeError, "fill must be a number"),
        (lambda: RandomCrop(2, generator="x"), TypeError, "RandomCrop: expected a seed"),
        (lambda: RandomCrop(2)(np.zeros((4, 4))), ValueError, r"\(\.\.\., C, H, W\)"),
        (lambda: RandomCrop(2)(np.array([[["a"]]])), TypeError, "numeric"),
    ],
)
def test_bad_arguments_name_what_was_expected(make, error, message) -> None:
    with pytest.raises(error, match=message):
        make()
