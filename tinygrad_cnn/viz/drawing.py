"""The drawing's data types: the options, the nodes and edges, and the inspectable result.

:class:`DrawOptions` is what :func:`~tinygrad_cnn.viz.draw` was asked for; the builder turns
the graph into a :class:`Drawing` (:class:`NodeSpec`, :class:`EdgeSpec`, :class:`ModuleBox`),
:mod:`~tinygrad_cnn.viz.layout` writes it as DOT text, and every node ends up as a
:class:`DrawnNode` of the returned :class:`~tinygrad_cnn.viz.Graph`. Plain data, no logic
beyond checking the options.
"""

from __future__ import annotations

from dataclasses import dataclass, field

DIRECTIONS = ("forward", "backward")
RANKDIRS = ("TB", "LR", "BT", "RL")


@dataclass(frozen=True)
class DrawOptions:
    """How to draw: every flag of :func:`~tinygrad_cnn.viz.draw`, checked once, in one record.

    ``draw(loss, direction="backward")`` and ``draw(loss, options=DrawOptions(direction=
    "backward"))`` draw the same; the record is what the builder, the module view and the
    layout receive. A new view adds its flag here.

    Attributes
    ----------
    direction : {"forward", "backward"}
        Data flow, or the same layout with arrows along the gradient flow.
    values : bool
        Data and gradient statistics on each tensor, NaN/Inf and dead-gradient alerts.
    modules : bool
        Each module's ops and tensors inside a labelled box (needs a model).
    collapse : bool
        Each innermost module call as one node (needs a model).
    max_nodes : int or None
        Most tensor and op nodes drawn, nearest the outputs first; ``None`` draws all.
    rankdir : {"TB", "LR", "BT", "RL"}
        Graphviz layout direction.
    legend : bool
        A legend of the node and edge kinds present.
    max_attr_chars : int
        Op attribute text longer than this is cut with ``…``.

    Raises
    ------
    ValueError
        For a value outside the ones above, naming it (``draw: rankdir must be one of ...``).
    """

    direction: str = "forward"
    values: bool = False
    modules: bool = False
    collapse: bool = False
    max_nodes: int | None = 1000
    rankdir: str = "TB"
    legend: bool = True
    max_attr_chars: int = 40

    def __post_init__(self) -> None:
        if self.direction not in DIRECTIONS:
            raise ValueError(
                f"draw: direction must be 'forward' or 'backward', got {self.direction!r}"
            )
        if self.rankdir not in RANKDIRS:
            raise ValueError(
                f"draw: rankdir must be one of {', '.join(RANKDIRS)}, got {self.rankdir!r}"
            )
        if self.max_nodes is not None and (
            isinstance(self.max_nodes, bool)
            or not isinstance(self.max_nodes, int)
            or self.max_nodes < 1
        ):
            raise ValueError(
                f"draw: max_nodes must be a positive int or None, got {self.max_nodes!r}"
            )
        chars = self.max_attr_chars
        if isinstance(chars, bool) or not isinstance(chars, int) or chars < 4:
            raise ValueError(f"draw: max_attr_chars must be an int >= 4, got {chars!r}")

    @property
    def backward(self) -> bool:
        """True for the backward view."""
        return self.direction == "backward"

    @property
    def module_view(self) -> bool:
        """True when modules are drawn, boxed or collapsed."""
        return self.modules or self.collapse


@dataclass
class NodeSpec:
    """One node to draw.

    Attributes
    ----------
    id : str
        DOT node id.
    kind : str
        A key of :data:`tinygrad_cnn.viz.style.NODE_STYLES`, or ``note``.
    title : str
        The bold first line.
    lines : list of (str, str)
        Further lines as ``(text, tone)``; tones are keys of
        :data:`tinygrad_cnn.viz.style.TONES`.
    alerts : list of (str, str)
        Problems, as ``(text, "alert" | "dead")``; drawn last and they restyle the node.
    scope : str or None
        Dotted path of the module whose box the node sits in (``None``: outside all).
    call : int or None
        Which call of that module made it (ops and their outputs; ``None`` for leaves and
        ops no call tagged), so each call of a module collapses to a node of its own.
    shape : str
        The tensor's shape text (empty for ops and notes), for collapsed module labels.
    check : str or None
        For ops checked by :func:`tinygrad_cnn.debug.check_graph`: ``pass``, ``fail`` or
        ``undetermined`` (a key of :data:`tinygrad_cnn.viz.style.CHECK_STYLES`).
    """

    id: str
    kind: str
    title: str
    lines: list[tuple[str, str]] = field(default_factory=list)
    alerts: list[tuple[str, str]] = field(default_factory=list)
    scope: str | None = None
    call: int | None = None
    shape: str = ""
    check: str | None = None


@dataclass(frozen=True)
class EdgeSpec:
    """One edge to draw, from ``tail`` to ``head`` in the data's direction.

    ``kind`` is a key of :data:`tinygrad_cnn.viz.style.EDGE_STYLES`; the backward kinds draw
    the arrow reversed (``dir=back``), so both views share one layout.
    """

    tail: str
    head: str
    kind: str
    label: tuple[str, ...]


@dataclass(frozen=True)
class ModuleBox:
    """A labelled box (DOT cluster) around the nodes of one module.

    Attributes
    ----------
    path : str
        The module's dotted path; nodes whose ``scope`` is this path are drawn inside.
    parent : str or None
        The path of the box it sits in (``None``: the top level).
    title : str
        ``conv1: Conv2d``.
    subtitle : str
        ``3,010 parameters``.
    """

    path: str
    parent: str | None
    title: str
    subtitle: str


@dataclass(frozen=True)
class Drawing:
    """Everything :func:`~tinygrad_cnn.viz.layout.write_dot` writes.

    Attributes
    ----------
    nodes : list of NodeSpec
        Tensors, ops and collapsed modules, in DOT order.
    edges : list of EdgeSpec
    notes : list of NodeSpec
        What the drawing leaves out (cut-off nodes, gradients not kept).
    object_ids : dict of int to str
        ``id(tensor)`` or ``id(op)`` to the node that shows it.
    boxes : list of ModuleBox
        Module boxes, every box after the box it sits in (empty: no module boxes).
    """

    nodes: list[NodeSpec]
    edges: list[EdgeSpec]
    notes: list[NodeSpec]
    object_ids: dict[int, str]
    boxes: list[ModuleBox] = field(default_factory=list)


@dataclass(frozen=True)
class DrawnNode:
    """One node of a drawing, for inspecting it in code (tests, notebooks, CI checks).

    Attributes
    ----------
    id : str
        The DOT node id (``t3``, ``op7``, ``mod0``, ``legend``, ``note_hidden``).
    kind : str
        ``parameter``, ``input``, ``constant``, ``intermediate``, ``output``, ``op``,
        ``module``, ``note`` or ``legend``.
    title : str
        The first (bold) line: tensor name, op name or module path.
    lines : tuple of str
        The other lines of the label, in order (shape and dtype, attributes, statistics).
    alerts : tuple of str
        Problems found on the node: ``2 NaN in data``, ``dead gradient (all zero)`` ...
    """

    id: str
    kind: str
    title: str
    lines: tuple[str, ...]
    alerts: tuple[str, ...]
