"""Higher-order gradients (issue 14): backward made of recorded ops, ``create_graph=True``,
``tinygrad_cnn.grad``, checked against PyTorch's ``torch.autograd.grad``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import tinygrad_cnn as tc
from tinygrad_cnn import Function, Tensor
from tinygrad_cnn.nn import Parameter

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(14)


def _positive(shape: tuple[int, ...]) -> np.ndarray:
    return RNG.uniform(0.5, 2.0, shape)


def _any(shape: tuple[int, ...]) -> np.ndarray:
    return RNG.uniform(-1.5, 1.5, shape)


# name -> (function of the inputs, valid inputs): each function works on both libraries'
# tensors, with methods and operators only.
CASES: dict[str, tuple[Callable[..., object], list[np.ndarray]]] = {
    "tanh": (lambda x: x.tanh(), [_any((3, 4))]),
    "sigmoid": (lambda x: x.sigmoid(), [_any((3, 4))]),
    "exp": (lambda x: x.exp(), [_any((5,))]),
    "log": (lambda x: x.log(), [_positive((5,))]),
    "sqrt": (lambda x: x.sqrt(), [_positive((2, 3))]),
    "abs": (lambda x: x.abs() * x, [_any((6,))]),
    "mul_broadcast": (lambda x, y: x * y * y, [_any((2, 3)), _any((3,))]),
    "div": (lambda x, y: x / y, [_any((2, 3)), _positive((2, 3))]),
    "sub_neg": (lambda x, y: -(x - y) * x, [_any((4,)), _any((4,))]),
    "add_fan_out": (lambda x: (x + x) * x, [_any((3,))]),
    "pow_scalar": (lambda x: x**3 + x**0.5, [_positive((4,))]),
    "pow_tensor": (lambda x, y: x**y, [_positive((3,)), _any((3,))]),
    "sum_mean": (lambda x: (x * x).sum(1) * x.mean(0), [_any((3, 3))]),
    "maximum": (lambda x, y: x.maximum(y) * x, [_any((5,)), _any((5,))]),
    "cast": (lambda x: (x * x).float().double() * x, [_any((4,))]),
    "reshape_permute": (lambda x: x.reshape(3, 2).permute(1, 0) * x.reshape(2, 3), [_any((6,))]),
    "matmul": (lambda a, b: (a @ b).tanh(), [_any((2, 3)), _any((3, 4))]),
    "matmul_batched_vector": (lambda a, b: (a @ b).tanh(), [_any((2, 3, 4)), _any((4,))]),
    "matmul_vector_matrix": (lambda a, b: (a @ b.mT).tanh(), [_any((3,)), _any((2, 5, 3))]),
    "relu": (lambda x: x.relu() * x * x, [_any((3, 4))]),
    "log_softmax": (lambda x: x.log_softmax(1) * x, [_any((3, 4))]),
    "softmax": (lambda x: x.softmax(0) * x, [_any((3, 4))]),
}


def _compare_second_order(
    ours_fn: Callable[..., object], theirs_fn: Callable[..., object], arrays: list[np.ndarray]
) -> None:
    """d/dx <w, d<v, f(x)>/dx> for random v, w, ours against torch (and the first order)."""
    xs = [Tensor(a.copy(), requires_grad=True) for a in arrays]
    out = ours_fn(*xs)
    v = RNG.standard_normal(out.shape)
    firsts = tc.grad(out, xs, grad_outputs=Tensor(v), create_graph=True)
    ws = [RNG.standard_normal(x.shape) for x in xs]
    total = sum(((g * Tensor(w)).sum() for g, w in zip(firsts, ws, strict=True)), Tensor(0.0))
    seconds = tc.grad(total, xs, allow_unused=True)

    txs = [torch.tensor(a.copy(), requires_grad=True) for a in arrays]
    tout = theirs_fn(*txs)
    tfirsts = torch.autograd.grad(tout, txs, grad_outputs=torch.tensor(v), create_graph=True)
    ttotal = sum((g * torch.tensor(w)).sum() for g, w in zip(tfirsts, ws, strict=True))
    tseconds = torch.autograd.grad(ttotal, txs, allow_unused=True)

    for ours, theirs in zip(firsts, tfirsts, strict=True):
        np.testing.assert_allclose(ours.data, theirs.detach().numpy(), rtol=1e-10, atol=1e-12)
    for ours, theirs in zip(seconds, tseconds, strict=True):
        expected = np.zeros(1) if theirs is None else theirs.numpy()
        got = np.zeros(1) if ours is None else ours.data
        np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", sorted(CASES))
def test_vector_hessian_products_match_torch(name: str) -> None:
    """A second order through every op of the case."""
    fn, arrays = CASES[name]
    _compare_second_order(fn, fn, arrays)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_second_order_matches_torch(reduction: str) -> None:
    labels = np.array([2, 0, 1])

    def ours(logits: Tensor) -> Tensor:
        return tc.cross_entropy(logits * logits, Tensor(labels), reduction)

    def theirs(logits: object) -> object:
        return torch.nn.functional.cross_entropy(
            logits * logits, torch.tensor(labels), reduction=reduction
        )

    _compare_second_order(ours, theirs, [_any((3, 4))])


def test_third_order_through_cross_entropy_backward() -> None:
    """The kernel op of cross_entropy's gradient has a differentiable backward too."""
    labels = np.array([1, 0])
    logits = _any((2, 3))
    x = Tensor(logits.copy(), requires_grad=True)
    tx = torch.tensor(logits.copy(), requires_grad=True)
    (g,) = tc.grad(tc.cross_entropy(x, Tensor(labels)), x, create_graph=True)
    (h,) = tc.grad((g * g).sum(), x, create_graph=True)
    (t,) = tc.grad((h * h).sum(), x)
    loss = torch.nn.functional.cross_entropy(tx, torch.tensor(labels))
    (tg,) = torch.autograd.grad(loss, tx, create_graph=True)
    (th,) = torch.autograd.grad((tg * tg).sum(), tx, create_graph=True)
    (tt,) = torch.autograd.grad((th * th).sum(), tx)
    np.testing.assert_allclose(t.data, tt.numpy(), rtol=1e-9, atol=1e-12)


