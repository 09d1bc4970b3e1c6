"""Comparisons, selection and ``dim``/``keepdim`` reductions, checked against PyTorch.

Values include NaN, +-inf, -0.0 and ties; results are compared in value, dtype and shape, and
gradients where the op has one. (The registered ops ``where``, ``clamp``, ``sign`` and
``gather`` also have OpSpec entries, so the generic gradient and parity tests cover them.)
"""

from __future__ import annotations

import operator
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_cnn as tc
from tinygrad_cnn import Tensor
from tinygrad_cnn.testing import broadcastable_shapes

torch = pytest.importorskip("torch")

NAN, INF = float("nan"), float("inf")
SPECIAL = np.array([0.0, -0.0, 1.0, -1.0, 2.0, 2.0, NAN, INF, -INF, 0.5])
OPERATORS = {
    "eq": operator.eq,
    "ne": operator.ne,
    "lt": operator.lt,
    "le": operator.le,
    "gt": operator.gt,
    "ge": operator.ge,
}
DTYPES = {
    np.dtype(np.float32): torch.float32,
    np.dtype(np.float64): torch.float64,
    np.dtype(np.int64): torch.int64,
    np.dtype(np.int32): torch.int32,
    np.dtype(np.bool_): torch.bool,
}


def as_torch(x: Tensor, requires_grad: bool = False) -> Any:
    return torch.tensor(x.numpy(), dtype=DTYPES[x.dtype], requires_grad=requires_grad)


def assert_same(ours: Tensor, theirs: Any) -> None:
    """Same shape, dtype and values (NaN where NaN; exact for bool and integer results)."""
    assert isinstance(ours, Tensor), type(ours)
    expected = theirs.detach().numpy()
    assert ours.shape == expected.shape, (ours.shape, expected.shape)
    assert DTYPES[ours.dtype] == theirs.dtype, (ours.dtype, theirs.dtype)
    if ours.dtype.kind == "f":  # a sum's or an exp's rounding may differ in the last bit
        np.testing.assert_allclose(ours.numpy(), expected, rtol=1e-12, atol=0)
    else:
        np.testing.assert_array_equal(ours.numpy(), expected)


def special_arrays(shape: tuple[int, ...]) -> st.SearchStrategy[np.ndarray]:
    return hnp.arrays(np.float64, shape, elements=st.sampled_from(list(SPECIAL)))


# ---------------------------------------------------------------------- comparisons
@pytest.mark.parametrize("name", sorted(OPERATORS))
@given(data=st.data())
def test_comparisons_of_two_tensors_match_torch(name: str, data: st.DataObject) -> None:
    shape_a, shape_b = data.draw(broadcastable_shapes())
    a = Tensor(data.draw(special_arrays(shape_a)), requires_grad=True)
    b = Tensor(data.draw(special_arrays(shape_b)))
    for ours, theirs in (
        (OPERATORS[name](a, b), OPERATORS[name](as_torch(a), as_torch(b))),
        (getattr(a, name)(b), getattr(torch, name)(as_torch(a), as_torch(b))),
        (getattr(tc, name)(a, b), getattr(torch, name)(as_torch(a), as_torch(b))),
    ):
        assert_same(ours, theirs)
        assert ours.dtype == np.bool_ and not ours.requires_grad and ours._ctx is None


@pytest.mark.parametrize("name", sorted(OPERATORS))
@pytest.mark.parametrize(
    "scalar", [2, 2.0, 0.5, -0.0, NAN, INF, True, np.float64(2.0), np.int64(1)]
)
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64])
def test_comparisons_with_a_scalar_on_either_side_match_torch(
    name: str, scalar: Any, dtype: type
) -> None:
    values = SPECIAL if np.dtype(dtype).kind == "f" else np.array([-1, 0, 1, 2, 3])
    x = Tensor(values.astype(dtype))
    t = as_torch(x)
    compare = OPERATORS[name]
    torch_scalar = scalar.item() if isinstance(scalar, np.generic) else scalar
    assert_same(compare(x, scalar), compare(t, torch_scalar))
    assert_same(compare(scalar, x), compare(torch_scalar, t))


