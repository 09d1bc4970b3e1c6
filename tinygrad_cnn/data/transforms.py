"""Image transforms with torchvision's names: :class:`ToTensor`, :class:`ToDtype`,
:class:`Normalize`, :class:`RandomCrop`, :class:`Compose`, and MNIST's mean and standard
deviation.

They act on numpy arrays or Tensors in ``(..., C, H, W)`` layout, a single image or a whole
batch; :class:`BatchLoader` applies one to each batch. torchvision's normalisation for MNIST
(the documented default for training a modern CNN):

>>> transform = Compose([ToDtype(np.float32, scale=True), Normalize(MNIST_MEAN, MNIST_STD)])
>>> batch = transform(np.full((2, 1, 28, 28), 255, np.uint8))
>>> batch.dtype, round(float(batch[0, 0, 0, 0]), 4)
(dtype('float32'), 2.8215)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from tinygrad_cnn.ops.window import pair
from tinygrad_cnn.random import Seed
from tinygrad_cnn.random import generator as generator_from
from tinygrad_cnn.tensor import Tensor

MNIST_MEAN: tuple[float] = (0.1307,)
"""MNIST's training-set pixel mean (pixels scaled to [0, 1]), as torchvision's examples."""
MNIST_STD: tuple[float] = (0.3081,)
"""MNIST's training-set pixel standard deviation (pixels scaled to [0, 1])."""


def _array(transform: str, x: Any) -> np.ndarray:
    array = x.data if isinstance(x, Tensor) else np.asarray(x)
    if not (np.issubdtype(array.dtype, np.number) or array.dtype == np.bool_):
        raise TypeError(f"{transform}: expected numeric images, got dtype {array.dtype}")
    return array


class ToTensor:
    """A single image ``(H, W)`` or ``(H, W, C)`` to a float32 Tensor ``(C, H, W)``, dividing
    uint8 pixels by 255 (other dtypes keep their values), as torchvision's ``ToTensor``."""

    def __call__(self, image: Any) -> Tensor:
        array = _array("ToTensor", image)
        if array.ndim not in (2, 3):
            raise ValueError(
                f"ToTensor: expected an image of shape (H, W) or (H, W, C), got {array.shape}"
            )
        array = array[:, :, None] if array.ndim == 2 else array
        scale = 255.0 if array.dtype == np.uint8 else 1.0
        return Tensor(np.ascontiguousarray(array.transpose(2, 0, 1), dtype=np.float32) / scale)

    def __repr__(self) -> str:
        return "ToTensor()"


class ToDtype:
    """Cast to ``dtype``; with ``scale``, integer pixels are mapped to [0, 1] (divided by
    their type's maximum, 255 for uint8), as torchvision's ``v2.ToDtype``. Any shape."""

    def __init__(self, dtype: Any, scale: bool = False) -> None:
        self.dtype = np.dtype(dtype)
        self.scale = bool(scale)

    def __call__(self, x: Any) -> np.ndarray:
        array = _array("ToDtype", x)
        out = array.astype(self.dtype)
        if self.scale and np.issubdtype(array.dtype, np.integer):
            if not np.issubdtype(self.dtype, np.floating):
                raise ValueError(f"ToDtype: scale=True needs a floating dtype, got {self.dtype}")
            out /= self.dtype.type(np.iinfo(array.dtype).max)
        return out

    def __repr__(self) -> str:
        return f"ToDtype({self.dtype}, scale={self.scale})"


class Normalize:
    """``(x - mean[c]) / std[c]`` for each channel ``c`` of ``(..., C, H, W)`` floating images.

    Parameters
    ----------
    mean, std : sequence of float
        One value per channel (or one for all); ``std`` must be non-zero.

    A Tensor input gives a Tensor (through differentiable ops); an array gives an array of
    the same floating dtype.
    """

    def __init__(self, mean: Sequence[float] | float, std: Sequence[float] | float) -> None:
        self.mean = tuple(np.atleast_1d(np.asarray(mean, dtype=np.float64)).tolist())
        self.std = tuple(np.atleast_1d(np.asarray(std, dtype=np.float64)).tolist())
        if len(self.mean) != len(self.std):
            raise ValueError(
                f"Normalize: mean has {len(self.mean)} values but std has {len(self.std)}"
            )
        if any(s == 0 for s in self.std):
            raise ValueError(f"Normalize: std must be non-zero, got {self.std}")

    def __call__(self, x: Any) -> Any:
        array = x.data if isinstance(x, Tensor) else np.asarray(x)
        if not np.issubdtype(array.dtype, np.floating):
            raise TypeError(
                f"Normalize: expected floating-point images, got {array.dtype} (convert first, "
                f"e.g. ToDtype(np.float32, scale=True))"
            )
        channels = len(self.mean)
        if array.ndim < 3 or channels not in (1, array.shape[-3]):
            raise ValueError(
                f"Normalize: expected images (..., C, H, W) with C = {channels}, got shape "
                f"{array.shape}"
            )
        mean = np.asarray(self.mean, dtype=array.dtype)[:, None, None]
        std = np.asarray(self.std, dtype=array.dtype)[:, None, None]
        if isinstance(x, Tensor):
            return (x - Tensor(mean)) / Tensor(std)
        return (array - mean) / std

    def __repr__(self) -> str:
        return f"Normalize(mean={self.mean}, std={self.std})"


