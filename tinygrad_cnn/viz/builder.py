"""Turn the recorded graph into a drawing: nodes, edges, notes; :func:`draw` is the entry point.

:func:`draw` gathers its flags into a :class:`~tinygrad_cnn.viz.drawing.DrawOptions` record;
the helpers below each build one part of the drawing as plain data
(:mod:`tinygrad_cnn.viz.drawing`), :mod:`tinygrad_cnn.viz.modules` places it in module boxes
or collapses it, and :mod:`tinygrad_cnn.viz.layout` writes it out as DOT text. A new view is a
flag of ``DrawOptions``, the nodes or lines it adds here, and their look in
:mod:`tinygrad_cnn.viz.style`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tinygrad_cnn.array_stats import summarize
from tinygrad_cnn.function import Function, broadcast_axes
from tinygrad_cnn.tensor import Tensor
from tinygrad_cnn.viz.drawing import DIRECTIONS, RANKDIRS, Drawing, DrawOptions, EdgeSpec, NodeSpec
from tinygrad_cnn.viz.graph import Graph
from tinygrad_cnn.viz.labels import (
    attributes_text,
    count_text,
    data_text,
    grad_text,
    non_finite_alert,
    number_text,
    shape_text,
)
from tinygrad_cnn.viz.layout import write_dot
from tinygrad_cnn.viz.modules import ModuleMap, map_modules, module_view
from tinygrad_cnn.viz.walk import GraphWalk, walk

__all__ = ["DIRECTIONS", "RANKDIRS", "DrawOptions", "draw"]

DEAD_GRADIENT = "dead gradient (all zero)"


def _check_roots(roots: tuple[Any, ...]) -> None:
    """Raise a clear TypeError unless ``roots`` are one or more tensors."""
    if not roots:
        raise TypeError("draw: expected at least one Tensor to draw (e.g. the loss), got none")
    for position, root in enumerate(roots):
        if not isinstance(root, Tensor):
            raise TypeError(f"draw: root {position} must be a Tensor, got {type(root).__name__}")


def _check_arguments(roots: tuple[Any, ...], model: Any, names: Any, options: DrawOptions) -> None:
    """Raise a clear TypeError/ValueError for a bad root, model or names of :func:`draw`."""
    _check_roots(roots)
    if options.module_view and model is None:
        flag = "collapse" if options.collapse else "modules"
        raise ValueError(
            f"draw({flag}=True): pass the model, e.g. draw(loss, model=net, {flag}=True)"
        )
    if model is not None and not hasattr(model, "named_parameters"):
        raise TypeError(
            f"draw: model must be a Module (with named_parameters()), got {type(model).__name__}"
        )
    if names is not None:
        if not isinstance(names, Mapping):
            raise TypeError(f"draw: names must map str to Tensor, got {type(names).__name__}")
        for key, value in names.items():
            if not isinstance(key, str) or not isinstance(value, Tensor):
                raise TypeError(
                    f"draw: names must map str to Tensor, got {type(key).__name__} -> "
                    f"{type(value).__name__}"
                )


def _options(options: DrawOptions | None, flags: dict[str, Any]) -> DrawOptions:
    """The options record: ``options`` as given, or built from draw()'s keyword flags."""
    if options is None:
        return DrawOptions(**flags)
    if not isinstance(options, DrawOptions):
        raise TypeError(f"draw: options must be a DrawOptions, got {type(options).__name__}")
    defaults = DrawOptions()
    changed = [key for key, value in flags.items() if value != getattr(defaults, key)]
    if changed:
        raise TypeError(
            f"draw: pass the flags either as keywords or in options=, not both "
            f"(got options= and {', '.join(changed)}=)"
        )
    return options


