"""Draw the computation graph with Graphviz: forward and backward views, values, modules.

>>> from tinygrad_cnn import Tensor
>>> from tinygrad_cnn.viz import draw
>>> x = Tensor([[1.0, 2.0]], name="x")
>>> w = Tensor([[0.5], [-1.0]], requires_grad=True, name="w")
>>> graph = draw((x @ w).relu().sum())
>>> graph.render("graph.svg")  # doctest: +SKIP

The graphviz Python package is imported only when a drawing is rendered or displayed, never
when :mod:`tinygrad_cnn` is imported; :attr:`Graph.source` needs nothing installed.
"""

from tinygrad_cnn.viz.builder import draw
from tinygrad_cnn.viz.graph import DrawnNode, Graph, GraphvizNotFoundError

__all__ = ["DrawnNode", "Graph", "GraphvizNotFoundError", "draw"]
