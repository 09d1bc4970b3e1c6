"""Minibatches of images and labels as tensors, normalised like the notebook or by a transform.

Each batch is converted on its own: the dataset stays one ``uint8`` array (47 MB for MNIST's
training set, not 188 MB of float32), and an epoch's shuffle is one permutation of indices.
For datasets that are not image/label pairs, see :class:`tinygrad_cnn.data.DataLoader`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from tinygrad_cnn.tensor import Tensor


def normalize_images(images: np.ndarray) -> np.ndarray:
    """``images / 255 - 0.5`` as float32 NCHW, the notebook's input scaling.

    Parameters
    ----------
    images : ndarray of uint8, shape (B, H, W) or (B, C, H, W)

    Returns
    -------
    ndarray of float32, shape (B, 1, H, W) or (B, C, H, W), values in [-0.5, 0.5]
    """
    out = images.astype(np.float32)
    np.divide(out, 255, out=out)
    out -= 0.5
    return out[:, None] if out.ndim == 3 else out


class BatchLoader:
    """Iterate over ``(images, labels)`` in minibatches of tensors, one epoch per ``iter()``.

    Parameters
    ----------
    images : ndarray, shape (N, H, W) or (N, C, H, W)
        Any numeric dtype: uint8 pixels 0-255 (e.g. from :func:`load_mnist` or
        :func:`synthetic_digits`), or values already scaled.
    labels : array_like of int, shape (N,)
    batch_size : int
        Images per batch (positive). The last batch is smaller when ``batch_size`` does not
        divide ``N``, unless ``drop_last``.
    shuffle : bool, default True
        Visit the images in a new random order each epoch.
    seed : int, default 0
        Seeds the shuffle: the k-th epoch's order is the same in every run.
    drop_last : bool, default False
        Skip the last, smaller batch.
    transform : callable, optional
        Applied to each batch of images, an ndarray ``(B, C, H, W)`` of the images' dtype
        (a channel axis is added to ``(N, H, W)`` images first); returns an ndarray or a
        Tensor. E.g. :func:`tinygrad_cnn.data.transforms.mnist_transform` for torchvision's
        MNIST normalisation ``(pixels / 255 - 0.1307) / 0.3081``. By default uint8 images
        get the notebook's ``pixels / 255 - 0.5`` as float32 and other dtypes are passed
        through unchanged.

    Yields
    ------
    images : Tensor, shape (B, 1, H, W) or (B, C, H, W)
        float32 ``pixels / 255 - 0.5`` by default (see ``transform``).
    labels : Tensor of int64, shape (B,)

    Examples
    --------
    >>> from tinygrad_cnn.data import BatchLoader, synthetic_digits
    >>> images, labels = synthetic_digits(100)
    >>> loader = BatchLoader(images, labels, batch_size=32)
    >>> len(loader), [x.shape for x, y in loader][-1]
    (4, (4, 1, 28, 28))
    """

    def __init__(
        self,
        images: np.ndarray,
        labels: np.ndarray,
        batch_size: int,
        shuffle: bool = True,
        seed: int = 0,
        drop_last: bool = False,
        transform: Callable[[np.ndarray], Any] | None = None,
    ) -> None:
        if not isinstance(images, np.ndarray) or not (
            np.issubdtype(images.dtype, np.number) or images.dtype == np.bool_
        ):
            got = images.dtype if isinstance(images, np.ndarray) else type(images).__name__
            raise TypeError(f"BatchLoader: images must be a numeric ndarray, got {got}")
        if transform is not None and not callable(transform):
            raise TypeError(f"BatchLoader: transform must be callable, got {transform!r}")
        if images.ndim not in (3, 4):
            raise ValueError(
                f"BatchLoader: images must have shape (N, H, W) or (N, C, H, W), "
                f"got shape {images.shape}"
            )
        labels = np.asarray(labels)
        if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
            raise ValueError(
                f"BatchLoader: labels must be a 1-d integer array, got {labels.dtype} "
                f"of shape {labels.shape}"
            )
        if len(labels) != len(images):
            raise ValueError(
                f"BatchLoader: {len(images)} images (shape {images.shape}) but {len(labels)} labels"
            )
        if not isinstance(batch_size, int | np.integer) or isinstance(batch_size, bool):
            raise TypeError(f"BatchLoader: batch_size must be an int, got {batch_size!r}")
        if batch_size < 1:
            raise ValueError(f"BatchLoader: batch_size must be positive, got {batch_size}")
        if not isinstance(seed, int | np.integer) or isinstance(seed, bool):
            raise TypeError(f"BatchLoader: seed must be an int, got {seed!r}")
        self.images = images
        self.labels = labels.astype(np.int64, copy=False)
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.transform = transform
        self._rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        """Batches per epoch."""
        count, rest = divmod(len(self.images), self.batch_size)
        return count + (1 if rest and not self.drop_last else 0)

    def __iter__(self) -> Iterator[tuple[Tensor, Tensor]]:
        n, size = len(self.images), self.batch_size
        order = self._rng.permutation(n) if self.shuffle else None
        for start in range(0, len(self) * size, size):
            index = slice(start, start + size) if order is None else order[start : start + size]
            yield self._images(self.images[index]), Tensor(self.labels[index])

    def _images(self, batch: np.ndarray) -> Tensor:
        if self.transform is None:
            if batch.dtype == np.uint8:
                return Tensor(normalize_images(batch))
            return Tensor(np.ascontiguousarray(batch[:, None] if batch.ndim == 3 else batch))
        out = self.transform(batch[:, None] if batch.ndim == 3 else batch)
        return out if isinstance(out, Tensor) else Tensor(np.ascontiguousarray(out))

    def __repr__(self) -> str:
        return (
            f"BatchLoader({len(self.images)} images of shape {self.images.shape[1:]}, "
            f"batch_size={self.batch_size}, shuffle={self.shuffle}, drop_last={self.drop_last})"
        )


def iterate_batches(
    images: np.ndarray,
    labels: np.ndarray,
    batch_size: int,
    shuffle: bool = True,
    seed: int = 0,
    drop_last: bool = False,
    transform: Callable[[np.ndarray], Any] | None = None,
) -> Iterator[tuple[Tensor, Tensor]]:
    """One epoch of minibatches: ``iter(BatchLoader(...))`` (see :class:`BatchLoader`)."""
    return iter(BatchLoader(images, labels, batch_size, shuffle, seed, drop_last, transform))