def _tensor_titles(
    graph_walk: GraphWalk, names: Mapping[str, Tensor] | None, module_map: ModuleMap | None
) -> dict[int, str]:
    """A title per drawn tensor: ``names`` entry, ``.name``, parameter path, value, ``t<i>``."""
    given = {}
    for key, tensor in (names or {}).items():
        given.setdefault(id(tensor), key)
    parameter_names = module_map.parameter_names if module_map is not None else {}
    titles = {}
    for tensor in graph_walk.tensors:
        key = id(tensor)
        title = given.get(key) or tensor.name or parameter_names.get(key)
        if title is None:
            title = f"t{graph_walk.index[key]}"
        titles[key] = title
    return titles


def _tensor_kind(tensor: Tensor, is_root: bool, has_title: bool) -> str:
    """``output``, ``intermediate``, ``parameter``, ``constant`` or ``input``."""
    if is_root:
        return "output"
    if tensor._ctx is not None:
        return "intermediate"
    if tensor.requires_grad:
        return "parameter"
    if tensor.numel() == 1 and not has_title:
        return "constant"
    return "input"


def _value_lines(
    tensor: Tensor, overwritten_by: str | None
) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """Statistics lines and alerts of a tensor's data and gradient (``values=True``).

    A tensor an in-place op wrote over (``overwritten_by``, the op's name) no longer holds its
    own values: its memory holds the op's output, so no statistics are drawn for it.
    """
    lines: list[tuple[str, str]] = []
    alerts: list[tuple[str, str]] = []
    if overwritten_by:
        lines.append((f"values overwritten in place by {overwritten_by}", "muted"))
    else:
        data_stats = summarize(tensor.data)
        lines.append((data_text(data_stats), "stat"))
        problem = non_finite_alert(data_stats, "data")
        if problem:
            alerts.append((problem, "alert"))
    if tensor.grad is not None:
        grad_stats = summarize(tensor.grad.data)
        lines.append((grad_text(grad_stats), "grad"))
        problem = non_finite_alert(grad_stats, "grad")
        if problem:
            alerts.append((problem, "alert"))
        if grad_stats.all_zero:
            alerts.append((DEAD_GRADIENT, "dead"))
    return lines, alerts


def _tensor_node(
    tensor: Tensor,
    node_id: str,
    title: str,
    kind: str,
    options: DrawOptions,
    uses: int,
    overwritten_by: str | None = None,
) -> NodeSpec:
    """The node of one tensor: title, shape and dtype, statistics, alerts."""
    if kind == "constant":
        title = number_text(float(tensor.data.reshape(-1)[0]))
    spec = NodeSpec(node_id, kind, title, shape=shape_text(tensor.shape))
    spec.lines.append((f"{spec.shape} · {tensor.dtype}", "detail"))
    if options.values:
        lines, alerts = _value_lines(tensor, overwritten_by)
        spec.lines.extend(lines)
        spec.alerts.extend(alerts)
    if options.backward:
        if kind == "output" and tensor.requires_grad:
            spec.lines.append(("backward starts here", "grad"))
        if not tensor.requires_grad:
            spec.lines.append(("no gradient", "muted"))
        elif uses > 1:
            spec.lines.append((f"grad = sum over its {uses} uses", "summed"))
    return spec


def _op_node(node: Function, node_id: str, options: DrawOptions) -> NodeSpec:
    """The node of one op: its name (``... backward`` in the backward view), its attributes."""
    spec = NodeSpec(node_id, "op", f"{node.name} backward" if options.backward else node.name)
    if node.attrs:
        spec.lines.append((attributes_text(node.attrs, options.max_attr_chars), "detail"))
    return spec


def _summed_text(axes: tuple[int, ...], parent: Tensor, output: Tensor) -> str:
    """``Σ over axis 0 of (4, 3)``: where a gradient was summed to undo broadcasting."""
    word = "axis" if len(axes) == 1 else "axes"
    shown = str(axes[0]) if len(axes) == 1 else ", ".join(str(a) for a in axes)
    text = f"Σ over {word} {shown}"
    if broadcast_axes(parent.shape, output.shape) == axes:
        text += f" of {shape_text(output.shape)}"
    return text


