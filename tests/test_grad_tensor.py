"""``.grad`` is a Tensor, as in PyTorch: stored by backward, validated on assignment, zeroed by
``zero_grad``; ``Tensor.norm`` (so ``p.grad.norm()`` works) against ``torch.norm``."""

from __future__ import annotations

import math

import numpy as np
import pytest

import tinygrad_cnn as tc
from tinygrad_cnn import Tensor, nn, optim


def _leaf(dtype=np.float32, seed: int = 0, shape=(3, 4)) -> Tensor:
    return Tensor(np.random.default_rng(seed).standard_normal(shape).astype(dtype), True)


def test_grad_is_a_graphless_tensor_of_the_leaf_dtype_after_backward() -> None:
    for dtype in (np.float32, np.float64):
        x = _leaf(dtype)
        (x * x).sum().backward()
        assert type(x.grad) is Tensor
        assert x.grad.dtype == dtype and x.grad.shape == x.shape
        assert x.grad.requires_grad is False and x.grad._ctx is None and x.grad.is_leaf
        np.testing.assert_allclose(x.grad.numpy(), 2 * x.data, rtol=1e-6)


def test_two_backwards_accumulate_into_the_same_grad_tensor_in_place() -> None:
    x = _leaf(np.float64)
    (x * 3).sum().backward()
    grad = x.grad
    array = grad.data
    (x * x).sum().backward()
    assert x.grad is grad and x.grad.data is array  # updated in place, as PyTorch
    np.testing.assert_allclose(x.grad.numpy(), 3 + 2 * x.data, rtol=1e-12)


def test_grad_accumulation_matches_torch() -> None:
    torch = pytest.importorskip("torch")
    data = np.random.default_rng(1).standard_normal((2, 5))
    ours, theirs = Tensor(data, requires_grad=True), torch.tensor(data, requires_grad=True)
    for _ in range(2):
        (ours.exp() * ours).sum().backward()
        (theirs.exp() * theirs).sum().backward()
    assert isinstance(theirs.grad, torch.Tensor) and isinstance(ours.grad, Tensor)
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-12)


def test_the_first_stored_grad_is_a_private_copy() -> None:
    """The engine's upstream array (here the user's own) is copied, never aliased."""
    x = _leaf(np.float64)
    upstream = np.ones(x.shape)
    (x * 1.0).backward(upstream)
    x.grad.data += 1
    np.testing.assert_array_equal(upstream, 1.0)


def test_a_fresh_leaf_gradient_is_stored_without_a_copy_and_shared_ones_are_copied() -> None:
    """A gradient an op made for one leaf alone (a matmul's, a sum of two) is stored as it is;
    one array that reaches two leaves (``add`` passes its upstream to both) or comes from
    the caller is copied, so that writing into one ``.grad`` changes nothing else."""
    x, w = _leaf(np.float64, 1, (4, 3)), _leaf(np.float64, 2, (3, 5))
    upstream = np.ones((4, 5))
    (x @ w).backward(upstream)
    np.testing.assert_allclose(w.grad.numpy(), x.data.T @ upstream, rtol=1e-12)
    np.testing.assert_allclose(x.grad.numpy(), upstream @ w.data.T, rtol=1e-12)
    a, b = _leaf(np.float64, 3), _leaf(np.float64, 4)
    (a + b).backward(upstream[:3, :4])
    a.grad.data += 1
    np.testing.assert_array_equal(b.grad.numpy(), 1.0)
    np.testing.assert_array_equal(upstream, 1.0)
    assert not np.shares_memory(a.grad.data, b.grad.data)
    twice = _leaf(np.float64, 5)  # (the engine adds its two gradients into a new array)
    ((twice * 2) + (twice * 3)).sum().backward()
    np.testing.assert_allclose(twice.grad.numpy(), 5.0, rtol=1e-12)


