"""Pinned rules: the conventions at kinks and ties, numerical stability, and engine behaviour.

Each rule is stated by the test's name and checked against a value worked out by hand (and
against PyTorch where PyTorch has the same rule and is installed):

- ``max_pool2d``: the gradient of a window goes to its first maximum in row-major order,
  or to its last NaN when it holds NaN (the output is then NaN);
- ``max``/``min`` reductions: k tied extrema each get 1/k of the gradient;
- ``relu``, ``abs``: the derivative at 0 is 0 (and relu(-inf) is 0); ``maximum``/``minimum``:
  ties split 0.5/0.5;
- ``cross_entropy``/``softmax``: finite and exact for huge logits;
- the engine: fan-out sums, unused branches get nothing, ``no_grad``, deep chains, freed
  graphs, accumulation, upstream-gradient checks.
"""

from __future__ import annotations

import importlib
import math
from typing import ClassVar

import numpy as np
import pytest

from tinygrad_cnn import (
    Tensor,
    cross_entropy,
    enable_grad,
    is_grad_enabled,
    max_pool2d,
    no_grad,
    softmax,
)
from tinygrad_cnn.function import Function


# ---------------------------------------------------------------------- ties and kinks
def test_max_pool2d_tie_goes_to_the_first_maximum_in_row_major_order() -> None:
    x = Tensor(np.array([[[[1.0, 3.0], [3.0, 3.0]]]]), requires_grad=True)
    max_pool2d(x, 2).backward(np.array([[[[5.0]]]]))
    np.testing.assert_array_equal(x.grad[0, 0], [[0.0, 5.0], [0.0, 0.0]])

    flat = Tensor(np.zeros((1, 1, 4, 4)), requires_grad=True)  # every window a 4-way tie
    max_pool2d(flat, 2).sum().backward()
    expected = np.zeros((4, 4))
    expected[::2, ::2] = 1.0  # the top-left corner of each window
    np.testing.assert_array_equal(flat.grad[0, 0], expected)


def test_max_pool2d_ties_match_torch() -> None:
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    data = rng.integers(0, 3, size=(2, 3, 7, 6)).astype(np.float64)  # many ties
    upstream = rng.standard_normal((2, 3, 3, 5))  # kernel (3, 2), stride (2, 1): overlapping rows
    x = Tensor(data, requires_grad=True)
    out = max_pool2d(x, (3, 2), (2, 1))
    out.backward(upstream)

    reference = torch.tensor(data, requires_grad=True)
    expected = torch.nn.functional.max_pool2d(reference, (3, 2), (2, 1))
    expected.backward(torch.tensor(upstream))
    np.testing.assert_array_equal(out.numpy(), expected.detach().numpy())
    np.testing.assert_allclose(x.grad, reference.grad.numpy(), rtol=1e-12, atol=0)


def test_max_pool2d_nan_window_outputs_nan_and_sends_the_gradient_to_its_last_nan() -> None:
    nan = math.nan
    x = Tensor(np.array([[[[1.0, nan, 9.0], [nan, 5.0, 2.0]]]]), requires_grad=True)
    out = max_pool2d(x, (2, 2), (1, 1))  # two overlapping windows, each holding NaN
    out.backward(np.array([[[[3.0, 4.0]]]]))
    assert np.isnan(out.numpy()).all()
    # window 0 is [1, nan; nan, 5]: its last NaN is (1, 0); window 1 is [nan, 9; 5, 2]: (0, 1)
    np.testing.assert_array_equal(x.grad[0, 0], [[0.0, 4.0, 0.0], [3.0, 0.0, 0.0]])


def test_max_pool2d_nan_and_ties_match_torch() -> None:
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    for _ in range(50):
        data = rng.integers(0, 3, size=(2, 2, 6, 7)).astype(np.float64)
        data[rng.random(data.shape) < 0.15] = np.nan
        kernel = tuple(int(k) for k in rng.integers(1, 4, size=2))
        stride = tuple(int(s) for s in rng.integers(1, 4, size=2))
        x = Tensor(data, requires_grad=True)
        out = max_pool2d(x, kernel, stride)
        upstream = rng.standard_normal(out.shape)
        out.backward(upstream)
        reference = torch.tensor(data, requires_grad=True)
        expected = torch.nn.functional.max_pool2d(reference, kernel, stride)
        expected.backward(torch.tensor(upstream))
        np.testing.assert_array_equal(out.numpy(), expected.detach().numpy())
        np.testing.assert_allclose(x.grad, reference.grad.numpy(), rtol=1e-12, atol=0)


