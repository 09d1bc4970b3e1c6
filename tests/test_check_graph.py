"""check_graph finds the op whose backward is wrong, and stays quiet on correct graphs.

Planted bugs are test-only ``Function`` subclasses (``register=False``): a wrong derivative, a
float64 gradient for a float32 input, a gradient of the wrong shape. The kink rule (relu at
exactly 0, max-pool ties) must never turn into a false failure.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tinygrad_cnn import Function, Tensor, conv2d, cross_entropy, max_pool2d
from tinygrad_cnn.debug import GraphReport, check_graph

DEBUGGING_DOC = Path(__file__).resolve().parents[1] / "docs" / "debugging.md"


class WrongSquare(Function, register=False):
    """out = a**2 with a planted bug: backward forgets the factor 2."""

    name = "wrong_square"

    def forward(self, a: np.ndarray) -> np.ndarray:
        self.a = a
        return a * a

    def backward(self, g: Tensor) -> tuple[Tensor]:
        return (g * self.a,)


class Float64Grad(Function, register=False):
    """out = 3 a, with a planted bug: the gradient is always float64."""

    name = "float64_grad"

    def forward(self, a: np.ndarray) -> np.ndarray:
        return 3 * a

    def backward(self, g: Tensor) -> tuple[Tensor]:
        return ((3 * g).astype(np.float64),)


class WrongShapeGrad(Function, register=False):
    """out = a summed over its last axis, with a planted bug: the gradient drops that axis."""

    name = "wrong_shape_grad"

    def forward(self, a: np.ndarray) -> np.ndarray:
        return a.sum(axis=-1)

    def backward(self, g: Tensor) -> tuple[Tensor]:
        return (g,)


class LeakyRelu(Function, register=False):
    """out = relu(a), with a planted bug: the gradient leaks through negative inputs."""

    name = "leaky_bug_relu"

    def forward(self, a: np.ndarray) -> np.ndarray:
        return np.maximum(a, 0)

    def backward(self, g: Tensor) -> tuple[Tensor]:
        return (g,)


def small_cnn_loss(middle: type[Function] | None = None, seed: int = 0) -> Tensor:
    """A CNN graph: conv -> relu -> max_pool -> [middle op] -> reshape -> matmul + bias -> CE.

    The top rows of every image are 0, so after relu whole pooling windows tie at 0.
    """
    rng = np.random.default_rng(seed)
    images = rng.standard_normal((3, 1, 12, 12)).astype(np.float32)
    images[:, :, :4] = 0.0
    x = Tensor(images)
    w = Tensor(rng.standard_normal((4, 1, 3, 3)).astype(np.float32) / 3, requires_grad=True)
    b = Tensor(np.zeros(4, dtype=np.float32), requires_grad=True)
    fc = Tensor(rng.standard_normal((100, 5)).astype(np.float32) / 10, requires_grad=True)
    fc_bias = Tensor(np.zeros(5, dtype=np.float32), requires_grad=True)
    maps = max_pool2d(conv2d(x, w, b).relu(), 2)  # (3, 4, 5, 5)
    if middle is not None:
        maps = middle.apply(maps)
    logits = maps.reshape(3, -1) @ fc + fc_bias
    return cross_entropy(logits, np.array([0, 3, 4]))


def statuses(report: GraphReport) -> dict[str, str]:
    return {entry.op: entry.status for entry in report}


def test_quiet_on_a_correct_cnn_graph_with_ties() -> None:
    loss = small_cnn_loss()
    report = check_graph(loss)
    assert [e.op for e in report] == [
        "conv2d", "relu", "max_pool2d", "reshape", "matmul", "add", "cross_entropy",
    ]  # fmt: skip
    assert report.ok, str(report)
    assert all(e.status == "pass" for e in report), str(report)
    assert "0 fail" in str(report)


def test_quiet_on_smooth_ops_mixed_dtypes_and_broadcasting() -> None:
    rng = np.random.default_rng(1)
    a = Tensor(rng.uniform(0.5, 2.0, (3, 4)), requires_grad=True)
    b = Tensor(rng.uniform(0.5, 2.0, (4,)).astype(np.float32), requires_grad=True)
    c = (a.log() * b + a.sqrt() / b).tanh().sigmoid()  # b is cast to float64: a `cast` node
    out = (c.exp().softmax(axis=1) * c.pow(2.5)).mean(axis=0).sum() + (a**b).max()
    report = check_graph(out)
    assert "cast" in statuses(report)
    assert report.ok and not report.undetermined, str(report)


def test_a_wrong_backward_is_traced_to_the_op_that_made_it() -> None:
    report = check_graph(small_cnn_loss(middle=WrongSquare))
    assert [e.op for e in report.failures] == ["wrong_square"], str(report)
    failed = report.failures[0]
    assert failed.input_index == 0
    assert "analytic" in failed.detail and "numerical" in failed.detail
    assert failed.rel_error > 0.1  # half the true gradient: relative error about 0.5
    others = [e for e in report if e.op != "wrong_square"]
    assert all(e.status == "pass" for e in others), str(report)
    row = next(line for line in str(report).splitlines() if "wrong_square" in line)
    assert "FAIL" in row


def test_a_wrong_backward_on_a_small_input_names_the_element() -> None:
    x = Tensor(np.array([[0.5, -1.0], [2.0, 3.0]]), requires_grad=True)
    report = check_graph(WrongSquare.apply(x).sum())
    failed = report.failures[0]
    assert failed.op == "wrong_square"
    assert "at element (" in failed.detail
    np.testing.assert_allclose(failed.rel_error, 0.5, rtol=1e-6)  # analytic v*x, numerical 2v*x


def test_a_float64_gradient_for_a_float32_input_fails_the_contract() -> None:
    x = Tensor(np.ones((2, 3), dtype=np.float32), requires_grad=True)
    loss = (Float64Grad.apply(x) * 2).sum()
    report = check_graph(loss)
    assert statuses(report) == {"float64_grad": "fail", "mul": "pass", "sum": "pass"}
    failed = report.failures[0]
    assert failed.input_index == 0
    assert "float64 gradient for float32 input 0" in failed.detail


def test_the_engine_rejects_a_float64_gradient_for_a_float32_input() -> None:
    x = Tensor(np.ones((2, 3), dtype=np.float32), requires_grad=True)
    loss = (Float64Grad.apply(x) * 2).sum()
    with pytest.raises(TypeError, match=r"float64_grad\.backward returned a float64 gradient"):
        loss.backward()


def test_a_gradient_of_the_wrong_shape_fails_the_contract() -> None:
    x = Tensor(np.ones((2, 3)), requires_grad=True)
    report = check_graph(WrongShapeGrad.apply(x).sum())
    assert report.failures[0].op == "wrong_shape_grad"
    assert "shape (2,) for input 0 of shape (2, 3)" in report.failures[0].detail


class ListGrad(Function, register=False):
    """out = 2 a, with a planted bug: backward returns a list, not a tuple."""

    name = "list_grad"

    def forward(self, a: np.ndarray) -> np.ndarray:
        return 2 * a

    def backward(self, g: Tensor) -> list[Tensor]:
        return [g * 2]


class ArrayInTupleGrad(ListGrad, register=False):
    """out = 2 a, with a planted bug: the gradient in the tuple is a numpy array."""

    name = "array_in_tuple_grad"

    def backward(self, g: Tensor) -> tuple[np.ndarray]:  # type: ignore[override]
        return (g.numpy() * 2,)


def test_a_backward_returning_a_list_fails_the_contract_by_name() -> None:
    x = Tensor(np.ones((2, 3)), requires_grad=True)
    report = check_graph((ListGrad.apply(x) * 3).sum())
    assert statuses(report) == {"list_grad": "fail", "mul": "pass", "sum": "pass"}
    assert "backward returned list, not a tuple of 1 gradients" in report.failures[0].detail


def test_a_numpy_gradient_inside_the_tuple_fails_the_op_with_the_engines_message() -> None:
    x = Tensor(np.ones((2, 3)), requires_grad=True)
    report = check_graph((ArrayInTupleGrad.apply(x) * 3).sum())
    assert statuses(report) == {"array_in_tuple_grad": "fail", "mul": "pass", "sum": "pass"}
    detail = report.failures[0].detail
    assert "TypeError" in detail and "must return Tensors (or None)" in detail
    assert "got ndarray" in detail


class RaisingBackward(Function, register=False):
    """out = 2 a, with a planted bug: backward raises."""

    name = "raising_backward"

    def forward(self, a: np.ndarray) -> np.ndarray:
        return 2 * a

    def backward(self, g: Tensor) -> tuple[Tensor]:
        raise RuntimeError("planted")


def test_a_backward_that_raises_is_reported_not_propagated() -> None:
    x = Tensor(np.ones(3), requires_grad=True)
    report = check_graph((RaisingBackward.apply(x) * 2).sum())
    assert [(e.op, e.status) for e in report] == [
        ("raising_backward", "fail"), ("mul", "pass"), ("sum", "pass"),
    ]  # fmt: skip
    assert report[0].output_shape == (3,)
    assert "RuntimeError('planted')" in report[0].detail
    assert np.isnan(report[0].abs_error) and "  -  " in str(report)


def test_a_wrong_relu_is_caught_even_though_relu_has_a_kink() -> None:
    x = Tensor(np.array([-1.0, 0.0, 2.0, -3.0]), requires_grad=True)
    report = check_graph((LeakyRelu.apply(x) * Tensor([1.0, 2.0, 3.0, 4.0])).sum())
    assert [e.op for e in report.failures] == ["leaky_bug_relu"]


def test_kinks_are_nudged_or_undetermined_never_failures() -> None:
    zeros = Tensor(np.zeros((1, 2, 4, 4)), requires_grad=True)
    loss = (max_pool2d(zeros.relu(), 2) * Tensor(np.arange(8.0).reshape(1, 2, 2, 2))).sum()
    nudged = check_graph(loss)
    assert nudged.ok and not nudged.undetermined, str(nudged)
    assert "passed at nudged inputs" in nudged[0].detail  # relu at exactly 0
    strict = check_graph(loss, nudges=0)
    assert strict.ok
    assert {e.op for e in strict.undetermined} == {"relu", "max_pool2d"}, str(strict)
    assert all("kink" in e.detail for e in strict.undetermined)


def test_an_in_place_relu_is_checked_out_of_place_at_the_values_it_left() -> None:
    x = Tensor(np.random.default_rng(4).standard_normal((2, 3, 4, 4)), requires_grad=True)
    h = conv2d(x, Tensor(np.ones((2, 3, 1, 1)), requires_grad=True))
    out = h.relu_()
    loss = (max_pool2d(out, 2) * 2.0).sum()
    values = out.numpy().copy()
    report = check_graph(loss)
    assert report.ok and not report.undetermined, str(report)
    relu = report[1]
    assert relu.op == "relu" and "passed at nudged inputs" in relu.detail  # zeros: kinks
    np.testing.assert_array_equal(out.numpy(), values)  # no re-run wrote over the graph


def test_an_input_at_the_edge_of_the_domain_is_undetermined() -> None:
    x = Tensor(np.array([1e-9, 1.0]), requires_grad=True)
    report = check_graph(x.log().sum(), nudges=0)
    assert report[0].status == "undetermined"
    assert "non-finite" in report[0].detail


def test_integer_labels_are_skipped_and_the_graph_can_be_checked_after_backward() -> None:
    loss = small_cnn_loss()
    before = [(e.op, e.status) for e in check_graph(loss)]
    loss.backward()  # frees the saved arrays: check_graph re-runs every op from its inputs
    after = check_graph(loss)
    assert [(e.op, e.status) for e in after] == before
    ce = after[-1]
    assert ce.op == "cross_entropy" and ce.input_index == 0  # input 1 (labels) never compared


def test_statuses_per_node_for_the_renderer() -> None:
    loss = small_cnn_loss(middle=WrongSquare)
    report = check_graph(loss)
    by_node = report.status_by_node()
    assert by_node[loss._ctx] == "pass"
    bad = next(e.node for e in report if e.op == "wrong_square")
    assert by_node[bad] == "fail" and report.status_of(bad) == "fail"
    assert report.status_of(WrongSquare((), {})) is None
    assert len(report) == len(by_node) == 8
    assert report[1:3] == report.entries[1:3]


def test_check_graph_rejects_bad_arguments() -> None:
    with pytest.raises(TypeError, match="check_graph: expected at least one Tensor"):
        check_graph()
    with pytest.raises(TypeError, match="check_graph: expected Tensors, got ndarray"):
        check_graph(np.ones(2))
    with pytest.raises(ValueError, match="check_graph: this tensor has no recorded graph"):
        check_graph(Tensor([1.0], requires_grad=True))
    loss = (Tensor([1.0], requires_grad=True) * 2).sum()
    with pytest.raises(ValueError, match="check_graph: eps must be positive"):
        check_graph(loss, eps=0)
    with pytest.raises(ValueError, match="check_graph: nudge must be positive"):
        check_graph(loss, nudge=0.0)
    with pytest.raises(TypeError, match="check_graph: num_projections must be an int"):
        check_graph(loss, num_projections=2.0)
    with pytest.raises(ValueError, match="check_graph: full_jacobian_max must be non-negative"):
        check_graph(loss, full_jacobian_max=-1)
    with pytest.raises(TypeError, match="check_graph: atol must be a number"):
        check_graph(loss, atol="1e-5")
    with pytest.raises(TypeError, match="check_graph: nudges must be an int"):
        check_graph(loss, nudges=1.5)


def test_the_debugging_walkthrough_prints_what_docs_debugging_md_shows(tmp_path: Path) -> None:
    """docs/debugging.md: its code blocks, saved as debug_demo.py, print its output blocks."""
    text = DEBUGGING_DOC.read_text()
    code = "\n".join(re.findall(r"```python\n(.*?)```", text, re.S))
    expected = "".join(re.findall(r"```text\n(.*?)```", text, re.S))
    (tmp_path / "debug_demo.py").write_text(code)
    result = subprocess.run(
        [sys.executable, "-W", "ignore", "debug_demo.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    printed = result.stdout.replace(f"{tmp_path.resolve()}{os.sep}", "")

    def masked(output: str) -> list[str]:  # error sizes in the tables vary with the BLAS
        return [re.sub(r"\d\.\de[+-]\d\d", "#", line).rstrip() for line in output.splitlines()]

    assert masked(printed) == masked(expected)