def test_a_gradient_through_a_view_op_is_as_private_as_the_one_it_views() -> None:
    """``reshape`` and ``permute`` pass on a view of their upstream gradient: unshared when that
    was (a Linear weight's, through ``weight.t()``), copied when it was not (``add``'s)."""
    w = _leaf(np.float64, 8, (5, 3))
    x = _leaf(np.float64, 9, (4, 3))
    (x @ w.t()).reshape(20).sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), np.ones((4, 5)).T @ x.data, rtol=1e-12)
    a, b = _leaf(np.float64, 10, (4, 3)), _leaf(np.float64, 11, (3, 4))
    (a.t() + b).backward(np.ones((3, 4)))
    assert not np.shares_memory(a.grad.data, b.grad.data)
    a.grad.data += 1
    np.testing.assert_array_equal(b.grad.numpy(), 1.0)
    # A ReLU may write over its upstream gradient, here a view of the matmul's through the
    # reshape: the leaves' gradients are still PyTorch's.
    torch = pytest.importorskip("torch")
    x, w, v = (
        _leaf(np.float64, 12, (4, 3)),
        _leaf(np.float64, 13, (5, 3)),
        _leaf(np.float64, 14, (10, 24)),
    )
    (tc.relu((x @ w.t()).reshape(2, 10)) @ v.reshape(10, 2, 12)[:, 0, :]).sum().backward()
    tx, tw, tv = (torch.tensor(t.data, requires_grad=True) for t in (x, w, v))
    (torch.relu((tx @ tw.t()).reshape(2, 10)) @ tv.reshape(10, 2, 12)[:, 0, :]).sum().backward()
    for ours, theirs in ((x, tx), (w, tw), (v, tv)):
        np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-12)


def test_a_stored_leaf_gradient_survives_the_rest_of_backward() -> None:
    """A ReLU's backward writes over its upstream gradient when nothing else holds it: a
    leaf's stored gradient and a retained one must not be that array."""
    w = _leaf(np.float64, 6, (3, 3))
    x = _leaf(np.float64, 7, (2, 3))
    hidden = tc.relu(x @ w).retain_grad()  # (its gradient is the ReLU's upstream)
    (hidden @ w).sum().backward()
    torch = pytest.importorskip("torch")
    tw, tx = (torch.tensor(t.data, requires_grad=True) for t in (w, x))
    th = torch.relu(tx @ tw)
    th.retain_grad()
    (th @ tw).sum().backward()
    for ours, theirs in ((w, tw), (x, tx), (hidden, th)):
        np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-12)


def test_retain_grad_gives_intermediates_a_tensor_grad() -> None:
    x = _leaf(np.float64)
    y = (x * 2).retain_grad()
    z = x.exp()
    (y * z).sum().backward(retain_grads=False)
    assert isinstance(y.grad, Tensor) and y.grad.requires_grad is False and y.grad._ctx is None
    np.testing.assert_allclose(y.grad.numpy(), np.exp(x.data), rtol=1e-12)
    assert z.grad is None
    a = _leaf(np.float32)
    b = a * 2
    b.sum().backward(retain_grads=True)
    assert isinstance(b.grad, Tensor) and b.grad.dtype == np.float32


def test_p_grad_norm_equals_torch() -> None:
    torch = pytest.importorskip("torch")
    data = np.random.default_rng(2).standard_normal((4, 3))
    ours, theirs = Tensor(data, requires_grad=True), torch.tensor(data, requires_grad=True)
    (ours * ours * ours).sum().backward()
    (theirs * theirs * theirs).sum().backward()
    norm = ours.grad.norm()
    assert isinstance(norm, Tensor) and norm.shape == () and norm.dtype == np.float64
    assert math.isclose(float(norm), float(theirs.grad.norm()), rel_tol=1e-12)
    assert math.isclose(float(tc.norm(ours.grad)), float(torch.norm(theirs.grad)), rel_tol=1e-12)