def _op_edges(
    output: Tensor, op_id: str, out_id: str, input_ids: list[str | None], backward: bool
) -> list[EdgeSpec]:
    """Edges into an op from its inputs, and from the op to its output."""
    node = output._ctx
    edges = []
    for position, (parent, parent_id) in enumerate(zip(node.inputs, input_ids, strict=True)):
        if parent_id is None:
            continue
        shape = shape_text(parent.shape)
        if not backward:
            edges.append(EdgeSpec(parent_id, op_id, "data", (shape,)))
        elif not node.needs_input_grad[position]:
            edges.append(EdgeSpec(parent_id, op_id, "no_grad", ("no grad",)))
        elif position < len(node.summed_axes) and node.summed_axes[position]:
            summed = _summed_text(node.summed_axes[position], parent, output)
            edges.append(EdgeSpec(parent_id, op_id, "summed", (f"∂ {shape}", summed)))
        else:
            edges.append(EdgeSpec(parent_id, op_id, "gradient", (f"∂ {shape}",)))
    if backward:
        edges.append(EdgeSpec(op_id, out_id, "gradient", (f"∂ {shape_text(output.shape)}",)))
    else:
        edges.append(EdgeSpec(op_id, out_id, "data", ()))
    return edges


def _consumer_counts(graph_walk: GraphWalk) -> dict[int, int]:
    """How many times each tensor is an input of a drawn op (its fan-out)."""
    counts: dict[int, int] = {}
    for tensor in graph_walk.tensors:
        if tensor._ctx is not None:
            for parent in tensor._ctx.inputs:
                counts[id(parent)] = counts.get(id(parent), 0) + 1
    return counts


def _hidden_note(graph_walk: GraphWalk, max_nodes: int | None) -> NodeSpec:
    """The note that says how much of the graph ``max_nodes`` left out."""
    hidden = graph_walk.total_nodes - graph_walk.drawn_nodes
    return NodeSpec(
        "note_hidden",
        "note",
        f"{count_text(hidden)} more nodes not drawn",
        [
            (
                f"showing the {count_text(graph_walk.drawn_nodes)} of "
                f"{count_text(graph_walk.total_nodes)} nodes nearest the output "
                f"(max_nodes={max_nodes})",
                "detail",
            ),
            ("pass max_nodes=None to draw them all", "detail"),
        ],
    )


def _notes(graph_walk: GraphWalk, options: DrawOptions) -> list[NodeSpec]:
    """Notes about what the drawing leaves out: cut-off nodes, gradients not computed/kept."""
    notes = []
    if graph_walk.truncated:
        notes.append(_hidden_note(graph_walk, options.max_nodes))
    ops = graph_walk.ops()
    backward_ran = any(len(op.summed_axes) == len(op.inputs) for op in ops)
    if options.backward and ops and not backward_ran:
        notes.append(
            NodeSpec(
                "note_backward",
                "note",
                "backward() has not run yet",
                [("gradient shapes are shown; summed broadcast axes appear after it", "detail")],
            )
        )
    unkept = [t for t in graph_walk.tensors if t._ctx is not None and t.grad is None]
    if options.values and backward_ran and unkept:
        notes.append(
            NodeSpec(
                "note_grads",
                "note",
                f"{count_text(len(unkept))} intermediate gradients not kept",
                [("call backward(retain_grads=True) to show their statistics", "detail")],
            )
        )
    return notes


