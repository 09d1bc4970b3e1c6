"""Tensor creation with PyTorch's names, signatures and dtypes: ``tensor``, ``zeros``,
``ones``, ``full``, ``empty``, ``arange``, ``linspace``, ``eye``, the ``*_like`` forms, and the
random ``rand``, ``randn``, ``randint``.

Sizes are given as ``zeros(2, 3)`` or ``zeros((2, 3))``. Without ``dtype`` the result is
float32 (PyTorch's default dtype), except where PyTorch infers one: ``tensor`` from its data,
``full`` from its fill value, ``arange`` (int64 when every argument is an int), ``randint``
(int64) and the ``*_like`` forms (the input's dtype). Random draws come from the default
generator (:func:`tinygrad_cnn.manual_seed`) unless ``generator`` is given: a
``numpy.random.Generator``, or an int seed for a one-off generator.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from tinygrad_cnn import dtypes
from tinygrad_cnn.random import Seed
from tinygrad_cnn.random import generator as _generator
from tinygrad_cnn.tensor import Tensor


def tensor(data: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """A new tensor holding a copy of ``data`` (``torch.tensor``).

    Parameters
    ----------
    data : array_like or Tensor
        Python numbers or nested lists (bools give bool, ints int64, floats float32), numpy
        arrays or scalars (their dtype is kept), or a Tensor (its values, detached).
    dtype : numpy dtype, optional
        Convert to this dtype.
    requires_grad : bool, default False
        Only floating-point tensors can require grad.
    """
    if isinstance(data, Tensor):
        data = data.data
    if isinstance(data, np.ndarray | np.generic):
        data = np.array(data, copy=True)
    return Tensor(data, requires_grad=requires_grad, dtype=_dtype("tensor", dtype, None))


def zeros(*size: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor of zeros of shape ``size`` (float32 unless ``dtype`` says otherwise)."""
    shape = _size("zeros", size)
    return _new(np.zeros(shape, _dtype("zeros", dtype)), requires_grad)


