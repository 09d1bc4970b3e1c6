"""draw(..., checks=check_graph(loss)) colours each op by whether its backward is right."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

import tinygrad_cnn as tc
from tinygrad_cnn import Function, Tensor
from tinygrad_cnn.debug import check_graph
from tinygrad_cnn.viz import draw
from tinygrad_cnn.viz.style import CHECK_STYLES

# docs/gallery.py is a docs script outside the package: load it from its file.
_GALLERY = Path(__file__).resolve().parent.parent / "docs" / "gallery.py"
_spec = importlib.util.spec_from_file_location("docs_gallery", _GALLERY)
gallery = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(gallery)
checked_graph = gallery.checked_graph


class _HalfGradientSquare(Function, register=False):
    """x ** 2 whose backward forgets the factor 2: the planted bug."""

    name = "bad_square"

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.x = x
        return x * x

    def backward(self, g: Tensor) -> tuple[Tensor]:
        return (g * self.x,)


def _graph_with_planted_bug() -> tuple[Tensor, Tensor]:
    rng = np.random.default_rng(1)
    x = Tensor(rng.standard_normal((3, 4)), name="x")
    w = Tensor(rng.standard_normal((4, 5)), requires_grad=True, name="w")
    bad = _HalfGradientSquare.apply(x @ w)
    return tc.cross_entropy(bad.tanh(), np.array([0, 1, 2])), bad


def _op_line(source: str, op_name: str) -> str:
    return next(line for line in source.splitlines() if f"<B>{op_name}</B>" in line)


def test_the_wrong_op_is_red_and_says_why_the_others_are_green() -> None:
    loss, bad = _graph_with_planted_bug()
    report = check_graph(loss)
    assert [entry.op for entry in report.failures] == ["bad_square"]
    graph = draw(loss, checks=report)
    fail_fill = CHECK_STYLES["fail"][0]["fillcolor"]
    pass_colour = CHECK_STYLES["pass"][0]["color"]
    assert fail_fill in _op_line(graph.source, "bad_square")
    assert "backward wrong: rel. error 0.5" in _op_line(graph.source, "bad_square")
    for op_name in ("matmul", "tanh", "cross_entropy"):
        line = _op_line(graph.source, op_name)
        assert pass_colour in line and "backward check passed" in line and fail_fill not in line
    assert any("bad_square" in alert and "backward wrong" in alert for alert in graph.alerts)
    assert sum("backward wrong" in alert for alert in graph.alerts) == 1
    assert "backward checked: FAIL" in graph.source  # the legend explains the colour
    assert graph.node(bad._ctx).alerts


def test_a_correct_graph_has_no_red_op_and_no_alert() -> None:
    rng = np.random.default_rng(2)
    w = Tensor(rng.standard_normal((4, 3)), requires_grad=True, name="w")
    loss = tc.cross_entropy((Tensor(rng.standard_normal((2, 4))) @ w).sigmoid(), [1, 2])
    graph = draw(loss, checks=check_graph(loss))
    assert CHECK_STYLES["fail"][0]["fillcolor"] not in graph.source
    assert graph.alerts == []
    assert graph.source.count("backward check passed") == 3


def test_checks_must_be_a_check_graph_report() -> None:
    loss, _ = _graph_with_planted_bug()
    with pytest.raises(TypeError, match="draw: checks must be the report of"):
        draw(loss, checks={"matmul": "pass"})


def test_the_gallery_picture_shows_the_planted_bug() -> None:
    graph = checked_graph()
    assert sum("backward wrong" in alert for alert in graph.alerts) == 1
    assert "bad_square" in graph.alerts[0]