def test_an_integer_tensor_meets_a_float_scalar_as_a_float() -> None:
    x = Tensor(np.array([2, 3], dtype=np.int64))
    np.testing.assert_array_equal((x == 2.5).numpy(), [False, False])
    np.testing.assert_array_equal((x < 2.5).numpy(), [True, False])
    np.testing.assert_array_equal((x == 2.0).numpy(), [True, False])


def test_comparisons_are_never_recorded_and_ignore_grad_mode() -> None:
    x = Tensor([1.0, -2.0], requires_grad=True)
    mask = x > 0
    assert mask._ctx is None and not mask.requires_grad
    loss = (x * tc.where(mask, 1.0, 0.0)).sum()
    loss.backward()
    np.testing.assert_array_equal(x.grad, [1.0, 0.0])


def test_accuracy_idiom_matches_torch() -> None:
    logits = np.array([[0.1, 2.0, 0.3], [1.0, 1.0, 0.0], [0.0, -1.0, 5.0], [3.0, 0.0, 0.0]])
    labels = np.array([1, 0, 1, 0])
    ours = (Tensor(logits).argmax(dim=1) == Tensor(labels)).float().mean()
    theirs = (torch.tensor(logits).argmax(dim=1) == torch.tensor(labels)).float().mean()
    assert ours.item() == pytest.approx(theirs.item()) == 0.75
    assert ours.dtype == np.float32


def test_unsupported_operands_follow_python_and_torch() -> None:
    x = Tensor([1.0, 2.0])
    assert (x == None) is False and (x != None) is True  # noqa: E711 - what is tested
    assert (x == "a") is False
    for compare in (operator.lt, operator.le, operator.gt, operator.ge):
        with pytest.raises(TypeError, match="not supported"):
            compare(x, None)
    with pytest.raises(TypeError, match="eq"):
        tc.eq(x, None)
    with pytest.raises(ValueError, match=r"lt: shapes \(2,\) and \(3,\) cannot be broadcast"):
        x < Tensor([1.0, 2.0, 3.0])  # noqa: B015 - the comparison raises


def test_tensors_stay_hashable_by_identity() -> None:
    a, b = Tensor([1.0]), Tensor([1.0])
    assert hash(a) == object.__hash__(a)
    assert len({a, b}) == 2
    table = {a: "a", b: "b"}
    assert table[a] == "a" and table[b] == "b"
    assert a in {a} and b not in {a}


def test_bitwise_operators_combine_masks_like_torch() -> None:
    x = Tensor(np.array([-1.0, 0.5, 2.0, NAN]))
    t = as_torch(x)
    assert_same((x > 0) & (x < 1), (t > 0) & (t < 1))
    assert_same((x > 0) | (x < 0), (t > 0) | (t < 0))
    assert_same((x > 0) ^ (x < 1), (t > 0) ^ (t < 1))
    assert_same(~(x > 0), ~(t > 0))
    assert_same(~Tensor(np.array([1, -2])), ~torch.tensor([1, -2]))
    with pytest.raises(TypeError, match="bool or integer"):
        x & x


# ---------------------------------------------------------------------- value tests
@pytest.mark.parametrize("name", ["isnan", "isinf", "isfinite"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64, np.bool_])
def test_value_tests_match_torch(name: str, dtype: type) -> None:
    values = SPECIAL if np.dtype(dtype).kind == "f" else np.array([0, 1, 1, 0])
    x = Tensor(values.astype(dtype), requires_grad=np.dtype(dtype).kind == "f")
    assert_same(getattr(x, name)(), getattr(torch, name)(as_torch(x)))
    assert_same(getattr(tc, name)(x), getattr(torch, name)(as_torch(x)))


@pytest.mark.parametrize("name", ["any", "all"])
@pytest.mark.parametrize("dim", [None, 0, 1, -1, (0, 1)])
@pytest.mark.parametrize("keepdim", [False, True])
def test_any_and_all_match_torch(name: str, dim: Any, keepdim: bool) -> None:
    data = np.array([[0.0, NAN, 0.0], [1.0, -0.0, 2.0]])
    x, t = Tensor(data), torch.tensor(data)
    theirs = getattr(t, name)() if dim is None else getattr(t, name)(dim=dim, keepdim=keepdim)
    if dim is None and keepdim:
        expected = theirs.reshape(1, 1)
    else:
        expected = theirs
    assert_same(getattr(x, name)(dim=dim, keepdim=keepdim), expected)
    assert_same(getattr(tc, name)(x, dim, keepdim), expected)


