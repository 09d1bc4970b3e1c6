"""The module view: which module (and which call of it) each node belongs to, module boxes,
and collapsing each module call into one node.

``Module.__call__`` tags the ops its forward recorded with the module and the call
(:mod:`tinygrad_cnn.nn.scopes`); here each tagged module is mapped to its dotted path in the
model (``features.0``) with ``model.named_modules()``. An op with no tag that reads a module's
parameters (directly, or through ``weight.T`` and the like) is placed in that module, so
layers with parameters are still grouped when a model's forward was called directly.

:func:`module_view` is the one entry point the builder calls: it places the nodes, collapses
them when asked, and lists the boxes that :mod:`~tinygrad_cnn.viz.layout` draws.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from tinygrad_cnn.tensor import Tensor
from tinygrad_cnn.viz.drawing import Drawing, DrawOptions, EdgeSpec, ModuleBox, NodeSpec
from tinygrad_cnn.viz.labels import parameter_count_text
from tinygrad_cnn.viz.walk import GraphWalk


@dataclass(frozen=True)
class ModuleInfo:
    """A module of the model as the renderer shows it.

    Attributes
    ----------
    path : str
        Dotted path in the model (``""`` for the model itself).
    type_name : str
        The module's class name (``Conv2d``).
    parameter_count : int
        Number of parameter entries, its submodules' included.
    """

    path: str
    type_name: str
    parameter_count: int

    @property
    def title(self) -> str:
        """``conv1: Conv2d`` (``SeedCNN`` for the model itself)."""
        return f"{self.path}: {self.type_name}" if self.path else self.type_name


def parent_path(path: str) -> str:
    """``features.0`` -> ``features``; a top-level child -> ``""`` (the model)."""
    return path.rpartition(".")[0]


def ancestor_paths(path: str) -> list[str]:
    """The paths enclosing ``path``, outermost first, ``path`` itself last."""
    if not path:
        return [""]
    parts = path.split(".")
    return ["", *(".".join(parts[: i + 1]) for i in range(len(parts)))]


@dataclass(frozen=True)
class ModuleMap:
    """The model's modules, and which module owns each parameter and each recorded op.

    Attributes
    ----------
    modules : dict of str to ModuleInfo
        By dotted path, in ``named_modules()`` order.
    path_of_module : dict of int to str
        ``id(module)`` to its path.
    owner_of_parameter : dict of int to str
        ``id(parameter)`` to the path of the module that holds it directly.
    parameter_names : dict of int to str
        ``id(parameter)`` to its dotted name (``conv1.weight``).
    """

    modules: dict[str, ModuleInfo]
    path_of_module: dict[int, str]
    owner_of_parameter: dict[int, str]
    parameter_names: dict[int, str]

    def op_scopes(self, tensors: list[Tensor]) -> dict[int, tuple[str | None, int | None]]:
        """The module path and call of the op behind each tensor: ``id(op) -> (path, call)``.

        An op tagged by :func:`~tinygrad_cnn.nn.scopes.record_module_scope` goes to the module
        and the call that tagged it (``call`` is the ``id`` of the op's ``scope_call`` token).
        An untagged op goes to the innermost module among those owning a parameter it reads,
        directly or through tensors computed from that module's parameters alone (as
        ``weight.T`` in a linear layer), with call None; so does an op outside every module,
        with path None.

        Parameters
        ----------
        tensors : list of Tensor
            The drawn tensors, every input before the tensors made from it.
        """
        derived: dict[int, str] = dict(self.owner_of_parameter)
        scopes: dict[int, tuple[str | None, int | None]] = {}
        for tensor in tensors:
            node = tensor._ctx
            if node is None:
                continue
            if node.scope is not None and id(node.scope) in self.path_of_module:
                call = None if node.scope_call is None else id(node.scope_call)
                scopes[id(node)] = (self.path_of_module[id(node.scope)], call)
                continue
            owners = {derived[id(t)] for t in node.inputs if id(t) in derived}
            scopes[id(node)] = (max(owners, key=_depth) if owners else None, None)
            if len(owners) == 1 and all(id(t) in derived or _is_constant(t) for t in node.inputs):
                derived[id(tensor)] = next(iter(owners))
        return scopes


def _is_constant(tensor: Tensor) -> bool:
    """A one-entry leaf that needs no gradient (``2.0`` in ``x * 2.0``)."""
    return tensor._ctx is None and not tensor.requires_grad and tensor.numel() == 1


def _depth(path: str) -> int:
    """Nesting depth of a module path: ``""`` 0, ``conv`` 1, ``features.0`` 2."""
    return path.count(".") + 1 if path else 0


def _named_modules(model: Any) -> list[tuple[str, Any]]:
    """``model.named_modules()``, or the same built from ``named_children()`` (iteratively)."""
    if hasattr(model, "named_modules"):
        return list(model.named_modules())
    found: list[tuple[str, Any]] = []
    stack: list[tuple[str, Any]] = [("", model)]
    while stack:
        path, module = stack.pop()
        found.append((path, module))
        children = list(module.named_children()) if hasattr(module, "named_children") else []
        for name, child in reversed(children):
            stack.append((f"{path}.{name}" if path else name, child))
    return found


def map_modules(model: Any) -> ModuleMap:
    """Read the module tree and parameter names of ``model``.

    Parameters
    ----------
    model : Module
        Anything with ``named_parameters()`` and ``named_modules()`` (or
        ``named_children()``), as :class:`tinygrad_cnn.nn.Module`.

    Returns
    -------
    ModuleMap
    """
    named = _named_modules(model)
    parameter_names = {id(p): name for name, p in model.named_parameters()}
    owner = {pid: parent_path(name) for pid, name in parameter_names.items()}
    sizes: dict[str, int] = dict.fromkeys((path for path, _ in named), 0)
    for name, p in model.named_parameters():
        for path in ancestor_paths(parent_path(name)):
            if path in sizes:
                sizes[path] += p.numel()
    modules = {path: ModuleInfo(path, type(module).__name__, sizes[path]) for path, module in named}
    return ModuleMap(
        modules=modules,
        path_of_module={id(module): path for path, module in named},
        owner_of_parameter=owner,
        parameter_names=parameter_names,
    )


def assign_scopes(
    graph_walk: GraphWalk,
    module_map: ModuleMap,
    tensor_specs: dict[int, NodeSpec],
    op_specs: dict[int, NodeSpec],
) -> None:
    """Put each op, parameter, intermediate and constant into its module (and call)."""
    op_scopes = module_map.op_scopes(graph_walk.tensors)
    for tensor in graph_walk.tensors:
        node = tensor._ctx
        if node is not None:
            scope, call = op_scopes[id(node)]
            for spec in (op_specs[id(node)], tensor_specs[id(tensor)]):
                spec.scope, spec.call = scope, call
        elif id(tensor) in module_map.owner_of_parameter:
            tensor_specs[id(tensor)].scope = module_map.owner_of_parameter[id(tensor)]
    consumer_scopes: dict[int, set[str | None]] = {}
    for tensor in graph_walk.tensors:
        if tensor._ctx is not None:
            for parent in tensor._ctx.inputs:
                consumer_scopes.setdefault(id(parent), set()).add(op_specs[id(tensor._ctx)].scope)
    for tensor in graph_walk.tensors:
        spec = tensor_specs[id(tensor)]
        scopes = consumer_scopes.get(id(tensor), set())
        if spec.kind == "constant" and len(scopes) == 1:
            spec.scope = next(iter(scopes))


def _is_inside(path: str, container: str) -> bool:
    """True when module ``path`` is strictly inside module ``container``."""
    return path != container and (container == "" or path.startswith(container + "."))


def _module_node(
    path: str, node_id: str, members: list[NodeSpec], modules: ModuleMap, call_text: str
) -> NodeSpec:
    """One node standing for a collapsed module call: parameter count and shapes, ops, alerts."""
    info = modules.modules[path]
    spec = NodeSpec(node_id, "module", info.title, scope=parent_path(path) if path else None)
    spec.lines.append((parameter_count_text(info.parameter_count), "detail"))
    if call_text:
        spec.lines.append((call_text, "muted"))
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
    """Replace each call of an innermost module by one node; reroute and merge edges.

    Innermost means: no other module with drawn nodes lies inside it. Nodes in ``protected``
    (the roots) stay visible. Each call of a module (the ops it recorded and their outputs)
    becomes a node of its own, so a layer applied twice draws two nodes, in the order of the
    calls, and no edge runs from a call back into an earlier one. The module's leaves
    (parameters, constants) are shared by its calls: each call's node lists them, edges from
    them into the module disappear, and edges from them elsewhere leave the first call's node.
    Edges inside one call disappear; edges that now join the same two nodes with the same
    label are merged.
    """
    used = list(dict.fromkeys(s.scope for s in drawing.nodes if s.scope is not None))
    leaves = {p for p in used if not any(_is_inside(q, p) for q in used)}
    collapsed = [s for s in drawing.nodes if s.scope in leaves and s.id not in protected]
    calls: dict[str, list[int | None]] = {}
    for spec in collapsed:
        if spec.kind not in ("parameter", "constant", "input"):
            calls.setdefault(spec.scope, [])
            if spec.call not in calls[spec.scope]:
                calls[spec.scope].append(spec.call)
    group_ids: dict[tuple[str, int | None], str] = {}
    members: dict[str, list[NodeSpec]] = {}
    replaced: dict[str, str] = {}
    shared: dict[str, str] = {}  # a leaf shared by the calls of a module -> that module's path
    for spec in collapsed:
        module_calls = calls.get(spec.scope, [None])
        is_leaf = spec.kind in ("parameter", "constant", "input")
        keys = (
            [(spec.scope, call) for call in module_calls] if is_leaf else [(spec.scope, spec.call)]
        )
        for key in keys:
            if key not in group_ids:
                group_ids[key] = f"mod{len(group_ids)}"
                members[group_ids[key]] = []
            members[group_ids[key]].append(spec)
        replaced[spec.id] = group_ids[keys[0]]
        if is_leaf and len(keys) > 1:
            shared[spec.id] = spec.scope
    group_of = {node_id: key for key, node_id in group_ids.items()}
    nodes: list[NodeSpec] = []
    placed: set[str] = set()
    for spec in drawing.nodes:  # each call's node where its first member was
        group = replaced.get(spec.id)
        if group is None:
            nodes.append(spec)
        elif group not in placed and spec.id not in shared:
            placed.add(group)
            path, call = group_of[group]
            count = len(calls.get(path, [None]))
            call_text = f"call {calls[path].index(call) + 1} of {count}" if count > 1 else ""
            nodes.append(_module_node(path, group, members[group], modules, call_text))
    merged: dict[tuple[str, str, str, tuple[str, ...]], EdgeSpec] = {}
    for edge in drawing.edges:
        tail, head = replaced.get(edge.tail, edge.tail), replaced.get(edge.head, edge.head)
        if edge.tail in shared and group_of.get(head, (None,))[0] == shared[edge.tail]:
            continue  # a module's parameter into one of its own calls: inside the module
        if tail != head:
            key = (tail, head, edge.kind, edge.label)
            merged.setdefault(key, EdgeSpec(tail, head, edge.kind, edge.label))
    object_ids = {
        key: replaced.get(node_id, node_id) for key, node_id in drawing.object_ids.items()
    }
    return replace(drawing, nodes=nodes, edges=list(merged.values()), object_ids=object_ids)


def module_boxes(nodes: list[NodeSpec], modules: ModuleMap) -> list[ModuleBox]:
    """A box per module with drawn nodes, and per module enclosing one, outermost first."""
    paths: list[str] = []
    for scope in dict.fromkeys(s.scope for s in nodes if s.scope is not None):
        for path in ancestor_paths(scope):
            if path in modules.modules and path not in paths:
                paths.append(path)
    boxes = []
    for path in paths:
        parent = next((p for p in reversed(ancestor_paths(path)[:-1]) if p in paths), None)
        info = modules.modules[path]
        subtitle = parameter_count_text(info.parameter_count)
        boxes.append(ModuleBox(path, parent if path else None, info.title, subtitle))
    return boxes


def module_view(
    drawing: Drawing,
    graph_walk: GraphWalk,
    module_map: ModuleMap,
    tensor_specs: dict[int, NodeSpec],
    op_specs: dict[int, NodeSpec],
    options: DrawOptions,
    protected: set[str],
) -> Drawing:
    """The drawing with its nodes placed in module boxes, collapsed per call if asked.

    Parameters
    ----------
    drawing : Drawing
        Every tensor and op node (``tensor_specs`` and ``op_specs`` index the same nodes).
    graph_walk : GraphWalk
        What is drawn.
    module_map : ModuleMap
        The model's modules.
    tensor_specs, op_specs : dict of int to NodeSpec
        The node of each drawn tensor and op, by ``id``.
    options : DrawOptions
        ``collapse`` turns each innermost module call into one node.
    protected : set of str
        Node ids that stay visible when collapsing (the roots).
    """
    assign_scopes(graph_walk, module_map, tensor_specs, op_specs)
    if options.collapse:
        drawing = collapse_modules(drawing, module_map, protected)
    return replace(drawing, boxes=module_boxes(drawing.nodes, module_map))
