"""Collect the tensors and ops behind the roots, number them, and cut off huge graphs.

Numbering follows :func:`tinygrad_cnn.function.topological_order`, which depends only on the
graph's structure, so the same graph always gets the same node ids (``t0``, ``op3`` ...).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from tinygrad_cnn.function import Function, topological_order
from tinygrad_cnn.tensor import Tensor


@dataclass(frozen=True)
class GraphWalk:
    """The part of the graph that will be drawn.

    Attributes
    ----------
    tensors : list of Tensor
        The drawn tensors, every input before the tensors made from it.
    index : dict of int to int
        ``id(tensor)`` to its position in the full topological order (the ``t<i>`` number);
        its op, when drawn, is ``op<i>``.
    total_nodes : int
        Tensors plus ops of the whole graph.
    drawn_nodes : int
        Tensors plus ops that are drawn (fewer than ``total_nodes`` when cut off).
    """

    tensors: list[Tensor]
    index: dict[int, int]
    total_nodes: int
    drawn_nodes: int

    @property
    def truncated(self) -> bool:
        """True when ``max_nodes`` hid part of the graph."""
        return self.drawn_nodes < self.total_nodes

    def ops(self) -> list[Function]:
        """The drawn ops, in the order of the tensors they made."""
        return [t._ctx for t in self.tensors if t._ctx is not None]


def _node_cost(tensor: Tensor) -> int:
    """Nodes a tensor adds to the drawing: itself, plus its op when it has one."""
    return 1 if tensor._ctx is None else 2


def walk(roots: tuple[Tensor, ...], max_nodes: int | None) -> GraphWalk:
    """Number every tensor behind ``roots``; keep the ``max_nodes`` nodes nearest the roots.

    Parameters
    ----------
    roots : tuple of Tensor
        The outputs to draw from (e.g. the loss).
    max_nodes : int or None
        Most tensor-plus-op nodes to keep; ``None`` keeps them all. Nodes are kept breadth
        first from the roots, so every kept node is connected to a root through kept nodes.

    Returns
    -------
    GraphWalk
    """
    order = topological_order(*roots)
    index = {id(t): i for i, t in enumerate(order)}
    total = sum(_node_cost(t) for t in order)
    if max_nodes is None or total <= max_nodes:
        return GraphWalk(order, index, total, total)
    kept: set[int] = set()
    budget = max_nodes
    queue: deque[Tensor] = deque(roots)
    while queue:
        tensor = queue.popleft()
        if id(tensor) in kept:
            continue
        cost = _node_cost(tensor)
        if cost > budget:
            break
        kept.add(id(tensor))
        budget -= cost
        if tensor._ctx is not None:
            queue.extend(tensor._ctx.inputs)
    drawn = [t for t in order if id(t) in kept]
    return GraphWalk(drawn, index, total, max_nodes - budget)