@pytest.mark.parametrize("p", ["fro", 2, 1, math.inf, 3, 1.5])
@pytest.mark.parametrize(
    ("dim", "keepdim"), [(None, False), (1, False), ((0, 2), True), (-1, True)]
)
def test_norm_and_its_gradient_match_torch(p, dim, keepdim) -> None:
    torch = pytest.importorskip("torch")
    data = np.random.default_rng(3).standard_normal((2, 3, 4))
    upstream_shape = torch.tensor(data).norm(p, dim, keepdim).shape
    upstream = np.random.default_rng(4).standard_normal(tuple(upstream_shape))
    ours, theirs = Tensor(data, requires_grad=True), torch.tensor(data, requires_grad=True)
    out, expected = ours.norm(p, dim, keepdim), theirs.norm(p, dim, keepdim)
    assert out.shape == tuple(expected.shape) and out.dtype == np.float64
    np.testing.assert_allclose(out.numpy(), expected.detach().numpy(), rtol=1e-12)
    out.backward(upstream)
    expected.backward(torch.from_numpy(upstream))
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("p", ["fro", 2, 1, math.inf, 3])
def test_norm_gradient_at_zero_is_zero_as_in_torch(p) -> None:
    torch = pytest.importorskip("torch")
    data = np.zeros((2, 3))
    data[1] = [1.0, -2.0, 0.5]  # row 0 all zero, row 1 not
    ours, theirs = Tensor(data, requires_grad=True), torch.tensor(data, requires_grad=True)
    ours.norm(p, dim=1).sum().backward()
    theirs.norm(p, dim=1).sum().backward()
    assert np.isfinite(ours.grad.numpy()).all()
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-12)
    np.testing.assert_array_equal(ours.grad.numpy()[0], 0.0)


def test_norm_of_float32_stays_float32_and_refuses_bad_input() -> None:
    x = Tensor(np.ones((2, 2), np.float32))
    assert x.norm().dtype == np.float32 and float(x.norm()) == 2.0
    assert x.norm(dtype=np.float64).dtype == np.float64
    with pytest.raises(TypeError, match="norm: input must be floating point, got int64"):
        Tensor([1, 2]).norm()
    with pytest.raises(ValueError, match=r"norm: p must be .* got 'nuc'"):
        x.norm("nuc")
    with pytest.raises(ValueError, match=r"norm: p must be .* got 0.5"):
        x.norm(0.5)
    with pytest.raises(TypeError, match="norm: input must be a Tensor, got list"):
        tc.norm([1.0, 2.0])


def test_assigning_grad_accepts_a_matching_tensor_or_none() -> None:
    x = _leaf(np.float32)
    g = Tensor(np.ones(x.shape, np.float32))
    x.grad = g
    assert x.grad is g  # stored as given, as in PyTorch
    x.grad = None
    assert x.grad is None


@pytest.mark.parametrize(
    ("value", "error", "match"),
    [
        (np.ones((3, 4), np.float32), TypeError, "expected to be a Tensor or None, got ndarray"),
        ([[1.0] * 4] * 3, TypeError, "expected to be a Tensor or None, got list"),
        (1.0, TypeError, "expected to be a Tensor or None, got float"),
        (
            Tensor(np.ones((3, 4))),
            TypeError,
            "assigned grad has data of a different type: expected float32, got float64",
        ),
        (
            Tensor(np.ones((4, 3), np.float32)),
            ValueError,
            r"assigned grad has data of a different size: expected shape \(3, 4\), got \(4, 3\)",
        ),
    ],
)
def test_assigning_anything_else_to_grad_is_a_clear_error(value, error, match) -> None:
    x = _leaf(np.float32)
    with pytest.raises(error, match=match):
        x.grad = value
    assert x.grad is None


def test_torch_refuses_the_same_assignments() -> None:
    torch = pytest.importorskip("torch")
    t = torch.ones(3, 4, requires_grad=True)
    with pytest.raises(RuntimeError, match="dtype"):  # (the wording varies by version)
        t.grad = torch.ones(3, 4, dtype=torch.float64)
    with pytest.raises(RuntimeError, match="size"):
        t.grad = torch.ones(4, 3)
    with pytest.raises(TypeError):
        t.grad = np.ones((3, 4), np.float32)


def _module_with_grads() -> nn.Module:
    model = nn.Linear(3, 2, seed=0)
    model(Tensor(np.ones((4, 3), np.float32))).sum().backward()
    return model


