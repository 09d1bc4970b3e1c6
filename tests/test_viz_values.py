"""The renderer's values view (statistics, NaN/Inf, dead gradients) and backward view."""

from __future__ import annotations

import re

import numpy as np
from hypothesis import given
from viz_graphs import expression_graphs, graph_contents

from tinygrad_cnn import Tensor
from tinygrad_cnn.array_stats import summarize
from tinygrad_cnn.viz import draw


def _edge_line(source: str, tail: str, head: str) -> str:
    match = re.search(rf"^\t{tail} -> {head} (.*)$", source, re.MULTILINE)
    assert match, f"no edge {tail} -> {head}"
    return match.group(1)


def _node_line(source: str, node_id: str) -> str:
    match = re.search(rf"^\t+{node_id} (\[.*)$", source, re.MULTILINE)
    assert match, f"no node {node_id}"
    return match.group(1)


def test_values_show_data_statistics_then_gradient_statistics_after_backward() -> None:
    x = Tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True, name="x")
    loss = (x * x).sum()
    before = draw(loss, values=True).node(x)
    assert before.lines == ("(2, 2) · float32", "min 1 · mean 2.5 · max 4")
    loss.backward()
    assert loss._ctx.released  # drawing works on the freed graph
    after = draw(loss, values=True)
    assert after.node(x).lines[2] == "grad ‖g‖ 11 · min 2 · max 8"  # grad = 2x, norm sqrt(120)
    assert after.node(loss).lines[1:] == ("value 30",)
    assert after.alerts == []


def test_a_tensor_overwritten_in_place_shows_no_statistics_of_its_own() -> None:
    x = Tensor([[-1.0, 2.0]], requires_grad=True, name="x")
    out = (x * 3).relu_()  # the ReLU writes over mul's output
    graph = draw(out.sum(), values=True)
    mul_output = out._ctx.inputs[0]
    assert graph.node(mul_output).lines[1] == "values overwritten in place by relu"
    assert graph.node(out).lines[1] == "min 0 · mean 3 · max 6"


def test_sparse_gradients_say_how_much_is_zero() -> None:
    x = Tensor([[-1.0, 2.0], [3.0, -4.0]], requires_grad=True, name="x")
    x.relu().sum().backward()
    assert draw(x, values=True).node(x).lines[2].endswith("· 50% zero")


def test_statistics_ignore_nan_and_inf_but_count_them() -> None:
    stats = summarize(np.array([1.0, np.nan, np.inf, -np.inf, 3.0]))
    assert (stats.nan, stats.inf, stats.minimum, stats.mean, stats.maximum) == (1, 2, 1.0, 2.0, 3.0)
    assert summarize(np.array([np.nan])).minimum != summarize(np.array([np.nan])).minimum
    assert summarize(np.zeros((2, 3))).all_zero and not summarize(np.ones(2)).all_zero
    assert summarize(np.array([True, False])).mean == 0.5


def test_inf_in_data_marks_the_node_red_with_counts() -> None:
    x = Tensor([1.0, np.inf, -np.inf, np.nan], requires_grad=True, name="x")
    drawing = draw(x * 2.0, values=True)
    assert drawing.node(x).alerts == ("1 NaN, 2 Inf in data",)
    assert 'color="#d62728"' in _node_line(drawing.source, drawing.node_id(x))
    assert "x: 1 NaN, 2 Inf in data" in drawing.alerts


@given(expression_graphs(all_require_grad=True, nan_leaf=True))
def test_nan_in_an_input_is_reported_on_exactly_the_nodes_it_reaches(graph) -> None:
    tensors, _ = graph_contents(graph.root)
    reached = set()  # the poisoned leaf and every tensor with a path from it
    changed = True
    while changed:
        changed = False
        for tensor in tensors:
            inputs = tensor._ctx.inputs if tensor._ctx is not None else ()
            hit = tensor is graph.poisoned or any(id(p) in reached for p in inputs)
            if hit and id(tensor) not in reached:
                reached.add(id(tensor))
                changed = True
    drawing = draw(graph.root, values=True)
    flagged = {id(t) for t in tensors if any("NaN in data" in a for a in drawing.node(t).alerts)}
    assert flagged == reached
    assert all(not node.alerts for node in drawing.nodes.values() if node.kind == "op")


