"""The graph command line with any model: ``--model module:factory``, ``--input-shape``, the
module's ``example_input``, a factory's ``(module, example)`` tuple, and ``--weights``."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from tinygrad_cnn.models import seed_cnn
from tinygrad_cnn.viz.__main__ import load_model, main, parse_arguments

FACTORIES = textwrap.dedent(
    """
    import numpy as np
    from tinygrad_cnn import Tensor
    from tinygrad_cnn.nn import Linear, Module, ReLU, Sequential
    from tinygrad_cnn.models import seed_cnn


    def mlp():
        return Sequential(Linear(6, 5, seed=0), ReLU(), Linear(5, 2, seed=1))


    def mlp_with_example():
        return mlp(), Tensor(np.ones((3, 6), np.float32))


    class Scorer(Module):
        def __init__(self):
            super().__init__()
            self.head = Linear(4, 1, seed=0)

        def forward(self, x):
            return self.head(x).tanh()

        def example_input(self, batch_size):
            return np.full((batch_size, 4), 0.5, np.float32)


    class Holder:
        make = staticmethod(mlp)


    seed = seed_cnn
    not_callable = 3


    def returns_a_number():
        return 3
    """
)


@pytest.fixture
def factories(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A module ``cli_factories`` importable for the duration of the test."""
    (tmp_path / "cli_factories.py").write_text(FACTORIES)
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("cli_factories", None)
    yield "cli_factories"
    sys.modules.pop("cli_factories", None)


def draw_dot(tmp_path: Path, *options: str) -> str:
    out = tmp_path / "graph.dot"
    assert main([*options, "--out", str(out)]) == 0
    return out.read_text()


def test_a_factory_with_an_input_shape(factories: str, tmp_path: Path) -> None:
    dot = draw_dot(tmp_path, "--model", f"{factories}:mlp", "--input-shape", "6", "--modules")
    for name in ("0.weight", "0.bias", "2.weight", "matmul", "relu", "(4, 6)", "(4, 2)"):
        assert name in dot, name
    assert "cross_entropy" not in dot  # the graph ends at the model's output


def test_a_factory_returning_the_module_and_its_example(factories: str, tmp_path: Path) -> None:
    dot = draw_dot(tmp_path, "--model", f"{factories}:mlp_with_example")
    assert "(3, 6)" in dot and "(3, 2)" in dot


def test_the_modules_example_input_method_takes_the_batch_size(
    factories: str, tmp_path: Path
) -> None:
    dot = draw_dot(tmp_path, "--model", f"{factories}:Scorer", "--batch-size", "7", "--values")
    assert "(7, 4)" in dot and "tanh" in dot and "head.weight" in dot


def test_a_dotted_attribute_and_the_backward_view(factories: str, tmp_path: Path) -> None:
    dot = draw_dot(
        tmp_path,
        "--model",
        f"{factories}:Holder.make",
        "--input-shape",
        "6",
        "--direction",
        "backward",
    )
    assert "0.weight" in dot


def test_weights_are_loaded_before_drawing(factories: str, tmp_path: Path) -> None:
    trained = seed_cnn(seed=5)
    checkpoint = tmp_path / "trained.npz"
    trained.save(checkpoint)
    for model in ("seed", f"{factories}:seed"):
        options = ["--model", model, "--weights", str(checkpoint), "--out", "g.dot"]
        if ":" in model:
            options += ["--input-shape", "1,28,28"]
        loaded = load_model(parse_arguments(options)).model
        for (name, param), (_, expected) in zip(
            loaded.named_parameters(), trained.named_parameters(), strict=True
        ):
            np.testing.assert_array_equal(param.data, expected.data, err_msg=name)
    fresh = load_model(parse_arguments(["--model", "seed", "--out", "g.dot"])).model
    assert not np.array_equal(fresh.conv.weight.data, trained.conv.weight.data)
    dot = draw_dot(tmp_path, "--model", "seed", "--weights", str(checkpoint), "--values")
    assert "conv.weight" in dot


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--model", "no_such_module_here:f"], "cannot import 'no_such_module_here'"),
        (["--model", "{m}:missing"], "has no attribute 'missing'"),
        (["--model", "{m}:not_callable"], "is a int, not a callable"),
        (["--model", "{m}:returns_a_number"], "returned int; expected a Module"),
        (["--model", "{m}:mlp"], "no example input: give --input-shape"),
        (["--model", "seed", "--weights", "{tmp}/missing.npz"], "--weights: "),
        (["--model", "lenet", "--weights", "{tmp}/seed.npz"], "--weights: "),
    ],
)
def test_bad_models_exit_with_status_2_and_a_message(
    factories: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    options: list[str],
    message: str,
) -> None:
    seed_cnn().save(tmp_path / "seed.npz")
    options = [o.format(m=factories, tmp=tmp_path) for o in options]
    assert main([*options, "--out", str(tmp_path / "g.dot")]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "g.dot").exists()


@pytest.mark.parametrize(
    "options",
    [
        ["--model", "resnet"],
        ["--model", "seed", "--input-shape", "1,28,28"],
        ["--model", "m:f", "--input-shape", "0,3"],
        ["--model", "m:f", "--input-shape", "a,b"],
    ],
)
def test_bad_options_are_usage_errors(options: list[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        parse_arguments([*options, "--out", "g.dot"])
    assert exit_info.value.code == 2


def test_python_dash_m_finds_a_factory_in_the_working_folder(tmp_path: Path) -> None:
    (tmp_path / "my_nets.py").write_text(FACTORIES)
    root = Path(__file__).resolve().parents[1]
    result = subprocess.run(
        [sys.executable, "-m", "tinygrad_cnn.viz", "--model", "my_nets:mlp_with_example",
         "--out", "net.dot"],
        cwd=tmp_path,
        env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "net.dot").read_text().startswith("digraph")


def test_the_modern_cnn_in_the_module_view(tmp_path: Path) -> None:
    """The built-in modern CNN draws with its conv-BatchNorm-ReLU blocks and dropouts as
    module boxes (the graph is recorded in training mode: batch statistics, dropout masks)."""
    dot = draw_dot(tmp_path, "--model", "modern", "--modules")
    for name in ("conv1.weight", "bn1", "bn3", "relu4", "drop1", "drop2", "fc2.weight"):
        assert name in dot, name
    assert "cross_entropy" in dot
