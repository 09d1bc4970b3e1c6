"""The renderer's DOT text: golden output, every node once, labels, cut-off, scale, errors."""

from __future__ import annotations

import dataclasses
import re
import time

import numpy as np
import pytest
from hypothesis import given
from viz_graphs import chain, expression_graphs, graph_contents

from tinygrad_cnn import Tensor
from tinygrad_cnn.viz import DrawOptions, draw
from tinygrad_cnn.viz.labels import attributes_text, number_text, shape_text

TENSOR_KINDS = {"parameter", "input", "constant", "intermediate", "output"}
NODE_LINE = re.compile(r"^\t+(t\d+|op\d+|mod\d+|note_\w+|legend) \[", re.MULTILINE)
EDGE_LINE = re.compile(r"^\t(\w+) -> (\w+)", re.MULTILINE)

GOLDEN = """\
digraph tinygrad_cnn {
\tgraph [rankdir="TB" fontname="Helvetica" bgcolor="white" nodesep="0.25" ranksep="0.3" \
pad="0.2" newrank="true"]
\tnode [fontname="Helvetica" fontsize="11" shape="box" style="rounded,filled" penwidth="1.2" \
margin="0.12,0.05" height="0.3"]
\tedge [fontname="Helvetica" fontsize="9" color="#8c8c8c" fontcolor="#555555" arrowsize="0.7"]
\tt0 [fillcolor="#d4e6f9" color="#2f6fb5" label=<<B>w</B><BR/><FONT POINT-SIZE="9" \
COLOR="#555555">(1, 2) · float32</FONT>>]
\tt1 [style="filled" fillcolor="#fde8c8" color="#c07a1c" label=<<B>x</B><BR/><FONT \
POINT-SIZE="9" COLOR="#555555">(2, 1) · float32</FONT>>]
\top2 [style="filled" fillcolor="#3d4b5c" color="#3d4b5c" fontcolor="white" ordering="in" \
label=<<B>matmul</B>>]
\tt2 [fillcolor="#ffffff" color="#9e9e9e" label=<<B>t2</B><BR/><FONT POINT-SIZE="9" \
COLOR="#555555">(1, 1) · float32</FONT>>]
\tt3 [style="rounded,dashed" fillcolor="white" color="#9e9e9e" fontsize="10" \
label=<<B>1</B><BR/><FONT POINT-SIZE="9" COLOR="#555555">scalar · float32</FONT>>]
\top4 [style="filled" fillcolor="#3d4b5c" color="#3d4b5c" fontcolor="white" ordering="in" \
label=<<B>add</B>>]
\tt4 [fillcolor="#ffffff" color="#9e9e9e" label=<<B>t4</B><BR/><FONT POINT-SIZE="9" \
COLOR="#555555">(1, 1) · float32</FONT>>]
\top5 [style="filled" fillcolor="#3d4b5c" color="#3d4b5c" fontcolor="white" ordering="in" \
label=<<B>sum</B><BR/><FONT POINT-SIZE="9" COLOR="#d7dee8">axis=(0, 1) keepdims=False</FONT>>]
\tt5 [fillcolor="#d5efd5" color="#2e8b3a" peripheries="2" label=<<B>loss</B><BR/><FONT \
POINT-SIZE="9" COLOR="#555555">scalar · float32</FONT>>]
\tt0 -> op2 [label=<(1, 2)>]
\tt1 -> op2 [label=<(2, 1)>]
\top2 -> t2
\tt2 -> op4 [label=<(1, 1)>]
\tt3 -> op4 [label=<scalar>]
\top4 -> t4
\tt4 -> op5 [label=<(1, 1)>]
\top5 -> t5
\tlegend [shape="plain" style="" label=<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="3" \
CELLPADDING="2"><TR><TD COLSPAN="2" ALIGN="LEFT"><B>legend</B></TD></TR><TR><TD \
BGCOLOR="#d4e6f9" COLOR="#2f6fb5" BORDER="1" STYLE="rounded" WIDTH="18"> </TD><TD \
ALIGN="LEFT">parameter (leaf, requires grad)</TD></TR><TR><TD BGCOLOR="#fde8c8" \
COLOR="#c07a1c" BORDER="1" WIDTH="18"> </TD><TD ALIGN="LEFT">input (leaf, no grad)</TD></TR>\
<TR><TD BGCOLOR="white" COLOR="#9e9e9e" BORDER="1" STYLE="dashed" WIDTH="18"> </TD><TD \
ALIGN="LEFT">constant (scalar leaf)</TD></TR><TR><TD BGCOLOR="#ffffff" COLOR="#9e9e9e" \
BORDER="1" STYLE="rounded" WIDTH="18"> </TD><TD ALIGN="LEFT">intermediate tensor</TD></TR>\
<TR><TD BGCOLOR="#d5efd5" COLOR="#2e8b3a" BORDER="1" STYLE="rounded" WIDTH="18"> </TD><TD \
ALIGN="LEFT">output (a root)</TD></TR><TR><TD BGCOLOR="#3d4b5c" COLOR="#3d4b5c" BORDER="1" \
WIDTH="18"> </TD><TD ALIGN="LEFT">op (attributes below its name)</TD></TR></TABLE>>]
}
"""