@pytest.mark.parametrize(
    ("reduction", "data", "expected"),
    [
        ("max", [1.0, 3.0, 3.0, 2.0], [0.0, 0.5, 0.5, 0.0]),
        ("min", [2.0, 1.0, 5.0, 1.0, 1.0], [0.0, 1 / 3, 0.0, 1 / 3, 1 / 3]),
        ("max", [4.0, 4.0, 4.0, 4.0], [0.25, 0.25, 0.25, 0.25]),
    ],
)
def test_reduction_ties_share_the_gradient_equally(
    reduction: str, data: list[float], expected: list[float]
) -> None:
    x = Tensor(np.array(data), requires_grad=True)
    getattr(x, reduction)().backward()
    np.testing.assert_allclose(x.grad, expected, rtol=1e-15)


def test_reduction_ties_with_axes_and_keepdims_match_torch_amax_amin() -> None:
    torch = pytest.importorskip("torch")
    data = np.random.default_rng(1).integers(0, 2, size=(3, 4, 5)).astype(np.float64)
    upstream = np.random.default_rng(2).standard_normal((3, 1, 1))
    for ours_name, torch_fn in (("amax", torch.amax), ("amin", torch.amin)):
        x = Tensor(data, requires_grad=True)
        getattr(x, ours_name)(dim=(1, 2), keepdim=True).backward(upstream)
        reference = torch.tensor(data, requires_grad=True)
        torch_fn(reference, dim=(1, 2), keepdim=True).backward(torch.tensor(upstream))
        np.testing.assert_allclose(x.grad, reference.grad.numpy(), rtol=1e-12, atol=1e-15)


def test_reduction_tie_rule_is_documented() -> None:
    from tinygrad_cnn.ops import reduce

    for op in (reduce.Max, reduce.Min):
        assert "tied" in op.__doc__ and "gradient / k" in op.__doc__


@pytest.mark.parametrize("op", ["relu", "abs"])
def test_derivative_at_zero_is_zero(op: str) -> None:
    x = Tensor(np.array([-2.0, 0.0, 3.0]), requires_grad=True)
    getattr(x, op)().sum().backward()
    expected = {"relu": [0.0, 0.0, 1.0], "abs": [-1.0, 0.0, 1.0]}[op]
    np.testing.assert_array_equal(x.grad, expected)


@pytest.mark.parametrize(("op", "winner_a"), [("maximum", [1.0, 0.0]), ("minimum", [0.0, 1.0])])
def test_maximum_minimum_ties_split_the_gradient_in_half(op: str, winner_a: list[float]) -> None:
    a = Tensor(np.array([2.0, 1.0, 3.0]), requires_grad=True)
    b = Tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    getattr(a, op)(b).backward(np.array([4.0, 4.0, 4.0]))
    np.testing.assert_array_equal(a.grad, [4 * winner_a[0], 4 * winner_a[1], 2.0])
    np.testing.assert_array_equal(b.grad, [4 * winner_a[1], 4 * winner_a[0], 2.0])


def test_relu_of_infinities_and_nan() -> None:
    """relu(-inf) is 0 (``a * (a > 0)`` once gave -inf * 0 = NaN), relu(inf) is inf and
    relu(NaN) is NaN; the gradient is 1 where the input is > 0 and at NaN, as in PyTorch
    (whose backward zeroes it where the output is <= 0, which NaN is not)."""
    x = Tensor(np.array([-np.inf, -1.0, 2.0, np.inf, np.nan]), requires_grad=True)
    out = x.relu()
    np.testing.assert_array_equal(out.data, [0.0, 0.0, 2.0, np.inf, np.nan])
    out.backward(np.full(5, 3.0))
    np.testing.assert_array_equal(x.grad, [0.0, 0.0, 3.0, 3.0, 3.0])


