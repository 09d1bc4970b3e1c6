"""Write a :class:`~tinygrad_cnn.viz.drawing.Drawing` as DOT text: node styles, module boxes,
legend and notes. Pure text assembly: no graphviz package and no ``dot`` program needed, and
nothing specific to one view (the builder and the module view decide what is drawn).
"""

from __future__ import annotations

from tinygrad_cnn.viz import style
from tinygrad_cnn.viz.dot import (
    close_subgraph,
    default_statement,
    edge_statement,
    node_statement,
    open_subgraph,
)
from tinygrad_cnn.viz.drawing import (
    Drawing,
    DrawnNode,
    DrawOptions,
    EdgeSpec,
    ModuleBox,
    NodeSpec,
)

GRAPH_NAME = "tinygrad_cnn"


def node_attributes(spec: NodeSpec) -> dict[str, str]:
    """The DOT attributes of one node: its kind's style, alert marks, and its label."""
    attrs: dict[str, str] = {}
    if spec.kind in style.NODE_STYLES:
        attrs.update(style.NODE_STYLES[spec.kind][0])
    if spec.kind == "note":
        attrs.update(style.NOTE_STYLE)
    tones = {tone for _, tone in spec.alerts}
    if "alert" in tones:
        attrs.update(style.ALERT_STYLE)
    elif "dead" in tones:
        attrs.update(style.DEAD_STYLE)
        attrs["style"] = attrs.get("style", style.NODE_DEFAULTS["style"]) + ",dashed"
    if spec.check is not None:
        attrs.update(style.CHECK_STYLES[spec.check][0])
    if spec.kind == "op":
        attrs["ordering"] = "in"
    attrs["label"] = style.node_label(spec.title, [*spec.lines, *spec.alerts], spec.kind == "op")
    return attrs


def _drawn(spec: NodeSpec) -> DrawnNode:
    """The inspectable record of a node."""
    return DrawnNode(
        spec.id,
        spec.kind,
        spec.title,
        tuple(text for text, _ in spec.lines),
        tuple(text for text, _ in spec.alerts),
    )


def _cluster_lines(nodes: list[NodeSpec], boxes: list[ModuleBox]) -> list[str]:
    """Nested ``subgraph cluster_*`` blocks, one per module box (iterative)."""
    by_scope: dict[str, list[NodeSpec]] = {}
    for spec in nodes:
        if spec.scope is not None:
            by_scope.setdefault(spec.scope, []).append(spec)
    number = {box.path: k for k, box in enumerate(boxes)}
    children: dict[str | None, list[ModuleBox]] = {}
    for box in boxes:
        children.setdefault(box.parent, []).append(box)
    lines: list[str] = []
    stack: list[tuple[ModuleBox, int, bool]] = [(b, 1, False) for b in reversed(children[None])]
    while stack:
        box, depth, closing = stack.pop()
        if closing:
            lines.append(close_subgraph(depth))
            continue
        lines.append(open_subgraph(f"cluster_{number[box.path]}", depth))
        attrs = dict(style.CLUSTER_STYLE)
        if depth > 1:
            attrs["fillcolor"] = style.NESTED_CLUSTER_FILL
        attrs["label"] = style.cluster_label(box.title, box.subtitle)
        lines.append(default_statement("graph", attrs, depth + 1))
        lines.extend(
            node_statement(s.id, node_attributes(s), depth + 1) for s in by_scope.get(box.path, [])
        )
        stack.append((box, depth, True))
        stack.extend((child, depth + 1, False) for child in reversed(children.get(box.path, [])))
    return lines


def _legend_node(nodes: list[NodeSpec], edges: list[EdgeSpec]) -> str:
    """The legend: one row per node kind, edge kind and mark present in the drawing."""
    kinds = {s.kind for s in nodes}
    node_kinds = [k for k in style.NODE_STYLES if k in kinds]
    edge_kinds_present = {e.kind for e in edges}
    edge_kinds = [k for k in style.EDGE_LEGEND if k in edge_kinds_present]
    tones = {tone for s in nodes for _, tone in s.alerts}
    marks = [m for m in ("alert", "dead") if m in tones]
    statuses = {s.check for s in nodes}
    checks = [c for c in style.CHECK_STYLES if c in statuses]
    label = style.legend_label(node_kinds, edge_kinds, marks, checks)
    return node_statement("legend", {"shape": "plain", "style": "", "label": label})


def write_dot(
    drawing: Drawing, options: DrawOptions
) -> tuple[str, dict[str, DrawnNode], dict[int, str]]:
    """Assemble the DOT text.

    Parameters
    ----------
    drawing : Drawing
        What to draw; nodes whose ``scope`` names one of ``drawing.boxes`` are drawn inside it.
    options : DrawOptions
        ``rankdir`` and ``legend`` are read here.

    Returns
    -------
    source : str
        The DOT text.
    nodes : dict of str to DrawnNode
        Every node drawn (tensors, ops, modules, notes and the legend), by id.
    object_ids : dict of int to str
        ``id(tensor)`` or ``id(op)`` to the node that shows it.
    """
    boxed = {box.path for box in drawing.boxes}
    lines = [f"digraph {GRAPH_NAME} {{\n"]
    lines.append(default_statement("graph", {"rankdir": options.rankdir, **style.GRAPH_DEFAULTS}))
    lines.append(default_statement("node", style.NODE_DEFAULTS))
    lines.append(default_statement("edge", style.EDGE_DEFAULTS))
    lines.extend(
        node_statement(s.id, node_attributes(s)) for s in drawing.nodes if s.scope not in boxed
    )
    if drawing.boxes:
        lines.extend(_cluster_lines(drawing.nodes, drawing.boxes))
    lines.extend(node_statement(s.id, node_attributes(s)) for s in drawing.notes)
    for edge in drawing.edges:
        attrs: dict[str, str] = dict(style.EDGE_STYLES[edge.kind])
        if edge.label:
            attrs["label"] = style.edge_label(edge.label)
        lines.append(edge_statement(edge.tail, edge.head, attrs))
    nodes = {s.id: _drawn(s) for s in (*drawing.nodes, *drawing.notes)}
    if options.legend:
        lines.append(_legend_node(drawing.nodes, drawing.edges))
        nodes["legend"] = DrawnNode("legend", "legend", "legend", (), ())
    lines.append("}\n")
    return "".join(lines), nodes, drawing.object_ids
