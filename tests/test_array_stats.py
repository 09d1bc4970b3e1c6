"""The one array summary behind the renderer's statistics and anomaly mode's messages, and the
one broadcast-axes rule behind ``unbroadcast`` and the renderer's summed-axes labels."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from tinygrad_cnn.array_stats import summarize
from tinygrad_cnn.debug import describe_array
from tinygrad_cnn.function import broadcast_axes, unbroadcast


def test_summary_counts_each_kind_of_non_finite_entry() -> None:
    stats = summarize(np.array([1.0, np.nan, np.inf, -np.inf, -np.inf, 3.0, 0.0]))
    assert (stats.size, stats.nan, stats.pos_inf, stats.neg_inf) == (7, 1, 1, 2)
    assert (stats.inf, stats.finite, stats.zeros) == (3, 3, 1)
    assert (stats.minimum, stats.maximum) == (0.0, 3.0)
    assert stats.mean == pytest.approx(4 / 3) and stats.norm == pytest.approx(np.sqrt(10))


def test_describe_array_is_the_summary_in_words() -> None:
    values = np.array([-2.0, 1.5, np.inf, -np.inf, np.nan, -np.inf], dtype=np.float32)
    stats = summarize(values)
    text = describe_array(values)
    assert text == (
        f"shape (6,) float32, min {stats.minimum:.6g}, max {stats.maximum:.6g}, "
        f"{stats.nan} NaN, {stats.pos_inf} +Inf, {stats.neg_inf} -Inf"
    )
    assert text == "shape (6,) float32, min -2, max 1.5, 1 NaN, 1 +Inf, 2 -Inf"
    assert describe_array(np.array([np.inf])).endswith("no finite values, 0 NaN, 1 +Inf, 0 -Inf")
    assert describe_array(np.array([True, False])) == "shape (2,) bool, min 0, max 1"


def test_importing_the_summary_loads_neither_viz_nor_debug() -> None:
    code = (
        "import sys, tinygrad_cnn.array_stats; "
        "print(any(m.startswith(('tinygrad_cnn.viz', 'tinygrad_cnn.debug')) for m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"


@pytest.mark.parametrize(
    ("shape", "target", "axes"),
    [
        ((2, 3), (2, 3), ()),
        ((3,), (2, 3), (0,)),
        ((4, 1), (2, 4, 3), (0, 2)),
        ((1, 1), (1, 5), (1,)),
        ((), (2, 2), (0, 1)),
        ((2,), (3,), None),
        ((2, 3), (3,), None),
    ],
)
def test_broadcast_axes_and_unbroadcast_agree(shape, target, axes) -> None:
    assert broadcast_axes(shape, target) == axes
    grad = np.ones(target)
    if axes is None:
        with pytest.raises(ValueError, match="cannot be reduced to shape"):
            unbroadcast(grad, shape)
    else:
        reduced, summed = unbroadcast(grad, shape)
        assert reduced.shape == shape and summed == axes
        assert reduced.sum() == grad.sum()