def test_kink_rules_match_torch() -> None:
    torch = pytest.importorskip("torch")
    data = np.array([-1.0, 0.0, 0.0, 2.0])
    other = np.array([0.0, 0.0, 1.0, 2.0])
    for name in ("relu", "abs", "maximum", "minimum"):
        a, b = Tensor(data, requires_grad=True), Tensor(other, requires_grad=True)
        ta = torch.tensor(data, requires_grad=True)
        tb = torch.tensor(other, requires_grad=True)
        if name in ("relu", "abs"):
            getattr(a, name)().sum().backward()
            getattr(torch, name)(ta).sum().backward()
        else:
            getattr(a, name)(b).sum().backward()
            getattr(torch, name)(ta, tb).sum().backward()
            np.testing.assert_array_equal(b.grad, tb.grad.numpy(), err_msg=name)
        np.testing.assert_array_equal(a.grad, ta.grad.numpy(), err_msg=name)


# ---------------------------------------------------------------------- numerical stability
def log_sum_exp(row: list[float]) -> float:
    """log(sum(exp(row))) in float64, by hand: m + log(sum(exp(x - m)))."""
    m = max(row)
    return m + math.log(math.fsum(math.exp(v - m) for v in row))


@pytest.mark.parametrize(("dtype", "rtol"), [(np.float64, 1e-13), (np.float32, 1e-6)])
def test_cross_entropy_is_finite_and_exact_for_logits_near_1e4(dtype: type, rtol: float) -> None:
    rows = [[1e4, -1e4, 0.5], [1e4, -1e4, 0.5], [1e4, -1e4, 0.5], [-1e4, -9999.0, -1e4]]
    labels = [0, 1, 2, 0]
    # By hand: log-sum-exp of row 0 is 1e4 (the other terms underflow), of row 3 is
    # -9999 + log(1 + 2 e**-1); the loss is log-sum-exp minus the label's logit.
    known = [0.0, 2e4, 1e4 - 0.5, 1.0 + math.log1p(2 * math.exp(-1.0))]
    by_hand = [log_sum_exp(row) - row[label] for row, label in zip(rows, labels, strict=True)]
    # by hand, adding 1e4 back costs digits (an ulp of 1e4 is 1.8e-12); the op shifts first.
    np.testing.assert_allclose(by_hand, known, rtol=1e-15, atol=1e-11)

    logits = Tensor(np.array(rows, dtype=dtype), requires_grad=True)
    losses = cross_entropy(logits, labels, reduction="none")
    losses.sum().backward()
    assert losses.dtype == dtype and np.isfinite(losses.numpy()).all()
    np.testing.assert_allclose(losses.numpy(), known, rtol=rtol, atol=1e-30)

    shares = np.exp(np.array(rows[3]) - log_sum_exp(rows[3]))  # softmax of row 3
    expected_grad = np.array([[1, 0, 0], [1, 0, 0], [1, 0, 0], shares]) - np.eye(3)[labels]
    assert np.isfinite(logits.grad.numpy()).all()
    np.testing.assert_allclose(logits.grad, expected_grad, rtol=rtol, atol=1e-7)
    mean = cross_entropy(logits.detach(), labels)
    np.testing.assert_allclose(mean.item(), np.mean(known), rtol=rtol)


@pytest.mark.parametrize(
    ("dtype", "rows"),
    [
        (np.float64, [[700.0, -700.0, 699.0, 0.0], [-700.0, -710.0, -720.0, -705.0]]),
        (np.float64, [[710.0, 720.0, 730.0, 700.0], [1e300, -1e300, 0.0, 1.0]]),
        (np.float32, [[100.0, 90.0, 80.0, 0.0], [1e4, -1e4, 0.0, 1e4], [-100.0, -90.0, -95.0, 0]]),
        (np.float32, [[1e38, -1e38, 0.0, 1.0]]),
    ],
)
def test_softmax_is_finite_and_sums_to_one_for_huge_logits(
    dtype: type, rows: list[list[float]]
) -> None:
    rtol = 1e-6 if dtype == np.float32 else 1e-13
    atol = 1e-37 if dtype == np.float32 else 1e-300  # float32 subnormals carry few digits
    logits = Tensor(np.array(rows, dtype=dtype), requires_grad=True)
    probs = softmax(logits, axis=1)
    probs.backward(np.arange(probs.numel(), dtype=dtype).reshape(probs.shape))
    assert probs.dtype == dtype
    assert np.isfinite(probs.numpy()).all() and np.isfinite(logits.grad.numpy()).all()
    np.testing.assert_allclose(probs.numpy().sum(axis=1), 1.0, rtol=rtol)
    stored = np.array(rows, dtype=dtype).astype(np.float64).tolist()  # the values as rounded
    expected = [[math.exp(v - log_sum_exp(row)) for v in row] for row in stored]
    np.testing.assert_allclose(probs.numpy(), expected, rtol=rtol, atol=atol)


