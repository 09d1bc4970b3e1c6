"""Plain-text pieces of node and edge labels: shapes, numbers, op attributes, counts."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

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
