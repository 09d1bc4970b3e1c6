"""ONNX export: the checker passes and onnxruntime computes what tinygrad_cnn computes.

- every registered op either has an export rule or is declared non-exportable with a reason,
  and every exportable op, applied by its spec in tests/op_specs.py to drawn inputs, gives
  onnxruntime's outputs within 1e-5 of ours, in float32 (and float64 where onnxruntime has
  double kernels: the others are listed, and the list is checked too);
- the seed CNN, LeNet and an MLP: parameters as initialisers with their dotted names, the
  same logits at the example's batch size and at another one (the batch axis is ``N``);
- a loss with integer labels, bad arguments, the file written atomically.

Skipped when the ``onnx`` extra (onnx, onnxruntime) is not installed; CI installs it.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from op_specs import SPECS, Case

from tinygrad_cnn import Function, Tensor, no_grad
from tinygrad_cnn.function import topological_order
from tinygrad_cnn.models import lenet, seed_cnn
from tinygrad_cnn.nn import Linear, Module, ReLU, Sequential

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
tc_onnx = pytest.importorskip("tinygrad_cnn.onnx")

TOLERANCE = 1e-5

# Ops that export to valid float64 ONNX, but for which onnxruntime's CPU provider has no double
# kernel (it refuses to load the model). Checked below, so the list stays true.
ORT_FLOAT32_ONLY: dict[str, str] = {
    "conv2d": "onnxruntime's CPU Conv is float32 only",
    "avg_pool2d": "onnxruntime's CPU AveragePool is float32 only",
    "erf": "onnxruntime's CPU Erf is float32 only",
}


def run(model: onnx.ModelProto, *arrays: np.ndarray) -> list[np.ndarray]:
    """onnxruntime's outputs for ``arrays`` fed to the model's inputs in order."""
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]
    return session.run(None, dict(zip(names, arrays, strict=True)))


def as_dtype(case: Case, dtype: type) -> tuple[np.ndarray, ...]:
    """The case's floating inputs in ``dtype`` (integer ones, such as labels, unchanged)."""
    return tuple(a.astype(dtype) if np.issubdtype(a.dtype, np.floating) else a for a in case.inputs)


def check_op(name: str, case: Case, dtype: type) -> None:
    """Export ``SPECS[name]`` applied to ``case`` and compare onnxruntime's result with ours."""
    spec = SPECS[name]
    inputs = as_dtype(case, dtype)

    def apply(*tensors: Tensor) -> Tensor:
        return spec.call(*tensors, **case.kwargs)

    model = tc_onnx.export(apply, inputs, dynamic_batch=False)
    assert name in {n.name for n in recorded_ops(apply, inputs)}
    with no_grad():
        expected = apply(*(Tensor(a) for a in inputs)).data
    (got,) = run(model, *inputs)
    assert got.dtype == expected.dtype
    np.testing.assert_allclose(got, expected, rtol=TOLERANCE, atol=TOLERANCE)


def recorded_ops(fn, inputs: tuple[np.ndarray, ...]) -> list[Function]:
    """The ops ``fn`` records on ``inputs`` (floating ones requiring grad), as export sees."""
    tensors = [Tensor(a, requires_grad=np.issubdtype(a.dtype, np.floating)) for a in inputs]
    return [t._ctx for t in topological_order(fn(*tensors)) if t._ctx is not None]


def test_every_registered_op_has_a_rule_or_a_reason() -> None:
    rules, refused = set(tc_onnx.EXPORT_RULES), set(tc_onnx.NOT_EXPORTABLE)
    assert not rules & refused, f"both a rule and a reason: {sorted(rules & refused)}"
    missing = set(Function.registry) - rules - refused
    assert not missing, f"registered ops with no ONNX export rule and no reason: {sorted(missing)}"
    assert (rules | refused) <= set(Function.registry), "rules for ops that do not exist"
    for name, reason in tc_onnx.NOT_EXPORTABLE.items():
        assert isinstance(reason, str) and reason.strip(), f"{name}: give a one-line reason"


@pytest.mark.parametrize("name", sorted(Function.registry))
@settings(max_examples=20)
@given(data=st.data())
def test_op_matches_onnxruntime_float32(name: str, data: st.DataObject) -> None:
    if name in tc_onnx.NOT_EXPORTABLE:
        return  # declared with a reason (test above); export refuses it (test below)
    assert name in tc_onnx.EXPORT_RULES, f"op {name!r} has no ONNX export rule"
    check_op(name, data.draw(SPECS[name].draw), np.float32)


@pytest.mark.parametrize("name", sorted(Function.registry))
@settings(max_examples=8)
@given(data=st.data())
def test_op_matches_onnxruntime_float64(name: str, data: st.DataObject) -> None:
    if name in tc_onnx.NOT_EXPORTABLE:
        return
    case = data.draw(SPECS[name].draw)
    if name in ORT_FLOAT32_ONLY:
        refused = ort.capi.onnxruntime_pybind11_state.NotImplemented
        with pytest.raises(refused, match="Could not find an implementation"):
            check_op(name, case, np.float64)
    else:
        check_op(name, case, np.float64)