def _tiny() -> Tensor:
    w = Tensor([[1.0, -2.0]], requires_grad=True, name="w")
    x = Tensor([[0.5], [1.0]], name="x")
    loss = (w @ x + 1.0).sum()
    loss.name = "loss"
    return loss


def test_golden_dot_text_for_a_tiny_graph() -> None:
    assert draw(_tiny()).source == GOLDEN.replace(" \\\n", " ").replace("\\\n", "")


def test_same_graph_gives_the_same_text_byte_for_byte() -> None:
    first, second = draw(_tiny(), values=True), draw(_tiny(), values=True)
    assert first.source == second.source
    backward = _tiny()
    backward.backward()
    assert (
        draw(backward, direction="backward").source == draw(backward, direction="backward").source
    )


@given(expression_graphs())
def test_every_tensor_and_op_is_one_node(graph) -> None:
    tensors, ops = graph_contents(graph.root)
    drawing = draw(graph.root, legend=False)
    kinds = [node.kind for node in drawing.nodes.values()]
    assert sum(kind in TENSOR_KINDS for kind in kinds) == len(tensors)
    assert kinds.count("op") == len(ops)
    declared = NODE_LINE.findall(drawing.source)
    assert len(declared) == len(set(declared)) == len(tensors) + len(ops)
    assert {drawing.node_id(t) for t in tensors} | {drawing.node_id(op) for op in ops} == set(
        declared
    )
    edges = EDGE_LINE.findall(drawing.source)
    assert len(edges) == sum(len(op.inputs) for op in ops) + len(ops)


def test_several_roots_share_nodes() -> None:
    x = Tensor([1.0, 2.0], requires_grad=True, name="x")
    logits = x * 3.0
    loss = logits.sum()
    drawing = draw(loss, logits)
    assert [n.kind for n in drawing.nodes.values()].count("output") == 2
    assert len(NODE_LINE.findall(drawing.source)) == 7  # x, 3, mul, logits, sum, loss, legend
    assert drawing.node(logits).kind == "output"


def test_tensor_labels_show_name_shape_and_dtype_and_ops_their_attributes() -> None:
    x = Tensor(np.zeros((2, 1, 6, 6)), name="images")  # float64 stays float64
    w = Tensor(np.zeros((4, 1, 3, 3)), requires_grad=True, name="conv1.weight")
    out = x.conv2d(w, stride=1, padding=1).max_pool2d(2)
    drawing = draw(out)
    weight = drawing.node(w)
    assert (weight.kind, weight.title, weight.lines[0]) == (
        "parameter",
        "conv1.weight",
        "(4, 1, 3, 3) · float64",
    )
    assert drawing.node(x).kind == "input"
    conv = drawing.node(out._ctx.inputs[0]._ctx)
    assert (conv.title, conv.lines) == ("conv2d", ("stride=1 padding=1",))
    assert drawing.node(out._ctx).lines == ("kernel_size=2 stride=2",)
    assert "(2, 4, 6, 6)" in drawing.node(out._ctx.inputs[0]).lines[0]


def test_unnamed_tensors_get_short_ids_and_names_argument_wins() -> None:
    a = Tensor([1.0], requires_grad=True, name="a")
    b = a * a
    drawing = draw(b, names={"input a": a})
    assert drawing.node(a).title == "input a"
    assert drawing.node(b).title == "t1"
    assert drawing.node(b).kind == "output"


def test_attribute_text() -> None:
    assert attributes_text({"stride": (2, 2), "padding": (0, 1)}, 40) == "stride=2 padding=(0, 1)"
    assert attributes_text({"shape": (3, 3)}, 40) == "shape=(3, 3)"
    assert attributes_text({"axis": (1,), "keepdims": True}, 40) == "axis=(1,) keepdims=True"
    assert (
        attributes_text({"index": (slice(None, 2), Ellipsis, None)}, 40) == "index=(:2, ..., None)"
    )
    assert attributes_text({"index": np.arange(7)}, 40) == "index=int64[7]"
    assert attributes_text({"dtype": np.dtype("float64")}, 40) == "dtype=float64"
    long = attributes_text({"shape": tuple(range(30))}, 20)
    assert len(long) == 20 and long.endswith("…")
    assert shape_text(()) == "scalar" and shape_text((3,)) == "(3,)"
    assert number_text(-0.0) == "0" and number_text(12345.0) == "1.23e+04"


