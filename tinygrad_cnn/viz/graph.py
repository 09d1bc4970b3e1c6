"""The :class:`Graph` that :func:`~tinygrad_cnn.viz.draw` returns: DOT text, files, Jupyter.

The DOT text needs nothing installed. Rendering to SVG/PNG/PDF needs Graphviz's ``dot``
program; without it :meth:`Graph.render` still writes the ``.dot`` file and raises
:class:`GraphvizNotFoundError` saying how to install Graphviz.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import graphviz

FORMATS = ("svg", "png", "pdf")

INSTALL_HINT = (
    "install Graphviz, which provides `dot`: `sudo apt-get install graphviz` (Debian/Ubuntu), "
    "`brew install graphviz` (macOS), `conda install -c conda-forge graphviz`, or "
    "https://graphviz.org/download/ (Windows: add its bin folder to PATH)"
)


class GraphvizNotFoundError(RuntimeError):
    """Graphviz's ``dot`` program is not on PATH, so the graph could not be rendered."""


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


class Graph:
    """A drawn computation graph: DOT text, rendering to files, and inline display.

    Parameters
    ----------
    source : str
        The complete DOT text.
    nodes : dict of str to DrawnNode
        Every node of the drawing, in DOT order.
    node_ids : dict of int to str
        ``id(tensor)`` or ``id(op)`` to the id of the node that shows it.
    objects : tuple
        The drawn tensors and ops (kept alive so ``node_ids`` stays valid).
    """

    def __init__(
        self,
        source: str,
        nodes: dict[str, DrawnNode],
        node_ids: dict[int, str],
        objects: tuple[Any, ...],
    ) -> None:
        self._source = source
        self.nodes = nodes
        self._node_ids = node_ids
        self._objects = objects
        self._digraph: graphviz.Digraph | None = None

    @property
    def source(self) -> str:
        """The DOT text (deterministic: the same graph gives the same text, byte for byte)."""
        return self._source

    @property
    def digraph(self) -> graphviz.Digraph:
        """The drawing as a :class:`graphviz.Digraph` (its ``source`` equals :attr:`source`)."""
        if self._digraph is None:
            import graphviz

            header, _, rest = self._source.partition("\n")
            name = header.removeprefix("digraph ").removesuffix(" {")
            body = rest.removesuffix("}\n").splitlines(keepends=True)
            self._digraph = graphviz.Digraph(name, body=body)
        return self._digraph

    @property
    def alerts(self) -> list[str]:
        """Every problem found, as ``"<node title>: <alert>"`` (empty when all is well)."""
        return [f"{node.title}: {alert}" for node in self.nodes.values() for alert in node.alerts]

    def node_id(self, obj: Any) -> str:
        """The id of the node that shows a tensor or op of the drawing.

        Raises
        ------
        KeyError
            When ``obj`` is not drawn (not behind the roots, or cut off by ``max_nodes``).
        """
        try:
            return self._node_ids[id(obj)]
        except KeyError:
            raise KeyError(f"Graph.node_id: {type(obj).__name__} is not in this drawing") from None

    def node(self, obj: Any) -> DrawnNode:
        """The :class:`DrawnNode` that shows a tensor or op of the drawing."""
        return self.nodes[self.node_id(obj)]

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the DOT text to ``path`` and return it."""
        path = Path(path)
        path.write_text(self._source, encoding="utf-8")
        return path

    def render(
        self, path: str | os.PathLike[str], format: str | None = None, keep_dot: bool = False
    ) -> Path:
        """Render to an SVG, PNG or PDF file with Graphviz's ``dot``.

        The DOT text is written first, next to the output with the suffix ``.dot``; it is
        removed after a successful rendering unless ``keep_dot``, and kept when rendering
        fails (so it can be rendered elsewhere).

        Parameters
        ----------
        path : str or PathLike
            The output file (missing folders are created). Its suffix gives the format when
            ``format`` is not given; a suffix that differs from ``format`` gets ``.<format>``
            appended.
        format : {"svg", "png", "pdf"}, optional
            Output format (default: from the suffix, else ``svg``).
        keep_dot : bool, default False
            Keep the ``.dot`` file after a successful rendering.

        Returns
        -------
        Path
            The rendered file.

        Raises
        ------
        GraphvizNotFoundError
            When the ``dot`` program is not installed (the ``.dot`` file is still written).
        ValueError
            For an unsupported format.
        """
        path = Path(path)
        suffix = path.suffix.lstrip(".").lower()
        fmt = format if format is not None else (suffix if suffix in FORMATS else "svg")
        if fmt not in FORMATS:
            raise ValueError(
                f"Graph.render: format must be one of {', '.join(FORMATS)}, got {fmt!r}"
            )
        output = path if suffix == fmt else path.with_name(f"{path.name}.{fmt}")
        output.parent.mkdir(parents=True, exist_ok=True)
        dot_file = self.save(output.with_suffix(".dot"))
        import graphviz

        try:
            graphviz.render("dot", fmt, dot_file, outfile=output, quiet=True)
        except graphviz.ExecutableNotFound:
            raise GraphvizNotFoundError(
                f"Graph.render: the Graphviz program `dot` was not found on PATH, so "
                f"{output} was not drawn. The DOT text was written to {dot_file}; render it "
                f"later with `dot -T{fmt} {dot_file} -o {output}`. To render directly, "
                f"{INSTALL_HINT}."
            ) from None
        if not keep_dot:
            dot_file.unlink()
        return output

    def _repr_mimebundle_(
        self, include: Iterable[str] | None = None, exclude: Iterable[str] | None = None, **_: Any
    ) -> dict[str, Any]:
        """Inline SVG in Jupyter; without ``dot``, the DOT text and how to install Graphviz."""
        import graphviz

        try:
            return self.digraph._repr_mimebundle_(include=include, exclude=exclude)
        except graphviz.ExecutableNotFound:
            return {
                "text/plain": f"Graphviz's `dot` is not installed, so the graph cannot be "
                f"shown; {INSTALL_HINT}.\n\n{self._source}"
            }

    def __repr__(self) -> str:
        kinds = [node.kind for node in self.nodes.values()]
        tensors = sum(
            k in ("parameter", "input", "constant", "intermediate", "output") for k in kinds
        )
        ops = kinds.count("op")
        modules = kinds.count("module")
        parts = [f"{tensors} tensors", f"{ops} ops"]
        if modules:
            parts.append(f"{modules} collapsed modules")
        alerts = self.alerts
        if alerts:
            parts.append(f"{len(alerts)} alerts")
        return f"<Graph: {', '.join(parts)}>"
