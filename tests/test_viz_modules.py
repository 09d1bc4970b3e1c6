"""The renderer with Modules: parameter names, module boxes (``Module.__call__`` tags each op
with its module through ``record_module_scope``), collapsed modules, and the command line."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tinygrad_cnn import Tensor, no_grad
from tinygrad_cnn.models import lenet, seed_cnn
from tinygrad_cnn.nn import Linear, Module, Parameter, ReLU, Sequential
from tinygrad_cnn.nn.scopes import record_module_scope
from tinygrad_cnn.viz import draw
from tinygrad_cnn.viz.__main__ import main

needs_dot = pytest.mark.skipif(
    shutil.which("dot") is None, reason="Graphviz's dot is not installed"
)


def _seed_loss(batch: int = 2) -> tuple[Module, Tensor, Tensor]:
    model = seed_cnn(seed=0)
    rng = np.random.default_rng(0)
    images = Tensor(rng.standard_normal((batch, 1, 28, 28)).astype(np.float32), name="images")
    loss = model(images).cross_entropy(rng.integers(0, 10, batch))
    return model, images, loss


def _boxes_of(source: str) -> dict[str, list[str]]:
    """Node id -> titles of the module boxes around it, outermost first (parsed from DOT)."""
    boxes: list[str] = []
    found: dict[str, list[str]] = {}
    for line in source.splitlines():
        stripped = line.strip()
        if stripped.startswith("subgraph cluster_"):
            boxes.append("")
        elif stripped == "}" and boxes:
            boxes.pop()
        elif stripped.startswith("graph [") and boxes:
            boxes[-1] = re.search(r"<B>(.*?)</B>", stripped).group(1)
        else:
            match = re.match(r"(t\d+|op\d+|mod\d+) \[", stripped)
            if match:
                found[match.group(1)] = list(boxes)
    return found


def test_parameter_names_from_a_module_appear() -> None:
    model, _, loss = _seed_loss()
    titles = {node.title for node in draw(loss).nodes.values()}
    assert {"conv.weight", "fc.weight", "fc.bias", "images"} <= titles
    with_model = draw(loss, model=model)
    assert with_model.node(model.fc.bias).title == "fc.bias"
    assert with_model.node(model.fc.bias).kind == "parameter"


def test_module_view_boxes_each_layer() -> None:
    model, images, loss = _seed_loss()
    graph = draw(loss, model=model, modules=True)
    boxes = _boxes_of(graph.source)

    def box(obj: Any) -> list[str]:
        return boxes[graph.node_id(obj)]

    assert box(model.conv.weight) == ["Sequential", "conv: Conv2d"]
    assert box(model.fc.weight) == box(model.fc.bias) == ["Sequential", "fc: Linear"]
    ops_by_box = {}
    for node in graph.nodes.values():
        if node.kind == "op":
            ops_by_box.setdefault(tuple(boxes[node.id]), []).append(node.title)
    assert ops_by_box == {
        ("Sequential", "conv: Conv2d"): ["conv2d"],
        ("Sequential", "pool: MaxPool2d"): ["max_pool2d"],
        ("Sequential", "flatten: Flatten"): ["reshape"],
        ("Sequential", "fc: Linear"): ["permute", "matmul", "add"],
        (): ["cross_entropy"],
    }
    assert box(images) == [] and box(loss) == []
    assert "3,202 parameters" in graph.source and "no parameters" in graph.source


def test_nested_modules_keep_the_innermost_box() -> None:
    class Block(Module):
        def __init__(self) -> None:
            super().__init__()
            self.body = Sequential(Linear(3, 4, seed=0), ReLU())
            self.scale = Parameter(np.full(4, 2.0, dtype=np.float32))

        def forward(self, x: Tensor) -> Tensor:
            return self.body(x) * self.scale

    block = Block()
    out = block(Tensor(np.ones((2, 3), dtype=np.float32)))
    graph = draw(out, model=block, modules=True)
    boxes = _boxes_of(graph.source)
    assert boxes[graph.node_id(out._ctx)] == ["Block"]
    assert boxes[graph.node_id(block.scale)] == ["Block"]
    relu = out._ctx.inputs[0]._ctx
    assert boxes[graph.node_id(relu)] == ["Block", "body: Sequential", "body.1: ReLU"]
    assert boxes[graph.node_id(block.body[0].weight)] == [
        "Block",
        "body: Sequential",
        "body.0: Linear",
    ]


def test_collapse_draws_each_layer_as_one_node_with_its_parameter_count() -> None:
    model, images, loss = _seed_loss(batch=3)
    graph = draw(loss, model=model, collapse=True)
    modules = {n.title: n for n in graph.nodes.values() if n.kind == "module"}
    assert list(modules) == ["conv: Conv2d", "pool: MaxPool2d", "flatten: Flatten", "fc: Linear"]
    assert modules["conv: Conv2d"].lines == ("192 parameters", "weight (3, 1, 8, 8)", "conv2d")
    assert modules["fc: Linear"].lines == (
        "3,010 parameters",
        "weight (10, 300)",
        "bias (10,)",
        "permute → matmul → add",
    )
    assert modules["pool: MaxPool2d"].lines[0] == "no parameters"
    conv, fc = graph.node_id(model.conv.weight), graph.node_id(loss._ctx.inputs[0]._ctx)
    assert graph.nodes[conv].title == "conv: Conv2d" and graph.nodes[fc].title == "fc: Linear"
    edges = re.findall(r"^\t(\w+) -> (\w+) \[label=<(.*?)>\]", graph.source, re.MULTILINE)
    assert (graph.node_id(images), conv, "(3, 1, 28, 28)") in edges
    module_edges = [(a, b, label) for a, b, label in edges if a.startswith("mod")]
    assert [label for *_, label in module_edges] == [
        "(3, 3, 21, 21)",
        "(3, 3, 10, 10)",
        "(3, 300)",
        "(3, 10)",
    ]
    assert graph.node(loss).kind == "output"  # roots stay visible
    assert _boxes_of(graph.source)[conv] == ["Sequential"]


def test_collapsed_modules_carry_the_alerts_of_what_they_hide() -> None:
    model = seed_cnn(seed=0)
    images = np.zeros((1, 1, 28, 28), dtype=np.float32)
    images[0, 0, 5, 5] = np.nan
    loss = model(Tensor(images)).cross_entropy([3])
    loss.backward()
    graph = draw(loss, model=model, collapse=True, values=True)
    conv = graph.node(model.conv.weight)
    assert conv.kind == "module"
    assert any(
        alert.startswith("conv.weight: ") and "NaN in grad" in alert for alert in conv.alerts
    )
    assert 'color="#d62728"' in re.search(rf"^\t+{conv.id} .*$", graph.source, re.M).group(0)


def test_without_recorded_scopes_ops_that_use_a_parameter_join_its_module() -> None:
    model = seed_cnn(seed=0)
    x = Tensor(np.ones((1, 1, 28, 28), dtype=np.float32))
    features = x.conv2d(model.conv.weight).max_pool2d(2).reshape(1, 300)  # not via the model
    logits = features @ model.fc.weight.T + model.fc.bias
    graph = draw(logits, model=model, modules=True)
    boxes = _boxes_of(graph.source)
    ops = {node.title: boxes[node.id] for node in graph.nodes.values() if node.kind == "op"}
    assert ops == {
        "conv2d": ["Sequential", "conv: Conv2d"],
        "max_pool2d": [],
        "reshape": [],
        "permute": ["Sequential", "fc: Linear"],
        "matmul": ["Sequential", "fc: Linear"],  # reads weight.T, made from fc's weight alone
        "add": ["Sequential", "fc: Linear"],
    }


def test_record_module_scope_tags_only_the_ops_of_the_call() -> None:
    outer, inner = object(), object()
    x = Tensor([1.0, 2.0], requires_grad=True)
    before = x * 2.0  # made before the call: not tagged
    hidden = (before + 1.0).tanh()
    assert record_module_scope(inner, [before], hidden) == 2
    out = hidden.sum()
    assert record_module_scope(outer, (before,), {"out": out, "other": 3}) == 1
    assert out._ctx.scope is outer
    assert hidden._ctx.scope is inner and hidden._ctx.inputs[0]._ctx.scope is inner
    assert before._ctx.scope is None
    with no_grad():
        assert record_module_scope(outer, (x,), x * 3.0) == 0


def test_command_line_writes_dot_text(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "lenet.dot"
    assert main(["--model", "lenet", "--values", "--direction", "backward", "--out", str(out)]) == 0
    source = out.read_text(encoding="utf-8")
    assert source.startswith("digraph tinygrad_cnn {")
    for name in (
        "conv1.weight",
        "conv2.bias",
        "fc2.weight",
        "images",
        "labels",
        "loss",
        "grad ‖g‖",
    ):
        assert name in source
    assert f"wrote {out}" in capsys.readouterr().out


@needs_dot
def test_command_line_renders_svg(tmp_path: Path) -> None:
    out = tmp_path / "graphs" / "seed.svg"
    assert main(["--model", "seed", "--collapse", "--out", str(out)]) == 0
    assert out.read_text(encoding="utf-8").lstrip().startswith("<?xml")
    assert not (tmp_path / "graphs" / "seed.dot").exists()


def test_command_line_without_dot_exits_1_and_keeps_the_dot_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    assert main(["--model", "seed", "--out", str(tmp_path / "seed.png")]) == 1
    assert "install Graphviz" in capsys.readouterr().err
    assert "conv.weight" in (tmp_path / "seed.dot").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    "argv",
    [
        ["--model", "resnet", "--out", "g.svg"],
        ["--model", "seed"],
        ["--model", "seed", "--out", "g.svg", "--batch-size", "0"],
        ["--model", "seed", "--out", "g.svg", "--max-nodes", "0"],
    ],
)
def test_command_line_rejects_bad_arguments(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(argv)
    assert caught.value.code == 2


def test_lenet_module_view_has_every_layer_box() -> None:
    model = lenet(seed=0)
    loss = model(Tensor(np.zeros((1, 1, 28, 28), dtype=np.float32))).cross_entropy([1])
    boxes = _boxes_of(draw(loss, model=model, modules=True).source)
    titles = {box[-1] for box in boxes.values() if box}
    assert titles == {
        "conv1: Conv2d", "relu1: ReLU", "pool1: MaxPool2d", "conv2: Conv2d", "relu2: ReLU",
        "pool2: MaxPool2d", "flatten: Flatten", "fc1: Linear", "relu3: ReLU", "fc2: Linear",
    }  # fmt: skip


def _is_acyclic(source: str) -> bool:
    """True when the DOT edges of ``source`` form no cycle (Kahn's algorithm)."""
    edges = re.findall(r"^\t(\w+) -> (\w+)", source, re.MULTILINE)
    nodes = {n for edge in edges for n in edge}
    incoming = {n: 0 for n in nodes}
    for _, head in edges:
        incoming[head] += 1
    ready = [n for n, k in incoming.items() if k == 0]
    removed = 0
    while ready:
        node = ready.pop()
        removed += 1
        for tail, head in edges:
            if tail == node:
                incoming[head] -= 1
                if incoming[head] == 0:
                    ready.append(head)
    return removed == len(nodes)


class _TwiceThroughOneLayer(Module):
    """The same Linear (shared weights) applied twice, a ReLU module between and after."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = Linear(3, 3, seed=0)
        self.act = ReLU()

    def forward(self, x: Tensor) -> Tensor:
        return self.act(self.act(self.fc(self.act(self.fc(x)))))


def test_collapsed_view_draws_each_call_of_a_module_once_without_a_cycle() -> None:
    model = _TwiceThroughOneLayer()
    x = Tensor(np.ones((2, 3), dtype=np.float32), name="x")
    out = model(x).sum()
    graph = draw(out, model=model, collapse=True)
    assert _is_acyclic(graph.source)
    calls = [(n.title, n.lines) for n in graph.nodes.values() if n.kind == "module"]
    assert [title for title, _ in calls] == ["fc: Linear", "act: ReLU"] * 2 + ["act: ReLU"]
    fc_calls = [lines for title, lines in calls if title == "fc: Linear"]
    assert [lines[1] for lines in fc_calls] == ["call 1 of 2", "call 2 of 2"]
    assert all("weight (3, 3)" in lines and "bias (3,)" in lines for lines in fc_calls)
    act_calls = [lines for title, lines in calls if title == "act: ReLU"]
    assert [lines[1] for lines in act_calls] == ["call 1 of 3", "call 2 of 3", "call 3 of 3"]
    # The first call's input comes from x, its output feeds the second call through act.
    edges = re.findall(r"^\t(\w+) -> (\w+)", graph.source, re.MULTILINE)
    modules = [n.id for n in graph.nodes.values() if n.kind == "module"]
    fc1, act1, fc2, act2, act3 = modules
    assert {(graph.node_id(x), fc1), (fc1, act1), (act1, fc2), (fc2, act2), (act2, act3)} <= set(
        edges
    )
    assert graph.node(model.fc.weight).id == fc1  # the shared weight shows on the first call


def test_boxed_view_of_a_module_called_twice_keeps_every_op() -> None:
    model = _TwiceThroughOneLayer()
    out = model(Tensor(np.ones((2, 3), dtype=np.float32))).sum()
    graph = draw(out, model=model, modules=True)
    boxes = _boxes_of(graph.source)
    ops = [(n.title, (boxes[n.id] or ["-"])[-1]) for n in graph.nodes.values() if n.kind == "op"]
    assert (
        ("sum", "-") in ops
        and ops.count(("matmul", "fc: Linear")) == 2
        and ops.count(("relu", "act: ReLU")) == 3
    )


def test_command_line_applies_the_output_file_rule(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["--model", "seed", "--out", str(tmp_path / "g.jpg")])
    assert caught.value.code == 2
    assert "is not a supported format" in capsys.readouterr().err
    out = tmp_path / "g.gv"
    assert main(["--model", "seed", "--out", str(out)]) == 0
    assert out.read_text(encoding="utf-8").startswith("digraph tinygrad_cnn {")
