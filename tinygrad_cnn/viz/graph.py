"""The :class:`Graph` that :func:`~tinygrad_cnn.viz.draw` returns: DOT text, files, Jupyter.

The DOT text needs nothing installed. Rendering to SVG/PNG/PDF needs Graphviz's ``dot``
program; without it :meth:`Graph.render` still writes the ``.dot`` file and raises
:class:`GraphvizNotFoundError` saying how to install Graphviz. :func:`output_file` is the one
rule, shared with the command line, that turns a file name into a format.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tinygrad_cnn.viz.drawing import DrawnNode

if TYPE_CHECKING:
    import graphviz

FORMATS = ("svg", "png", "pdf")  # rendered by Graphviz's dot
DOT_SUFFIXES = (".dot", ".gv")  # the DOT text itself
DEFAULT_FORMAT = "svg"

INSTALL_HINT = (
    "install Graphviz, which provides `dot`: `sudo apt-get install graphviz` (Debian/Ubuntu), "
    "`brew install graphviz` (macOS), `conda install -c conda-forge graphviz`, or "
    "https://graphviz.org/download/ (Windows: add its bin folder to PATH)"
)


class GraphvizNotFoundError(RuntimeError):
    """Graphviz's ``dot`` program is not on PATH, so the graph could not be rendered."""


def output_file(
    path: str | os.PathLike[str], format: str | None = None, caller: str = "Graph.render"
) -> tuple[Path, str]:
    """The file a drawing is written to, and its format: one rule for ``render`` and the CLI.

    - A suffix ``.svg``, ``.png`` or ``.pdf`` (any case) gives the format; ``.dot`` or ``.gv``
      means the DOT text itself (format ``"dot"``, no Graphviz needed).
    - No suffix: ``.<format>`` is appended (``.svg`` when no ``format`` is given).
    - Any other suffix, or a ``format`` that disagrees with the suffix, is a ValueError: the
      file is never written under a name that hides its format (``g.jpg`` holding SVG).

    Parameters
    ----------
    path : str or PathLike
        The file name the user gave.
    format : {"svg", "png", "pdf", "dot"}, optional
        The format, when it is not to be taken from the suffix.
    caller : str
        Named in error messages.

    Returns
    -------
    path : Path
        The file to write.
    format : str
        ``svg``, ``png``, ``pdf`` or ``dot``.

    Raises
    ------
    ValueError
        For an unsupported format or suffix, listing the supported ones.
    """
    path = Path(path)
    supported = f"{', '.join(FORMATS)} (rendered by Graphviz) or dot (the DOT text)"
    if format is not None and format not in (*FORMATS, "dot"):
        raise ValueError(
            f"{caller}: format must be one of {', '.join(FORMATS)}, got {format!r}; "
            f"or 'dot' for the DOT text"
        )
    suffix = path.suffix.lower()
    if not suffix:
        return path.with_name(f"{path.name}.{format or DEFAULT_FORMAT}"), format or DEFAULT_FORMAT
    from_suffix = "dot" if suffix in DOT_SUFFIXES else suffix.lstrip(".")
    if from_suffix not in (*FORMATS, "dot"):
        raise ValueError(
            f"{caller}: cannot write {path}: its suffix {path.suffix} is not a supported "
            f"format; use .svg, .png, .pdf (rendered by Graphviz), .dot or .gv (the DOT text), "
            f"or no suffix for .{format or DEFAULT_FORMAT}"
        )
    if format is not None and format != from_suffix:
        raise ValueError(
            f"{caller}: format {format!r} does not match the suffix of {path}; supported: "
            f"{supported}"
        )
    return path, from_suffix


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
        """Render to an SVG, PNG or PDF file with Graphviz's ``dot``, or write the DOT text.

        The file name follows one rule (:func:`output_file`, shared with the command line):
        the suffix gives the format (``.svg``, ``.png``, ``.pdf``; ``.dot`` or ``.gv`` writes
        the DOT text, no Graphviz needed); a name without suffix gets ``.<format>`` appended
        (``.svg`` by default); any other suffix is a ValueError. For a rendered format, the
        DOT text is written first, next to the output with the suffix ``.dot``; it is removed
        after a successful rendering unless ``keep_dot``, and kept when rendering fails (so it
        can be rendered elsewhere).

        Parameters
        ----------
        path : str or PathLike
            The output file (missing folders are created).
        format : {"svg", "png", "pdf", "dot"}, optional
            Output format, for a name without suffix (default: from the suffix, else
            ``svg``); with a suffix it must agree with it.
        keep_dot : bool, default False
            Keep the ``.dot`` file after a successful rendering.

        Returns
        -------
        Path
            The file written.

        Raises
        ------
        GraphvizNotFoundError
            When the ``dot`` program is not installed (the ``.dot`` file is still written).
        ValueError
            For an unsupported format or suffix, or a format that disagrees with the suffix.
        """
        output, fmt = output_file(path, format)
        output.parent.mkdir(parents=True, exist_ok=True)
        if fmt == "dot":
            return self.save(output)
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