# ---------------------------------------------------------------------- argmax, max, min
TIES_AND_NAN = [
    np.array([[1.0, 3.0, 3.0, 2.0], [5.0, 5.0, 5.0, 5.0], [0.0, NAN, 4.0, NAN]]),
    np.array([[-0.0, 0.0, -INF, INF], [INF, INF, 1.0, 2.0], [-1.0, -3.0, -3.0, 0.0]]),
]


@pytest.mark.parametrize("data", TIES_AND_NAN)
@pytest.mark.parametrize("name", ["argmax", "argmin"])
@pytest.mark.parametrize("dim", [None, 0, 1, -1])
@pytest.mark.parametrize("keepdim", [False, True])
def test_argmax_argmin_pick_the_first_occurrence_like_torch(
    data: np.ndarray, name: str, dim: Any, keepdim: bool
) -> None:
    x, t = Tensor(data), torch.tensor(data)
    expected = getattr(t, name)(dim=dim, keepdim=keepdim)
    assert_same(getattr(x, name)(dim, keepdim), expected)
    assert_same(getattr(tc, name)(x, dim=dim, keepdim=keepdim), expected)
    if dim is not None:
        assert_same(getattr(x, name)(axis=dim, keepdims=keepdim), expected)


@pytest.mark.parametrize("data", TIES_AND_NAN)
@pytest.mark.parametrize("name", ["max", "min"])
@pytest.mark.parametrize("dim", [0, 1, -1])
@pytest.mark.parametrize("keepdim", [False, True])
def test_max_min_along_a_dim_match_torch_with_gradient(
    data: np.ndarray, name: str, dim: int, keepdim: bool
) -> None:
    x = Tensor(data, requires_grad=True)
    t = torch.tensor(data, requires_grad=True)
    values, indices = getattr(x, name)(dim, keepdim)
    expected = getattr(t, name)(dim, keepdim)
    result = getattr(x, name)(dim=dim, keepdim=keepdim)
    assert isinstance(result, tc.ValuesIndices) and result.values.shape == values.shape
    assert_same(values, expected.values)
    assert_same(indices, expected.indices)
    upstream = np.random.default_rng(0).standard_normal(values.shape)
    values.backward(upstream)
    expected.values.backward(torch.tensor(upstream))
    np.testing.assert_array_equal(x.grad, t.grad.numpy())


@pytest.mark.parametrize("name", ["max", "min"])
def test_max_min_without_dim_give_a_0d_tensor_and_share_tied_gradients(name: str) -> None:
    data = np.array([[1.0, 3.0], [3.0, 1.0]])
    x = Tensor(data, requires_grad=True)
    t = torch.tensor(data, requires_grad=True)
    ours, theirs = getattr(x, name)(), getattr(t, name)()
    assert_same(ours, theirs)
    ours.backward()
    theirs.backward()
    np.testing.assert_array_equal(x.grad, t.grad.numpy())


@pytest.mark.parametrize("name", ["max", "min"])
def test_max_min_of_two_tensors_is_elementwise(name: str) -> None:
    a, b = np.array([[1.0, 5.0, -2.0]]), np.array([[0.0], [3.0]])
    ours = getattr(Tensor(a), name)(Tensor(b))
    assert_same(ours, getattr(torch.tensor(a), name)(torch.tensor(b)))
    assert_same(
        getattr(tc, name)(Tensor(a), Tensor(b)),
        getattr(torch, name)(torch.tensor(a), torch.tensor(b)),
    )


def test_max_of_a_0d_tensor_along_dim_0() -> None:
    values, indices = Tensor(np.float64(5.0)).max(0)
    expected = torch.tensor(5.0, dtype=torch.float64).max(0)
    assert_same(values, expected.values)
    assert_same(indices, expected.indices)


