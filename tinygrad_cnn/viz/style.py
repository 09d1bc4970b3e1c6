"""Colours, shapes and HTML-like label markup: how each kind of node and edge looks.

Every kind differs in shape or border as well as colour, so the drawing still reads in grey
print or for colour-blind readers. The legend shows only the kinds present in the drawing.
"""

from __future__ import annotations

from collections.abc import Sequence

from tinygrad_cnn.viz.dot import Html, escape_html

FONT = "Helvetica"

GRAPH_DEFAULTS = {
    "fontname": FONT,
    "bgcolor": "white",
    "nodesep": "0.25",
    "ranksep": "0.3",
    "pad": "0.2",
    "newrank": "true",
}
NODE_DEFAULTS = {
    "fontname": FONT,
    "fontsize": "11",
    "shape": "box",
    "style": "rounded,filled",
    "penwidth": "1.2",
    "margin": "0.12,0.05",
    "height": "0.3",
}
EDGE_DEFAULTS = {
    "fontname": FONT,
    "fontsize": "9",
    "color": "#8c8c8c",
    "fontcolor": "#555555",
    "arrowsize": "0.7",
}

# Node kinds: (DOT attributes, legend description).
NODE_STYLES: dict[str, tuple[dict[str, str], str]] = {
    "parameter": (
        {"fillcolor": "#d4e6f9", "color": "#2f6fb5"},
        "parameter (leaf, requires grad)",
    ),
    "input": (
        {"style": "filled", "fillcolor": "#fde8c8", "color": "#c07a1c"},
        "input (leaf, no grad)",
    ),
    "constant": (
        {"style": "rounded,dashed", "fillcolor": "white", "color": "#9e9e9e", "fontsize": "10"},
        "constant (scalar leaf)",
    ),
    "intermediate": (
        {"fillcolor": "#ffffff", "color": "#9e9e9e"},
        "intermediate tensor",
    ),
    "output": (
        {"fillcolor": "#d5efd5", "color": "#2e8b3a", "peripheries": "2"},
        "output (a root)",
    ),
    "op": (
        {"style": "filled", "fillcolor": "#3d4b5c", "color": "#3d4b5c", "fontcolor": "white"},
        "op (attributes below its name)",
    ),
    "module": (
        {"shape": "box3d", "style": "filled", "fillcolor": "#e4ebf5", "color": "#5b6f8a"},
        "module (collapsed)",
    ),
}

ALERT_STYLE = {"color": "#d62728", "penwidth": "2.6", "fillcolor": "#fcdcdc"}
DEAD_STYLE = {"color": "#7b3fa0", "penwidth": "2.2"}
# Ops coloured by a check_graph report: (DOT attributes, legend description).
CHECK_STYLES: dict[str, tuple[dict[str, str], str]] = {
    "pass": ({"color": "#3fae4f", "penwidth": "3"}, "backward checked: pass"),
    "fail": (
        {"fillcolor": "#c0141c", "color": "#7a0b10", "penwidth": "3"},
        "backward checked: FAIL (check_graph)",
    ),
    "undetermined": (
        {"color": "#d9b310", "penwidth": "3"},
        "backward checked: undetermined (kink)",
    ),
}
NOTE_STYLE = {"shape": "note", "style": "filled", "fillcolor": "#fff6c2", "color": "#b8a642"}
CLUSTER_STYLE = {
    "style": "rounded,filled",
    "color": "#8fa3bf",
    "fillcolor": "#f3f6fa",
    "fontname": FONT,
    "fontsize": "11",
    "labeljust": "l",
    "penwidth": "1.2",
}
NESTED_CLUSTER_FILL = "#e9eef5"

# Edge kinds.
EDGE_STYLES: dict[str, dict[str, str]] = {
    "data": {},
    "gradient": {"color": "#c0392b", "fontcolor": "#8e2a20", "dir": "back"},
    "summed": {"color": "#e67e22", "fontcolor": "#a85a12", "dir": "back", "penwidth": "2.2"},
    "no_grad": {"color": "#c8c8c8", "fontcolor": "#9e9e9e", "style": "dotted", "dir": "back"},
    "hidden": {"color": "#b8a642", "style": "dashed"},
}
EDGE_LEGEND = {
    "gradient": "gradient flow (backward view)",
    "summed": "gradient summed over broadcast axes",
    "no_grad": "no gradient to this input",
}

