"""The drawing as plain data, before it is written as DOT: one record per node and edge."""

from __future__ import annotations

from dataclasses import dataclass, field


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