def test_an_op_without_a_rule_is_refused_by_name() -> None:
    class Twice(Function, register=False):
        name = "twice_for_test"

        def forward(self, a: np.ndarray) -> np.ndarray:
            return 2 * a

    with pytest.raises(tc_onnx.OnnxExportError, match=r"'twice_for_test'.*no export rule"):
        tc_onnx.export(lambda x: Twice.apply(x), np.ones(3, np.float32))


# ---------------------------------------------------------------------- whole models
def mlp() -> Sequential:
    model = Sequential(Linear(784, 64, seed=1), ReLU(), Linear(64, 10, seed=2))
    return model


class FlatMLP(Module):
    """An MLP that flattens its images itself (reshape with a kept batch axis)."""

    def __init__(self) -> None:
        super().__init__()
        self.body = mlp()

    def forward(self, x: Tensor) -> Tensor:
        return self.body(x.reshape(x.shape[0], -1)).log_softmax(axis=1)


@pytest.mark.parametrize("factory", [seed_cnn, lenet, FlatMLP], ids=["seed", "lenet", "mlp"])
def test_models_match_onnxruntime_at_any_batch_size(factory, tmp_path) -> None:
    model = factory()
    rng = np.random.default_rng(0)
    example = rng.standard_normal((3, 1, 28, 28)).astype(np.float32)
    path = tmp_path / "model.onnx"
    exported = tc_onnx.export(model, example, path)
    loaded = onnx.load(path)
    onnx.checker.check_model(loaded, full_check=True)
    assert loaded == exported
    names = {i.name for i in loaded.graph.initializer}
    assert {name for name, _ in model.named_parameters()} <= names
    for name, param in model.named_parameters():
        stored = next(i for i in loaded.graph.initializer if i.name == name)
        np.testing.assert_array_equal(onnx.numpy_helper.to_array(stored), param.data)
    batch_axis = loaded.graph.input[0].type.tensor_type.shape.dim[0]
    assert batch_axis.dim_param == "N"
    for n in (3, 1, 7):
        images = rng.standard_normal((n, 1, 28, 28)).astype(np.float32)
        with no_grad():
            expected = model(Tensor(images)).data
        (got,) = run(loaded, images)
        assert got.shape == expected.shape == (n, 10)
        assert np.abs(got - expected).max() <= TOLERANCE


def test_slices_and_broadcasts_keep_the_batch_axis_free() -> None:
    def fn(t: Tensor) -> Tensor:
        centred = t - t.mean(axis=1, keepdims=True).broadcast_to(t.shape)
        return centred[:, 1:, None, -1] * t[..., ::2].sum(axis=(1, 2))[:, None, None]

    example = np.random.default_rng(2).standard_normal((2, 3, 4)).astype(np.float32)
    model = tc_onnx.export(fn, example)
    for n in (2, 5):
        x = np.random.default_rng(n).standard_normal((n, 3, 4)).astype(np.float32)
        with no_grad():
            expected = fn(Tensor(x)).data
        (got,) = run(model, x)
        np.testing.assert_allclose(got, expected, rtol=TOLERANCE, atol=TOLERANCE)


def test_index_order_nan_sign_and_in_place_ops_in_one_graph() -> None:
    """PyTorch's index order (an int, then an array: numpy would give shape (2, 4)), the sign
    of NaN, a 0-d softmax and in-place ops recorded mid-graph."""

    def fn(t: Tensor) -> tuple[Tensor, ...]:
        picked = t[0, :, np.array([1, 2])]
        y = t * 1
        y.add_(t, alpha=-0.5).clamp_(min=1.0)
        return picked, t.sign(), t.sum().softmax(0), y

    x = np.arange(60, dtype=np.float32).reshape(3, 4, 5) - 30
    x[1, 2, 3] = np.nan
    model = tc_onnx.export(fn, x, dynamic_batch=False)
    with no_grad():
        expected = [out.data for out in fn(Tensor(x))]
    got = run(model, x)
    assert got[0].shape == (4, 2)
    for g, e in zip(got, expected, strict=True):
        np.testing.assert_array_equal(g, e)


def test_export_leaves_the_model_in_its_mode_and_unchanged() -> None:
    model = lenet()
    before = model.state_dict()
    tc_onnx.export(model, np.zeros((1, 1, 28, 28), np.float32))
    assert model.training
    for name, array in model.state_dict().items():
        np.testing.assert_array_equal(array, before[name])
        assert dict(model.named_parameters())[name].grad is None


