"""tinygrad_cnn.debug.gradcheck: quiet on correct gradients, precise about wrong ones; and the
numerical core (tinygrad_cnn.debug.numerical) that it, assert_grads and check_graph share.

Planted bugs live in test-only ops (``register=False``). Each failure test checks what the
message and the :class:`GradcheckError` attributes say: the input index, the element index,
both values and the relative error.
"""

from __future__ import annotations

import ast
import re
import warnings
from pathlib import Path

import numpy as np
import pytest

import tinygrad_cnn
from tinygrad_cnn import Function, Tensor, check_graph, conv2d, cross_entropy, max_pool2d
from tinygrad_cnn.debug import (
    GradcheckError,
    GradcheckWarning,
    gradcheck,
    numerical_gradient,
    numerical_jacobian,
)
from tinygrad_cnn.debug.gradcheck import FULL_JACOBIAN_MAX
from tinygrad_cnn.debug.numerical import Tolerance
from tinygrad_cnn.testing import assert_grads

RNG = np.random.default_rng(1234)


class HalfSquare(Function, register=False):
    """out = x**2 with a planted bug: backward returns g * x (half the true gradient)."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.x = x
        return x * x

    def backward(self, g: Tensor) -> tuple[Tensor]:
        return (g * self.x,)


class MulWrongSecond(Function, register=False):
    """out = a * b; the gradient of b is wrong (a + 1 instead of a); a's is right."""

    def forward(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        self.a, self.b = a, b
        return a * b

    def backward(self, g: Tensor) -> tuple[Tensor, Tensor]:
        return g * self.b, g * (self.a + 1)


class OneBadElement(Function, register=False):
    """out = 3 x, but backward gets element ``bad`` (flat index) wrong by a factor 2."""

    bad = 777

    def forward(self, x: np.ndarray) -> np.ndarray:
        return 3 * x

    def backward(self, g: Tensor) -> tuple[Tensor]:
        factor = np.full(g.shape, 3.0, dtype=g.dtype)
        factor.reshape(-1)[self.bad] = 6.0
        return (g * factor,)


class NaNGradient(Function, register=False):
    """out = x with a backward that returns NaN."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        return x.copy()

    def backward(self, g: Tensor) -> tuple[Tensor]:
        return (g * np.nan,)


def parse_value(message: str, label: str) -> float:
    """The number after ``label`` in a gradcheck message."""
    match = re.search(re.escape(label) + r"\s+(\S+)", message)
    assert match, f"{label!r} not in message:\n{message}"
    return float(match.group(1))


# ---------------------------------------------------------------------- quiet on correct code
def test_passes_on_correct_composite_ops() -> None:
    x = RNG.standard_normal((2, 2, 5, 5))
    w = RNG.standard_normal((3, 2, 3, 3))
    b = RNG.standard_normal(3)

    def net(x: Tensor, w: Tensor, b: Tensor) -> Tensor:
        return (conv2d(x, w, b, stride=1, padding=1).tanh() * 0.5).sum(axis=(2, 3))

    assert gradcheck(net, x, w, b) is True


def test_passes_with_integer_inputs_passed_through() -> None:
    logits = RNG.standard_normal((4, 5))
    labels = np.array([0, 4, 2, 2])
    assert gradcheck(lambda z, y: cross_entropy(z, y, reduction="sum"), logits, labels)


def test_passes_in_projection_mode_on_large_inputs() -> None:
    a = RNG.standard_normal((30, 20))
    b = RNG.standard_normal((20, 25))
    assert a.size + b.size > FULL_JACOBIAN_MAX
    assert gradcheck(lambda p, q: (p @ q).sigmoid(), a, b)
    assert gradcheck(lambda p, q: (p @ q).sigmoid(), a, b, mode="projection", num_projections=5)


def test_passes_on_ops_that_return_views_of_their_input() -> None:
    # reshape/getitem/broadcast_to outputs are views: the checker must copy them.
    x = RNG.standard_normal((3, 4))
    assert gradcheck(lambda t: t.reshape(4, 3), x)
    assert gradcheck(lambda t: t[1:, ::2], x)
    assert gradcheck(lambda t: t.broadcast_to((2, 3, 4)), x)
    assert gradcheck(lambda t: t.broadcast_to((1,)), np.array(0.5))


def test_passes_on_inputs_that_are_not_c_contiguous() -> None:
    # A transposed input: perturbing a reshaped copy of it once gave numerical 0 everywhere.
    x = RNG.standard_normal((3, 4)).T
    assert gradcheck(lambda t: t.tanh(), x)
    np.testing.assert_allclose(
        numerical_jacobian(lambda t: t * t, x), np.diag(2 * x.reshape(-1)), atol=1e-8
    )


def test_accepts_tensors_and_never_modifies_the_callers_inputs() -> None:
    x = Tensor(RNG.standard_normal((2, 1, 4, 4)), requires_grad=True)
    w = RNG.standard_normal((2, 1, 2, 2))
    x_before, w_before = x.data.copy(), w.copy()
    assert gradcheck(lambda a, k: max_pool2d(conv2d(a, k), 2), x, w)
    np.testing.assert_array_equal(x.data, x_before)
    np.testing.assert_array_equal(w, w_before)
    assert x.grad is None


# ---------------------------------------------------------------------- loud on wrong code
def test_full_mode_message_names_input_element_and_both_values() -> None:
    x = np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -3.0]])
    with pytest.raises(GradcheckError) as caught:
        gradcheck(HalfSquare.apply, x)
    error, message = caught.value, str(caught.value)
    # The worst entry is d out[1, 2] / d x[1, 2]: analytic -3, numerical -6.
    assert "input 0" in message
    assert "input index (1, 2)" in message and "output index (1, 2)" in message
    assert parse_value(message, "analytic (backward):") == -3.0
    assert parse_value(message, "numerical (central differences):") == pytest.approx(-6.0)
    assert "relative error 0.5" in message
    assert "full Jacobian" in message
    assert (error.input_index, error.element_index, error.output_index) == (0, (1, 2), (1, 2))
    assert error.analytic == -3.0
    assert error.numerical == pytest.approx(-6.0)
    assert error.relative_error == pytest.approx(0.5)
    assert isinstance(error, AssertionError)


def test_names_the_input_whose_gradient_is_wrong() -> None:
    a = np.array([1.0, 2.0, 3.0])
    b = np.array([-1.0, 0.5, 4.0])
    with pytest.raises(GradcheckError, match="input 1") as caught:
        gradcheck(MulWrongSecond.apply, a, b)
    # d out / d b = a; backward says a + 1. All errors are 1; the smallest |a| is worst.
    assert caught.value.input_index == 1
    assert caught.value.element_index == (0,)
    assert caught.value.analytic == 2.0
    assert caught.value.numerical == pytest.approx(1.0)
    # Checking only input 0 passes: its gradient is right.
    assert gradcheck(MulWrongSecond.apply, a, b, wrt=[0])


def test_projection_mode_catches_a_planted_bug_and_finds_the_element() -> None:
    x = RNG.uniform(0.5, 2.0, size=(40, 40))
    with pytest.raises(GradcheckError, match="random projections") as caught:
        gradcheck(lambda t: HalfSquare.apply(t).sum(axis=0), x)
    error = caught.value
    assert error.input_index == 0 and error.output_index is None
    # Every element is wrong by the same factor: analytic is half the numerical value.
    assert error.analytic == pytest.approx(error.numerical / 2, rel=1e-6)


def test_projection_mode_bisects_to_the_one_wrong_element() -> None:
    x = RNG.standard_normal((30, 40))
    with pytest.raises(GradcheckError) as caught:
        gradcheck(OneBadElement.apply, x, seed=7)
    error = caught.value
    assert error.element_index == np.unravel_index(OneBadElement.bad, x.shape)
    assert error.analytic == pytest.approx(2 * error.numerical, rel=1e-6)
    assert f"input index {error.element_index}" in str(error)


def test_detached_output_fails_against_nonzero_numerical_gradient() -> None:
    x = np.array([1.0, 2.0])
    with pytest.raises(GradcheckError, match=r"analytic \(backward\):\s+0\.0"):
        gradcheck(lambda t: t.detach() * 2.0, x)


def test_raise_exception_false_returns_false_instead() -> None:
    x = np.array([0.5, -1.0])
    assert gradcheck(HalfSquare.apply, x, raise_exception=False) is False
    assert gradcheck(lambda t: t * t, x, raise_exception=False) is True
    with pytest.raises(ValueError, match="eps"):  # invalid options still raise
        gradcheck(HalfSquare.apply, x, eps=0.0, raise_exception=False)


def test_nan_gradient_fails() -> None:
    with pytest.raises(GradcheckError, match="nan"):
        gradcheck(NaNGradient.apply, np.array([1.0, 2.0]))


# ---------------------------------------------------------------------- warnings and errors
def test_warns_for_float32_inputs_and_checks_a_float64_copy() -> None:
    x = np.array([0.3, -0.7], dtype=np.float32)
    with pytest.warns(GradcheckWarning, match="input 0 has dtype float32"):
        assert gradcheck(lambda t: t.tanh(), x)
    assert x.dtype == np.float32


def test_no_warning_for_float64_inputs() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert gradcheck(lambda t: t.exp(), np.array([0.1, 0.2]))


def test_warns_when_fn_returns_low_precision_output() -> None:
    with pytest.warns(GradcheckWarning, match="float32 output"):
        gradcheck(lambda t: t.astype(np.float32), np.array([0.5]), eps=1e-2)


@pytest.mark.filterwarnings("ignore:invalid value encountered in log:RuntimeWarning")
def test_non_finite_output_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="non-finite"):
        gradcheck(lambda t: t.log(), np.array([1.0, -1.0]))


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: gradcheck(lambda t: t.data, np.ones(2)), TypeError, "must return a Tensor"),
        (lambda: gradcheck("not callable", np.ones(2)), TypeError, "fn must be callable"),
        (lambda: gradcheck(lambda t: t, np.ones(2), eps=0.0), ValueError, "eps"),
        (lambda: gradcheck(lambda t: t, np.ones(2), mode="fast"), ValueError, "mode"),
        (lambda: gradcheck(lambda t: t, np.ones(2), atol=-1.0), ValueError, "atol"),
        (lambda: gradcheck(lambda t: t, np.arange(3)), ValueError, "no floating-point input"),
        (lambda: gradcheck(lambda t: t, np.ones(2), wrt=[1]), ValueError, "out of range"),
        (lambda: gradcheck(lambda t: t, None), TypeError, "got None"),
        (lambda: gradcheck(lambda t: t, np.ones(2), num_projections=0), ValueError, "at least"),
        (
            lambda: gradcheck(lambda t: t, np.ones(2), num_projections=2.0),
            TypeError,
            "num_projections must be an int",
        ),
        (
            lambda: gradcheck(lambda t: t, np.ones(2), full_jacobian_max=-1),
            ValueError,
            "full_jacobian_max must be non-negative",
        ),
        (lambda: gradcheck(lambda t: t, np.ones(2), rtol="0"), TypeError, "rtol must be a num"),
    ],
)
def test_invalid_arguments(call, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        call()


# ---------------------------------------------------------------------- numerical helpers
def test_numerical_jacobian_of_a_known_function() -> None:
    x = np.array([1.0, 2.0, -0.5])
    jacobian = numerical_jacobian(lambda t: t * t * t, x)
    np.testing.assert_allclose(jacobian, np.diag(3 * x**2), atol=1e-8)
    a, b = np.array([[1.0, 2.0]]), np.array([[3.0], [4.0]])
    np.testing.assert_allclose(numerical_jacobian(lambda p, q: p @ q, a, b, wrt=1), a, atol=1e-8)


def test_numerical_gradient_weights_by_the_upstream_gradient() -> None:
    a = np.array([1.0, -2.0])
    b = np.array([0.5, 3.0])
    upstream = np.array([2.0, -1.0])
    grad_a, grad_b = numerical_gradient(lambda p, q: p * q, a, b, upstream=upstream)
    np.testing.assert_allclose(grad_a, upstream * b, atol=1e-8)
    np.testing.assert_allclose(grad_b, upstream * a, atol=1e-8)
    logits, labels = np.array([[0.2, -0.3]]), np.array([1])
    grad_logits, grad_labels = numerical_gradient(lambda z, y: cross_entropy(z, y), logits, labels)
    probabilities = np.exp(logits) / np.exp(logits).sum()
    np.testing.assert_allclose(grad_logits, probabilities - [[0.0, 1.0]], atol=1e-8)
    assert grad_labels is None


# ---------------------------------------------------------------------- one numerical core
class Scaled(Function, register=False):
    """out = 100 x; backward returns ``100 (1 + error) g``."""

    error = 0.0

    def forward(self, x: np.ndarray) -> np.ndarray:
        return 100 * x

    def backward(self, g: Tensor) -> tuple[Tensor]:
        return (100 * (1 + self.error) * g,)


class JustOutside(Scaled, register=False):
    # |a - n| = 0.10005 > atol + rtol |n| = 0.10001, but < atol + rtol |a| = 0.10011: a rule
    # relative to max(|a|, |n|) would pass it.
    error = 1.0005e-3


class JustInside(Scaled, register=False):
    error = 0.9995e-3


def test_gradcheck_assert_grads_and_check_graph_apply_one_tolerance_rule() -> None:
    x = np.array([0.5, -1.5, 2.0])
    assert gradcheck(JustInside.apply, x)
    assert_grads(JustInside.apply, x)
    assert check_graph(JustInside.apply(Tensor(x, requires_grad=True)).sum()).ok
    with pytest.raises(GradcheckError, match=re.escape("atol 1e-05 + rtol 0.001 * |numerical|")):
        gradcheck(JustOutside.apply, x)
    with pytest.raises(GradcheckError, match="disagrees with central differences"):
        assert_grads(JustOutside.apply, x)
    report = check_graph(JustOutside.apply(Tensor(x, requires_grad=True)).sum())
    assert [type(entry.node) for entry in report.failures] == [JustOutside]
    assert report.failures[0].rel_error == pytest.approx(1.0005e-3, rel=1e-4)


def test_tolerance_is_numpy_isclose_with_the_numerical_value_as_reference() -> None:
    rng = np.random.default_rng(5)
    numerical = rng.standard_normal(1000) * 10.0 ** rng.integers(-8, 3, size=1000)
    analytic = numerical * (1 + rng.normal(0, 2e-3, size=1000)) + rng.normal(0, 1e-5, 1000)
    tolerance = Tolerance(atol=1e-5, rtol=1e-3)
    expected = np.isclose(analytic, numerical, rtol=1e-3, atol=1e-5)
    assert 0 < expected.sum() < expected.size
    np.testing.assert_array_equal(tolerance.excess(analytic, numerical) <= 1, expected)
    assert not tolerance.accepts(float("nan"), 1.0) and not tolerance.accepts(1.0, float("inf"))
    assert Tolerance(0.0, 0.0).accepts(2.0, 2.0) and not Tolerance(0.0, 0.0).accepts(2.0, 2.1)


def test_every_gradient_check_builds_on_the_numerical_core_and_no_private_name() -> None:
    package = Path(tinygrad_cnn.__file__).parent
    for module in ("debug/gradcheck.py", "testing.py", "debug/check_graph.py"):
        tree = ast.parse((package / module).read_text(encoding="utf-8"))
        imports = [n for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
        sources = {n.module for n in imports}
        assert "tinygrad_cnn.debug.numerical" in sources, module
        private = [
            (n.module, alias.name)
            for n in imports
            if (n.module or "").startswith("tinygrad_cnn")
            for alias in n.names
            if alias.name.startswith("_")
        ]
        assert not private, f"{module} imports private names {private}"
    assert not (package / "gradcheck.py").exists()
