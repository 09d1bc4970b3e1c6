"""Minibatches from any dataset: :class:`DataLoader` and :func:`default_collate`, with
PyTorch's arguments (single process; no workers, no pinned memory)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from tinygrad_cnn import random
from tinygrad_cnn.data.dataset import TensorDataset
from tinygrad_cnn.tensor import Tensor


def default_collate(batch: Sequence[Any]) -> Any:
    """Stack a list of samples into a batch, as ``torch.utils.data.default_collate``.

    * Tensors and numpy arrays (same shape) -> one Tensor with a new first axis, same dtype;
    * Python ints -> int64, floats -> float64, bools -> bool Tensors of shape (B,); numpy
      scalars keep their dtype;
    * tuples and lists of fields -> a list of each field collated (a tuple of two arrays
      gives ``[images, labels]``); dicts -> a dict of collated values;
    * strings and anything else -> the list as is.

    Raises
    ------
    ValueError
        When arrays in one field have different shapes, or samples have different lengths.
    """
    if len(batch) == 0:
        raise ValueError("default_collate: got an empty batch")
    first = batch[0]
    if isinstance(first, Tensor | np.ndarray | np.generic):
        arrays = [b.data if isinstance(b, Tensor) else np.asarray(b) for b in batch]
        shapes = {a.shape for a in arrays}
        if len(shapes) != 1:
            raise ValueError(
                f"default_collate: cannot stack samples of different shapes {sorted(shapes)}"
            )
        return Tensor(np.stack(arrays))
    if isinstance(first, bool):
        return Tensor(np.array(batch, dtype=np.bool_))
    if isinstance(first, int):
        return Tensor(np.array(batch, dtype=np.int64))
    if isinstance(first, float):
        return Tensor(np.array(batch, dtype=np.float64))
    if isinstance(first, str | bytes):
        return list(batch)
    if isinstance(first, Mapping):
        return {key: default_collate([sample[key] for sample in batch]) for key in first}
    if isinstance(first, tuple | list):
        sizes = {len(sample) for sample in batch}
        if len(sizes) != 1:
            raise ValueError(
                f"default_collate: every sample must have the same number of fields, got "
                f"{sorted(sizes)}"
            )
        return [default_collate(list(field)) for field in zip(*batch, strict=True)]
    return list(batch)


class DataLoader:
    """Iterate over a dataset in minibatches, one epoch per ``iter()``, as
    ``torch.utils.data.DataLoader``.

    Parameters
    ----------
    dataset : sized and indexable
        E.g. :class:`TensorDataset`, or any object with ``__len__`` and ``__getitem__(int)``.
    batch_size : int, default 1
    shuffle : bool, default False
        Visit the samples in a new random order (a permutation) each epoch.
    drop_last : bool, default False
        Skip the last batch when it is smaller than ``batch_size``.
    generator : numpy Generator, int or None
        Draws the shuffle: a Generator (draws continue from it, so seed it for a
        reproducible run), an int (a new generator seeded with it, created here), or None
        for the library's default generator (:func:`tinygrad_cnn.manual_seed`). The orders
        are not PyTorch's (another random number generator).
    collate_fn : callable, optional
        Turns a list of samples into a batch; :func:`default_collate` by default.

    A :class:`TensorDataset` with the default collate is cut a whole batch at a time (no
    per-sample Python loop); the result is the same as sample by sample.

    Examples
    --------
    >>> ds = TensorDataset(np.zeros((10, 3), np.float32), np.arange(10))
    >>> loader = DataLoader(ds, batch_size=4, shuffle=True, generator=0)
    >>> len(loader), [tuple(x.shape) for x, y in loader]
    (3, [(4, 3), (4, 3), (2, 3)])
    """

    def __init__(
        self,
        dataset: Any,
        batch_size: int = 1,
        shuffle: bool = False,
        drop_last: bool = False,
        generator: np.random.Generator | int | None = None,
        collate_fn: Callable[[list[Any]], Any] | None = None,
    ) -> None:
        if not (hasattr(dataset, "__len__") and hasattr(dataset, "__getitem__")):
            raise TypeError(
                f"DataLoader: dataset must have __len__ and __getitem__, got "
                f"{type(dataset).__name__}"
            )
        if isinstance(batch_size, bool) or not isinstance(batch_size, int | np.integer):
            raise TypeError(f"DataLoader: batch_size must be an int, got {batch_size!r}")
        if batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be positive, got {batch_size}")
        for name, flag in (("shuffle", shuffle), ("drop_last", drop_last)):
            if not isinstance(flag, bool):
                raise TypeError(f"DataLoader: {name} must be a bool, got {flag!r}")
        if collate_fn is not None and not callable(collate_fn):
            raise TypeError(f"DataLoader: collate_fn must be callable, got {collate_fn!r}")
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.generator = None if generator is None else random.generator(generator, "DataLoader")
        self.collate_fn = default_collate if collate_fn is None else collate_fn

    def __len__(self) -> int:
        """Batches per epoch."""
        count, rest = divmod(len(self.dataset), self.batch_size)
        return count + (1 if rest and not self.drop_last else 0)

    def _order(self) -> np.ndarray:
        n = len(self.dataset)
        if not self.shuffle:
            return np.arange(n)
        rng = self.generator if self.generator is not None else random.default_generator()
        return rng.permutation(n)

    def __iter__(self) -> Iterator[Any]:
        order, size = self._order(), self.batch_size
        whole = isinstance(self.dataset, TensorDataset) and self.collate_fn is default_collate
        for start in range(0, len(self) * size, size):
            index = order[start : start + size]
            if whole:
                yield [Tensor(np.ascontiguousarray(a)) for a in self.dataset[index]]
            else:
                yield self.collate_fn([self.dataset[int(i)] for i in index])

    def __repr__(self) -> str:
        return (
            f"DataLoader({len(self.dataset)} samples, batch_size={self.batch_size}, "
            f"shuffle={self.shuffle}, drop_last={self.drop_last})"
        )