def test_a_loss_with_integer_labels() -> None:
    model = seed_cnn()
    rng = np.random.default_rng(1)
    images = rng.standard_normal((4, 1, 28, 28)).astype(np.float32)
    labels = rng.integers(0, 10, 4)

    def loss(x: Tensor, y: Tensor) -> Tensor:
        return model(x).cross_entropy(y)

    exported = tc_onnx.export(loss, (images, labels), input_names=["images", "labels"])
    assert [i.name for i in exported.graph.input] == ["images", "labels"]
    assert "SoftmaxCrossEntropyLoss" in {n.op_type for n in exported.graph.node}
    for n in (4, 9):
        x = rng.standard_normal((n, 1, 28, 28)).astype(np.float32)
        y = rng.integers(0, 10, n)
        with no_grad():
            expected = loss(Tensor(x), Tensor(y)).data
        (got,) = run(exported, x, y)
        assert abs(got - expected) <= TOLERANCE


def test_several_outputs_and_an_output_that_is_an_input() -> None:
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    model = tc_onnx.export(lambda t: (t.exp(), t, t.exp().sum()), x, output_names=["e", "x", "s"])
    e, same, s = run(model, x)
    np.testing.assert_allclose(e, np.exp(x), rtol=1e-6)
    np.testing.assert_array_equal(same, x)
    np.testing.assert_allclose(s, np.exp(x).sum(), rtol=1e-6)


def test_nodes_and_values_are_named_as_the_drawn_graph() -> None:
    from tinygrad_cnn.viz import draw

    x = np.ones((2, 3), np.float32)
    w = Tensor(np.ones((3, 4), np.float32), requires_grad=True, name="w")
    model = tc_onnx.export(lambda t: (t @ w).relu(), x)
    source = draw((Tensor(x, requires_grad=True) @ w).relu()).source
    for node in model.graph.node:
        assert node.name.split("_")[0] in source  # op<i>, as drawn
    assert [i.name for i in model.graph.initializer] == ["w"]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"opset": 12}, "opset must be an int in"),
        ({"opset": 10**6}, "opset must be an int in"),
        ({"input_names": ["a", "b"]}, "input_names must be 1 non-empty strings"),
        ({"output_names": ["input"]}, "names repeat"),
    ],
)
def test_bad_arguments_are_refused(kwargs, match) -> None:
    with pytest.raises(ValueError, match=match):
        tc_onnx.export(lambda t: t.exp(), np.ones(2, np.float32), **kwargs)


def test_bad_inputs_and_outputs_are_refused() -> None:
    with pytest.raises(tc_onnx.OnnxExportError, match="example input 0 must be a Tensor"):
        tc_onnx.export(lambda t: t, [[1.0, 2.0]])
    with pytest.raises(tc_onnx.OnnxExportError, match="output 0 must be a Tensor, got float"):
        tc_onnx.export(lambda t: 1.0, np.ones(2, np.float32))


def test_the_file_is_written_atomically(tmp_path) -> None:
    path = tmp_path / "m.onnx"
    path.write_bytes(b"earlier run")
    with pytest.raises(tc_onnx.OnnxExportError):
        tc_onnx.export(lambda t: 1.0, np.ones(2, np.float32), path)
    assert path.read_bytes() == b"earlier run"
    tc_onnx.export(lambda t: t.exp(), np.ones(2, np.float32), path)
    assert onnx.load(path).graph.node[0].op_type == "Exp"
    assert [p.name for p in tmp_path.iterdir()] == ["m.onnx"]


def test_the_mnist_example_writes_model_onnx(tmp_path) -> None:
    path = Path(__file__).resolve().parents[1] / "examples" / "mnist.py"
    spec = importlib.util.spec_from_file_location("mnist_example_onnx", path)
    example = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = example  # dataclasses look their module up while being defined
    spec.loader.exec_module(example)
    out = tmp_path / "run"
    example.main(
        ["--model", "seed", "--limit", "256", "--data", str(tmp_path / "no-mnist"),
         "--no-download", "--out", str(out)]
    )  # fmt: skip
    model = example.build_model("seed")
    model.load(out / "model.safetensors")
    images = np.random.default_rng(3).standard_normal((5, 1, 28, 28)).astype(np.float32)
    with no_grad():
        expected = model(Tensor(images)).data
    (got,) = run(onnx.load(out / "model.onnx"), images)
    assert np.abs(got - expected).max() <= TOLERANCE


def test_the_interop_page_lists_every_exportable_op() -> None:
    page = (Path(__file__).resolve().parents[1] / "docs" / "interop.md").read_text()
    table = page.split("### Exportable ops")[1].split("###")[0]
    listed = set()
    for line in table.splitlines():
        if line.startswith("| `"):
            listed |= set(re.findall(r"`(\w+)`", line.split("|")[1]))
    assert listed == set(tc_onnx.EXPORT_RULES)
    for name in tc_onnx.NOT_EXPORTABLE:
        assert f"`{name}`" in page.split("**Not exportable**")[1], name