def ones(*size: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor of ones of shape ``size`` (float32 unless ``dtype`` says otherwise)."""
    shape = _size("ones", size)
    return _new(np.ones(shape, _dtype("ones", dtype)), requires_grad)


def empty(*size: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor of shape ``size`` whose values are unspecified (fill it before reading)."""
    shape = _size("empty", size)
    return _new(np.empty(shape, _dtype("empty", dtype)), requires_grad)


def full(
    size: Sequence[int], fill_value: Any, dtype: Any = None, requires_grad: bool = False
) -> Tensor:
    """A tensor of shape ``size`` filled with ``fill_value``.

    The dtype follows the value as in PyTorch (bool, int64 or float32) unless ``dtype`` is
    given.
    """
    shape = _size("full", (size,))
    default = _scalar_dtype("full", fill_value)
    return _new(np.full(shape, fill_value, _dtype("full", dtype, default)), requires_grad)


def arange(
    start: float,
    end: float | None = None,
    step: float = 1,
    dtype: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """Values from ``start`` up to (not including) ``end`` in steps of ``step``.

    ``arange(n)`` counts from 0. int64 when ``start``, ``end`` and ``step`` are all ints,
    float32 otherwise (as PyTorch). There are ``ceil((end - start) / step)`` values, each
    ``start + i * step`` computed in float64 and then converted.
    """
    if end is None:
        start, end = 0, start
    default = dtypes.DEFAULT_INT
    for name, value in (("start", start), ("end", end), ("step", step)):
        kind = dtypes.scalar_category(value)
        if kind is None:
            raise TypeError(f"arange: {name} must be a number, got {type(value).__name__}")
        if kind == 2:
            default = dtypes.DEFAULT_FLOAT
    if step == 0:
        raise ValueError("arange: step must be nonzero")
    if not all(math.isfinite(v) for v in (start, end, step)):
        raise ValueError(f"arange: expected finite bounds and step, got {start}, {end}, {step}")
    if (end - start) * step < 0:
        raise ValueError(
            f"arange: the bounds and the step's sign disagree: from {start} to {end} in steps "
            f"of {step}"
        )
    target = _dtype("arange", dtype, default)
    if default == dtypes.DEFAULT_INT:
        values = np.arange(start, end, step, dtype=np.int64)
    else:
        values = start + np.arange(math.ceil((end - start) / step), dtype=np.float64) * step
    return _new(values.astype(target, copy=False), requires_grad)


def linspace(
    start: float, end: float, steps: int, dtype: Any = None, requires_grad: bool = False
) -> Tensor:
    """``steps`` evenly spaced values from ``start`` to ``end``, both included (float32)."""
    if isinstance(steps, bool) or not isinstance(steps, int | np.integer) or steps < 0:
        raise ValueError(f"linspace: steps must be a non-negative int, got {steps!r}")
    for name, value in (("start", start), ("end", end)):
        if dtypes.scalar_category(value) is None:
            raise TypeError(f"linspace: {name} must be a number, got {type(value).__name__}")
    values = np.linspace(start, end, int(steps), dtype=np.float64)
    return _new(values.astype(_dtype("linspace", dtype), copy=False), requires_grad)


def eye(n: int, m: int | None = None, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """An ``(n, m)`` matrix (``m = n`` by default) with ones on the diagonal."""
    rows, columns = _size("eye", (n, n if m is None else m))
    return _new(np.eye(rows, columns, dtype=_dtype("eye", dtype)), requires_grad)


def zeros_like(input: Tensor, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Zeros of ``input``'s shape and (unless ``dtype`` is given) dtype."""
    like = _like("zeros_like", input, dtype)
    return _new(np.zeros(input.shape, like), requires_grad)


def ones_like(input: Tensor, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Ones of ``input``'s shape and (unless ``dtype`` is given) dtype."""
    like = _like("ones_like", input, dtype)
    return _new(np.ones(input.shape, like), requires_grad)


def full_like(
    input: Tensor,
    fill_value: Any,
    dtype: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """``fill_value`` in ``input``'s shape and (unless ``dtype`` is given) dtype."""
    like = _like("full_like", input, dtype)
    _scalar_dtype("full_like", fill_value)
    return _new(np.full(input.shape, fill_value).astype(like), requires_grad)


def rand(
    *size: Any, generator: Seed = None, dtype: Any = None, requires_grad: bool = False
) -> Tensor:
    """Samples of the uniform distribution on [0, 1), float32 unless ``dtype`` is a float."""
    shape = _size("rand", size)
    target = _float_dtype("rand", dtype)
    rng = _generator(generator, "rand")
    return _new(_draw(rng.random, shape, target), requires_grad)


def randn(
    *size: Any, generator: Seed = None, dtype: Any = None, requires_grad: bool = False
) -> Tensor:
    """Samples of the standard normal distribution, float32 unless ``dtype`` is a float."""
    shape = _size("randn", size)
    target = _float_dtype("randn", dtype)
    rng = _generator(generator, "randn")
    return _new(_draw(rng.standard_normal, shape, target), requires_grad)


def rand_like(input: Tensor, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """:func:`rand` in ``input``'s shape and (unless ``dtype`` is given) dtype."""
    like = _like("rand_like", input, dtype)
    return rand(input.shape, dtype=like, requires_grad=requires_grad)


def randn_like(input: Tensor, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """:func:`randn` in ``input``'s shape and (unless ``dtype`` is given) dtype."""
    like = _like("randn_like", input, dtype)
    return randn(input.shape, dtype=like, requires_grad=requires_grad)


def randint(
    *args: Any,
    size: Sequence[int] | None = None,
    generator: Seed = None,
    dtype: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """Integers drawn uniformly from ``[low, high)``, int64 unless ``dtype`` says otherwise.

    Called as PyTorch's: ``randint(high, size)``, ``randint(low, high, size)``, or with
    ``size=`` as a keyword.
    """
    if size is None:
        if not args:
            raise TypeError("randint: expected (high, size) or (low, high, size), got no size")
        *args, size = args
    if len(args) == 1:
        low, high = 0, args[0]
    elif len(args) == 2:
        low, high = args
    else:
        raise TypeError(
            f"randint: expected (high, size) or (low, high, size), got {len(args)} bounds"
        )
    for name, value in (("low", low), ("high", high)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer):
            raise TypeError(f"randint: {name} must be an int, got {value!r}")
    if not low < high:
        raise ValueError(f"randint: expected low < high, got low={low}, high={high}")
    shape = _size("randint", (size,))
    target = _dtype("randint", dtype, dtypes.DEFAULT_INT)
    rng = _generator(generator, "randint")
    return _new(rng.integers(low, high, size=shape).astype(target, copy=False), requires_grad)


# ---------------------------------------------------------------------- helpers
def _new(array: np.ndarray, requires_grad: bool) -> Tensor:
    return Tensor(array, requires_grad=requires_grad)


def _draw(sample: Any, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """Draw ``shape`` samples directly in ``dtype`` where numpy can (float32, float64)."""
    if dtype in (np.float32, np.float64):
        return sample(shape, dtype=dtype)
    return sample(shape).astype(dtype)


def _size(op: str, size: tuple[Any, ...]) -> tuple[int, ...]:
    """``(2, 3)`` from ``f(2, 3)``, ``f((2, 3))`` or ``f([2, 3])``: non-negative ints."""
    if len(size) == 1 and isinstance(size[0], Sequence | np.ndarray):
        size = tuple(size[0])
    if any(isinstance(n, bool) or not isinstance(n, int | np.integer) for n in size):
        raise TypeError(f"{op}: size must be integers, got {size!r}")
    if any(n < 0 for n in size):
        raise ValueError(f"{op}: size must be non-negative, got {size!r}")
    return tuple(int(n) for n in size)


def _dtype(op: str, dtype: Any, default: np.dtype | None = dtypes.DEFAULT_FLOAT) -> Any:
    """``dtype`` as a numpy dtype of real numbers (``default`` when it is None)."""
    if dtype is None:
        return default
    try:
        result = np.dtype(dtype)
    except TypeError:
        result = None
    if result is None or result.kind not in "biuf":
        raise TypeError(f"{op}: expected a real number dtype, got {dtype!r}")
    return result


def _float_dtype(op: str, dtype: Any) -> np.dtype:
    result = _dtype(op, dtype)
    if result.kind != "f":
        raise TypeError(f"{op}: draws floating-point values, got dtype {result}")
    return result


def _like(op: str, input: Tensor, dtype: Any) -> np.dtype:
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}: expected a Tensor, got {type(input).__name__}")
    return _dtype(op, dtype, input.dtype)


def _scalar_dtype(op: str, value: Any) -> np.dtype:
    kind = dtypes.scalar_category(value)
    if kind is None:
        raise TypeError(f"{op}: fill_value must be a number, got {type(value).__name__}")
    return (dtypes.BOOL, dtypes.DEFAULT_INT, dtypes.DEFAULT_FLOAT)[kind]


__all__ = [
    "arange", "empty", "eye", "full", "full_like", "linspace", "ones", "ones_like", "rand",
    "rand_like", "randint", "randn", "randn_like", "tensor", "zeros", "zeros_like",
]  # fmt: skip
