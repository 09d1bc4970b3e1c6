"""In-place arithmetic (``+= -= *= /=``, ``add_ sub_ mul_ div_ copy_ fill_ zero_ clamp_``).

Run side by side with PyTorch (``importorskip``): the manual SGD loop, each method's values,
dtypes and gradients, PyTorch's refusals (a leaf that requires grad outside ``no_grad()``,
results of a higher dtype kind, operands that do not broadcast to ``self``'s shape), and the
refusals this library adds where an overwritten value could make a gradient wrong. The
Hypothesis gradient and parity tests of the six ops come from their specs in
``tests/op_specs.py``. Also here: the 0-d in-place ReLU whose backward crashed.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from tinygrad_cnn import Function, Tensor, check_graph, nn, no_grad
from tinygrad_cnn.function import apply_in_place
from tinygrad_cnn.optim import SGD

torch = pytest.importorskip("torch")

DTYPES = ("bool", "uint8", "int32", "int64", "float32", "float64")


def _grad(t: Any) -> np.ndarray:
    """A ``.grad`` as an array, whether it is a numpy array or a Tensor."""
    return np.asarray(t.numpy() if isinstance(t, Tensor) else t)


def _pair(data: Any, requires_grad: bool = False) -> tuple[Tensor, Any]:
    """The same values (float64 for floats) as a Tensor here and a torch tensor."""
    array = np.array(data)
    if array.dtype.kind == "f":
        array = array.astype(np.float64)
    ours = Tensor(array.copy(), requires_grad=requires_grad)
    theirs = torch.tensor(array.copy(), requires_grad=requires_grad)
    return ours, theirs


# ---------------------------------------------------------------------- the manual SGD loop
def _mlp(seed: int) -> tuple[nn.Module, Any]:
    ours = nn.Sequential(
        nn.Linear(4, 8, dtype=np.float64, seed=seed),
        nn.ReLU(),
        nn.Linear(8, 3, dtype=np.float64, seed=seed + 1),
    )
    theirs = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
    theirs = theirs.double()
    with torch.no_grad():
        for p, q in zip(ours.parameters(), theirs.parameters(), strict=True):
            q.copy_(torch.tensor(p.numpy()))
    return ours, theirs


def test_manual_sgd_with_minus_equals_trains_exactly_as_in_torch() -> None:
    rng = np.random.default_rng(0)
    images, labels = rng.standard_normal((16, 4)), rng.integers(0, 3, 16)
    model, reference = _mlp(seed=0)
    parameters = list(model.parameters())
    arrays = [p.numpy() for p in parameters]
    lr = 0.5
    losses, torch_losses = [], []
    for _ in range(5):
        loss = model(Tensor(images)).cross_entropy(labels)
        loss.backward()
        with no_grad():
            for p in model.parameters():
                p -= lr * p.grad
                p.grad = None
        losses.append(loss.item())
        torch_loss = torch.nn.functional.cross_entropy(
            reference(torch.tensor(images)), torch.tensor(labels)
        )
        torch_loss.backward()
        with torch.no_grad():
            for q in reference.parameters():
                q -= lr * q.grad
                q.grad = None
        torch_losses.append(torch_loss.item())
    np.testing.assert_allclose(losses, torch_losses, rtol=1e-12)
    assert losses[-1] < losses[0] - 0.1  # it trains
    for p, array, q in zip(model.parameters(), arrays, reference.parameters(), strict=True):
        assert p.numpy() is array and p.requires_grad and p.is_leaf  # updated in place
        np.testing.assert_allclose(p.numpy(), q.detach().numpy(), rtol=1e-12, atol=1e-15)
    assert list(model.parameters()) == parameters  # the same tensors: optimizers still hold them


def test_minus_equals_on_a_leaf_outside_no_grad_raises_torchs_error() -> None:
    w, tw = _pair([1.0, -2.0], requires_grad=True)
    (w * w).sum().backward()
    (tw * tw).sum().backward()
    message = "a leaf Variable that requires grad is being used in an in-place operation"
    with pytest.raises(RuntimeError, match=message):
        tw -= 0.1 * tw.grad
    before = w
    with pytest.raises(RuntimeError, match=message):
        w -= 0.1 * w.grad
    assert w is before
    np.testing.assert_array_equal(w.numpy(), [1.0, -2.0])  # nothing was written


@pytest.mark.parametrize("kind", ["array", "tensor", "number"])
def test_no_grad_update_keeps_the_tensor_and_the_next_backward_works(kind: str) -> None:
    w = Tensor(np.array([1.0, -2.0]), requires_grad=True)
    (w * w).sum().backward()
    step = {"array": 0.25 * _grad(w.grad), "tensor": Tensor(0.25 * _grad(w.grad)), "number": 0.5}
    same = w
    with no_grad():
        w -= step[kind]
    assert w is same and w.requires_grad and w.is_leaf
    expected = {"array": [0.5, -1.0], "tensor": [0.5, -1.0], "number": [0.5, -2.5]}[kind]
    np.testing.assert_array_equal(w.numpy(), expected)
    w.grad = None
    (w * w).sum().backward()
    np.testing.assert_array_equal(_grad(w.grad), 2 * np.array(expected))


def test_an_optimizer_keeps_updating_a_tensor_changed_by_hand() -> None:
    w = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    optimizer = SGD([w], lr=0.5)
    with no_grad():
        w *= 2
        w += Tensor(np.array([1.0, 1.0]))
    (w * 1).sum().backward()
    optimizer.step()
    np.testing.assert_array_equal(w.numpy(), [2.5, 4.5])


# ---------------------------------------------------------------------- values and gradients
def _graph_cases() -> list[tuple[str, Callable[[Any, Any, Any], Any]]]:
    """``f(x, z, torch_or_ours)`` written once for both libraries; x, z require grad."""

    def plus(x, z, _):
        y = x * 2
        y += z
        return y

    def minus_alpha(x, z, _):
        return (x * 2).sub_(z, alpha=3)

    def add_alpha(x, z, _):
        return (x * 2).add_(z, alpha=-0.5)

    def times(x, z, _):
        y = x * 2
        y *= z
        y *= z  # the old y saved again: both factors count
        return y

    def divide_then_add(x, z, _):
        y = x * 2
        y /= z
        y += 1
        return y * y

    def self_plus_self(x, z, _):
        y = x * z
        y += y
        return y

    def constant_plus_grad(x, z, lib):
        c = lib.zeros(3, dtype=lib.float64) if lib is torch else Tensor(np.zeros(3))
        c += z * x
        return c * c

    def broadcast_operand(x, z, _):
        y = (x * z).reshape(3, 1) * x  # (3, 3)
        y -= z[:2].sum() * x  # a (3,) operand broadcast over the rows
        return y

    def copy_from(x, z, _):
        y = x * 2
        y.copy_(z * 3)
        return y * x

    def fill_with_a_0d_tensor(x, z, _):
        y = x * 2
        y.fill_(z.sum())
        return y * x

    def zero(x, z, _):
        y = x * z
        y.zero_()
        return y + x

    def clamp(x, z, _):
        y = x * z
        y.clamp_(min=-1.0, max=2.0)
        return y

    def clamp_at_the_bounds(x, z, _):
        y = x * 1
        y.clamp_(min=-0.5)  # x has -0.5: the bound itself passes the gradient
        return y.clamp_(max=3.0)

    return [
        (f.__name__, f)
        for f in (
            plus, minus_alpha, add_alpha, times, divide_then_add, self_plus_self,
            constant_plus_grad, broadcast_operand, copy_from, fill_with_a_0d_tensor, zero,
            clamp, clamp_at_the_bounds,
        )
    ]  # fmt: skip


@pytest.mark.parametrize(("name", "f"), _graph_cases(), ids=[n for n, _ in _graph_cases()])
def test_recorded_in_place_ops_match_torch(name: str, f: Callable) -> None:
    x, tx = _pair([1.5, -0.5, 3.0], requires_grad=True)
    z, tz = _pair([0.5, 2.0, -1.25], requires_grad=True)
    out, reference = f(x, z, None), f(tx, tz, torch)
    np.testing.assert_allclose(out.numpy(), reference.detach().numpy(), rtol=1e-14)
    upstream = np.arange(1.0, 1.0 + out.numel()).reshape(out.shape)
    out.backward(upstream)
    reference.backward(torch.tensor(upstream))
    for ours, theirs in ((x, tx), (z, tz)):
        expected = np.zeros(3) if theirs.grad is None else theirs.grad.numpy()
        got = np.zeros(3) if ours.grad is None else _grad(ours.grad)
        np.testing.assert_allclose(got, expected, rtol=1e-14, atol=1e-15)


def test_in_place_ops_return_the_same_tensor_and_memory() -> None:
    y = Tensor(np.zeros((2, 3)))
    memory = y.numpy()
    results = [
        y.add_(1), y.sub_(0.5), y.mul_(4), y.div_(2), y.clamp_(max=0.5), y.fill_(2),
        y.copy_(np.ones(3)), y.zero_(),
    ]  # fmt: skip
    assert all(r is y for r in results)
    same = y
    y += 1
    y -= 0.5
    y *= 3
    y /= 3
    assert y is same and y.numpy() is memory
    np.testing.assert_array_equal(memory, np.full((2, 3), 0.5))


def test_mixed_float_dtypes_compute_as_torch_and_return_gradients_in_each_dtype() -> None:
    data = np.array([1.0, 2.0, 3.0]) / 3
    x = Tensor(data.astype(np.float32), requires_grad=True)
    z = Tensor(data * 7, requires_grad=True)  # float64
    tx = torch.tensor(data.astype(np.float32), requires_grad=True)
    tz = torch.tensor(data * 7, requires_grad=True)
    y, ty = x * 1, tx * 1
    y += z
    ty += tz
    y *= z
    ty *= tz
    assert y.dtype == np.float32
    np.testing.assert_array_equal(y.numpy(), ty.detach().numpy())  # float64 math, one rounding
    y.sum().backward()
    ty.sum().backward()
    assert x.grad.dtype == np.float32 and z.grad.dtype == np.float64
    np.testing.assert_allclose(_grad(x.grad), tx.grad.numpy(), rtol=1e-6)
    np.testing.assert_allclose(_grad(z.grad), tz.grad.numpy(), rtol=1e-6)


def test_a_scalar_operand_is_computed_in_the_tensors_dtype() -> None:
    for value in (0.1, np.float64(0.1), 3):
        y, ty = Tensor(np.array([1.0, 2.0], dtype=np.float32)), torch.tensor([1.0, 2.0])
        y += value
        ty += value
        y /= value
        ty /= value
        np.testing.assert_array_equal(y.numpy(), ty.numpy())


def test_check_graph_passes_on_a_graph_with_in_place_ops() -> None:
    rng = np.random.default_rng(1)
    x = Tensor(rng.standard_normal((3, 4)), requires_grad=True)
    z = Tensor(rng.standard_normal(4) + 3, requires_grad=True)
    y = x * 2
    y *= z
    y /= z * z
    y.sub_(z, alpha=0.5)
    y.clamp_(min=-5.0)
    report = check_graph((y * y).sum())
    assert report.ok, str(report)


# ---------------------------------------------------------------------- dtypes
def _values(dtype: str) -> np.ndarray:
    return np.array([1, 0, 3, 2]).astype(dtype)


def _operands() -> list[tuple[str, Callable[[Any], Any]]]:
    """Python numbers, and dimensioned and 0-d tensors of each dtype (``lib`` makes them)."""
    cases: list[tuple[str, Callable[[Any], Any]]] = [
        ("True", lambda lib: True),
        ("2", lambda lib: 2),
        ("1.5", lambda lib: 1.5),
    ]
    for dtype in DTYPES:
        cases.append((f"{dtype}[4]", lambda lib, d=dtype: _tensor(lib, [2, 1, 3, 1], d)))
        cases.append((f"{dtype}[]", lambda lib, d=dtype: _tensor(lib, 2, d)))
    return cases


def _tensor(lib: Any, data: Any, dtype: str) -> Any:
    array = np.array(data).astype(dtype)
    return torch.tensor(array) if lib is torch else Tensor(array)


@pytest.mark.parametrize("method", ["add_", "sub_", "mul_", "div_"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_dtypes_and_refusals_match_torch(method: str, dtype: str) -> None:
    for label, make in _operands():
        ours, theirs = Tensor(_values(dtype)), torch.tensor(_values(dtype))
        try:
            getattr(theirs, method)(make(torch))
        except RuntimeError as error:
            with pytest.raises(RuntimeError) as raised:
                getattr(ours, method)(make(None))
            if "result type" in str(error):  # PyTorch's message, dtype names included
                assert str(error) in str(raised.value), (label, str(raised.value))
            np.testing.assert_array_equal(ours.numpy(), _values(dtype))  # nothing written
            continue
        getattr(ours, method)(make(None))
        assert ours.dtype == np.dtype(dtype), label
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy(), err_msg=label)


def test_alpha_is_refused_as_in_torch() -> None:
    with pytest.raises(RuntimeError, match="argument alpha must not be a floating point"):
        Tensor(np.array([1, 2])).add_(1, alpha=1.5)
    with pytest.raises(RuntimeError, match="Boolean alpha only supported for Boolean results"):
        Tensor(np.array([1.0])).add_(1, alpha=True)
    with pytest.raises(TypeError, match="alpha must be a number, got str"):
        Tensor(np.array([1.0])).sub_(1, alpha="2")
    flags = Tensor(np.array([True, False]))
    flags.add_(True, alpha=2)
    np.testing.assert_array_equal(flags.numpy(), [True, True])
    ints = Tensor(np.array([1, 2], dtype=np.int32))
    ints.sub_(Tensor(np.array([1, 1])), alpha=3)
    np.testing.assert_array_equal(ints.numpy(), [-2, -1])
    assert ints.dtype == np.int32


@pytest.mark.parametrize("name", ["add_", "sub_"])
def test_the_ops_applied_without_alpha_compute_and_differentiate_as_alpha_1(name: str) -> None:
    """``add_``/``sub_`` always record ``alpha``; the registered ops applied directly (as a
    user's code or a graph tool may) default it to 1 in forward and backward alike."""
    op = Function.registry[name]
    grads = []
    for attrs in ({}, {"alpha": 1}):
        a = Tensor(np.array([1.0, -2.0, 3.0]), requires_grad=True)
        b = Tensor(np.array([0.5, 0.25, -1.0]), requires_grad=True)
        out = apply_in_place(op, a * 1, b, **attrs)
        (out * Tensor(np.array([1.0, 2.0, 3.0]))).sum().backward()
        grads.append((out.numpy(), a.grad.numpy(), b.grad.numpy()))
    for without, with_one in zip(*grads, strict=True):
        np.testing.assert_array_equal(without, with_one)
    sign = 1.0 if name == "add_" else -1.0
    np.testing.assert_array_equal(grads[0][2], sign * np.array([1.0, 2.0, 3.0]))


@pytest.mark.parametrize(
    "other", [None, "1", b"1", object(), [1.0, "a"]], ids=["None", "str", "bytes", "obj", "ragged"]
)
def test_operands_that_are_not_numbers_are_type_errors(other: Any) -> None:
    y = Tensor(np.zeros(2))
    for method in ("add_", "sub_", "mul_", "div_", "copy_"):
        with pytest.raises(TypeError, match=method):
            getattr(y, method)(other)


# ---------------------------------------------------------------------- shapes
@pytest.mark.parametrize(
    ("shape", "operand"), [((3,), (2, 3)), ((3,), (2,)), ((2, 1), (2, 3)), ((), (1,))]
)
def test_an_operand_that_does_not_broadcast_to_self_is_refused(shape, operand) -> None:
    for method in ("add_", "sub_", "mul_", "div_", "copy_"):
        with pytest.raises(RuntimeError):
            getattr(torch.zeros(shape), method)(torch.ones(operand))
        y = Tensor(np.zeros(shape))
        with pytest.raises(RuntimeError, match=re.escape(f"{method}: output with shape {shape}")):
            getattr(y, method)(Tensor(np.ones(operand)))
        assert y.shape == shape


def test_an_operand_is_broadcast_to_self() -> None:
    y, ty = Tensor(np.ones((2, 3))), torch.ones(2, 3)
    for t, lib in ((y, None), (ty, torch)):
        t += _tensor(lib, [1.0, 2.0, 3.0], "float64")
        t *= _tensor(lib, [[2.0], [3.0]], "float64")
        t.sub_(_tensor(lib, 1.0, "float64"))
    np.testing.assert_array_equal(y.numpy(), ty.numpy())


# ---------------------------------------------------------------------- fill_, copy_, clamp_
@pytest.mark.parametrize("dtype", DTYPES)
def test_fill_zero_and_copy_cast_as_in_torch(dtype: str) -> None:
    for value in (2, 1.7, True, 0):
        ours, theirs = Tensor(_values(dtype)), torch.tensor(_values(dtype))
        ours.fill_(value)
        theirs.fill_(value)
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy(), err_msg=repr(value))
        assert ours.dtype == np.dtype(dtype)
    ours, theirs = Tensor(_values(dtype)), torch.tensor(_values(dtype))
    ours.zero_()
    theirs.zero_()
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    source = np.array([[2.75, -0.0, 1.0, 3.5]])
    for src in (source, source.astype(np.float32), source > 1):
        ours, theirs = Tensor(_values(dtype)), torch.tensor(_values(dtype))
        ours.copy_(Tensor(src[0]))
        theirs.copy_(torch.tensor(src[0]))
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
        ours.copy_(src[0])  # an array, as a numpy .grad
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    with pytest.raises(RuntimeError, match="fill_ only supports 0-dimension value tensor"):
        Tensor(_values(dtype)).fill_(Tensor(np.array([1.0])))
    with pytest.raises(TypeError, match="fill_: value must be a number or a 0-d tensor"):
        Tensor(_values(dtype)).fill_("1")