def test_max_refuses_what_torch_refuses() -> None:
    x = Tensor(np.zeros((2, 3)))
    with pytest.raises(TypeError, match=r"amax\(dim=\(0, 1\)\)"):
        x.max(dim=(0, 1))
    with pytest.raises(TypeError, match="keepdim needs a dim"):
        x.max(keepdim=True)
    with pytest.raises(ValueError, match="empty"):
        Tensor(np.zeros((2, 0))).max(1)
    with pytest.raises(TypeError, match="both dim=1 and axis=0"):
        x.max(1, axis=0)


@pytest.mark.parametrize("op", ["argmax", "argmin"])
def test_argmax_of_an_empty_tensor_names_the_op(op: str) -> None:
    """Refused as by torch (its IndexError; a ValueError here, as every refused dim), with the
    op's own message (not numpy's), with and without dim."""
    with pytest.raises(IndexError):
        getattr(torch.zeros(0), op)()
    with pytest.raises(ValueError, match=f"{op}: cannot take the {op} of an empty tensor"):
        getattr(Tensor(np.zeros(0)), op)()
    with pytest.raises(ValueError, match=f"{op}: cannot take the {op} of an empty dimension"):
        getattr(Tensor(np.zeros((2, 0))), op)(1)


@pytest.mark.parametrize("name", ["amax", "amin"])
def test_amax_amin_reduce_several_dims(name: str) -> None:
    data = np.arange(24.0).reshape(2, 3, 4) % 5
    ours = getattr(Tensor(data), name)(dim=(0, 2), keepdim=True)
    assert_same(ours, getattr(torch, name)(torch.tensor(data), dim=(0, 2), keepdim=True))


# ---------------------------------------------------------------------- sort, topk
@pytest.mark.parametrize("data", TIES_AND_NAN)
@pytest.mark.parametrize("dim", [0, 1, -1])
@pytest.mark.parametrize("descending", [False, True])
def test_sort_is_stable_with_nan_largest_like_torch(
    data: np.ndarray, dim: int, descending: bool
) -> None:
    x = Tensor(data, requires_grad=True)
    t = torch.tensor(data, requires_grad=True)
    values, indices = x.sort(dim, descending=descending)
    expected = torch.sort(t, dim=dim, descending=descending, stable=True)
    assert_same(values, expected.values)
    assert_same(indices, expected.indices)
    upstream = np.random.default_rng(1).standard_normal(values.shape)
    values.backward(upstream)
    expected.values.backward(torch.tensor(upstream))
    np.testing.assert_array_equal(x.grad, t.grad.numpy())


@pytest.mark.parametrize("k", [0, 1, 3])
@pytest.mark.parametrize("dim", [0, 1, -1])
@pytest.mark.parametrize("largest", [True, False])
def test_topk_matches_torch_without_ties(k: int, dim: int, largest: bool) -> None:
    data = np.random.default_rng(2).permutation(12).reshape(3, 4) * 0.5 - 2
    x = Tensor(data, requires_grad=True)
    t = torch.tensor(data, requires_grad=True)
    values, indices = tc.topk(x, k, dim=dim, largest=largest)
    expected = torch.topk(t, k, dim=dim, largest=largest)
    assert_same(values, expected.values)
    assert_same(indices, expected.indices)
    upstream = np.random.default_rng(3).standard_normal(values.shape)
    values.backward(upstream)
    expected.values.backward(torch.tensor(upstream))
    np.testing.assert_array_equal(x.grad, t.grad.numpy())


def test_topk_rejects_a_k_out_of_range() -> None:
    with pytest.raises(ValueError, match="k=5 is out of range for a dimension of size 4"):
        Tensor(np.zeros((2, 4))).topk(5)


