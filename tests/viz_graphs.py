"""Graph builders shared by the renderer's tests: Hypothesis-drawn random expression graphs
and an independent count of a graph's tensors and ops."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from hypothesis import strategies as st

from tinygrad_cnn import Tensor
from tinygrad_cnn.function import Function

# Every op here keeps a NaN in its output when an input has one, and keeps values bounded
# (inputs in [-1, 1], at most 12 steps), so no NaN or Inf appears on its own.
UNARY = ("tanh", "neg", "sum_rows", "sum_cols", "scale")
BINARY = ("add", "sub", "mul")


@dataclass
class ExpressionGraph:
    """A random expression: its leaves and its output."""

    leaves: list[Tensor]
    root: Tensor
    poisoned: Tensor | None


def _apply(step: str, a: Tensor, b: Tensor) -> Tensor:
    if step == "add":
        return a + b
    if step == "sub":
        return a - b
    if step == "mul":
        return a * b
    if step == "tanh":
        return a.tanh()
    if step == "neg":
        return -a
    if step == "sum_rows":
        return a.sum(axis=0, keepdims=True)
    if step == "sum_cols":
        return a.sum(axis=-1, keepdims=True)
    return a * 0.5


@st.composite
def expression_graphs(
    draw: st.DrawFn, all_require_grad: bool = False, nan_leaf: bool = False
) -> ExpressionGraph:
    """Random graphs over (2, 3)-broadcastable tensors, with reuse (diamonds) and constants.

    With ``nan_leaf``, one entry of one leaf is NaN before the ops run (``poisoned``).
    """
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n_leaves = draw(st.integers(1, 4))
    leaves = []
    for i in range(n_leaves):
        shape = draw(st.sampled_from([(2, 3), (2, 1), (1, 3), (3,)]))
        requires_grad = True if all_require_grad else draw(st.booleans())
        data = rng.uniform(-1, 1, shape).astype(np.float32)
        leaves.append(Tensor(data, requires_grad=requires_grad, name=f"leaf{i}"))
    poisoned = None
    if nan_leaf:
        poisoned = draw(st.sampled_from(leaves))
        poisoned.data.reshape(-1)[draw(st.integers(0, poisoned.numel() - 1))] = np.nan
    tensors = list(leaves)
    for _ in range(draw(st.integers(1, 12))):
        step = draw(st.sampled_from(UNARY + BINARY))
        a = draw(st.sampled_from(tensors))
        b = draw(st.sampled_from(tensors))
        tensors.append(_apply(step, a, b))
    return ExpressionGraph(leaves, tensors[-1], poisoned)


def graph_contents(*roots: Tensor) -> tuple[list[Tensor], list[Function]]:
    """Unique tensors and ops behind ``roots``, found by a plain stack walk (not the renderer's)."""
    tensors: dict[int, Tensor] = {}
    ops: dict[int, Function] = {}
    stack = list(roots)
    while stack:
        tensor = stack.pop()
        if id(tensor) in tensors:
            continue
        tensors[id(tensor)] = tensor
        if tensor._ctx is not None:
            ops[id(tensor._ctx)] = tensor._ctx
            stack.extend(tensor._ctx.inputs)
    return list(tensors.values()), list(ops.values())


def chain(n_ops: int) -> Tensor:
    """A chain of ``n_ops`` ops (alternating multiply and add, then a sum)."""
    x = Tensor(np.ones(3, dtype=np.float32), requires_grad=True, name="x")
    y = x
    for _ in range((n_ops - 1) // 2):
        y = y * 1.01 + 0.5
    return y.sum()