def test_clamp_matches_torch() -> None:
    data = np.array([-2.0, -0.5, 0.0, 0.5, 3.0, np.nan, np.inf, -np.inf])
    for bounds in ({"min": -1.0}, {"max": 0.25}, {"min": -1.0, "max": 1}, {"min": 2, "max": 1}):
        ours, theirs = Tensor(data.copy()), torch.tensor(data.copy())
        assert ours.clamp_(**bounds) is ours
        theirs.clamp_(**bounds)
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy(), err_msg=repr(bounds))
    ints, tints = Tensor(np.array([-3, 0, 5])), torch.tensor([-3, 0, 5])
    ints.clamp_(min=-1, max=2)
    tints.clamp_(min=-1, max=2)
    np.testing.assert_array_equal(ints.numpy(), tints.numpy())
    with pytest.raises(RuntimeError, match="result type Float can't be cast"):
        Tensor(np.array([1, 2])).clamp_(min=1.5)
    with pytest.raises(RuntimeError, match="at least one of 'min' or 'max'"):
        Tensor(np.array([1.0])).clamp_()
    with pytest.raises(RuntimeError, match="bool"):
        Tensor(np.array([True])).clamp_(min=False)
    with pytest.raises(TypeError, match="min and max must be numbers"):
        Tensor(np.array([1.0])).clamp_(min=Tensor(np.array(0.0)))