def test_dead_gradient_is_marked_and_explained() -> None:
    w = Tensor([[1.0, 2.0]], requires_grad=True, name="w")
    b = Tensor([-10.0], requires_grad=True, name="b")
    (w.sum(axis=1) + b).relu().sum().backward()
    drawing = draw(w, b, values=True)
    assert drawing.node(w).alerts == ("dead gradient (all zero)",)
    line = _node_line(drawing.source, drawing.node_id(w))
    assert 'color="#7b3fa0"' in line and 'style="rounded,filled,dashed"' in line
    assert "dead gradient (all zero)" in _node_line(drawing.source, "legend")


def test_gradient_statistics_of_intermediates_need_retain_grads() -> None:
    x = Tensor([1.0, -2.0], requires_grad=True, name="x")
    h = x * 3.0
    loss = h.sum()
    loss.backward()
    drawing = draw(loss, values=True)
    assert not any(line.startswith("grad") for line in drawing.node(h).lines)
    assert drawing.nodes["note_grads"].lines == (
        "call backward(retain_grads=True) to show their statistics",
    )
    x2 = Tensor([1.0, -2.0], requires_grad=True)
    h2 = x2 * 3.0
    h2.sum().backward(retain_grads=True)
    retained = draw(h2, values=True)
    assert retained.node(h2).lines[2] == "grad ‖g‖ 1.41 · min 1 · max 1"
    assert "note_grads" not in retained.nodes


def test_backward_view_shows_where_a_broadcast_gradient_was_summed() -> None:
    x = Tensor(np.ones((4, 3), dtype=np.float32), name="x")
    bias = Tensor(np.zeros(3, dtype=np.float32), requires_grad=True, name="bias")
    scale = Tensor(np.ones((4, 1), dtype=np.float32), requires_grad=True, name="scale")
    out = (x + bias) * scale
    out.sum().backward()
    drawing = draw(out, direction="backward")
    add, mul = drawing.node_id(out._ctx.inputs[0]._ctx), drawing.node_id(out._ctx)
    summed_bias = _edge_line(drawing.source, drawing.node_id(bias), add)
    assert 'color="#e67e22"' in summed_bias and 'dir="back"' in summed_bias
    assert "label=<∂ (3,)<BR/>Σ over axis 0 of (4, 3)>" in summed_bias
    summed_scale = _edge_line(drawing.source, drawing.node_id(scale), mul)
    assert "Σ over axis 1 of (4, 3)" in summed_scale
    no_grad = _edge_line(drawing.source, drawing.node_id(x), add)
    assert 'style="dotted"' in no_grad and "no grad" in no_grad
    assert drawing.node(out._ctx).title == "mul backward"
    assert drawing.node(x).lines[-1] == "no gradient"
    legend = _node_line(drawing.source, "legend")
    assert "gradient summed over broadcast axes" in legend


def test_backward_view_before_backward_says_so_and_shows_gradient_shapes() -> None:
    w = Tensor(np.ones((2, 3), dtype=np.float32), requires_grad=True, name="w")
    loss = (w + 1.0).sum()
    drawing = draw(loss, direction="backward")
    assert drawing.nodes["note_backward"].title == "backward() has not run yet"
    assert "label=<∂ (2, 3)>" in _edge_line(
        drawing.source, drawing.node_id(w), drawing.node_id(loss._ctx.inputs[0]._ctx)
    )
    assert "Σ" not in drawing.source


def test_backward_view_marks_gradients_summed_over_several_uses() -> None:
    w = Tensor([1.0, 2.0], requires_grad=True, name="w")
    loss = (w * w + w).sum()
    loss.backward()
    drawing = draw(loss, direction="backward")
    assert "grad = sum over its 3 uses" in drawing.node(w).lines
    assert drawing.node(loss).lines[-1] == "backward starts here"