# Tones of the lines under a node's title: (font colour, point size).
TONES: dict[str, tuple[str, str]] = {
    "detail": ("#555555", "9"),
    "stat": ("#1f3a5a", "9"),
    "grad": ("#8e2a20", "9"),
    "alert": ("#c0141c", "10"),
    "dead": ("#6a2e91", "10"),
    "summed": ("#a85a12", "9"),
    "muted": ("#8c8c8c", "9"),
    "check_pass": ("#9be3a5", "9"),
    "check_fail": ("#ffffff", "10"),
    "check_undetermined": ("#f5d76e", "9"),
}
OP_TONE_COLOUR = "#d7dee8"  # detail lines on the dark op nodes


def node_label(title: str, lines: Sequence[tuple[str, str]], on_dark: bool = False) -> Html:
    """The HTML-like label: the title in bold, then one line per ``(text, tone)``."""
    parts = [f"<B>{escape_html(title)}</B>"]
    for text, tone in lines:
        colour, size = TONES[tone]
        if on_dark and tone in ("detail", "stat", "muted"):
            colour = OP_TONE_COLOUR
        parts.append(f'<FONT POINT-SIZE="{size}" COLOR="{colour}">{escape_html(text)}</FONT>')
    return Html("<BR/>".join(parts))


def edge_label(lines: Sequence[str]) -> Html:
    """An edge label of one or more lines."""
    return Html("<BR/>".join(escape_html(line) for line in lines))


def _swatch_row(attrs: dict[str, str], text: str) -> str:
    """A legend row: a small box styled like the node kind, then its description."""
    fill = attrs.get("fillcolor", "white")
    border = attrs.get("color", "#9e9e9e")
    node_style = attrs.get("style", NODE_DEFAULTS["style"])
    line = "dashed" if "dashed" in node_style else "rounded" if "rounded" in node_style else ""
    width = "2" if float(attrs.get("penwidth", "1")) >= 2 else "1"
    swatch_style = f' STYLE="{line}"' if line else ""
    return (
        f'<TR><TD BGCOLOR="{fill}" COLOR="{border}" BORDER="{width}"{swatch_style} WIDTH="18"> '
        f'</TD><TD ALIGN="LEFT">{escape_html(text)}</TD></TR>'
    )


def legend_label(
    node_kinds: Sequence[str],
    edge_kinds: Sequence[str],
    marks: Sequence[str],
    checks: Sequence[str] = (),
) -> Html:
    """A small table with one swatch per node kind, edge kind, mark and check in the drawing."""
    rows = ['<TR><TD COLSPAN="2" ALIGN="LEFT"><B>legend</B></TD></TR>']
    for kind in node_kinds:
        attrs, text = NODE_STYLES[kind]
        rows.append(_swatch_row(attrs, text))
    for kind in edge_kinds:
        colour = EDGE_STYLES[kind]["color"]
        rows.append(
            f'<TR><TD><FONT COLOR="{colour}"><B>⟵</B></FONT></TD>'
            f'<TD ALIGN="LEFT">{escape_html(EDGE_LEGEND[kind])}</TD></TR>'
        )
    for mark in marks:
        if mark == "alert":
            rows.append(_swatch_row(ALERT_STYLE, "NaN or Inf in data or gradient"))
        else:
            rows.append(_swatch_row({**DEAD_STYLE, "style": "dashed"}, "dead gradient (all zero)"))
    for status in checks:
        attrs, text = CHECK_STYLES[status]
        rows.append(_swatch_row({**NODE_STYLES["op"][0], **attrs}, text))
    return Html(
        '<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="3" CELLPADDING="2">'
        + "".join(rows)
        + "</TABLE>"
    )


def cluster_label(title: str, subtitle: str) -> Html:
    """A module box's label: its path and type in bold, then its parameter count."""
    return Html(
        f'<B>{escape_html(title)}</B>  <FONT POINT-SIZE="9" COLOR="#555555">'
        f"{escape_html(subtitle)}</FONT>"
    )