# ---------------------------------------------------------------------- graph structure
def test_fan_out_gradients_are_summed() -> None:
    x = Tensor(np.array([1.0, -2.0, 3.0]), requires_grad=True)
    ((x + x) * x).sum().backward()  # d/dx 2 x**2 = 4 x
    np.testing.assert_array_equal(x.grad, [4.0, -8.0, 12.0])


@pytest.mark.parametrize(
    ("shape", "join", "derivative"),
    [
        # a = 2x feeds two branches that meet again; d/dx = 2 * d/da.
        ("two branches", lambda a: a.exp() + a * 3, lambda a: np.exp(a) + 3),
        ("shared input joins directly", lambda a: a + a.exp(), lambda a: 1 + np.exp(a)),
        ("joins directly, other order", lambda a: a.exp() + a, lambda a: np.exp(a) + 1),
        ("nested", lambda a: (a * a + a) * (a * a), lambda a: 4 * a**3 + 3 * a**2),
    ],
)
def test_diamond_with_an_unused_branch(shape: str, join, derivative) -> None:
    x = Tensor(np.array([0.5, -1.0]), requires_grad=True)
    w = Tensor(np.array([7.0, 7.0]), requires_grad=True)
    a = x * 2
    unused = a * w  # a branch that never reaches the loss
    loss = join(a).sum()
    loss.backward()
    np.testing.assert_allclose(x.grad, 2 * derivative(2 * x.numpy()), rtol=1e-14, err_msg=shape)
    assert w.grad is None
    assert unused.grad is None and a.grad is None  # intermediates keep no gradient by default


# ---------------------------------------------------------------------- grad mode
def test_no_grad_records_nothing() -> None:
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    with no_grad():
        assert not is_grad_enabled()
        y = (x * 2).exp().sum()
        with enable_grad():
            z = x * 3
    assert is_grad_enabled()
    assert y._ctx is None and not y.requires_grad
    assert z._ctx is not None and z.requires_grad
    with pytest.raises(RuntimeError, match="does not require grad"):
        y.backward()


class _RecordsWhetherRecorded(Function, register=False):
    """out = a; forward notes ``is_recorded`` as it saw it."""

    seen: ClassVar[list[bool]] = []

    def forward(self, a: np.ndarray) -> np.ndarray:
        _RecordsWhetherRecorded.seen.append(self.is_recorded)
        return a.copy()

    def backward(self, g: Tensor) -> tuple[Tensor]:
        return (g,)


def test_forward_knows_whether_its_node_is_recorded() -> None:
    """``is_recorded`` (what lets ReLU and max_pool2d skip their backward's masks) agrees
    with whether ``apply`` records the node: an input requiring grad, and grad mode on."""
    seen = _RecordsWhetherRecorded.seen
    seen.clear()
    leaf = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    constant = Tensor(np.array([1.0, 2.0]))
    outputs = [_RecordsWhetherRecorded.apply(leaf), _RecordsWhetherRecorded.apply(constant)]
    with no_grad():
        outputs.append(_RecordsWhetherRecorded.apply(leaf))
        with enable_grad():
            outputs.append(_RecordsWhetherRecorded.apply(leaf))
    assert seen == [True, False, False, True]
    assert [out._ctx is not None for out in outputs] == seen


