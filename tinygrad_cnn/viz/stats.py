"""Summary statistics of a tensor's data or gradient, and the problems they reveal.

Statistics are taken over the finite entries only, so one NaN does not hide the range of the
rest; NaN and Inf entries are counted separately and reported as alerts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tinygrad_cnn.viz.labels import count_text, number_text


@dataclass(frozen=True)
class ArrayStats:
    """What the renderer shows about one array.

    Attributes
    ----------
    size : int
        Number of entries.
    nan, inf : int
        How many entries are NaN, and how many are +Inf or -Inf.
    minimum, mean, maximum, norm : float or None
        Over the finite entries (``None`` when there are none); ``norm`` is the L2 norm.
    zeros : int
        How many entries are exactly zero.
    all_zero : bool
        Every entry is exactly zero (for a gradient: a dead gradient).
    """

    size: int
    nan: int
    inf: int
    minimum: float | None
    mean: float | None
    maximum: float | None
    norm: float | None
    zeros: int
    all_zero: bool


def summarize(array: np.ndarray) -> ArrayStats:
    """Statistics of ``array`` (any shape, numeric dtype).

    Parameters
    ----------
    array : ndarray, any shape

    Returns
    -------
    ArrayStats
    """
    array = np.asarray(array)
    if array.dtype == bool:
        array = array.astype(np.int8)
    if np.issubdtype(array.dtype, np.inexact):
        nan = int(np.count_nonzero(np.isnan(array)))
        inf = int(np.count_nonzero(np.isinf(array)))
        finite = array[np.isfinite(array)] if nan or inf else array
    else:
        nan = inf = 0
        finite = array
    if array.size == 1:  # one value: show it as it is, NaN included
        value = float(array.reshape(-1)[0]) + 0.0  # + 0.0 turns -0.0 into 0.0
        is_zero = value == 0
        return ArrayStats(1, nan, inf, value, value, value, abs(value), int(is_zero), is_zero)
    if finite.size == 0:
        return ArrayStats(array.size, nan, inf, None, None, None, None, 0, False)
    wide = finite.astype(np.float64, copy=False)
    zeros = int(wide.size - np.count_nonzero(wide))
    return ArrayStats(
        size=int(array.size),
        nan=nan,
        inf=inf,
        minimum=float(wide.min()),
        mean=float(wide.mean()),
        maximum=float(wide.max()),
        norm=float(np.sqrt(np.dot(wide.ravel(), wide.ravel()))),
        zeros=zeros,
        all_zero=zeros == array.size,
    )


def data_text(stats: ArrayStats) -> str:
    """``min -1.2 · mean 0.03 · max 2.1`` (or ``value 0.693`` for one entry)."""
    if stats.minimum is None:
        return "no finite values" if stats.size else "empty"
    if stats.size == 1:
        return f"value {number_text(stats.minimum)}"
    return (
        f"min {number_text(stats.minimum)} · mean {number_text(stats.mean)} "
        f"· max {number_text(stats.maximum)}"
    )


def grad_text(stats: ArrayStats) -> str:
    """``grad ‖g‖ 0.41 · min -0.1 · max 0.2 · 75% zero`` (or ``grad 0.5`` for one entry).

    The share of exact zeros is shown when some but not all entries are zero (ReLU and
    max-pool gradients are sparse; a layer whose gradient is mostly zero learns slowly).
    """
    if stats.minimum is None:
        return "grad: no finite values" if stats.size else "grad: empty"
    if stats.size == 1:
        return f"grad {number_text(stats.minimum)}"
    text = (
        f"grad ‖g‖ {number_text(stats.norm)} · min {number_text(stats.minimum)} "
        f"· max {number_text(stats.maximum)}"
    )
    if 0 < stats.zeros < stats.size:
        text += f" · {number_text(100.0 * stats.zeros / stats.size)}% zero"
    return text


def non_finite_alert(stats: ArrayStats, what: str) -> str | None:
    """``3 NaN, 1 Inf in data`` when ``stats`` has NaN or Inf entries, else None."""
    parts = []
    if stats.nan:
        parts.append(f"{count_text(stats.nan)} NaN")
    if stats.inf:
        parts.append(f"{count_text(stats.inf)} Inf")
    if not parts:
        return None
    return f"{', '.join(parts)} in {what}"
