"""One summary of an array's values, for the graph renderer and for anomaly messages.

:func:`summarize` counts NaN and infinite entries and takes the range, mean, L2 norm and zero
count over the finite entries only, so one NaN does not hide the range of the rest. The values
view of :func:`tinygrad_cnn.viz.draw` labels nodes with it, and
:func:`tinygrad_cnn.debug.describe_array` (anomaly mode's messages) is built from it. Numpy
only: importing it loads neither :mod:`tinygrad_cnn.viz` nor :mod:`tinygrad_cnn.debug`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ArrayStats:
    """What is worth knowing about an array's values at a glance.

    Attributes
    ----------
    size : int
        Number of entries.
    nan : int
        How many entries are NaN.
    pos_inf, neg_inf : int
        How many entries are +Inf, and how many are -Inf.
    minimum, mean, maximum, norm : float or None
        Over the finite entries (``None`` when there are none); ``norm`` is the L2 norm. An
        array of one entry reports that entry as it is, NaN or Inf included (a scalar loss
        reads ``value nan``).
    zeros : int
        How many entries are exactly zero.
    all_zero : bool
        Every entry is exactly zero (for a gradient: a dead gradient).
    """

    size: int
    nan: int
    pos_inf: int
    neg_inf: int
    minimum: float | None
    mean: float | None
    maximum: float | None
    norm: float | None
    zeros: int
    all_zero: bool

    @property
    def inf(self) -> int:
        """How many entries are +Inf or -Inf."""
        return self.pos_inf + self.neg_inf

    @property
    def finite(self) -> int:
        """How many entries are finite."""
        return self.size - self.nan - self.inf


def summarize(array: np.ndarray) -> ArrayStats:
    """Statistics of ``array``.

    Parameters
    ----------
    array : array_like, any shape
        Real numbers or booleans (``True`` counts as 1). Statistics are computed in float64.

    Returns
    -------
    ArrayStats

    Examples
    --------
    >>> stats = summarize(np.array([1.0, np.nan, -np.inf, 3.0]))
    >>> stats.nan, stats.neg_inf, stats.minimum, stats.maximum
    (1, 1, 1.0, 3.0)
    """
    array = np.asarray(array)
    if array.dtype == bool:
        array = array.astype(np.int8)
    nan = pos_inf = neg_inf = 0
    finite = array
    if np.issubdtype(array.dtype, np.inexact):
        nan = int(np.count_nonzero(np.isnan(array)))
        infinite = np.isinf(array)
        inf = int(np.count_nonzero(infinite))
        if inf:
            pos_inf = int(np.count_nonzero(array[infinite] > 0))
            neg_inf = inf - pos_inf
        if nan or inf:
            finite = array[np.isfinite(array)]
    if array.size == 1:  # one value: report it as it is, NaN included
        value = float(array.reshape(-1)[0]) + 0.0  # + 0.0 turns -0.0 into 0.0
        is_zero = value == 0
        return ArrayStats(
            1, nan, pos_inf, neg_inf, value, value, value, abs(value), int(is_zero), is_zero
        )
    if finite.size == 0:
        return ArrayStats(int(array.size), nan, pos_inf, neg_inf, None, None, None, None, 0, False)
    wide = finite.astype(np.float64, copy=False)
    zeros = int(wide.size - np.count_nonzero(wide))
    return ArrayStats(
        size=int(array.size),
        nan=nan,
        pos_inf=pos_inf,
        neg_inf=neg_inf,
        minimum=float(wide.min()),
        mean=float(wide.mean()),
        maximum=float(wide.max()),
        norm=float(np.sqrt(np.dot(wide.ravel(), wide.ravel()))),
        zeros=zeros,
        all_zero=zeros == array.size,
    )


__all__ = ["ArrayStats", "summarize"]