def test_relu_and_max_pool2d_under_no_grad_give_the_recorded_values() -> None:
    """Unrecorded, ReLU skips its mask and max_pool2d its window positions: the values (NaN,
    -inf, -0.0, ties), dtype and memory layout are those of the recorded ops."""
    rng = np.random.default_rng(5)
    memory = np.round(rng.standard_normal((3, 7, 6, 4))).astype(np.float32)  # many ties
    memory[0, 0, 0, 0], memory[1, 2, 3, 1], memory[2, 4, 4, 2] = np.nan, -np.inf, -0.0
    data = memory.transpose(0, 3, 1, 2)  # channels-last, as after a conv
    for kernel, stride in [(1, 1), (2, 2), (3, 3), ((3, 2), (2, 1)), ((7, 6), (1, 1))]:
        recorded = max_pool2d(Tensor(data, requires_grad=True).relu(), kernel, stride)
        assert recorded._ctx is not None
        with no_grad():
            unrecorded = max_pool2d(Tensor(data, requires_grad=True).relu(), kernel, stride)
        constant = max_pool2d(Tensor(data).relu(), kernel, stride)
        for other in (unrecorded, constant):
            assert other._ctx is None
            np.testing.assert_array_equal(other.numpy(), recorded.numpy())
            assert other.dtype == recorded.dtype and other.data.strides == recorded.data.strides
            assert np.signbit(other.numpy()).tolist() == np.signbit(recorded.numpy()).tolist()
    assert np.isnan(recorded.numpy()[0, 0, 0, 0])


def test_no_grad_is_restored_after_an_exception() -> None:
    x = Tensor(np.array([1.0]), requires_grad=True)
    with pytest.raises(KeyError), no_grad():
        raise KeyError("boom")
    assert is_grad_enabled()
    y = x * 2
    assert y._ctx is not None and y.requires_grad


# ---------------------------------------------------------------------- the backward walk
def test_a_100000_op_chain_backpropagates_without_recursion() -> None:
    x = Tensor(np.array(1.0), requires_grad=True)
    factor, depth = 1.0 + 1e-5, 100_000
    y = x
    for _ in range(depth):
        y = y * factor
    y.backward()
    np.testing.assert_allclose(x.grad, factor**depth, rtol=1e-9)


def test_second_backward_through_a_freed_graph_raises() -> None:
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    loss = (x * x).sum()
    loss.backward()
    first = x.grad.numpy().copy()
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        loss.backward()
    np.testing.assert_array_equal(x.grad, first)  # the failed call added nothing
    with pytest.raises(RuntimeError, match="already freed"):
        (loss * 2).backward()  # a new graph built on top of the freed one


def test_retain_graph_allows_a_second_backward_that_accumulates() -> None:
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    loss = (x * x).sum()
    loss.backward(retain_graph=True)
    np.testing.assert_array_equal(x.grad, [2.0, 4.0])
    loss.backward()
    np.testing.assert_array_equal(x.grad, [4.0, 8.0])


def test_grad_accumulates_until_zero_grad() -> None:
    x = Tensor(np.array([1.0, -1.0]), requires_grad=True)
    (x * 3).sum().backward()
    (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad, [3.0 + 2.0, 3.0 - 2.0])
    x.zero_grad()
    assert x.grad is None
    (x * 3).sum().backward()
    np.testing.assert_array_equal(x.grad, [3.0, 3.0])


def test_non_scalar_backward_needs_an_upstream_gradient() -> None:
    x = Tensor(np.ones((2, 3)), requires_grad=True)
    with pytest.raises(RuntimeError, match=r"shape \(2, 3\) is not a scalar"):
        (x * 2).backward()
    (x * 2).backward(np.full((2, 3), 0.5))
    np.testing.assert_array_equal(x.grad, np.ones((2, 3)))


def test_wrong_upstream_gradient_shape_raises() -> None:
    x = Tensor(np.ones((2, 3)), requires_grad=True)
    with pytest.raises(ValueError, match=r"upstream gradient has shape \(3, 2\).*\(2, 3\)"):
        (x * 2).backward(np.ones((3, 2)))
    assert x.grad is None