def _node_specs(
    graph_walk: GraphWalk,
    titles: dict[int, str],
    names: Mapping[str, Tensor] | None,
    roots: tuple[Tensor, ...],
    options: DrawOptions,
) -> tuple[dict[int, NodeSpec], dict[int, NodeSpec], list[NodeSpec]]:
    """One node per drawn tensor and op: by ``id(tensor)``, by ``id(op)``, and in DOT order
    (each op just before the tensor it made)."""
    explicit = {id(t) for t in graph_walk.tensors if t.name}
    explicit.update(id(t) for t in (names or {}).values())
    root_ids = {id(r) for r in roots}
    uses = _consumer_counts(graph_walk)
    overwritten = {  # the tensors in-place ops wrote over: id -> the op's name
        id(t._ctx.inputs[0]): t._ctx.name
        for t in graph_walk.tensors
        if t._ctx is not None and t._ctx.attrs.get("inplace")
    }
    tensor_specs: dict[int, NodeSpec] = {}
    op_specs: dict[int, NodeSpec] = {}
    order: list[NodeSpec] = []
    for tensor in graph_walk.tensors:
        number = graph_walk.index[id(tensor)]
        node = tensor._ctx
        if node is not None:
            op_specs[id(node)] = _op_node(node, f"op{number}", options)
            order.append(op_specs[id(node)])
        kind = _tensor_kind(tensor, id(tensor) in root_ids, id(tensor) in explicit)
        spec = _tensor_node(
            tensor,
            f"t{number}",
            titles[id(tensor)],
            kind,
            options,
            uses.get(id(tensor), 0),
            overwritten.get(id(tensor)),
        )
        tensor_specs[id(tensor)] = spec
        order.append(spec)
    return tensor_specs, op_specs, order


def _edge_specs(
    graph_walk: GraphWalk,
    tensor_specs: dict[int, NodeSpec],
    op_specs: dict[int, NodeSpec],
    backward: bool,
) -> list[EdgeSpec]:
    """The edges of every drawn op; ops whose inputs were cut off get an edge from the note."""
    edges: list[EdgeSpec] = []
    cut: list[str] = []
    for tensor in graph_walk.tensors:
        node = tensor._ctx
        if node is None:
            continue
        input_ids = [tensor_specs[id(p)].id if id(p) in tensor_specs else None for p in node.inputs]
        op_id = op_specs[id(node)].id
        if None in input_ids:
            cut.append(op_id)
        edges.extend(_op_edges(tensor, op_id, tensor_specs[id(tensor)].id, input_ids, backward))
    edges.extend(EdgeSpec("note_hidden", op_id, "hidden", ()) for op_id in cut)
    return edges


def _check_lines(entry: Any) -> tuple[str, str]:
    """The line an op's check_graph result adds to its node, and its tone."""
    if entry.status == "pass":
        return "✓ backward check passed", "check_pass"
    if entry.status == "undetermined":
        return "? backward check undetermined (kink)", "check_undetermined"
    where = f" (input {entry.input_index})" if entry.input_index is not None else ""
    if entry.rel_error == entry.rel_error:  # not NaN: a numerical comparison decided
        return f"✗ backward wrong: rel. error {entry.rel_error:.2g}{where}", "check_fail"
    return f"✗ backward wrong{where}: {entry.detail}", "check_fail"


def _apply_checks(op_specs: dict[int, NodeSpec], checks: Any) -> None:
    """Colour each drawn op by its check_graph status, with a line saying why."""
    entries = getattr(checks, "entries", None)
    if entries is None:
        raise TypeError(
            "draw: checks must be the report of tinygrad_cnn.check_graph(loss), "
            f"got {type(checks).__name__}"
        )
    for entry in entries:
        spec = op_specs.get(id(entry.node))
        if spec is None:
            continue  # an op beyond max_nodes
        spec.check = entry.status
        text, tone = _check_lines(entry)
        (spec.alerts if entry.status == "fail" else spec.lines).append((text, tone))


