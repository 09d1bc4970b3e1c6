"""The topological walk the renderer (and backward) rely on: several roots, diamonds, order."""

from __future__ import annotations

import numpy as np

from tinygrad_cnn import Tensor
from tinygrad_cnn.function import topological_order


def _is_topological(order: list[Tensor]) -> bool:
    position = {id(t): i for i, t in enumerate(order)}
    return all(
        position[id(parent)] < position[id(t)]
        for t in order
        if t._ctx is not None
        for parent in t._ctx.inputs
    )


def test_diamond_puts_shared_input_before_both_consumers() -> None:
    b = Tensor([2.0], requires_grad=True)
    shared = b * 1.0
    c = shared.exp()
    a = shared + c
    order = topological_order(a)
    assert _is_topological(order)
    assert len(order) == len({id(t) for t in order})


def test_diamond_gradient_sums_both_paths() -> None:
    b = Tensor([2.0], requires_grad=True)
    shared = b * 1.0
    (shared + shared.exp()).sum().backward()
    np.testing.assert_allclose(b.grad, [1.0 + np.exp(2.0)], rtol=1e-6)


def test_several_roots_share_one_order_even_when_a_root_feeds_another() -> None:
    x = Tensor([1.0, 2.0], requires_grad=True)
    logits = x * 3.0
    loss = logits.sum()
    order = topological_order(loss, logits)
    assert _is_topological(order)
    assert [id(t) for t in order].count(id(logits)) == 1
    assert order[-1] is loss