def test_zero_grad_both_modes_on_tensor_module_and_optimizer() -> None:
    x = _leaf(np.float64)
    x.sum().backward()
    grad = x.grad
    x.zero_grad(set_to_none=False)
    assert x.grad is grad and not grad.data.any()
    x.zero_grad()
    assert x.grad is None
    x.zero_grad(set_to_none=False)  # nothing to zero
    assert x.grad is None

    model = _module_with_grads()
    grads = [p.grad for p in model.parameters()]
    model.zero_grad(set_to_none=False)
    for p, g in zip(model.parameters(), grads, strict=True):
        assert p.grad is g and not g.data.any()
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())

    model = _module_with_grads()
    opt = optim.SGD(model.parameters(), lr=0.1)
    grads = [p.grad for p in model.parameters()]
    opt.zero_grad(set_to_none=False)
    for p, g in zip(model.parameters(), grads, strict=True):
        assert p.grad is g and not g.data.any()
    opt.zero_grad()
    assert all(p.grad is None for p in model.parameters())


def test_zero_grad_then_backward_accumulates_into_the_zeroed_tensor() -> None:
    x = _leaf(np.float64)
    (x * 5).sum().backward()
    grad = x.grad
    x.zero_grad(set_to_none=False)
    (x * 2).sum().backward()
    assert x.grad is grad
    np.testing.assert_array_equal(x.grad.numpy(), 2.0)


def test_optimizer_step_reads_the_grad_tensor() -> None:
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    x.grad = Tensor(np.array([0.5, -1.0]))
    optim.SGD([x], lr=0.1).step()
    np.testing.assert_allclose(x.data, [0.95, 2.1], rtol=1e-12)


def test_grad_supports_numpy_comparisons_and_tensor_arithmetic() -> None:
    x = _leaf(np.float64)
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad, 2 * x.data, rtol=1e-12)  # through __array__
    scaled = x.grad * 0.5
    assert isinstance(scaled, Tensor) and not scaled.requires_grad
    np.testing.assert_allclose(scaled.numpy(), x.data, rtol=1e-12)
    assert x.grad.round(3).shape == x.shape and abs(x.grad.sum()).dtype == np.float64


def test_round_and_abs_match_torch() -> None:
    torch = pytest.importorskip("torch")
    data = np.array([0.12345, 2.5, -0.0004, 1234.5678, 0.5, -1.5, np.inf, np.nan], np.float32)
    for decimals in (0, 3, -1):
        np.testing.assert_array_equal(
            Tensor(data).round(decimals).numpy(),
            torch.tensor(data).round(decimals=decimals).numpy(),
        )
    np.testing.assert_array_equal(abs(Tensor(data)).numpy(), abs(torch.tensor(data)).numpy())
    x = Tensor(np.array([0.3, 1.7]), requires_grad=True)
    x.round().sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), 0.0)
    assert Tensor([1, 2]).round().dtype == np.int64
    with pytest.raises(TypeError, match="round: not defined for bool tensors"):
        Tensor([True]).round()
    with pytest.raises(TypeError, match="round: decimals=2 needs a floating-point tensor"):
        Tensor([1, 2]).round(2)
    with pytest.raises(TypeError, match="round: decimals must be an int, got float"):
        Tensor([1.0]).round(1.5)


def test_grad_of_one_output_listed_twice_sums_its_upstream_gradients_as_torch() -> None:
    """``grad([y, y], x, [g1, g2])`` is the gradient of ``<y, g1 + g2>``, as in PyTorch."""
    torch = pytest.importorskip("torch")
    x = _leaf(np.float64, 15)
    g1, g2 = np.full(x.shape, 2.0), np.arange(12.0).reshape(x.shape)
    y = x * x
    (ours,) = tc.autograd.grad([y, y], [x], [g1, g2])
    tx = torch.tensor(x.data, requires_grad=True)
    ty = tx * tx
    (theirs,) = torch.autograd.grad([ty, ty], [tx], [torch.tensor(g1), torch.tensor(g2)])
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-12)