# ---------------------------------------------------------------------- refusals in the graph
def _graph_refusals() -> list[tuple[str, Callable[[], Tensor]]]:
    a = Tensor(np.array([1.0, -2.0, 3.0]), requires_grad=True)
    constant = Tensor(np.array([1.0, 2.0, 3.0]))

    def used_before() -> Tensor:
        h = a * 1
        _ = h * h
        return h

    def saved_as_a_constant() -> Tensor:
        _ = a * constant  # mul saved the constant for a's gradient
        return constant

    return [
        ("leaf tensor that requires grad", lambda: a),
        ("already an input of a recorded op", used_before),
        ("already an input of a recorded op", saved_as_a_constant),
        ("exp, the op that made it, saved its values", lambda: a.exp()),
        ("view of the memory of an input of getitem", lambda: (a * 1)[1:]),
    ]


@pytest.mark.parametrize(("reason", "make"), _graph_refusals(), ids=lambda v: str(v)[:30])
def test_in_place_arithmetic_is_refused_where_a_gradient_could_go_wrong(reason, make) -> None:
    for method, operand in (("add_", 1.0), ("mul_", 2.0), ("copy_", np.zeros(1))):
        tensor = make()
        before = tensor.numpy().copy()
        with pytest.raises(RuntimeError, match=rf"{method}: cannot overwrite .*{reason}"):
            getattr(tensor, method)(operand)
        np.testing.assert_array_equal(tensor.numpy(), before)


