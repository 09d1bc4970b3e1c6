"""Creation functions, the default generator and the functional forms, checked against torch."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import tinygrad_cnn as tc
from tinygrad_cnn import Tensor, nn

torch = pytest.importorskip("torch")


def _dtype_name(t: Any) -> str:
    return str(t.dtype).removeprefix("torch.")


def assert_like_torch(ours: Tensor, theirs: Any) -> None:
    assert str(ours.dtype) == _dtype_name(theirs)
    assert ours.shape == tuple(theirs.shape)
    # linspace's values may differ from torch's vectorised kernel in the last bit.
    np.testing.assert_allclose(
        ours.numpy().astype(float), theirs.numpy().astype(float), rtol=2e-7, atol=1e-7
    )


# ---------------------------------------------------------------------- inference
@pytest.mark.parametrize(
    "data",
    [[3, 1, 4], [1.0, 2.0], [1, 2.5], [True, False], [True, 2], 3, 2.5, True, [[1, 2], [3, 4]]],
    ids=repr,
)
def test_tensor_infers_torch_tensors_dtype(data: Any) -> None:
    assert_like_torch(Tensor(data), torch.tensor(data))
    assert_like_torch(tc.tensor(data), torch.tensor(data))


@pytest.mark.parametrize("dtype", ["float64", "float32", "int32", "uint8", "bool"])
def test_numpy_arrays_and_scalars_keep_their_dtype(dtype: str) -> None:
    array = np.array([1, 0, 1], dtype=dtype)
    assert_like_torch(tc.tensor(array), torch.tensor(array))
    assert_like_torch(Tensor(array[0]), torch.tensor(array[0]))


def test_tensor_copies_and_accepts_a_tensor() -> None:
    array = np.array([1.0, 2.0])
    copied = tc.tensor(array)
    assert copied.numpy() is not array and np.shares_memory(Tensor(array).numpy(), array)
    source = Tensor([1.0], requires_grad=True)
    again = tc.tensor(source)
    assert not again.requires_grad and again.numpy() is not source.numpy()


def test_integer_labels_from_a_list_work_in_cross_entropy() -> None:
    logits = Tensor(np.zeros((3, 5), np.float32), requires_grad=True)
    loss = tc.cross_entropy(logits, Tensor([3, 1, 4]))
    expected = torch.nn.functional.cross_entropy(torch.zeros(3, 5), torch.tensor([3, 1, 4]))
    np.testing.assert_allclose(loss.item(), expected.item(), rtol=1e-6)


def test_only_floating_point_tensors_can_require_grad() -> None:
    with pytest.raises(RuntimeError, match="floating point"):
        torch.tensor([1, 2], requires_grad=True)
    with pytest.raises(TypeError, match="only floating-point tensors can require grad"):
        Tensor([1, 2], requires_grad=True)
    with pytest.raises(TypeError, match="only floating-point"):
        tc.tensor([True], requires_grad=True)
    assert Tensor([1.0, 2.0], requires_grad=True).requires_grad


def test_integers_beyond_int64_are_refused() -> None:
    with pytest.raises(ValueError, match="int64"):
        Tensor([2**63])


# ---------------------------------------------------------------------- creation functions
CASES: list[tuple[str, Callable[[Any], Any]]] = [
    ("zeros(2, 3)", lambda m: m.zeros(2, 3)),
    ("zeros((2, 3))", lambda m: m.zeros((2, 3))),
    ("zeros([2])", lambda m: m.zeros([2])),
    ("zeros()", lambda m: m.zeros(())),
    ("ones(3, dtype=int64)", lambda m: m.ones(3, dtype=_dt(m, "int64"))),
    ("ones(0)", lambda m: m.ones(0)),
    ("full((2,), 3)", lambda m: m.full((2,), 3)),
    ("full((2,), 1.5)", lambda m: m.full((2,), 1.5)),
    ("full((2,), True)", lambda m: m.full((2,), True)),
    ("full([2, 1], 2, dtype=float64)", lambda m: m.full([2, 1], 2, dtype=_dt(m, "float64"))),
    ("arange(5)", lambda m: m.arange(5)),
    ("arange(1, 4)", lambda m: m.arange(1, 4)),
    ("arange(1.0, 4)", lambda m: m.arange(1.0, 4)),
    ("arange(0, 1, 0.1)", lambda m: m.arange(0, 1, 0.1)),
    ("arange(-1.5, 1.5, 0.5)", lambda m: m.arange(-1.5, 1.5, 0.5)),
    ("arange(10, 0, -3)", lambda m: m.arange(10, 0, -3)),
    ("arange(0, 10, 3.0)", lambda m: m.arange(0, 10, 3.0)),
    ("arange(5, dtype=float64)", lambda m: m.arange(5, dtype=_dt(m, "float64"))),
    ("arange(0)", lambda m: m.arange(0)),
    ("linspace(0, 1, 5)", lambda m: m.linspace(0, 1, 5)),
    ("linspace(-2, 3, 7)", lambda m: m.linspace(-2, 3, 7)),
    ("linspace(0, 1, 1)", lambda m: m.linspace(0, 1, 1)),
    ("linspace(0, 1, 0)", lambda m: m.linspace(0, 1, 0)),
    ("eye(3)", lambda m: m.eye(3)),
    ("eye(2, 4)", lambda m: m.eye(2, 4)),
    ("eye(2, dtype=int64)", lambda m: m.eye(2, dtype=_dt(m, "int64"))),
    ("zeros_like(int32)", lambda m: m.zeros_like(_int32(m))),
    ("ones_like(int32, dtype=float64)", lambda m: m.ones_like(_int32(m), dtype=_dt(m, "float64"))),
    ("full_like(int32, 2.7)", lambda m: m.full_like(_int32(m), 2.7)),
    ("full_like(float, 2)", lambda m: m.full_like(m.ones(2), 2)),
]


def _dt(module: Any, name: str) -> Any:
    return getattr(torch, name) if module is torch else np.dtype(name)


def _int32(module: Any) -> Any:
    if module is torch:
        return torch.tensor([1, 2], dtype=torch.int32)
    return Tensor(np.array([1, 2], dtype=np.int32))


@pytest.mark.parametrize(("label", "make"), CASES, ids=[label for label, _ in CASES])
def test_creation_functions_match_torch(label: str, make: Callable[[Any], Any]) -> None:
    assert_like_torch(make(tc), make(torch))


def test_creation_takes_requires_grad_and_the_classmethods_delegate() -> None:
    for made in (tc.zeros(2, requires_grad=True), tc.randn(2, requires_grad=True)):
        assert made.requires_grad and made.is_leaf
    assert Tensor.zeros(2, 3).dtype == np.float32 and Tensor.ones((2,)).shape == (2,)
    np.testing.assert_array_equal(Tensor.randn(3, seed=1).numpy(), tc.randn(3, generator=1).numpy())


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda: tc.zeros(-1), ValueError),
        (lambda: tc.zeros(2.5), TypeError),
        (lambda: tc.ones(2, dtype="complex64"), TypeError),
        (lambda: tc.arange(0, 5, 0), ValueError),
        (lambda: tc.arange(0, 5, -1), ValueError),
        (lambda: tc.arange(0, float("inf")), ValueError),
        (lambda: tc.linspace(0, 1, -1), ValueError),
        (lambda: tc.randn(2, dtype=np.int64), TypeError),
        (lambda: tc.rand_like(Tensor([1, 2])), TypeError),
        (lambda: tc.randint(5, 5, (2,)), ValueError),
        (lambda: tc.randint(5), TypeError),
        (lambda: tc.full((2,), "a"), TypeError),
        (lambda: tc.zeros_like(np.ones(2)), TypeError),
        (lambda: tc.manual_seed(-1), ValueError),
        (lambda: tc.manual_seed(1.5), TypeError),
        (lambda: tc.randn(2, generator="x"), TypeError),
    ],
)
def test_bad_arguments_raise_clear_errors(call: Callable[[], Any], error: type) -> None:
    with pytest.raises(error):
        call()


# ---------------------------------------------------------------------- random
@pytest.mark.parametrize(
    ("make", "dtype", "low", "high"),
    [
        (lambda: tc.rand(1000), "float32", 0.0, 1.0),
        (lambda: tc.rand(10, 100, dtype=np.float64), "float64", 0.0, 1.0),
        (lambda: tc.randint(3, 7, (1000,)), "int64", 3, 6),
        (lambda: tc.randint(4, size=(10, 10)), "int64", 0, 3),
        (lambda: tc.rand_like(tc.ones(100, dtype=np.float64)), "float64", 0.0, 1.0),
    ],
)
def test_random_draws_have_torchs_dtype_and_range(
    make: Any, dtype: str, low: Any, high: Any
) -> None:
    t = make()
    assert str(t.dtype) == dtype
    assert t.numpy().min() >= low and t.numpy().max() <= high
    assert t.numpy().max() > t.numpy().min()


def test_randn_looks_standard_normal() -> None:
    x = tc.randn(20000, generator=0).numpy()
    assert x.dtype == np.float32 and abs(x.mean()) < 0.05 and abs(x.std() - 1) < 0.05
    assert tc.randn_like(Tensor(np.zeros((2, 3)))).dtype == np.float64


def test_manual_seed_makes_every_draw_reproducible() -> None:
    def draws() -> list[np.ndarray]:
        return [
            tc.randn(3).numpy(),
            tc.rand(2, 2).numpy(),
            tc.randint(0, 100, (4,)).numpy(),
            tc.randn_like(tc.zeros(2)).numpy(),
            nn.Linear(3, 2).weight.data.copy(),
            nn.Conv2d(1, 2, 3).bias.data.copy(),
            nn.init.normal_(Tensor(np.zeros(3, np.float32))).numpy().copy(),
        ]

    generator = tc.manual_seed(7)
    first = draws()
    assert tc.manual_seed(7) is generator is tc.default_generator()
    second = draws()
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(tc.randn(3).numpy(), first[0])  # the stream moves on


def test_a_generator_or_seed_argument_leaves_the_default_generator_alone() -> None:
    tc.manual_seed(3)
    expected = tc.randn(4).numpy()
    tc.manual_seed(3)
    own = np.random.default_rng(0)
    tc.randn(5, generator=own)
    nn.Linear(4, 4, seed=1)
    np.testing.assert_array_equal(tc.randn(4).numpy(), expected)


# ---------------------------------------------------------------------- functional forms
UNARY = ["relu", "exp", "log", "sqrt", "tanh", "sigmoid", "abs", "neg"]


@pytest.mark.parametrize("name", UNARY)
def test_functional_unary_ops_match_torch(name: str) -> None:
    data = np.array([0.5, 2.0, -1.5, 3.0])
    if name in ("log", "sqrt"):
        data = np.abs(data)
    x = Tensor(data, requires_grad=True)
    tx = torch.tensor(data, requires_grad=True)
    out, expected = getattr(tc, name)(x), getattr(torch, name)(tx)
    out.sum().backward()
    expected.sum().backward()
    assert_like_torch(out, expected.detach())
    grad = x.grad.numpy() if isinstance(x.grad, Tensor) else x.grad
    np.testing.assert_allclose(grad, tx.grad.numpy())


BINARY: list[tuple[str, Callable[[Any, Any, Any], Any]]] = [
    ("add", lambda m, a, b: m.add(a, b)),
    ("add alpha", lambda m, a, b: m.add(a, b, alpha=2)),
    ("add scalar first", lambda m, a, b: m.add(2, b)),
    ("sub", lambda m, a, b: m.sub(a, b)),
    ("sub alpha", lambda m, a, b: m.sub(a, b, alpha=0.5)),
    ("mul", lambda m, a, b: m.mul(a, 3)),
    ("div", lambda m, a, b: m.div(a, b)),
    ("div scalar first", lambda m, a, b: m.div(1.5, b)),
    ("pow", lambda m, a, b: m.pow(a, b)),
    ("pow scalar exponent", lambda m, a, b: m.pow(a, 2)),
    ("pow scalar base", lambda m, a, b: m.pow(2, b)),
    ("maximum", lambda m, a, b: m.maximum(a, b)),
    ("minimum", lambda m, a, b: m.minimum(a, b)),
    ("sum", lambda m, a, b: m.sum(a * b)),
    ("sum dim", lambda m, a, b: m.sum(a * b, 1)),
    ("sum dim keepdim", lambda m, a, b: m.sum(a, 0, True)),
    ("mean", lambda m, a, b: m.mean(a)),
    ("mean dim", lambda m, a, b: m.mean(a - b, 1)),
    ("matmul", lambda m, a, b: m.matmul(a, b.T)),
    ("reshape", lambda m, a, b: m.reshape(a, (3, 2))),
]


@pytest.mark.parametrize(("label", "call"), BINARY, ids=[label for label, _ in BINARY])
def test_functional_binary_ops_and_reductions_match_torch(label: str, call: Any) -> None:
    a_data = np.array([[0.5, 2.0, 1.5], [3.0, 0.25, 1.0]])
    b_data = np.array([[1.0, 0.5, 2.0], [0.5, 1.0, 3.0]])
    a, b = Tensor(a_data, requires_grad=True), Tensor(b_data, requires_grad=True)
    ta, tb = (torch.tensor(d, requires_grad=True) for d in (a_data, b_data))
    out, expected = call(tc, a, b), call(torch, ta, tb)
    assert_like_torch(out, expected.detach())
    out.sum().backward()
    expected.sum().backward()
    for ours, theirs in ((a, ta), (b, tb)):
        if theirs.grad is None:
            assert ours.grad is None
            continue
        grad = ours.grad.numpy() if isinstance(ours.grad, Tensor) else ours.grad
        np.testing.assert_allclose(grad, theirs.grad.numpy(), rtol=1e-12)


def test_functional_ops_refuse_non_tensors() -> None:
    with pytest.raises(TypeError, match="relu: expected a Tensor"):
        tc.relu(np.ones(2))
    with pytest.raises(TypeError, match="at least one side"):
        tc.add(1, 2)
    with pytest.raises(TypeError, match="maximum: expected a Tensor"):
        tc.maximum(Tensor([1.0]), 2.0)
