"""Image transforms with torchvision's names: :class:`ToTensor`, :class:`ToDtype`,
:class:`Normalize`, :class:`Compose`, and MNIST's mean and standard deviation.

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
