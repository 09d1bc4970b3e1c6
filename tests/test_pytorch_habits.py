"""PyTorch habits: each idiom written as a PyTorch user writes it, run in both libraries.

Every test body takes ``lib`` (``torch`` or ``tinygrad_cnn``) and ``F`` (where
``cross_entropy`` lives: ``torch.nn.functional`` or ``tinygrad_cnn``) and returns plain Python
values or numpy arrays; the two libraries' answers must agree (values, dtypes, shapes). The
idioms come from issue 13, where each of them once gave a silently different answer or raised.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np
import pytest

import tinygrad_cnn as tc

torch = pytest.importorskip("torch")

LIBRARIES = {"torch": (torch, torch.nn.functional), "tinygrad_cnn": (tc, tc)}


def to_plain(value: Any) -> Any:
    """Tensors of either library as numpy arrays; tuples and lists element by element."""
    if isinstance(value, tuple | list):
        return type(value)(to_plain(v) for v in value)
    if isinstance(value, torch.Tensor):
        return value.detach().numpy()
    if isinstance(value, tc.Tensor):
        return value.numpy()
    return value


def assert_same(ours: Any, theirs: Any, rtol: float = 1e-6) -> None:
    """Equal structure, types of plain values, array dtypes, shapes and values."""
    if isinstance(theirs, tuple | list):
        assert len(ours) == len(theirs)
        for a, b in zip(ours, theirs, strict=True):
            assert_same(a, b, rtol)
        return
    if isinstance(theirs, np.ndarray):
        assert isinstance(ours, np.ndarray), f"expected an array, got {ours!r}"
        assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
        np.testing.assert_allclose(ours, theirs, rtol=rtol)
        return
    assert type(ours) is type(theirs), f"{type(ours)} != {type(theirs)}"
    assert ours == pytest.approx(theirs, rel=rtol)


def run_both(idiom: Callable[[ModuleType, Any], Any], rtol: float = 1e-6) -> None:
    theirs = to_plain(idiom(*LIBRARIES["torch"]))
    ours = to_plain(idiom(*LIBRARIES["tinygrad_cnn"]))
    assert_same(ours, theirs, rtol)


LOGITS = [[0.2, 1.5, -0.3], [2.0, 0.1, 0.4], [0.0, -1.0, 3.0], [1.0, 0.9, 0.8]]


def test_accuracy_with_argmax_and_elementwise_equality() -> None:
    def idiom(lib: ModuleType, F: Any) -> Any:
        pred, y = lib.tensor(LOGITS), lib.tensor([1, 0, 2, 2])
        accuracy = (pred.argmax(1) == y).float().mean()
        return accuracy, accuracy.item(), (pred.argmax(dim=1) == y).sum().item()

    run_both(idiom)


@pytest.mark.filterwarnings("ignore:Converting a tensor with requires_grad")
def test_manual_sgd_loop_with_minus_equals_under_no_grad() -> None:
    def idiom(lib: ModuleType, F: Any) -> Any:
        w = lib.tensor([[0.5, -0.2], [0.1, 0.3], [-0.4, 0.2]], requires_grad=True)
        x, y = lib.tensor([[1.0, 2.0, 3.0], [0.5, -1.0, 2.0]]), lib.tensor([1, 0])
        losses = []
        for _ in range(3):
            loss = F.cross_entropy(x @ w, y)
            loss.backward()
            with lib.no_grad():
                w -= 0.5 * w.grad
            w.grad = None
            losses.append(float(loss))
        return losses, w, w.requires_grad, w.is_leaf

    run_both(idiom, rtol=1e-5)


def test_transpose_t_cat_view_and_squeeze() -> None:
    def idiom(lib: ModuleType, F: Any) -> Any:
        x = lib.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
        return (
            x.transpose(0, 1),
            x.t(),
            lib.cat([x, x], dim=1),
            lib.cat([x, x], dim=0),
            x.view(-1),
            x.reshape(3, 1, 2, 1).squeeze(),
            x.unsqueeze(0).squeeze(0),
        )

    run_both(idiom)


def test_max_with_dim_unpacks_into_values_and_indices() -> None:
    def idiom(lib: ModuleType, F: Any) -> Any:
        x = lib.tensor(LOGITS)
        values, indices = x.max(1)
        values2, indices2 = x.max(dim=0, keepdim=True)
        return values, indices, values2, indices2, x.max(1).values, x.max(1)[1]

    run_both(idiom)


def test_float_of_a_loss_and_int_labels_for_cross_entropy() -> None:
    def idiom(lib: ModuleType, F: Any) -> Any:
        labels = lib.tensor([3, 1, 4]) if lib is torch else lib.Tensor([3, 1, 4])
        logits = lib.tensor([[float(i + j) / 7 for j in range(5)] for i in range(3)])
        loss = F.cross_entropy(logits, labels)
        return float(loss), labels, labels.dtype == lib.int64

    run_both(idiom)


def test_reductions_and_softmax_with_dim() -> None:
    def idiom(lib: ModuleType, F: Any) -> Any:
        x = lib.tensor(LOGITS)
        return x.sum(dim=1, keepdim=True), x.mean(0), x.softmax(dim=-1), x.log_softmax(-1)

    run_both(idiom)


def test_size_numel_dim_clone_and_bool() -> None:
    def idiom(lib: ModuleType, F: Any) -> Any:
        x = lib.tensor(LOGITS)
        y = x.clone()
        y += 1.0  # the clone is a copy: x stays as it was
        return (
            tuple(x.size()),
            x.size(1),
            x.size(-1),
            x.numel(),
            x.dim(),
            x,
            y,
            bool(lib.tensor([1.0])),
            bool(lib.tensor(0)),
            len(x),
        )

    run_both(idiom)


@pytest.mark.parametrize("name", ["float32", "float64", "int32", "int64", "uint8", "int8"])
def test_to_a_dtype_by_its_torch_name(name: str) -> None:
    def idiom(lib: ModuleType, F: Any) -> Any:
        x = lib.tensor([[1.5, -2.0], [3.0, 0.0]]).abs()
        return x.to(getattr(lib, name)), lib.zeros(2, dtype=getattr(lib, name))

    run_both(idiom)


@pytest.mark.parametrize(
    ("alias", "name"),
    [("float", "float32"), ("double", "float64"), ("long", "int64"), ("int", "int32"),
     ("short", "int16"), ("bool", "bool")],
)  # fmt: skip
def test_torch_dtype_aliases(alias: str, name: str) -> None:
    def idiom(lib: ModuleType, F: Any) -> Any:
        x = lib.tensor([1.5, 0.0, -2.0]).to(getattr(lib, alias))
        return x, x.dtype == getattr(lib, alias)

    run_both(idiom)
    assert getattr(tc, alias) == np.dtype(name)


def test_dtype_names_compare_with_tensor_dtypes() -> None:
    assert tc.tensor([1, 2]).dtype == tc.int64 == tc.long
    assert tc.tensor([1.0]).dtype == tc.float32 == tc.float
    assert tc.tensor([True]).dtype == tc.bool
    assert tc.tensor([1], dtype=tc.double).dtype == np.float64


def test_gradient_norm() -> None:
    def idiom(lib: ModuleType, F: Any) -> Any:
        p = lib.tensor([[3.0, -1.0], [0.5, 2.0]], requires_grad=True)
        (p * p).sum().backward()
        return p.grad.norm()

    run_both(idiom)


def test_grad_mode_switches() -> None:
    def idiom(lib: ModuleType, F: Any) -> Any:
        w = lib.ones(2, requires_grad=True)
        states = [lib.is_grad_enabled()]
        with lib.no_grad():
            states.append(lib.is_grad_enabled())
            with lib.enable_grad():
                states.append((w * 2).requires_grad)
            states.append((w * 2).requires_grad)
        with lib.set_grad_enabled(False):
            states.append((w * 2).requires_grad)
        return states, lib.is_grad_enabled()

    run_both(idiom)


def test_empty_gives_shape_and_dtype() -> None:
    def idiom(lib: ModuleType, F: Any) -> Any:
        a, b = lib.empty(2, 3), lib.empty((4,), dtype=lib.int64)
        return tuple(a.shape), a.dtype == lib.float32, tuple(b.shape), b.dtype == lib.int64

    run_both(idiom)
