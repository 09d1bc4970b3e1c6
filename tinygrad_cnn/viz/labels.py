"""Plain-text pieces of node and edge labels: shapes, numbers, counts, op attributes, and the
statistics of a tensor's data and gradient (from :func:`tinygrad_cnn.array_stats.summarize`).

Statistics are taken over the finite entries only, so one NaN does not hide the range of the
rest; NaN and Inf entries are counted separately and reported as alerts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from tinygrad_cnn.array_stats import ArrayStats

# Attributes that hold a (height, width) pair; shown as one number when both are equal,
# so a convolution reads ``conv2d stride=1 padding=0`` as in PyTorch's repr.
PAIR_ATTRIBUTES = frozenset({"stride", "padding", "kernel_size", "dilation"})


def shape_text(shape: tuple[int, ...]) -> str:
    """``(8, 1, 3, 3)``; a 0-d shape reads ``scalar``."""
    if not shape:
        return "scalar"
    if len(shape) == 1:
        return f"({shape[0]},)"
    return "(" + ", ".join(str(n) for n in shape) + ")"


def number_text(value: float) -> str:
    """A number in 3 significant digits (``0.0123``, ``1.5e+04``, ``nan``)."""
    return f"{value + 0.0:.3g}"  # + 0.0 turns -0.0 into 0.0


def count_text(count: int) -> str:
    """An integer with thousands separators (``12,345``)."""
    return f"{count:,}"


def parameter_count_text(count: int) -> str:
    """``3,010 parameters``, ``1 parameter`` or ``no parameters``."""
    if count == 0:
        return "no parameters"
    return f"{count_text(count)} parameter{'s' if count != 1 else ''}"


def _value_text(value: Any) -> str:
    """A short, readable rendering of one attribute value (no recursion into containers)."""
    if isinstance(value, bool | np.bool_):
        return str(bool(value))
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        return number_text(float(value))
    if isinstance(value, np.ndarray):
        return f"{value.dtype}{list(value.shape)}"
    if isinstance(value, np.dtype) or (isinstance(value, type) and issubclass(value, np.generic)):
        return np.dtype(value).name
    if isinstance(value, slice):
        parts = ["" if p is None else _value_text(p) for p in (value.start, value.stop, value.step)]
        return ":".join(parts[:2]) if value.step is None else ":".join(parts)
    if value is Ellipsis:
        return "..."
    if value is None or isinstance(value, str):
        return str(value)
    return type(value).__name__


def attribute_value_text(key: str, value: Any) -> str:
    """Render one attribute value; tuples are rendered one level deep, pairs compressed."""
    if isinstance(value, tuple | list):
        items = [_value_text(v) for v in value]
        if key in PAIR_ATTRIBUTES and len(items) == 2 and items[0] == items[1]:
            return items[0]
        if len(items) == 1 and isinstance(value, tuple):
            return f"({items[0]},)"
        opening, closing = ("(", ")") if isinstance(value, tuple) else ("[", "]")
        return opening + ", ".join(items) + closing
    return _value_text(value)


def attributes_text(attrs: Mapping[str, Any], max_chars: int) -> str:
    """``stride=1 padding=0``: every attribute, cut to ``max_chars`` characters with ``…``."""
    text = " ".join(f"{key}={attribute_value_text(key, value)}" for key, value in attrs.items())
    if len(text) > max_chars:
        return text[: max(max_chars - 1, 0)] + "…"
    return text


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