def test_getitem_and_cast_attributes_are_readable() -> None:
    x = Tensor(np.arange(6, dtype=np.float32).reshape(2, 3), requires_grad=True)
    y = x[:, 1:].double()
    drawing = draw(y)
    assert drawing.node(y._ctx).lines == ("dtype=float64",)
    assert drawing.node(y._ctx.inputs[0]._ctx).lines == ("index=(:, 1:)",)


def test_max_nodes_cuts_off_with_a_visible_note() -> None:
    loss = chain(41)  # 41 ops: 20 (mul, add) pairs and a sum
    tensors, ops = graph_contents(loss)
    drawing = draw(loss, max_nodes=20)
    kinds = [node.kind for node in drawing.nodes.values()]
    drawn = sum(kind in TENSOR_KINDS or kind == "op" for kind in kinds)
    assert drawn <= 20
    note = drawing.nodes["note_hidden"]
    total = len(tensors) + len(ops)
    assert note.title == f"{total - drawn} more nodes not drawn"
    assert f"of {total} nodes nearest the output (max_nodes=20)" in note.lines[0]
    assert "pass max_nodes=None to draw them all" in drawing.source
    assert re.search(r"^\tnote_hidden -> op\d+", drawing.source, re.MULTILINE)
    assert drawing.node(loss).kind == "output"  # the output side is what is kept
    first_input = next(t for t in tensors if t.name == "x")  # the farthest from the output
    with pytest.raises(KeyError, match="not in this drawing"):
        drawing.node_id(first_input)


def test_a_drawing_within_max_nodes_has_no_note() -> None:
    drawing = draw(chain(41), max_nodes=None)
    assert "note_hidden" not in drawing.nodes


def test_ten_thousand_op_graph_produces_all_of_its_dot_text() -> None:
    loss = chain(10_001)
    start = time.perf_counter()
    drawing = draw(loss, max_nodes=None, legend=False)
    elapsed = time.perf_counter() - start
    kinds = [node.kind for node in drawing.nodes.values()]
    assert kinds.count("op") == 10_001
    assert len(NODE_LINE.findall(drawing.source)) == len(drawing.nodes)
    print(f"10,001-op graph: {len(drawing.source):,} characters of DOT in {elapsed:.2f} s")
    assert "note_hidden" in draw(loss).nodes  # the default max_nodes cuts it off


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({}, TypeError, "expected at least one Tensor"),
        ({"roots": (np.ones(2),)}, TypeError, "root 0 must be a Tensor, got ndarray"),
        ({"direction": "sideways"}, ValueError, "direction must be 'forward' or 'backward'"),
        ({"rankdir": "XY"}, ValueError, "rankdir must be one of"),
        ({"max_nodes": 0}, ValueError, "max_nodes must be a positive int or None"),
        ({"max_attr_chars": 2}, ValueError, "max_attr_chars must be an int >= 4"),
        ({"modules": True}, ValueError, r"pass the model, e.g. draw\(loss, model=net"),
        ({"collapse": True}, ValueError, r"draw\(collapse=True\)"),
        ({"model": object()}, TypeError, "model must be a Module"),
        ({"names": {"x": 1.0}}, TypeError, "names must map str to Tensor"),
        ({"names": [1]}, TypeError, "names must map str to Tensor, got list"),
    ],
)
def test_bad_arguments_are_rejected_clearly(kwargs, error, message) -> None:
    x = Tensor([1.0], requires_grad=True)
    roots = kwargs.pop("roots", () if not kwargs else (x * 2,))
    with pytest.raises(error, match=message):
        draw(*roots, **kwargs)


def test_options_record_draws_the_same_as_the_keywords() -> None:
    x = Tensor([[1.0, -2.0]], requires_grad=True, name="x")
    loss = (x * x).sum()
    loss.backward()
    flags = {"direction": "backward", "values": True, "rankdir": "LR", "legend": False}
    options = DrawOptions(**flags)
    assert draw(loss, options=options).source == draw(loss, **flags).source
    assert options.backward and not options.module_view
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.values = False  # type: ignore[misc]
    with pytest.raises(TypeError, match=r"not both \(got options= and direction=\)"):
        draw(loss, options=options, values=False, direction="backward")
    with pytest.raises(TypeError, match="options must be a DrawOptions, got dict"):
        draw(loss, options=flags)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="draw: rankdir must be one of"):
        DrawOptions(rankdir="XY")