def test_exp_then_add_in_place_fails_in_torch_too() -> None:
    tx = torch.tensor([1.0, 2.0], requires_grad=True)
    ty = tx.exp()
    ty += 1
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        ty.sum().backward()


def test_under_no_grad_leaves_and_used_tensors_may_be_overwritten() -> None:
    a = Tensor(np.array([1.0, -2.0]), requires_grad=True)
    h = a * 1
    _ = h * 2
    with no_grad():
        a.relu_()  # allowed on a leaf that requires grad, as in PyTorch
        h += 1
    np.testing.assert_array_equal(a.numpy(), [1.0, 0.0])
    np.testing.assert_array_equal(h.numpy(), [2.0, -1.0])
    assert a.requires_grad and a.is_leaf


def test_under_no_grad_values_an_op_saved_are_still_protected() -> None:
    a = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = a.exp()
    with no_grad(), pytest.raises(RuntimeError, match="exp, the op that made it, saved"):
        y += 1
    y.sum().backward()  # the graph is freed: nothing left to protect
    with no_grad():
        y += 1
    np.testing.assert_allclose(_grad(a.grad), np.exp([1.0, 2.0]))


def test_read_only_memory_is_refused() -> None:
    y = Tensor(np.broadcast_to(np.ones(1), (2,)))
    with no_grad(), pytest.raises(RuntimeError, match="read-only"):
        y += 1


# ---------------------------------------------------------------------- the 0-d crash
def test_in_place_relu_on_a_0d_tensor_used_twice_matches_torch() -> None:
    # The engine's sum of the two 0-d gradients was a numpy scalar, which relu's backward
    # then tried to write over: "TypeError: return arrays must be of ArrayType".
    for value in (0.75, -0.75):
        a, ta = _pair(value, requires_grad=True)
        y, ty = (a * 3).relu_(), (ta * 3).relu_()
        (y * y).backward()
        (ty * ty).backward()
        np.testing.assert_allclose(_grad(a.grad), ta.grad.numpy(), rtol=1e-15)
        assert _grad(a.grad).shape == ()
