"""PyTorch's dtype rules: what ``Tensor(data)`` infers and what a binary op's result is.

Inference (``torch.tensor``): Python bools give ``bool``, ints ``int64``, floats the default
float dtype ``float32``; a list mixing them takes the highest kind (``[1, 2.5]`` is float32);
numpy arrays and numpy scalars keep their dtype.

Promotion (``torch.result_type``), used by every binary op (``+ - * / **``, ``maximum``,
``minimum``, ``matmul``):

- Two dtypes: of one category (bool < integer < floating) they meet as
  ``torch.promote_types`` does (``uint8 + int8 -> int16``, ``float32 + float64 -> float64``);
  of two categories the higher one's dtype wins (``int64 + float32 -> float32``, not numpy's
  float64).
- A Python (or numpy) scalar never changes a tensor's dtype within its category
  (``int32_tensor * 2`` is int32, ``float32_tensor * 2.5`` float32); of a higher category it
  gives that category's default dtype (``int32_tensor * 2.5`` is float32, ``bool_tensor + 1``
  int64).
- A 0-d tensor counts like a scalar against a tensor with dimensions, but with its own dtype
  (``float32 (n,) + float64 0-d -> float32``; ``int32 (n,) + float64 0-d -> float64``).
- True division of integers gives the default float dtype (``int32 / int32 -> float32``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

DEFAULT_FLOAT = np.dtype(np.float32)
DEFAULT_INT = np.dtype(np.int64)
BOOL = np.dtype(np.bool_)

# PyTorch's dtype names, as the numpy dtypes this library uses: ``x.to(tinygrad_cnn.float64)``
# is ``x.to(torch.float64)``. The package also exports torch's aliases that shadow Python's
# builtins (``bool``, ``int``, ``float``, ``double``, ``long``, ``short``), kept out of
# ``__all__``; they are not defined here, where the builtins are used.
float32 = DEFAULT_FLOAT
float64 = np.dtype(np.float64)
int8 = np.dtype(np.int8)
int16 = np.dtype(np.int16)
int32 = np.dtype(np.int32)
int64 = DEFAULT_INT
uint8 = np.dtype(np.uint8)

# Categories of dtype kinds: bool < integer < floating.
_CATEGORY = {"b": 0, "u": 1, "i": 1, "f": 2}
_SCALAR_DEFAULTS = (BOOL, DEFAULT_INT, DEFAULT_FLOAT)  # a scalar's dtype, by category
# PyTorch refuses to promote these with any other dtype.
_UNPROMOTABLE = frozenset(np.dtype(d) for d in (np.uint16, np.uint32, np.uint64))


def category(dtype: np.dtype) -> int:
    """0 for bool, 1 for integers, 2 for floating-point dtypes."""
    return _CATEGORY[dtype.kind]


def scalar_category(value: Any) -> int | None:
    """The category of a Python or numpy scalar (bool, int, float), ``None`` for anything else."""
    kind = type(value)  # (the plain Python types first: one per operator call with a scalar)
    if kind is float:
        return 2
    if kind is int:
        return 1
    if isinstance(value, bool | np.bool_):
        return 0
    if isinstance(value, int | np.integer):
        return 1
    if isinstance(value, float | np.floating):
        return 2
    return None


def promote_types(a: np.dtype, b: np.dtype) -> np.dtype:
    """``torch.promote_types`` on numpy dtypes.

    Raises
    ------
    TypeError
        For uint16, uint32 or uint64 against another dtype (PyTorch does not promote them).
    """
    if a == b:
        return a
    if a in _UNPROMOTABLE or b in _UNPROMOTABLE:
        raise TypeError(
            f"type promotion: uint16, uint32 and uint64 promote with no other dtype (as in "
            f"PyTorch), got {a} and {b}; cast one of them first"
        )
    ca, cb = _CATEGORY[a.kind], _CATEGORY[b.kind]
    if ca == cb:
        return np.promote_types(a, b)
    return a if ca > cb else b


def result_type(a: np.ndarray, b: np.ndarray, b_is_scalar: bool = False) -> np.dtype:
    """The dtype of a binary op on arrays ``a`` and ``b`` (``torch.result_type``).

    Parameters
    ----------
    a, b : ndarray
        The operands' data (shapes matter: a 0-d array counts as a 0-d tensor).
    b_is_scalar : bool, default False
        ``b`` stands for a Python or numpy scalar: it has the default dtype of its category.
    """
    if b_is_scalar:
        cb = _CATEGORY[b.dtype.kind]
        return a.dtype if cb <= _CATEGORY[a.dtype.kind] else _SCALAR_DEFAULTS[cb]
    if (a.ndim == 0) == (b.ndim == 0):
        return promote_types(a.dtype, b.dtype)
    dims, zero = (a.dtype, b.dtype) if b.ndim == 0 else (b.dtype, a.dtype)
    if _CATEGORY[zero.kind] > _CATEGORY[dims.kind]:
        return promote_types(dims, zero)
    return dims


def scalar_result_type(dtype: np.dtype, value: Any) -> np.dtype:
    """The dtype of a binary op between a tensor of ``dtype`` and the scalar ``value``."""
    cv = scalar_category(value)
    if cv is None:
        raise TypeError(f"expected a bool, int or float scalar, got {type(value).__name__}")
    return dtype if cv <= _CATEGORY[dtype.kind] else _SCALAR_DEFAULTS[cv]


def from_python(data: Any) -> np.ndarray:
    """``data`` (Python numbers or nested lists) as an array of ``torch.tensor``'s dtype.

    Bools give bool, ints int64, floats float32 (a list takes its highest kind: ``[1, 2.5]``
    is float32). Anything else comes back as numpy reads it, for the caller to report.

    Raises
    ------
    ValueError
        For integers outside int64's range.
    """
    array = np.asarray(data)
    kind = array.dtype.kind
    if kind == "f":
        return array.astype(DEFAULT_FLOAT, copy=False)
    if kind == "i":
        return array.astype(DEFAULT_INT, copy=False)
    if kind == "u":  # numpy reads ints in [2**63, 2**64) as uint64
        raise ValueError("integers beyond int64's range (as in PyTorch); pass floats instead")
    return array


__all__ = [
    "BOOL", "DEFAULT_FLOAT", "DEFAULT_INT", "category", "float32", "float64", "from_python",
    "int8", "int16", "int32", "int64", "promote_types", "result_type", "scalar_category",
    "scalar_result_type", "uint8",
]  # fmt: skip