# ---------------------------------------------------------------------- memory layout
@pytest.mark.parametrize("transposed", ["a", "b", "both"])
def test_matmul_gradient_of_a_transposed_operand_keeps_its_layout(transposed: str) -> None:
    """``x @ w.T`` (a Linear layer): the gradient of the F-ordered ``w.T`` is computed as
    ``(g^T @ x)^T``, so ``w.grad`` is C-ordered like ``w``; the values equal the plain rule."""
    rng = np.random.default_rng(5)
    a_data, b_data = rng.standard_normal((4, 3)), rng.standard_normal((3, 5))
    a = Tensor(np.asfortranarray(a_data) if transposed in ("a", "both") else a_data, True)
    b = Tensor(np.asfortranarray(b_data) if transposed in ("b", "both") else b_data, True)
    upstream = rng.standard_normal((4, 5))
    (a @ b).backward(upstream)
    np.testing.assert_allclose(a.grad, upstream @ b_data.T, rtol=1e-12)
    np.testing.assert_allclose(b.grad, a_data.T @ upstream, rtol=1e-12)
    for operand in (a, b):
        assert operand.grad.data.flags.f_contiguous == operand.data.flags.f_contiguous

    weight = Tensor(rng.standard_normal((5, 3)), requires_grad=True)  # C-ordered, as in Linear
    (Tensor(a_data) @ weight.T).backward(upstream)
    assert weight.grad.data.flags.c_contiguous
    np.testing.assert_allclose(weight.grad, upstream.T @ a_data, rtol=1e-12)


@pytest.mark.parametrize(
    ("shape", "memory_order"),
    [
        ((64, 32, 26, 26), (0, 2, 3, 1)),  # LeNet's conv output: an NCHW view of NHWC memory
        ((3, 4), (0, 1)),
        ((3, 4), (1, 0)),  # F-ordered
        ((1, 5, 6), (0, 1, 2)),  # a batch of one: the rows run along the next axis
        ((1, 32, 26, 26), (0, 2, 3, 1)),  # one image of LeNet's conv output
        ((1, 1, 7), (0, 1, 2)),  # a single row: np.maximum(a, 0)
        ((1, 1), (0, 1)),  # one element
        ((0, 3), (0, 1)),  # empty
        ((5, 1, 7), (0, 2, 1)),
        ((4, 6, 8), (1, 2, 0)),
        ((7,), (0,)),
    ],
)
def test_relu_keeps_the_memory_layout_of_its_input(
    shape: tuple[int, ...], memory_order: tuple[int, ...]
) -> None:
    """relu takes max(a, 0) over a's memory seen as a matrix: the values equal np.maximum's
    and the output's axes lie in memory in the input's order (one step wrong would scramble
    the values, which the first check catches)."""
    rng = np.random.default_rng(7)
    memory = rng.standard_normal(tuple(shape[axis] for axis in memory_order))
    data = memory.transpose(np.argsort(memory_order))  # shape `shape`, laid out as asked
    assert data.shape == shape
    out = Tensor(data).relu().data
    np.testing.assert_array_equal(out, np.maximum(data, 0))
    strides = [out.strides[axis] for axis in memory_order if shape[axis] > 1]  # 1-long: any
    assert strides == sorted(strides, reverse=True)
    sliced = Tensor(data[..., ::2]).relu().data  # not one block of memory: the plain path
    np.testing.assert_array_equal(sliced, np.maximum(data[..., ::2], 0))


@pytest.mark.parametrize(
    ("shape_a", "shape_b"),
    [((128, 1), (1, 1600)), ((2, 1, 3, 1), (4, 1, 5)), ((3, 1), (2, 1, 4))],
)
def test_matmul_over_an_axis_of_one_is_numpys_product(shape_a: tuple, shape_b: tuple) -> None:
    """A contraction over one element (a weight gradient at batch 1) runs as a broadcast
    multiply: the values, shape, dtype and C order of ``np.matmul``'s result, and its gradients."""
    rng = np.random.default_rng(6)
    a_data = rng.standard_normal(shape_a).astype(np.float32)
    b_data = rng.standard_normal(shape_b).astype(np.float32)
    a, b = Tensor(np.asfortranarray(a_data), True), Tensor(b_data, True)
    out = a @ b
    expected = np.matmul(a_data, b_data)
    np.testing.assert_array_equal(out.data, expected)
    assert out.dtype == expected.dtype and out.data.flags.c_contiguous
    upstream = rng.standard_normal(expected.shape).astype(np.float32)
    out.backward(upstream)
    grad_a = np.matmul(upstream, np.swapaxes(b_data, -1, -2))
    grad_b = np.matmul(np.swapaxes(a_data, -1, -2), upstream)
    np.testing.assert_allclose(a.grad, _summed_to(grad_a, shape_a), rtol=1e-5)
    np.testing.assert_allclose(b.grad, _summed_to(grad_b, shape_b), rtol=1e-5)


