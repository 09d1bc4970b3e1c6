"""Rendering with Graphviz: SVG output, the missing-`dot` error, Jupyter display, lazy import."""

from __future__ import annotations

import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from tinygrad_cnn import Tensor
from tinygrad_cnn.viz import GraphvizNotFoundError, draw

needs_dot = pytest.mark.skipif(
    shutil.which("dot") is None, reason="Graphviz's dot is not installed"
)
SVG = "{http://www.w3.org/2000/svg}"


def _small_loss() -> Tensor:
    x = Tensor(np.linspace(-1, 1, 6, dtype=np.float32).reshape(2, 3), name="x")
    w = Tensor(np.full((3, 2), 0.5, dtype=np.float32), requires_grad=True, name="w & <weights>")
    b = Tensor(np.zeros(2, dtype=np.float32), requires_grad=True, name="b")
    loss = ((x @ w + b).relu() * 2.0).mean()
    loss.backward(retain_grads=True)
    return loss


def _without_dot(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))


@needs_dot
@pytest.mark.parametrize(
    "options",
    [{}, {"values": True}, {"direction": "backward", "values": True}, {"rankdir": "LR"}],
)
def test_svg_parses_and_contains_every_node_label(tmp_path: Path, options: dict) -> None:
    graph = draw(_small_loss(), **options)
    output = graph.render(tmp_path / "graph.svg")
    assert output == tmp_path / "graph.svg"
    root = ET.parse(output).getroot()
    assert root.tag == f"{SVG}svg"
    texts = {(element.text or "").strip() for element in root.iter(f"{SVG}text")}
    for node in graph.nodes.values():
        if node.kind == "legend":
            continue
        for line in (node.title, *node.lines, *node.alerts):
            assert line in texts, f"{line!r} of {node.id} is missing from the SVG"
    assert not (tmp_path / "graph.dot").exists()  # only kept on request or on failure


@needs_dot
def test_render_takes_the_format_from_the_suffix_or_the_argument(tmp_path: Path) -> None:
    graph = draw(_small_loss())
    png = graph.render(tmp_path / "graph.png", keep_dot=True)
    assert (tmp_path / "graph.dot").read_text(encoding="utf-8") == graph.source
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    pdf = graph.render(tmp_path / "new folder" / "graph", format="pdf")
    assert pdf == tmp_path / "new folder" / "graph.pdf" and pdf.read_bytes()[:5] == b"%PDF-"
    with pytest.raises(ValueError, match="format must be one of svg, png, pdf, got 'jpg'"):
        graph.render(tmp_path / "graph.jpg", format="jpg")


@needs_dot
def test_jupyter_display_is_inline_svg() -> None:
    bundle = draw(_small_loss())._repr_mimebundle_()
    assert bundle["image/svg+xml"].lstrip().startswith("<?xml")


def test_missing_dot_gives_the_documented_error_and_still_writes_the_dot_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    graph = draw(_small_loss())
    _without_dot(monkeypatch, tmp_path)
    with pytest.raises(GraphvizNotFoundError) as caught:
        graph.render(tmp_path / "g.svg")
    message = str(caught.value)
    assert "`dot` was not found on PATH" in message
    assert "sudo apt-get install graphviz" in message and "brew install graphviz" in message
    assert f"dot -Tsvg {tmp_path / 'g.dot'} -o {tmp_path / 'g.svg'}" in message
    assert (tmp_path / "g.dot").read_text(encoding="utf-8") == graph.source
    assert not (tmp_path / "g.svg").exists()
    bundle = graph._repr_mimebundle_()
    assert "install Graphviz" in bundle["text/plain"] and graph.source in bundle["text/plain"]


def test_digraph_wraps_the_same_source() -> None:
    graph = draw(_small_loss(), values=True)
    assert graph.digraph.source == graph.source
    assert graph.digraph.name == "tinygrad_cnn"


def test_repr_counts_nodes_and_alerts() -> None:
    x = Tensor([np.nan, 1.0], requires_grad=True)
    assert repr(draw(x * 2.0, values=True)) == "<Graph: 3 tensors, 1 ops, 2 alerts>"


def test_importing_and_drawing_never_imports_graphviz() -> None:
    code = (
        "import sys, tinygrad_cnn\n"
        "from tinygrad_cnn import Tensor\n"
        "from tinygrad_cnn.viz import draw\n"
        "x = Tensor([1.0, 2.0], requires_grad=True)\n"
        "source = draw((x * x).sum(), values=True).source\n"
        "assert source.startswith('digraph')\n"
        "print('graphviz' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"


@pytest.mark.parametrize("name", ["g.jpg", "graph.v2", "g.svgz"])
def test_an_unsupported_suffix_is_refused_and_nothing_is_written(tmp_path: Path, name: str) -> None:
    graph = draw(_small_loss())
    with pytest.raises(ValueError, match=r"is not a supported format; use \.svg, \.png, \.pdf"):
        graph.render(tmp_path / name)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", ["g.dot", "g.gv", "g.DOT"])
def test_a_dot_or_gv_suffix_writes_the_dot_text_without_graphviz(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    graph = draw(_small_loss())
    _without_dot(monkeypatch, tmp_path)
    output = graph.render(tmp_path / "out" / name)
    assert output == tmp_path / "out" / name
    assert output.read_text(encoding="utf-8") == graph.source


def test_no_suffix_appends_the_format_and_a_disagreeing_format_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    graph = draw(_small_loss())
    _without_dot(monkeypatch, tmp_path)
    assert graph.render(tmp_path / "g", format="dot") == tmp_path / "g.dot"
    with pytest.raises(GraphvizNotFoundError):
        graph.render(tmp_path / "plain")
    assert (tmp_path / "plain.dot").exists()  # the DOT text of plain.svg, kept on failure
    with pytest.raises(ValueError, match="format 'png' does not match the suffix"):
        graph.render(tmp_path / "g.svg", format="png")
