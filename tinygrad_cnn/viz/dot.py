"""DOT syntax: quoting, attribute lists, node, edge and subgraph statements.

The renderer writes its DOT text itself (one formatted line per statement) instead of calling
``graphviz.Digraph.node`` per node: that keeps the text byte-for-byte deterministic, makes a
10,000-op graph quick to write, and needs no graphviz package until something is rendered.
"""

from __future__ import annotations

from collections.abc import Mapping

INDENT = "\t"


class Html(str):
    """A label in Graphviz's HTML-like syntax, written between ``<`` and ``>`` unquoted."""

    __slots__ = ()


def quote(text: str) -> str:
    """Quote ``text`` as a DOT string (backslashes and double quotes escaped)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def escape_html(text: str) -> str:
    """Escape ``text`` for use inside an HTML-like label."""
    return (
        text.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&quot;")
        .replace("\n", " ")
    )


def attribute_list(attrs: Mapping[str, str | float | int]) -> str:
    """``[key="value" ...]`` in the given order; :class:`Html` values are written as ``<...>``."""
    parts = []
    for key, value in attrs.items():
        if isinstance(value, Html):
            parts.append(f"{key}=<{value}>")
        else:
            parts.append(f"{key}={quote(str(value))}")
    return "[" + " ".join(parts) + "]"


def node_statement(node_id: str, attrs: Mapping[str, str | float | int], depth: int = 1) -> str:
    """One node statement line (with indentation and newline)."""
    return f"{INDENT * depth}{node_id} {attribute_list(attrs)}\n"


def edge_statement(tail: str, head: str, attrs: Mapping[str, str | float | int]) -> str:
    """One edge statement line, at the top level of the graph."""
    suffix = f" {attribute_list(attrs)}" if attrs else ""
    return f"{INDENT}{tail} -> {head}{suffix}\n"


def default_statement(kind: str, attrs: Mapping[str, str | float | int], depth: int = 1) -> str:
    """A ``graph [...]``, ``node [...]`` or ``edge [...]`` defaults line."""
    return f"{INDENT * depth}{kind} {attribute_list(attrs)}\n"


def open_subgraph(name: str, depth: int) -> str:
    """The opening line of a subgraph (``cluster_*`` names draw a box)."""
    return f"{INDENT * depth}subgraph {name} {{\n"


def close_subgraph(depth: int) -> str:
    """The closing line of a subgraph."""
    return f"{INDENT * depth}}}\n"
