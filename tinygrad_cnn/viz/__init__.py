"""Draw the computation graph with Graphviz: forward and backward views, values, modules.

>>> from tinygrad_cnn import Tensor
>>> from tinygrad_cnn.viz import draw
>>> x = Tensor([[1.0, 2.0]], name="x")
>>> w = Tensor([[0.5], [-1.0]], requires_grad=True, name="w")
>>> graph = draw((x @ w).relu().sum())
>>> graph.render("graph.svg")  # doctest: +SKIP

The graphviz Python package is imported only when a drawing is rendered or displayed, never
when :mod:`tinygrad_cnn` is imported; :attr:`Graph.source` needs nothing installed.

Modules: ``builder`` (:func:`draw`: nodes, edges, notes), ``drawing`` (the data types and
:class:`DrawOptions`), ``modules`` (the module view: boxes, collapsing per call), ``labels``
(label text and statistics), ``style`` (colours and shapes), ``layout`` and ``dot`` (DOT
text), ``walk`` (what is drawn), ``graph`` (:class:`Graph`: files and display).
"""

from tinygrad_cnn.viz.builder import draw
from tinygrad_cnn.viz.drawing import DrawnNode, DrawOptions
from tinygrad_cnn.viz.graph import Graph, GraphvizNotFoundError

__all__ = ["DrawOptions", "DrawnNode", "Graph", "GraphvizNotFoundError", "draw"]