# ---------------------------------------------------------------------- where, clamp, sign
def test_where_routes_the_gradient_by_the_condition_like_torch() -> None:
    cond = np.array([[True, False, True]])
    a, b = np.array([[1.0], [2.0]]), np.array([-1.0, -2.0, -3.0])
    ours_a, ours_b = Tensor(a, requires_grad=True), Tensor(b, requires_grad=True)
    theirs_a = torch.tensor(a, requires_grad=True)
    theirs_b = torch.tensor(b, requires_grad=True)
    ours = tc.where(Tensor(cond), ours_a, ours_b)
    theirs = torch.where(torch.tensor(cond), theirs_a, theirs_b)
    assert_same(ours, theirs)
    upstream = np.arange(6.0).reshape(2, 3)
    ours.backward(upstream)
    theirs.backward(torch.tensor(upstream))
    np.testing.assert_array_equal(ours_a.grad, theirs_a.grad.numpy())
    np.testing.assert_array_equal(ours_b.grad, theirs_b.grad.numpy())
    assert_same(ours_a.where(Tensor(cond), 0.0), theirs_a.where(torch.tensor(cond), 0.0))


def test_where_dtypes_and_errors() -> None:
    cond = Tensor(np.array([True, False]))
    assert tc.where(cond, 1.0, 0.0).dtype == np.float32
    ints = Tensor(np.array([1, 2], dtype=np.int64))
    assert tc.where(cond, ints, 0.5).dtype == np.float32
    with pytest.raises(TypeError, match="condition must be a bool tensor"):
        tc.where(Tensor([1.0, 0.0]), 1.0, 0.0)


@pytest.mark.parametrize(("low", "high"), [(1.0, 2.0), (2.0, 1.0), (None, 1.0), (1.0, None)])
def test_clamp_gradient_at_the_bounds_matches_torch(low: Any, high: Any) -> None:
    data = np.array([0.0, 1.0, 1.5, 2.0, 3.0, NAN, INF, -INF])
    x = Tensor(data, requires_grad=True)
    t = torch.tensor(data, requires_grad=True)
    ours, theirs = x.clamp(low, high), t.clamp(low, high)
    assert_same(ours, theirs)
    ours.sum().backward()
    theirs.sum().backward()
    np.testing.assert_array_equal(x.grad, t.grad.numpy())
    assert_same(tc.clip(Tensor(data), min=low, max=high), torch.clip(torch.tensor(data), low, high))


def test_clamp_with_tensor_bounds_matches_torch_also_where_min_exceeds_max() -> None:
    """Ties included: x on a bound, min equal to max (below, on and above it)."""
    x_data = np.array([0.0, 1.0, 1.5, 2.0, 3.0, 1.0, 0.5, 1.0, 1.5])
    low_data = np.array([1.0, 1.0, 1.0, 1.0, 1.0, 2.0, 1.0, 1.0, 1.0])
    high_data = np.array([2.0, 2.0, 2.0, 0.5, 2.0, 1.0, 1.0, 1.0, 1.0])
    ours_in = [Tensor(d, requires_grad=True) for d in (x_data, low_data, high_data)]
    theirs_in = [torch.tensor(d, requires_grad=True) for d in (x_data, low_data, high_data)]
    ours, theirs = tc.clamp(*ours_in), torch.clamp(*theirs_in)
    assert_same(ours, theirs)
    ours.sum().backward()
    theirs.sum().backward()
    for mine, reference in zip(ours_in, theirs_in, strict=True):
        np.testing.assert_array_equal(mine.grad, reference.grad.numpy())


def test_clamp_dtypes_and_errors() -> None:
    ints = Tensor(np.array([1, 2, 3], dtype=np.int64))
    assert_same(ints.clamp(min=2), torch.tensor([1, 2, 3]).clamp(min=2))
    assert ints.clamp(min=1.5).dtype == np.float32
    with pytest.raises(ValueError, match="at least one of min and max"):
        ints.clamp()


def test_sign_matches_torch_at_special_values_with_zero_gradient() -> None:
    x = Tensor(SPECIAL, requires_grad=True)
    t = torch.tensor(SPECIAL, requires_grad=True)
    ours, theirs = tc.sign(x), torch.sign(t)
    assert_same(ours, theirs)
    assert np.array_equal(np.signbit(ours.numpy()), np.signbit(theirs.detach().numpy()))
    ours.sum().backward()
    theirs.sum().backward()
    np.testing.assert_array_equal(x.grad, t.grad.numpy())


