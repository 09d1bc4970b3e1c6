"""Write the drawing's nodes and edges as DOT text: styles, module boxes, collapsed modules,
legend and notes. Pure text assembly: no graphviz package and no ``dot`` program needed.
"""

from __future__ import annotations

from dataclasses import dataclass

from tinygrad_cnn.viz import style
from tinygrad_cnn.viz.dot import (
    close_subgraph,
    default_statement,
    edge_statement,
    node_statement,
    open_subgraph,
)
from tinygrad_cnn.viz.graph import DrawnNode
from tinygrad_cnn.viz.labels import parameter_count_text
from tinygrad_cnn.viz.scopes import ModuleMap, ancestor_paths, parent_path
from tinygrad_cnn.viz.specs import EdgeSpec, NodeSpec

GRAPH_NAME = "tinygrad_cnn"


@dataclass(frozen=True)
class Drawing:
    """Everything :func:`write_dot` needs besides the options."""

    nodes: list[NodeSpec]
    edges: list[EdgeSpec]
    notes: list[NodeSpec]
    object_ids: dict[int, str]


def _is_inside(path: str, container: str) -> bool:
    """True when module ``path`` is strictly inside module ``container``."""
    return path != container and (container == "" or path.startswith(container + "."))


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


def _module_node(path: str, node_id: str, members: list[NodeSpec], modules: ModuleMap) -> NodeSpec:
    """One node standing for a collapsed module: parameter count and shapes, ops, alerts."""
    info = modules.modules[path]
    spec = NodeSpec(node_id, "module", info.title, scope=parent_path(path) if path else None)
    spec.lines.append((parameter_count_text(info.parameter_count), "detail"))
    for member in members:
        if member.kind == "parameter":
            spec.lines.append((f"{member.title.rpartition('.')[2]} {member.shape}", "detail"))
    op_names = list(dict.fromkeys(m.title for m in members if m.kind == "op"))
    if op_names:
        spec.lines.append((" → ".join(op_names), "muted"))
    for member in members:
        spec.alerts.extend((f"{member.title}: {text}", tone) for text, tone in member.alerts)
    return spec


def collapse_modules(drawing: Drawing, modules: ModuleMap, protected: set[str]) -> Drawing:
    """Replace each innermost module's nodes by one module node; reroute and merge edges.

    Innermost means: no other module with drawn nodes lies inside it. Nodes in ``protected``
    (the roots) stay visible. Edges inside a module disappear; edges that now join the same
    two nodes with the same label are merged.
    """
    used = list(dict.fromkeys(s.scope for s in drawing.nodes if s.scope is not None))
    leaves = [p for p in used if not any(_is_inside(q, p) for q in used)]
    module_ids = {path: f"mod{k}" for k, path in enumerate(leaves)}
    members: dict[str, list[NodeSpec]] = {path: [] for path in leaves}
    replaced: dict[str, str] = {}
    for spec in drawing.nodes:
        if spec.scope in module_ids and spec.id not in protected:
            members[spec.scope].append(spec)
            replaced[spec.id] = module_ids[spec.scope]
    nodes: list[NodeSpec] = []
    placed: set[str] = set()
    for spec in drawing.nodes:
        if spec.id not in replaced:
            nodes.append(spec)
        elif spec.scope not in placed:
            placed.add(spec.scope)
            nodes.append(
                _module_node(spec.scope, module_ids[spec.scope], members[spec.scope], modules)
            )
    merged: dict[tuple[str, str, str, tuple[str, ...]], EdgeSpec] = {}
    for edge in drawing.edges:
        tail, head = replaced.get(edge.tail, edge.tail), replaced.get(edge.head, edge.head)
        if tail != head:
            key = (tail, head, edge.kind, edge.label)
            merged.setdefault(key, EdgeSpec(tail, head, edge.kind, edge.label))
    object_ids = {
        key: replaced.get(node_id, node_id) for key, node_id in drawing.object_ids.items()
    }
    return Drawing(nodes, list(merged.values()), drawing.notes, object_ids)


def _cluster_lines(nodes: list[NodeSpec], modules: ModuleMap) -> list[str]:
    """Nested ``subgraph cluster_*`` blocks, one per module with drawn nodes (iterative)."""
    by_scope: dict[str, list[NodeSpec]] = {}
    for spec in nodes:
        if spec.scope is not None:
            by_scope.setdefault(spec.scope, []).append(spec)
    boxes: list[str] = []
    for scope in by_scope:
        for path in ancestor_paths(scope):
            if path in modules.modules and path not in boxes:
                boxes.append(path)
    children: dict[str | None, list[str]] = {}
    for path in boxes:
        parent = next((p for p in reversed(ancestor_paths(path)[:-1]) if p in boxes), None)
        children.setdefault(parent if path else None, []).append(path)
    lines: list[str] = []
    stack: list[tuple[str, int, bool]] = [(p, 1, False) for p in reversed(children.get(None, []))]
    while stack:
        path, depth, closing = stack.pop()
        if closing:
            lines.append(close_subgraph(depth))
            continue
        info = modules.modules[path]
        lines.append(open_subgraph(f"cluster_{boxes.index(path)}", depth))
        attrs = dict(style.CLUSTER_STYLE)
        if depth > 1:
            attrs["fillcolor"] = style.NESTED_CLUSTER_FILL
        attrs["label"] = style.cluster_label(info.title, parameter_count_text(info.parameter_count))
        lines.append(default_statement("graph", attrs, depth + 1))
        lines.extend(
            node_statement(s.id, node_attributes(s), depth + 1) for s in by_scope.get(path, [])
        )
        stack.append((path, depth, True))
        stack.extend((child, depth + 1, False) for child in reversed(children.get(path, [])))
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
    drawing: Drawing,
    modules: ModuleMap | None,
    collapse: bool,
    protected: set[str],
    rankdir: str,
    legend: bool,
) -> tuple[str, dict[str, DrawnNode], dict[int, str]]:
    """Assemble the DOT text.

    Returns
    -------
    source : str
        The DOT text.
    nodes : dict of str to DrawnNode
        Every node drawn (tensors, ops, modules, notes and the legend), by id.
    object_ids : dict of int to str
        ``id(tensor)`` or ``id(op)`` to the node that shows it.
    """
    if modules is not None and collapse:
        drawing = collapse_modules(drawing, modules, protected)
    lines = [f"digraph {GRAPH_NAME} {{\n"]
    lines.append(default_statement("graph", {"rankdir": rankdir, **style.GRAPH_DEFAULTS}))
    lines.append(default_statement("node", style.NODE_DEFAULTS))
    lines.append(default_statement("edge", style.EDGE_DEFAULTS))
    boxed = modules is not None
    lines.extend(
        node_statement(s.id, node_attributes(s))
        for s in drawing.nodes
        if not boxed or s.scope is None
    )
    if boxed:
        lines.extend(_cluster_lines(drawing.nodes, modules))
    lines.extend(node_statement(s.id, node_attributes(s)) for s in drawing.notes)
    for edge in drawing.edges:
        attrs: dict[str, str] = dict(style.EDGE_STYLES[edge.kind])
        if edge.label:
            attrs["label"] = style.edge_label(edge.label)
        lines.append(edge_statement(edge.tail, edge.head, attrs))
    nodes = {s.id: _drawn(s) for s in (*drawing.nodes, *drawing.notes)}
    if legend:
        lines.append(_legend_node(drawing.nodes, drawing.edges))
        nodes["legend"] = DrawnNode("legend", "legend", "legend", (), ())
    lines.append("}\n")
    return "".join(lines), nodes, drawing.object_ids
