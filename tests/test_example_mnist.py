"""The MNIST example end to end: every promised file, the synthetic fallback, the seed target."""

from __future__ import annotations

import importlib.util
import json
import re
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "mnist.py"


def _load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("mnist_example", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while being defined
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def example() -> ModuleType:
    return _load_example()


def test_without_mnist_it_trains_on_synthetic_digits_and_writes_every_file(
    example: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("matplotlib")
    out = tmp_path / "run"
    metrics = example.main(
        ["--model", "seed", "--limit", "3000", "--data", str(tmp_path / "no-mnist"),
         "--no-download", "--out", str(out)]
    )  # fmt: skip
    captured = capsys.readouterr()
    assert "SYNTHETIC" in captured.err
    assert metrics["data"] == "synthetic"
    assert metrics["train_images"] == 3000
    graph = out / "graph.svg" if (out / "graph.svg").exists() else out / "graph.dot"
    expected = ["curves.png", "filters.png", "confusion.png", "model.safetensors", "metrics.json"]
    expected.append("checkpoint.safetensors")
    for name in expected:
        assert (out / name).stat().st_size > 0, name
    assert (out / "graph.dot").read_text().startswith("digraph")
    if graph.suffix == ".svg":
        svg = ET.parse(graph).getroot()
        text = " ".join(t for t in svg.itertext())
        assert "conv.weight" in text and "cross_entropy" in text
    for name in ("curves.png", "filters.png", "confusion.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    saved = json.loads((out / "metrics.json").read_text())
    assert len(saved["history"]["loss"]) == int(np.ceil(3000 / 32))
    assert saved["test_accuracy"] == metrics["test_accuracy"]
    # A few hundred steps on synthetic digits already learn something real.
    assert metrics["test_accuracy"] > 0.5
    model = example.build_model("seed")
    model.load(out / "model.safetensors")
    assert re.search(r"\|\s+seed \|\s+synthetic \|", captured.out), captured.out
    assert "test accuracy" in captured.out and "wrote:" in captured.out


def test_bad_arguments_are_rejected(example: ModuleType) -> None:
    with pytest.raises(SystemExit):
        example.parse_args(["--epochs", "0"])
    with pytest.raises(SystemExit):
        example.parse_args(["--model", "resnet"])


def test_seed_model_reaches_95_percent_on_real_mnist_in_one_epoch(
    example: ModuleType, mnist_root: Path, tmp_path: Path
) -> None:
    metrics = example.main(
        ["--model", "seed", "--epochs", "1", "--data", str(mnist_root), "--no-download",
         "--out", str(tmp_path)]
    )  # fmt: skip
    assert metrics["data"] == "MNIST"
    assert metrics["train_images"] == 60_000
    assert metrics["test_accuracy"] >= 0.95
