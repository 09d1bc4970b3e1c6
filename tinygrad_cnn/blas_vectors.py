"""``y = b * y + a * x`` in one pass over memory, by the BLAS that numpy loads.

numpy has no fused multiply-add: ``y += a * x`` is two passes over memory (the product into
a temporary, then the sum) and ``y = b * y + a * x`` three. BLAS has the operation itself
(OpenBLAS's ``axpby``), one pass. An optimizer's step is mostly such updates: SGD with
momentum is ``buf = momentum * buf + grad`` and ``p -= lr * buf``, four numpy passes or two
``axpby`` calls. OpenBLAS runs ``axpby`` on the calling thread, so the optimizer's own threads
(:mod:`tinygrad_cnn.optim.parallel`) can run several parameters' updates side by side
without contending for the BLAS's threads. Measured on this project's 2-core machine
(docs/performance.md, eighth round), against numpy's passes on the same threads: SGD's step
over 4M parameters 272-336 -> 401-482 steps/s, Adam's 132-142 -> 158-184.

numpy does not expose BLAS's vector routines, so :func:`_blas` looks for the OpenBLAS that
numpy's wheels ship (in ``numpy.libs`` or ``numpy/.dylibs``, already loaded by numpy) and
its 64-bit-integer entry points (``scipy_cblas_saxpby64_`` in numpy 2, ``cblas_saxpby64_``
before), and checks them on a small example before trusting them. Everywhere else (a numpy
built on another BLAS, arrays of other dtypes, small, not contiguous, or sharing memory) the
same update runs in numpy; the two differ only in rounding (BLAS may fuse the multiplies and
the add)::

    from tinygrad_cnn.blas_vectors import add_scaled

    add_scaled(buf, 1.0, g, scale_y=0.9)  # buf = 0.9 * buf + g
    add_scaled(p, -0.01, buf)             # p -= 0.01 * buf
"""

from __future__ import annotations

import ctypes
import functools
from collections.abc import Callable
from pathlib import Path

import numpy as np

# Below this many elements numpy is faster: a call costs about 12 us of Python and ctypes
# (an SGD update, two calls, over 16K floats: 15-16 us in numpy, 25-31 by BLAS; over 64K
# 39-43 against 41-44; over 256K 130 against 93).
BLAS_MIN_ELEMENTS = 1 << 16

_C_TYPES = {np.dtype(np.float32): ctypes.c_float, np.dtype(np.float64): ctypes.c_double}
_LETTERS = {np.dtype(np.float32): "s", np.dtype(np.float64): "d"}


def add_scaled(y: np.ndarray, alpha: float, x: np.ndarray, scale_y: float = 1.0) -> None:
    """``y = scale_y * y + alpha * x`` in place (BLAS ``axpby`` where it serves).

    Parameters
    ----------
    y : ndarray
        Updated in place; the same shape and dtype as ``x``.
    alpha : float
    x : ndarray
    scale_y : float, default 1.0
    """
    axpby = _axpby_for(y, x)
    if axpby is not None:
        axpby(y.size, float(alpha), x.ctypes.data, 1, float(scale_y), y.ctypes.data, 1)
    elif scale_y == 1.0:
        y += x if alpha == 1.0 else alpha * x
    else:  # alpha * x taken before y changes, in case x is (a view of) y
        addend = x if alpha == 1.0 and not np.may_share_memory(x, y) else alpha * x
        y *= scale_y
        y += addend


def _axpby_for(y: np.ndarray, x: np.ndarray) -> Callable[..., None] | None:
    """BLAS's ``axpby`` for these arrays, or None where numpy should run instead."""
    if (
        y.size < BLAS_MIN_ELEMENTS
        or y.dtype not in _LETTERS
        or x.dtype != y.dtype
        or x.shape != y.shape
        or not y.flags.writeable
        or not (
            (x.flags.c_contiguous and y.flags.c_contiguous)
            or (x.flags.f_contiguous and y.flags.f_contiguous)
        )
        or np.may_share_memory(x, y)
    ):
        return None
    return _blas().get(_LETTERS[y.dtype])


@functools.cache
def _blas() -> dict[str, Callable[..., None]]:
    """numpy's OpenBLAS ``axpby`` by dtype letter (``"s"``, ``"d"``), checked on a small
    example; empty where it is not found or gives a wrong answer."""
    for library in _openblas_files():
        try:
            routines = _routines_of(ctypes.CDLL(str(library)))
        except OSError:
            continue
        if routines and _answers_correctly(routines):
            return routines
    return {}


def _openblas_files() -> list[Path]:
    """The OpenBLAS libraries that numpy's wheels ship beside or inside the package."""
    package = Path(np.__file__).resolve().parent
    found: list[Path] = []
    for folder in (package.parent / "numpy.libs", package / ".dylibs"):
        if folder.is_dir():
            found += sorted(p for p in folder.iterdir() if "openblas" in p.name.lower())
    return found


def _routines_of(library: ctypes.CDLL) -> dict[str, Callable[..., None]]:
    """The 64-bit-integer ``saxpby`` and ``daxpby`` of ``library`` (both, or none)."""
    routines = {}
    for dtype, letter in _LETTERS.items():
        real = _C_TYPES[dtype]
        for symbol in (f"scipy_cblas_{letter}axpby64_", f"cblas_{letter}axpby64_"):
            routine = getattr(library, symbol, None)
            if routine is not None:
                routine.argtypes = [ctypes.c_int64, real, ctypes.c_void_p, ctypes.c_int64,
                                    real, ctypes.c_void_p, ctypes.c_int64]  # fmt: skip
                routine.restype = None
                routines[letter] = routine
                break
        else:
            return {}
    return routines


def _answers_correctly(routines: dict[str, Callable[..., None]]) -> bool:
    """Whether the routines compute ``y + 2x`` and then ``y / 2 + x`` of a small example
    exactly, reading and writing the first five elements only."""
    for dtype, letter in _LETTERS.items():
        x = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 1000.0], dtype=dtype)
        y = np.full(6, 10.0, dtype=dtype)  # the sixth elements must be neither read nor written
        routines[letter](5, 2.0, x.ctypes.data, 1, 1.0, y.ctypes.data, 1)
        routines[letter](5, 1.0, x.ctypes.data, 1, 0.5, y.ctypes.data, 1)
        if y.tolist() != [7.0, 9.0, 11.0, 13.0, 15.0, 10.0]:
            return False
    return True