# ---------------------------------------------------------------------- dim / keepdim
@pytest.mark.parametrize("name", ["sum", "mean"])
@pytest.mark.parametrize("dim", [None, 0, -1, (0, 2), ()])
@pytest.mark.parametrize("keepdim", [False, True])
def test_sum_and_mean_take_dim_and_keepdim_like_torch(name: str, dim: Any, keepdim: bool) -> None:
    data = np.arange(24.0).reshape(2, 3, 4)
    x, t = Tensor(data), torch.tensor(data)
    expected = getattr(t, name)() if dim is None else getattr(t, name)(dim=dim, keepdim=keepdim)
    if dim is None and keepdim:
        expected = expected.reshape(1, 1, 1)
    assert_same(getattr(x, name)(dim=dim, keepdim=keepdim), expected)
    assert_same(getattr(x, name)(axis=dim, keepdims=keepdim), expected)


def test_numpy_and_torch_spellings_together_are_refused() -> None:
    x = Tensor(np.zeros((2, 3)))
    with pytest.raises(TypeError, match="both dim=0 and axis=1"):
        x.sum(0, axis=1)
    with pytest.raises(TypeError, match="both keepdim=True and keepdims=True"):
        x.mean(0, keepdim=True, keepdims=True)
    with pytest.raises(TypeError, match="both dim=0 and axis=0"):
        tc.softmax(x, 0, axis=0)


@pytest.mark.parametrize("dtype", [np.bool_, np.uint8, np.int32, np.int64])
def test_sum_of_integers_and_bools_is_int64_like_torch(dtype: type) -> None:
    data = np.array([[1, 0, 1], [1, 1, 0]]).astype(dtype)
    theirs = torch.tensor(data).sum(dim=1)
    assert_same(Tensor(data).sum(dim=1), theirs)
    assert Tensor(data).sum().dtype == np.int64


def test_sum_and_mean_take_a_dtype_and_mean_refuses_integers() -> None:
    x = Tensor(np.array([1.0, 2.0], dtype=np.float32))
    assert x.sum(dtype=np.float64).dtype == np.float64
    ints = Tensor(np.array([1, 2], dtype=np.int64))
    with pytest.raises(TypeError, match="mean: input must be floating point, got int64"):
        ints.mean()
    assert ints.mean(dtype=np.float32).item() == 1.5


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@pytest.mark.parametrize("dim", [0, -1])
def test_softmax_of_a_0d_tensor_matches_torch(name: str, dim: int) -> None:
    x = Tensor(np.float64(3.0), requires_grad=True)
    t = torch.tensor(3.0, dtype=torch.float64, requires_grad=True)
    ours, theirs = getattr(tc, name)(x, dim), getattr(torch, name)(t, dim)
    assert_same(ours, theirs)
    ours.backward()
    theirs.backward()
    np.testing.assert_array_equal(x.grad, t.grad.numpy())


def test_softmax_dim_default_and_dtype() -> None:
    data = np.array([[1.0, 2.0, 0.5]])
    expected = torch.softmax(torch.tensor(data), dim=-1)
    assert_same(Tensor(data).softmax(), expected)
    assert_same(Tensor(data).softmax(axis=1), expected)
    assert Tensor(data.astype(np.float32)).softmax(-1, np.float64).dtype == np.float64
    with pytest.raises(TypeError, match="pass dim"):
        Tensor(np.zeros((2, 3, 4))).softmax()


def test_gather_matches_torch_and_checks_its_index() -> None:
    data = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    index = np.array([[2, 2], [0, 1]])
    x = Tensor(data, requires_grad=True)
    t = torch.tensor(data, requires_grad=True)
    ours, theirs = x.gather(1, Tensor(index)), torch.gather(t, 1, torch.tensor(index))
    assert_same(ours, theirs)
    ours.sum().backward()
    theirs.sum().backward()
    np.testing.assert_array_equal(x.grad, t.grad.numpy())
    with pytest.raises(ValueError, match=r"index out of range \[0, 3\)"):
        x.gather(1, np.array([[3]]))
    with pytest.raises(TypeError, match="index must be integers"):
        x.gather(1, np.array([[0.0]]))