class RandomCrop:
    """A random ``size`` window of each image, after optional padding, as torchvision's
    ``RandomCrop``: the usual shift augmentation (``RandomCrop(28, padding=2)`` moves MNIST
    digits by up to 2 pixels).

    Acts on ``(..., C, H, W)`` arrays or Tensors, a single image or a batch: every image
    (every index of the leading axes) gets its own window, all channels of an image the same.
    The result has the input's kind and dtype (a Tensor without gradient: this is data).

    Parameters
    ----------
    size : int or (int, int)
        The crop's height and width (one int: a square).
    padding : int or sequence of int, optional
        Added around each image first, as torchvision: one int for every side, two for
        (left and right, top and bottom), four for (left, top, right, bottom).
    pad_if_needed : bool, default False
        Pad an image smaller than ``size`` on both sides by the difference first.
    fill : float, default 0
        The value of constant padding.
    padding_mode : {"constant", "edge", "reflect", "symmetric"}, default "constant"
        As torchvision (numpy's ``np.pad`` modes of the same names).
    generator : int, numpy Generator or None, default None
        Where the windows are drawn from: None is the library's default generator
        (:func:`tinygrad_cnn.manual_seed`), as torchvision draws from torch's.
    """

    PADDING_MODES = ("constant", "edge", "reflect", "symmetric")

    def __init__(
        self,
        size: int | Sequence[int],
        padding: int | Sequence[int] | None = None,
        pad_if_needed: bool = False,
        fill: float = 0,
        padding_mode: str = "constant",
        generator: Seed = None,
    ) -> None:
        self.size = pair("RandomCrop", "size", size, minimum=1)
        self.padding = _padding(padding)
        self.pad_if_needed = bool(pad_if_needed)
        if isinstance(fill, bool) or not isinstance(fill, int | float | np.number):
            raise TypeError(f"RandomCrop: fill must be a number, got {fill!r}")
        self.fill = fill
        if padding_mode not in self.PADDING_MODES:
            raise ValueError(
                f"RandomCrop: padding_mode must be one of {self.PADDING_MODES}, got "
                f"{padding_mode!r}"
            )
        self.padding_mode = padding_mode
        self._generator = generator_from(generator, "RandomCrop")

    def __call__(self, x: Any) -> Any:
        array = _array("RandomCrop", x)
        if array.ndim < 3:
            raise ValueError(f"RandomCrop: expected images (..., C, H, W), got shape {array.shape}")
        lead, (channels, height, width) = array.shape[:-3], array.shape[-3:]
        images = array.reshape(-1, channels, height, width)
        left, top, right, bottom = self.padding
        crop_h, crop_w = self.size
        if self.pad_if_needed:
            grow_h = max(0, crop_h - (height + top + bottom))
            grow_w = max(0, crop_w - (width + left + right))
            top, bottom, left, right = top + grow_h, bottom + grow_h, left + grow_w, right + grow_w
        widths = ((0, 0), (0, 0), (top, bottom), (left, right))
        if self.padding_mode == "constant":
            padded = np.pad(images, widths, constant_values=np.asarray(self.fill, array.dtype))
        else:
            padded = np.pad(images, widths, mode=self.padding_mode)
        room_h, room_w = padded.shape[2] - crop_h, padded.shape[3] - crop_w
        if room_h < 0 or room_w < 0:
            raise ValueError(
                f"RandomCrop: the crop size {self.size} is larger than the padded image "
                f"{padded.shape[2:]}"
            )
        count = len(images)
        tops = self._generator.integers(0, room_h + 1, count)
        lefts = self._generator.integers(0, room_w + 1, count)
        rows = (tops[:, None] + np.arange(crop_h))[:, None, :, None]
        cols = (lefts[:, None] + np.arange(crop_w))[:, None, None, :]
        which = np.arange(count)[:, None, None, None]
        channel = np.arange(channels)[None, :, None, None]
        crops = padded[which, channel, rows, cols].reshape(*lead, channels, crop_h, crop_w)
        return Tensor(crops) if isinstance(x, Tensor) else crops

    def __repr__(self) -> str:
        return (
            f"RandomCrop(size={self.size}, padding={self.padding}, fill={self.fill}, "
            f"padding_mode={self.padding_mode!r})"
        )


def _padding(padding: Any) -> tuple[int, int, int, int]:
    """torchvision's padding forms as (left, top, right, bottom)."""
    if padding is None:
        return 0, 0, 0, 0
    values = tuple(padding) if isinstance(padding, Sequence) else (padding,)
    if len(values) not in (1, 2, 4) or any(
        isinstance(v, bool) or not isinstance(v, int | np.integer) or v < 0 for v in values
    ):
        raise ValueError(
            f"RandomCrop: padding must be an int >= 0, or 2 or 4 of them, got {padding!r}"
        )
    if len(values) == 1:
        return (int(values[0]),) * 4
    if len(values) == 2:
        return int(values[0]), int(values[1]), int(values[0]), int(values[1])
    return int(values[0]), int(values[1]), int(values[2]), int(values[3])


class Compose:
    """Apply transforms one after the other."""

    def __init__(self, transforms: Sequence[Callable[[Any], Any]]) -> None:
        for transform in transforms:
            if not callable(transform):
                raise TypeError(f"Compose: expected callables, got {type(transform).__name__}")
        self.transforms = list(transforms)

    def __call__(self, x: Any) -> Any:
        for transform in self.transforms:
            x = transform(x)
        return x

    def __repr__(self) -> str:
        return "Compose(" + ", ".join(map(repr, self.transforms)) + ")"


def mnist_transform() -> Compose:
    """torchvision's MNIST preprocessing for batches ``(N, 1, H, W)`` of uint8 pixels:
    ``(pixels / 255 - 0.1307) / 0.3081`` as float32."""
    return Compose([ToDtype(np.float32, scale=True), Normalize(MNIST_MEAN, MNIST_STD)])