def draw(
    *roots: Tensor,
    model: Any = None,
    names: Mapping[str, Tensor] | None = None,
    direction: str = "forward",
    values: bool = False,
    modules: bool = False,
    collapse: bool = False,
    max_nodes: int | None = 1000,
    rankdir: str = "TB",
    legend: bool = True,
    max_attr_chars: int = 40,
    checks: Any = None,
    options: DrawOptions | None = None,
) -> Graph:
    """Draw the computation graph behind ``roots`` (every tensor and op, once).

    Parameters
    ----------
    *roots : Tensor
        The outputs to draw from, usually the loss (several share one drawing).
    model : Module, optional
        Names parameters by their path (``conv1.weight``) and enables the module views.
    names : dict of str to Tensor, optional
        Extra labels for tensors (as torchviz's ``params``); they win over ``.name``.
    direction : {"forward", "backward"}
        ``forward``: data flows from inputs to outputs, edges carry tensor shapes.
        ``backward``: the same layout with arrows reversed along the gradient flow; edges carry
        gradient shapes, edges whose gradient was summed over broadcast axes are highlighted
        and say which axes, inputs that get no gradient are dotted.
    values : bool, default False
        Show each tensor's data statistics (min, mean, max) and, after ``backward()``, its
        gradient's (L2 norm, min, max). NaN/Inf entries mark the node in red with counts;
        an all-zero gradient marks it as dead.
    modules : bool, default False
        Draw each module's ops and tensors inside a labelled box (needs ``model``).
    collapse : bool, default False
        Draw each call of an innermost module as one node with its parameter count (needs
        ``model``); a module called twice draws two nodes, ``call 1 of 2`` and ``call 2 of 2``.
    max_nodes : int or None, default 1000
        Most tensor and op nodes to draw, nearest the outputs first; the rest are replaced
        by a visible note. ``None`` draws everything.
    rankdir : {"TB", "LR", "BT", "RL"}
        Graphviz layout direction (top to bottom by default).
    legend : bool, default True
        Add a legend of the node and edge kinds present.
    max_attr_chars : int, default 40
        Op attribute text longer than this is cut with ``…``.
    checks : GraphReport, optional
        The report of :func:`tinygrad_cnn.debug.check_graph` for this graph: each checked op
        is outlined green (pass), amber (undetermined) or filled red with the error (fail).
    options : DrawOptions, optional
        The flags from ``direction`` to ``max_attr_chars`` as one record, to reuse a set of
        choices; then those keywords must be left at their defaults.

    Returns
    -------
    Graph
        ``.source`` (DOT text), ``.render(path)``, ``.nodes``/``.alerts`` for inspection,
        and inline display in Jupyter.

    Examples
    --------
    >>> from tinygrad_cnn import Tensor
    >>> from tinygrad_cnn.viz import draw
    >>> w = Tensor([[1.0, -2.0]], requires_grad=True, name="w")
    >>> loss = (w * w).sum()
    >>> graph = draw(loss)
    >>> graph.source.startswith("digraph tinygrad_cnn {")
    True
    """
    _check_roots(roots)
    flags = {
        "direction": direction,
        "values": values,
        "modules": modules,
        "collapse": collapse,
        "max_nodes": max_nodes,
        "rankdir": rankdir,
        "legend": legend,
        "max_attr_chars": max_attr_chars,
    }
    opts = _options(options, flags)
    _check_arguments(roots, model, names, opts)
    graph_walk = walk(roots, opts.max_nodes)
    module_map = map_modules(model) if model is not None else None
    titles = _tensor_titles(graph_walk, names, module_map)
    tensor_specs, op_specs, order = _node_specs(graph_walk, titles, names, roots, opts)
    edges = _edge_specs(graph_walk, tensor_specs, op_specs, opts.backward)
    if checks is not None:
        _apply_checks(op_specs, checks)
    object_ids = {key: spec.id for key, spec in (*tensor_specs.items(), *op_specs.items())}
    drawing = Drawing(order, edges, _notes(graph_walk, opts), object_ids)
    if module_map is not None and opts.module_view:
        protected = {tensor_specs[id(r)].id for r in roots if id(r) in tensor_specs}
        drawing = module_view(
            drawing, graph_walk, module_map, tensor_specs, op_specs, opts, protected
        )
    source, nodes, object_ids = write_dot(drawing, opts)
    return Graph(source, nodes, object_ids, (*graph_walk.tensors, *graph_walk.ops()))
