"""Vector norms (``torch.norm``, ``Tensor.norm``), composed of recorded ops.

The norm is built from ``abs``, ``pow``, ``sum``, ``sqrt``, ``amax`` and ``where``, so it is
differentiable without an op class of its own. The root of a zero sum is guarded with
``where``, so the gradient of the 2-norm (and of the p-norm) at an all-zero input is 0, as
PyTorch's, instead of ``0 / 0``.
"""

from __future__ import annotations

import math
from typing import Any

from tinygrad_cnn.ops.reduce import amax
from tinygrad_cnn.ops.reduce import sum as reduce_sum
from tinygrad_cnn.ops.select import where
from tinygrad_cnn.tensor import Axis, Tensor


def norm(
    input: Tensor,
    p: float | str = "fro",
    dim: Axis = None,
    keepdim: bool = False,
    dtype: Any = None,
) -> Tensor:
    """The vector p-norm over ``dim``, as ``torch.norm`` (and ``torch.linalg.vector_norm``).

    Parameters
    ----------
    input : Tensor
        A floating-point tensor of any shape.
    p : {"fro", 2, 1, inf} or float >= 1, default "fro"
        ``"fro"`` and 2: ``sqrt(sum(x ** 2))``; 1: ``sum(|x|)``; ``float("inf")``:
        ``max(|x|)`` (tied maxima share the gradient); another ``p >= 1``:
        ``sum(|x| ** p) ** (1 / p)``.
    dim : int or tuple of int, optional
        The dimensions to reduce; all when None (the norm of the flattened tensor).
    keepdim : bool, default False
        Keep each reduced dimension as size 1.
    dtype : numpy dtype, optional
        Cast ``input`` to this (floating) dtype first.

    Returns
    -------
    Tensor
        ``input``'s shape without (or with size 1 at) the reduced dimensions; 0-d for all.
        The gradient at an all-zero slice is 0, as in PyTorch.

    Raises
    ------
    TypeError
        When ``input`` is not a floating-point Tensor.
    ValueError
        For a ``p`` other than those above (matrix norms such as ``"nuc"`` are not provided).
    """
    if not isinstance(input, Tensor):
        raise TypeError(f"norm: input must be a Tensor, got {type(input).__name__}")
    if dtype is not None:
        input = input.astype(dtype)
    if input.dtype.kind != "f":
        raise TypeError(
            f"norm: input must be floating point, got {input.dtype} (as in PyTorch); cast it "
            f"first with .float()"
        )
    keepdim = bool(keepdim)
    if p == "fro" or (not isinstance(p, bool | str) and p == 2):
        return _root(reduce_sum(input * input, dim, keepdim), 2)
    if isinstance(p, bool) or not isinstance(p, int | float):
        raise ValueError(f"norm: p must be 'fro', 2, 1, float('inf') or a number >= 1, got {p!r}")
    if p == 1:
        return reduce_sum(input.abs(), dim, keepdim)
    if p == math.inf:
        return amax(input.abs(), dim, keepdim)
    if not p >= 1 or math.isinf(p):
        raise ValueError(f"norm: p must be 'fro', 2, 1, float('inf') or a number >= 1, got {p!r}")
    return _root(reduce_sum(input.abs() ** p, dim, keepdim), p)


def _root(total: Tensor, p: float) -> Tensor:
    """``total ** (1 / p)`` with gradient 0 (not ``0 / 0``) where ``total`` is 0."""
    zero = total == 0
    safe = where(zero, 1.0, total)  # where total is 0 the root below gets no gradient
    root = safe.sqrt() if p == 2 else safe ** (1.0 / p)
    return where(zero, 0.0, root)