def test_third_derivative_of_tanh_has_its_closed_form() -> None:
    x = Tensor(np.linspace(-2.0, 2.0, 9), requires_grad=True)
    y = x.tanh().sum()
    (d1,) = tc.grad(y, x, create_graph=True)
    (d2,) = tc.grad(d1.sum(), x, create_graph=True)
    (d3,) = tc.grad(d2.sum(), x)
    t = np.tanh(x.data)
    np.testing.assert_allclose(d1.data, 1 - t**2, rtol=1e-12)
    np.testing.assert_allclose(d2.data, -2 * t * (1 - t**2), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(d3.data, -2 * (1 - t**2) * (1 - 3 * t**2), rtol=1e-12, atol=1e-15)


def test_backward_create_graph_leaves_grads_with_a_graph_as_torch() -> None:
    x = Tensor(np.array([0.5, -1.0, 2.0]), requires_grad=True)
    (x.exp() * x).sum().backward(create_graph=True)
    assert x.grad is not None and x.grad.requires_grad  # (1 + x) e**x
    np.testing.assert_allclose(x.grad.data, (1 + x.data) * np.exp(x.data))
    first = x.grad
    x.grad = None
    first.sum().backward()  # (2 + x) e**x
    np.testing.assert_allclose(x.grad.data, (2 + x.data) * np.exp(x.data))


def test_create_graph_accumulates_out_of_place_and_retains_the_graph() -> None:
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = (x * x * x).sum()
    y.backward(create_graph=True)
    first = x.grad
    y.backward(create_graph=True)  # retain_graph defaults to create_graph: runs again
    assert x.grad is not first  # added out of place, as PyTorch
    np.testing.assert_allclose(first.data, 3 * x.data**2)
    np.testing.assert_allclose(x.grad.data, 6 * x.data**2)


def test_a_constant_gradient_does_not_require_grad() -> None:
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    (x * 3.0).sum().backward(create_graph=True)
    assert not x.grad.requires_grad
    np.testing.assert_array_equal(x.grad.data, [3.0, 3.0])


def test_grad_leaves_dot_grad_alone_and_reports_unused_inputs() -> None:
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    z = Tensor(np.array([1.0]), requires_grad=True)
    y = (x * x).sum()
    (g,) = tc.grad(y, x, retain_graph=True)
    np.testing.assert_array_equal(g.data, [2.0, 4.0])
    assert x.grad is None and not g.requires_grad
    with pytest.raises(RuntimeError, match="allow_unused=True"):
        tc.grad(y, [x, z], retain_graph=True)
    gx, gz = tc.autograd.grad(y, [x, z], allow_unused=True)
    assert gz is None and np.array_equal(gx.data, [2.0, 4.0])


def test_grad_with_respect_to_an_intermediate_tensor() -> None:
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    h = x * 2.0
    (g,) = tc.grad((h * h).sum(), h)
    np.testing.assert_array_equal(g.data, [4.0, 8.0])


def test_backward_inputs_accumulates_only_there() -> None:
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    w = Tensor(np.array([3.0, 4.0]), requires_grad=True)
    (x * w).sum().backward(inputs=[w])
    assert x.grad is None
    np.testing.assert_array_equal(w.grad.data, [1.0, 2.0])


def test_grad_argument_errors() -> None:
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    with pytest.raises(RuntimeError, match="not a scalar"):
        tc.grad(x * 2.0, x)
    with pytest.raises(RuntimeError, match="does not require grad"):
        tc.grad(Tensor([1.0]).sum(), x)
    with pytest.raises(TypeError, match="inputs"):
        tc.grad((x * 2.0).sum(), "x")
    with pytest.raises(ValueError, match="grad_outputs"):
        tc.grad([(x * 2.0).sum(), x.sum()], x, grad_outputs=[None])


def test_after_a_first_order_backward_no_gradient_has_a_graph() -> None:
    x = Tensor(np.array([0.3, 0.7]), requires_grad=True)
    (x.tanh() * x).sum().backward()
    assert not x.grad.requires_grad and x.grad._ctx is None


class _NumpyGradientSquare(Function, register=False):
    """out = x**2 whose backward computes its gradient in numpy: the contract is broken."""

    def forward(self, a: np.ndarray) -> np.ndarray:
        self.a = a
        return a * a

    def backward(self, g: Tensor) -> tuple[np.ndarray]:
        return (2 * self.a * g.data,)


class _FloatGradientScale(Function, register=False):
    """out = 2 x whose backward returns a Python float: not a Tensor either."""

    def forward(self, a: np.ndarray) -> np.ndarray:
        return 2 * a

    def backward(self, g: Tensor) -> tuple[float]:
        return (2.0,)


class _ListGradientScale(Function, register=False):
    """out = 2 x whose backward returns a list of floats."""

    def forward(self, a: np.ndarray) -> np.ndarray:
        return 2 * a

    def backward(self, g: Tensor) -> tuple[list[float]]:
        return ([2.0, 2.0],)


class _NumpyScalarGradientScale(Function, register=False):
    """out = 2 x whose backward returns a numpy scalar (a float64, not a Tensor)."""

    def forward(self, a: np.ndarray) -> np.ndarray:
        return 2 * a

    def backward(self, g: Tensor) -> tuple[np.float64]:
        return (np.float64(2.0),)


NO_TENSOR = [
    (_NumpyGradientSquare, "ndarray"),
    (_FloatGradientScale, "float"),
    (_ListGradientScale, "list"),
    (_NumpyScalarGradientScale, "float64"),
]


def _no_tensor_message(name: str, kind: str) -> str:
    return (
        rf"{name}\.backward must return Tensors \(or None\), built from Tensor ops .* got {kind}:"
    )


@pytest.mark.parametrize("create_graph", [False, True])
@pytest.mark.parametrize(("op", "kind"), NO_TENSOR)
def test_a_backward_that_returns_no_tensor_is_refused(
    op: type[Function], kind: str, create_graph: bool
) -> None:
    x = Tensor(np.array([1.0, 3.0]), requires_grad=True)
    with pytest.raises(TypeError, match=_no_tensor_message(op.name, kind)):
        op.apply(x).sum().backward(create_graph=create_graph)
    assert x.grad is None


def _mul_returning(second: Callable[[Tensor, Tensor], Any]) -> type[Function]:
    """out = a * b whose backward returns g * b for a and ``second(g, a)`` for b."""

    class MulReturning(Function, register=False):
        name = "mulreturning"

        def forward(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
            return a * b

        def backward(self, g: Tensor) -> tuple[Any, Any]:
            a, b = self.inputs
            return g * b, second(g, a)

    return MulReturning


def _differentiate(out: Tensor, x: Tensor, how: str, create_graph: bool) -> None:
    if how == "backward":
        out.backward(create_graph=create_graph)
    elif how == "grad":
        tc.grad(out, x, create_graph=create_graph)
    else:
        with tc.detect_anomaly():
            out.backward(create_graph=create_graph)


@pytest.mark.parametrize("how", ["backward", "grad", "anomaly"])
@pytest.mark.parametrize("create_graph", [False, True])
@pytest.mark.parametrize(
    ("gradient", "kind"),
    [
        (lambda g, a: 2.0, "float"),
        (lambda g, a: [1.0, 1.0], "list"),
        (lambda g, a: a.data, "ndarray"),
    ],
)
def test_a_gradient_that_is_no_tensor_is_refused_even_for_an_input_that_needs_none(
    gradient: Callable[[Tensor, Tensor], Any], kind: str, create_graph: bool, how: str
) -> None:
    """The engine drops the gradient of an input that needs none, but the op broke its
    contract all the same: refused in every walk, as for an input that needs one."""
    op = _mul_returning(gradient)
    x = Tensor(np.array([1.0, 3.0]), requires_grad=True)
    y = Tensor(np.array([2.0, 5.0]))
    with pytest.raises(TypeError, match=_no_tensor_message(op.name, kind)):
        _differentiate(op.apply(x, y).sum(), x, how, create_graph)
    assert x.grad is None


@pytest.mark.parametrize("create_graph", [False, True])
@pytest.mark.parametrize(
    ("backward", "got"),
    [
        (lambda g, a: (g * a,), "a tuple of 1"),
        (lambda g, a: (g * a, g, None), "a tuple of 3"),
        (lambda g, a: [g * a, g], "list"),
        (lambda g, a: g * a, "Tensor"),
        (lambda g, a: None, "NoneType"),
    ],
)
def test_a_backward_that_returns_no_tuple_of_one_gradient_per_input_is_refused(
    backward: Callable[[Tensor, Tensor], Any], got: str, create_graph: bool
) -> None:
    class Returning(Function, register=False):
        name = "returning"

        def forward(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
            return a * b

        def backward(self, g: Tensor) -> Any:
            return backward(g, self.inputs[0])

    x = Tensor(np.array([1.0, 3.0]), requires_grad=True)
    y = Tensor(np.array([2.0, 5.0]), requires_grad=True)
    message = rf"returning\.backward must return a tuple of 2 gradients, got {got}$"
    with pytest.raises(TypeError, match=message):
        Returning.apply(x, y).sum().backward(create_graph=create_graph)


@pytest.mark.parametrize("create_graph", [False, True])
def test_a_backward_may_return_a_tensor_subclass(create_graph: bool) -> None:
    """A Parameter is a Tensor: out = a * b whose gradient for a is b itself (at g = 1)."""
    op = _mul_returning(lambda g, a: g * a)

    class ReturnsParameter(op, register=False):  # type: ignore[valid-type, misc]
        def backward(self, g: Tensor) -> tuple[Any, Any]:
            return self.inputs[1], g * self.inputs[0]

    a = Tensor(np.array([1.0, 3.0]), requires_grad=True)
    b = Parameter(np.array([2.0, 5.0]))
    ReturnsParameter.apply(a, b).sum().backward(create_graph=create_graph)
    np.testing.assert_array_equal(a.grad.numpy(), [2.0, 5.0])
    np.testing.assert_array_equal(b.grad.numpy(), [1.0, 3.0])


def test_in_place_ops_still_refuse_to_overwrite_an_output_backward_reads() -> None:
    x = Tensor(np.array([0.5, 1.0]), requires_grad=True)
    y = x.exp()
    with pytest.raises(RuntimeError, match="exp, the op that made it, saved its values"):
        y.relu_()
