"""The graph of a ``create_graph=True`` gradient is drawn like any graph: its backward ops are
real nodes (issue 14)."""

from __future__ import annotations

import re

import numpy as np

import tinygrad_cnn as tc
from tinygrad_cnn import Tensor


def _op_names(dot: str) -> set[str]:
    """The op names drawn in DOT text (op nodes are ``opN`` with a bold name)."""
    return set(re.findall(r"\bop\d+ \[[^\]]*label=<<B>(\w+)</B>", dot))


def test_the_gradient_graph_shows_the_backward_ops() -> None:
    x = Tensor(np.array([0.5, -1.0, 2.0]), requires_grad=True, name="x")
    y = (x.tanh() * x).sum()
    (g,) = tc.grad(y, x, create_graph=True)  # (1 - tanh(x)**2) x + tanh(x)
    dot = tc.draw(g, names={"g": g}).source
    # tanh's backward g * (1 - out * out) is mul, sub, mul; the fan-out of x is summed by add;
    # the forward's sum is not on the gradient's graph (its backward only broadcasts)
    assert _op_names(dot) == {"tanh", "mul", "sub", "add"}
    assert "<B>x</B>" in dot and "<B>g</B>" in dot


def test_a_first_order_gradient_has_no_graph_to_draw() -> None:
    x = Tensor(np.array([0.5, -1.0]), requires_grad=True)
    (g,) = tc.grad((x.tanh() * x).sum(), x)
    assert _op_names(tc.draw(g).source) == set()
