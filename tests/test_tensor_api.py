"""The Tensor API: construction and dtype rules, conversions, properties, operators, grads."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tinygrad_cnn import Tensor


# ---------------------------------------------------------------------- construction and dtypes
@pytest.mark.parametrize(
    ("data", "dtype"),
    [
        ([1, 2, 3], np.int64),
        ([[1.5, 2.0]], np.float32),
        (3, np.int64),
        (2.5, np.float32),
        ([True, False], np.bool_),
        ([1, 2.5], np.float32),
        ([True, 2], np.int64),
    ],
)
def test_python_data_takes_torch_tensor_dtypes(data: object, dtype: type) -> None:
    t = Tensor(data)
    assert t.dtype == dtype
    np.testing.assert_array_equal(t.numpy(), np.asarray(data, dtype=dtype))


@pytest.mark.parametrize(
    "array",
    [
        np.array([1.0, 2.0]),
        np.array([1.0, 2.0], dtype=np.float32),
        np.array([1, 2], dtype=np.int64),
        np.array([1, 2], dtype=np.int32),
        np.array([0, 255], dtype=np.uint8),
        np.float64(2.5),
    ],
)
def test_numpy_data_keeps_its_dtype(array: np.ndarray) -> None:
    t = Tensor(array)
    assert t.dtype == np.asarray(array).dtype


def test_numpy_data_is_not_copied_unless_converted() -> None:
    array = np.array([1.0, 2.0])
    assert Tensor(array).numpy() is array
    converted = Tensor(array, dtype=np.float32)
    assert converted.dtype == np.float32 and converted.numpy() is not array


def test_requires_grad_on_integers_is_rejected() -> None:
    with pytest.raises(TypeError, match=r"only floating-point tensors can require grad.*int64"):
        Tensor(np.array([1, 2]), requires_grad=True)
    with pytest.raises(TypeError, match="int32"):
        Tensor(np.array([1, 2], dtype=np.int32)).requires_grad_()


def test_a_tensor_cannot_wrap_a_tensor() -> None:
    with pytest.raises(TypeError, match=r"already a Tensor.*detach"):
        Tensor(Tensor([1.0]))


def test_non_numeric_data_is_rejected() -> None:
    with pytest.raises(TypeError, match="expected numbers"):
        Tensor(np.array([object()]))


@pytest.mark.parametrize("scalar", [2.5, 2, np.float64(2.5), np.int64(2), np.float32(2.5)])
def test_scalars_never_upcast_a_float32_tensor(scalar: object) -> None:
    x = Tensor([1.0, 2.0], requires_grad=True)
    for result in (x * scalar, scalar * x, x + scalar, scalar - x, x / scalar, scalar / x):
        assert result.dtype == np.float32
    np.testing.assert_allclose((x * scalar).numpy(), [float(scalar), 2 * float(scalar)])


def test_a_float_scalar_promotes_an_integer_tensor_to_float32_instead_of_truncating() -> None:
    labels = Tensor(np.array([1, 2]))
    for result in (labels * 2.5, 2.5 * labels, labels * np.float64(2.5)):
        assert result.dtype == np.float32
        np.testing.assert_array_equal(result.numpy(), [2.5, 5.0])
    assert (labels + 1).dtype == np.int64  # an int scalar keeps the integer dtype
    np.testing.assert_array_equal((labels + 1).numpy(), [2, 3])


def test_float32_and_float64_tensors_meet_at_float64_through_a_recorded_cast() -> None:
    a = Tensor([1.0, 2.0], requires_grad=True)
    b = Tensor(np.array([3.0, 4.0]), requires_grad=True)
    for out in (a * b, b * a):
        assert out.dtype == np.float64
        cast_inputs = [t for t in out._ctx.inputs if t._ctx is not None]
        assert [t._ctx.name for t in cast_inputs] == ["cast"]
        assert cast_inputs[0]._ctx.inputs[0] is a
    (a * b).sum().backward()
    assert a.grad.dtype == np.float32 and b.grad.dtype == np.float64
    np.testing.assert_array_equal(a.grad, [3.0, 4.0])
    np.testing.assert_array_equal(b.grad, [1.0, 2.0])


def test_integer_and_float_tensors_meet_at_the_float_dtype() -> None:
    x = Tensor(np.array([0.5, 1.5]), requires_grad=True)
    counts = Tensor(np.array([2, 3]))
    out = x * counts
    assert out.dtype == np.float64
    out.sum().backward()
    np.testing.assert_array_equal(x.grad, [2.0, 3.0])


def test_astype_is_differentiable_and_casts_the_gradient_back() -> None:
    x = Tensor([1.0, 2.0], requires_grad=True)
    assert x.astype(np.float32) is x  # no-op cast records nothing
    y = x.astype(np.float64)
    assert y.dtype == np.float64 and y._ctx.name == "cast"
    assert x.double().dtype == np.float64 and y.float().dtype == np.float32
    (y * y).sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad, [2.0, 4.0])


def test_constructors() -> None:
    assert Tensor.zeros(2, 3).shape == (2, 3) and Tensor.zeros((2, 3)).dtype == np.float32
    np.testing.assert_array_equal(Tensor.ones(2, dtype=np.float64).numpy(), [1.0, 1.0])
    a, b = Tensor.randn(3, 4, seed=0), Tensor.randn(3, 4, seed=0)
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert a.dtype == np.float32 and Tensor.randn(2, requires_grad=True).requires_grad


# ---------------------------------------------------------------------- conversions, properties
def test_detach_shares_data_but_leaves_the_graph() -> None:
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    d = y.detach()
    assert d.numpy() is y.numpy()
    assert d._ctx is None and not d.requires_grad and d.is_leaf
    assert not y.is_leaf and x.is_leaf


def test_item_and_numpy() -> None:
    assert Tensor([[3.5]]).item() == 3.5 and isinstance(Tensor([[3.5]]).item(), float)
    assert Tensor(np.array([7])).item() == 7
    with pytest.raises(ValueError, match=r"item\(\): expected a tensor with one element.*\(2,\)"):
        Tensor([1.0, 2.0]).item()
    array = np.arange(3.0)
    assert Tensor(array).numpy() is array
    assert Tensor([[1.0, 2.0]]).tolist() == [[1.0, 2.0]]


def test_shape_ndim_size_dtype_len() -> None:
    t = Tensor(np.zeros((2, 3, 4)))
    assert (t.shape, t.ndim, t.numel(), t.dtype, len(t)) == ((2, 3, 4), 3, 24, np.float64, 2)
    assert t.size() == (2, 3, 4) and t.size(1) == 3 and t.dim() == 3  # PyTorch's size()
    with pytest.raises(TypeError, match="0-d"):
        len(Tensor(1.0))


def test_transpose_property_reverses_the_axes_and_is_differentiable() -> None:
    x = Tensor(np.arange(24.0).reshape(2, 3, 4), requires_grad=True)
    assert x.T.shape == (4, 3, 2)
    np.testing.assert_array_equal(x.T.numpy(), x.numpy().T)
    (x.T * Tensor(np.arange(24.0).reshape(4, 3, 2))).sum().backward()
    np.testing.assert_array_equal(x.grad, np.arange(24.0).reshape(4, 3, 2).T)


def test_repr_is_readable() -> None:
    x = Tensor([1.0, 2.0], requires_grad=True, name="w")
    assert repr(x) == "Tensor([1., 2.], requires_grad=True, name='w')"
    assert repr(x * 2) == "Tensor([2., 4.], op=mul)"
    assert repr(Tensor(np.array([1, 2]))) == "Tensor([1, 2], dtype=int64)"
    assert repr(Tensor(np.array(0.5))) == "Tensor(0.5, dtype=float64)"


def test_name() -> None:
    assert Tensor([1.0], name="bias").name == "bias"
    assert Tensor([1.0]).name is None
    with pytest.raises(TypeError, match=r"name.*expected a str, got int"):
        Tensor([1.0], name=3)


def test_argmax() -> None:
    t = Tensor([[1.0, 5.0, 2.0], [9.0, 0.0, 3.0]])
    np.testing.assert_array_equal(t.argmax(axis=1).numpy(), [1, 0])
    assert t.argmax().item() == 3


# ---------------------------------------------------------------------- operators
def grad_of(fn, values: list[float]) -> tuple[np.ndarray, np.ndarray]:
    """Value and gradient of ``fn(x).sum()`` at ``values`` (float64)."""
    x = Tensor(np.array(values), requires_grad=True)
    out = fn(x)
    out.sum().backward()
    return out.numpy(), x.grad


@pytest.mark.parametrize(
    ("name", "fn", "value", "derivative"),
    [
        ("2 - x", lambda x: 2 - x, lambda v: 2 - v, lambda v: -1.0),
        ("x - 2", lambda x: x - 2, lambda v: v - 2, lambda v: 1.0),
        ("2 / x", lambda x: 2 / x, lambda v: 2 / v, lambda v: -2 / v**2),
        ("x / 2", lambda x: x / 2, lambda v: v / 2, lambda v: 0.5),
        ("2 ** x", lambda x: 2**x, lambda v: 2**v, lambda v: 2**v * math.log(2)),
        ("x ** 2", lambda x: x**2, lambda v: v**2, lambda v: 2 * v),
        ("x ** 0.5", lambda x: x**0.5, math.sqrt, lambda v: 0.5 / math.sqrt(v)),
        ("3 * x", lambda x: 3 * x, lambda v: 3 * v, lambda v: 3.0),
        ("3 + x", lambda x: 3 + x, lambda v: 3 + v, lambda v: 1.0),
        ("-x", lambda x: -x, lambda v: -v, lambda v: -1.0),
        ("x ** x", lambda x: x**x, lambda v: v**v, lambda v: v**v * (math.log(v) + 1)),
    ],
)
def test_operators_with_scalars_on_either_side(name: str, fn, value, derivative) -> None:
    values = [0.5, 1.5, 3.0]
    out, grad = grad_of(fn, values)
    np.testing.assert_allclose(out, [value(v) for v in values], rtol=1e-14, err_msg=name)
    np.testing.assert_allclose(grad, [derivative(v) for v in values], rtol=1e-14, err_msg=name)


def test_ndarray_on_the_left_gives_a_tensor() -> None:
    x = Tensor([1.0, 2.0], requires_grad=True)
    array = np.array([10.0, 20.0], dtype=np.float32)
    for out, expected in (
        (array + x, [11.0, 22.0]),
        (array - x, [9.0, 18.0]),
        (array * x, [10.0, 40.0]),
        (array / x, [10.0, 10.0]),
    ):
        assert isinstance(out, Tensor) and out.dtype == np.float32 and out.requires_grad
        np.testing.assert_allclose(out.numpy(), expected)
    matrix = np.eye(2, dtype=np.float32)
    assert isinstance(matrix @ x, Tensor)
    (matrix @ x).sum().backward()
    np.testing.assert_array_equal(x.grad, [1.0, 1.0])


def test_operators_broadcast_like_numpy_and_sum_the_gradient_back() -> None:
    a = Tensor(np.ones((2, 1, 3)), requires_grad=True)
    b = Tensor(np.arange(4.0).reshape(4, 1), requires_grad=True)
    out = a * b
    assert out.shape == (2, 4, 3)
    out.sum().backward()
    np.testing.assert_array_equal(a.grad, np.full((2, 1, 3), 6.0))
    np.testing.assert_array_equal(b.grad, np.full((4, 1), 6.0))


def test_list_operands_become_tensors() -> None:
    x = Tensor([1.0, 2.0], requires_grad=True)
    out = x + [1.0, 1.0]  # noqa: RUF005 (a Tensor plus a list, not list concatenation)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out.numpy(), [2.0, 3.0])


# ---------------------------------------------------------------------- which tensors get .grad
def test_default_backward_fills_only_leaves() -> None:
    x = Tensor([1.0, 2.0], requires_grad=True)
    hidden = x * 3
    loss = (hidden * hidden).sum()
    loss.backward()
    assert hidden.grad is None and loss.grad is None
    np.testing.assert_array_equal(x.grad, [18.0, 36.0])


def test_retain_grad_keeps_one_intermediate_gradient() -> None:
    x = Tensor([1.0, 2.0], requires_grad=True)
    hidden = (x * 3).retain_grad()
    other = hidden + 1
    (other * other).sum().backward()
    np.testing.assert_array_equal(hidden.grad, 2 * (hidden.numpy() + 1))
    assert other.grad is None


def test_backward_retain_grads_keeps_every_intermediate_gradient() -> None:
    x = Tensor([1.0, 2.0], requires_grad=True)
    hidden = x * 3
    other = hidden + 1
    loss = (other * other).sum()
    loss.backward(retain_grads=True)
    np.testing.assert_array_equal(other.grad, 2 * other.numpy())
    np.testing.assert_array_equal(hidden.grad, 2 * other.numpy())
    assert loss.grad == 1.0
    np.testing.assert_array_equal(x.grad, 6 * other.numpy())


def test_tensors_without_requires_grad_get_no_gradient() -> None:
    x = Tensor([1.0, 2.0], requires_grad=True)
    constant = Tensor([5.0, 6.0])
    (x * constant).sum().backward()
    assert constant.grad is None
    assert not (constant * 2).requires_grad and (constant * 2)._ctx is None


def test_requires_grad_can_only_change_on_leaves() -> None:
    x = Tensor([1.0])
    assert x.requires_grad_() is x and x.requires_grad
    with pytest.raises(RuntimeError, match="only leaf tensors"):
        (x * 2).requires_grad_(False)