def _summed_to(grad: np.ndarray, shape: tuple) -> np.ndarray:
    """``grad`` summed over the broadcast axes that ``shape`` does not have, or has as 1."""
    grad = grad.sum(axis=tuple(range(grad.ndim - len(shape))))
    return grad.sum(axis=tuple(i for i, n in enumerate(shape) if n == 1), keepdims=True)


def test_matmul_over_an_empty_axis_is_zeros_like_torch() -> None:
    """(3, 0) @ (0, 4): zeros, as PyTorch and numpy give (the sum of no products), with
    empty gradients of the operands' shapes."""
    torch = pytest.importorskip("torch")
    a = Tensor(np.ones((3, 0), dtype=np.float32), requires_grad=True)
    b = Tensor(np.ones((0, 4), dtype=np.float32), requires_grad=True)
    out = a @ b
    expected = (torch.ones(3, 0) @ torch.ones(0, 4)).numpy()
    np.testing.assert_array_equal(out.data, expected)
    assert out.shape == (3, 4) and out.dtype == np.float32
    out.sum().backward()
    assert a.grad.shape == (3, 0) and b.grad.shape == (0, 4)


def test_a_linear_layers_weight_gradient_at_batch_1_is_a_broadcast_multiply(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The fast path above is taken where it matters: the (out, 1) @ (1, in) product of a
    weight gradient at batch 1 (numpy's matmul takes twice as long for it), and batched
    products over one element."""
    from tinygrad_cnn.nn import Linear

    # the module by its path: tinygrad_cnn.ops exports a function of the same name
    matmul_module = importlib.import_module("tinygrad_cnn.ops.matmul")

    calls: list[tuple[tuple[int, ...], tuple[int, ...]]] = []
    outer_product = matmul_module._outer_product

    def recording(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        calls.append((a.shape, b.shape))
        return outer_product(a, b)

    monkeypatch.setattr(matmul_module, "_outer_product", recording)
    layer = Linear(5, 3, seed=0)
    layer(Tensor(np.ones((1, 5), dtype=np.float32))).sum().backward()
    assert calls == [((3, 1), (1, 5))]
    np.testing.assert_array_equal(layer.weight.grad.data, np.ones((3, 5), dtype=np.float32))
    calls.clear()
    Tensor(np.ones((2, 3, 1))) @ Tensor(np.ones((2, 1, 4)))  # batched: the same path
    assert calls == [((2, 3, 1), (2, 1, 4))]


@pytest.mark.parametrize("kernel", [1, 2, 3])
@pytest.mark.parametrize("channels_last", [True, False])
def test_max_pool2d_over_chunks_of_images_is_the_pool_of_the_whole_batch(
    monkeypatch: pytest.MonkeyPatch, kernel: int, channels_last: bool
) -> None:
    """max_pool2d's forward runs a few images at a time (POOL_CHUNK_BYTES): with chunks of
    one to three images, the values, the memory layout, the first-maximum and NaN rules and
    the gradients are those of the whole batch at once, for odd and even window counts."""
    pool_module = importlib.import_module("tinygrad_cnn.ops.pool")
    rng = np.random.default_rng(3)
    memory = np.round(rng.standard_normal((7, 6, 6, 2)))  # integers: ties in many windows
    memory[2, 0, 0, 1] = np.nan  # a NaN window in a middle image
    data = (
        memory.transpose(0, 3, 1, 2)
        if channels_last
        else np.ascontiguousarray(memory.transpose(0, 3, 1, 2))
    )
    upstream = rng.standard_normal((7, 2, 6 // kernel, 6 // kernel))

    def pooled() -> tuple[np.ndarray, np.ndarray]:
        x = Tensor(data, requires_grad=True)
        out = max_pool2d(x, kernel)
        out.backward(upstream)
        return out.data, x.grad.data

    whole_out, whole_grad = pooled()
    image_bytes = data[:1].nbytes
    for images_per_chunk in (1, 2, 3):
        monkeypatch.setattr(pool_module, "POOL_CHUNK_BYTES", images_per_chunk * image_bytes)
        out, grad = pooled()
        np.testing.assert_array_equal(out, whole_out)
        np.testing.assert_array_equal(grad, whole_grad)
        assert out.strides == whole_out.strides
    assert np.isnan(whole_out[2, 1, 0, 0])
    if importlib.util.find_spec("torch") is not None:
        import torch

        x = torch.tensor(data, requires_grad=True)
        out = torch.nn.functional.max_pool2d(x, kernel)
        out.backward(torch.tensor(upstream))
        np.testing.assert_array_equal(out.detach().numpy(), whole_out)
        np.testing.assert_array_equal(x.grad.numpy(), whole_grad)


def test_image_chunks_are_as_few_and_as_even_as_the_limit_allows() -> None:
    from tinygrad_cnn.ops.window import image_chunks

    chunks = image_chunks(256, 86528, 2 << 20)  # LeNet's first pool at batch 256
    expected = [(24 * i, 24 * i + 24) for i in range(10)] + [(240, 256)]
    assert [(c.start, c.stop) for c in chunks] == expected
    assert [(c.start, c.stop) for c in image_chunks(5, 10, 20)] == [(0, 2), (2, 4), (4, 5)]
    assert [(c.start, c.stop) for c in image_chunks(3, 100, 10)] == [(0, 1), (1, 2), (2, 3)]
    assert [(c.start, c.stop) for c in image_chunks(4, 10, 40)] == [(0, 4)]
    assert image_chunks(0, 10, 40) == []


@pytest.mark.parametrize(
    ("stride", "padding"),
    [(1, 0), (1, 1), (3, 0), (2, 1)],  # stride 3 > kernel: gaps stay 0
)
def test_conv_input_gradient_over_chunks_of_images_is_the_whole_batchs(
    monkeypatch: pytest.MonkeyPatch, stride: int, padding: int
) -> None:
    """The rows layout's input gradient runs a few images at a time for large batches
    (INPUT_GRAD_CHUNK_BYTES): chunks of one to three images give the whole batch's gradient
    (and PyTorch's), gaps between strided windows and the padding included."""
    from tinygrad_cnn import conv2d

    conv_module = importlib.import_module("tinygrad_cnn.ops.conv")
    rng = np.random.default_rng(5)
    x_data = rng.standard_normal((7, 4, 8, 8))
    w_data = rng.standard_normal((6, 4, 3, 3))  # 6 filters, 4 channels: the rows layout
    out_side = (8 + 2 * padding - 3) // stride + 1
    upstream = rng.standard_normal((7, 6, out_side, out_side))

    def input_gradient() -> np.ndarray:
        x = Tensor(x_data, requires_grad=True)
        out = conv2d(x, Tensor(w_data), stride=stride, padding=padding)
        assert str(out._ctx.layout) == "rows"
        out.backward(upstream)
        return x.grad.data

    whole = input_gradient()
    image_bytes = out_side * out_side * 6 * 8  # one image's rows of the upstream gradient
    for images_per_chunk in (1, 2, 3):
        monkeypatch.setattr(conv_module, "INPUT_GRAD_CHUNK_BYTES", images_per_chunk * image_bytes)
        np.testing.assert_allclose(input_gradient(), whole, rtol=1e-12, atol=1e-12)
    if importlib.util.find_spec("torch") is not None:
        import torch

        x = torch.tensor(x_data, requires_grad=True)
        out = torch.nn.functional.conv2d(x, torch.tensor(w_data), stride=stride, padding=padding)
        out.backward(torch.tensor(upstream))
        np.testing.assert_allclose(whole, x.grad.numpy(), rtol=1e-10, atol=1e-10)
