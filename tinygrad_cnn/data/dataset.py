"""Datasets in PyTorch's sense: anything with ``__len__`` and ``__getitem__``;
:class:`TensorDataset` wraps arrays or tensors that share their first dimension."""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_cnn.tensor import Tensor


class TensorDataset:
    """Samples are the rows of several arrays: ``dataset[i] == (a[i], b[i], ...)``.

    Parameters
    ----------
    *tensors : Tensor or array_like
        At least one; all with the same size of their first dimension, any dtype. Tensors are
        read through their ``data`` (no graph is recorded).

    Indexing with an int gives a tuple of numpy values (arrays, or numpy scalars for 1-d
    inputs); with an integer array or a slice, a tuple of arrays holding those rows, which
    :class:`DataLoader` uses to cut a whole batch at once.

    Examples
    --------
    >>> ds = TensorDataset(np.arange(6).reshape(3, 2), np.array([0, 1, 0]))
    >>> len(ds), ds[1]
    (3, (array([2, 3]), np.int64(1)))
    """

    def __init__(self, *tensors: Any) -> None:
        if not tensors:
            raise ValueError("TensorDataset: expected at least one tensor or array, got none")
        arrays = []
        for position, value in enumerate(tensors):
            array = value.data if isinstance(value, Tensor) else np.asarray(value)
            if array.ndim == 0:
                raise ValueError(
                    f"TensorDataset: argument {position} is 0-d; every argument needs a first "
                    f"dimension to index samples by"
                )
            if array.dtype.hasobject:
                raise TypeError(
                    f"TensorDataset: argument {position} is not numeric (dtype {array.dtype})"
                )
            arrays.append(array)
        sizes = [len(a) for a in arrays]
        if len(set(sizes)) != 1:
            raise ValueError(
                f"TensorDataset: every argument must have the same first dimension, got sizes "
                f"{sizes}"
            )
        self.tensors: tuple[np.ndarray, ...] = tuple(arrays)

    def __len__(self) -> int:
        return len(self.tensors[0])

    def __getitem__(self, index: Any) -> tuple[Any, ...]:
        return tuple(array[index] for array in self.tensors)

    def __repr__(self) -> str:
        parts = ", ".join(f"{a.dtype}{list(a.shape)}" for a in self.tensors)
        return f"TensorDataset({parts})"
