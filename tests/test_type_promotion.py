"""PyTorch's type promotion for every binary op, checked against torch.

Every pair of dtypes, tensor against tensor (with dimensions, or one of them 0-d), and every
tensor dtype against Python bool, int and float scalars on either side: the result's dtype
and values are torch's, and where torch refuses (``bool - bool``) this library raises too.
"""

from __future__ import annotations

import itertools
import operator
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import tinygrad_cnn as tc
from tinygrad_cnn import Tensor
from tinygrad_cnn.dtypes import promote_types, result_type

torch = pytest.importorskip("torch")
# numpy warns where IEEE arithmetic gives inf or NaN (0 / 0, log(0) ...): those are the point.
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")

DTYPES = ["bool", "uint8", "int8", "int16", "int32", "int64", "float32", "float64"]
OPS: dict[str, Callable[[Any, Any], Any]] = {
    "add": operator.add,
    "sub": operator.sub,
    "mul": operator.mul,
    "truediv": operator.truediv,
    "pow": operator.pow,
    "maximum": lambda a, b: a.maximum(b),
    "minimum": lambda a, b: a.minimum(b),
}
SCALARS = [True, 2, 2.5]
# Small positive values: no overflow in int8, no negative integer powers.
VALUES = [1, 2, 3]


def _ours(dtype: str, shape: tuple[int, ...] = (3,)) -> Tensor:
    return Tensor(np.resize(np.array(VALUES, dtype=dtype), shape))


def _theirs(dtype: str, shape: tuple[int, ...] = (3,)) -> Any:
    return torch.from_numpy(np.resize(np.array(VALUES, dtype=dtype), shape))


def _torch_op(name: str, a: Any, b: Any) -> Any:
    if name in ("maximum", "minimum"):
        # torch's take tensors only; here a scalar promotes as in every other binary op.
        dtype = torch.result_type(a, b)
        a, b = (torch.as_tensor(v).to(dtype) for v in (a, b))
        return getattr(torch, name)(a, b)
    return OPS[name](a, b)


def _our_op(name: str, a: Any, b: Any) -> Tensor:
    if name in ("maximum", "minimum") and not isinstance(a, Tensor):
        return getattr(b, name)(a)  # symmetric
    return OPS[name](a, b)


def assert_matches_torch(name: str, ours: Callable[[], Tensor], theirs: Callable[[], Any]) -> None:
    """Same dtype and values as torch; an error where torch raises one."""
    try:
        expected = theirs()
    except RuntimeError:
        with pytest.raises((TypeError, ValueError, RuntimeError)):
            ours()
        return
    result = ours()
    expected_dtype = np.dtype(str(expected.dtype).removeprefix("torch."))
    assert result.dtype == expected_dtype, f"{name}: {result.dtype} != torch's {expected_dtype}"
    np.testing.assert_allclose(
        result.numpy().astype(np.float64), expected.numpy().astype(np.float64), rtol=1e-6
    )


@pytest.mark.parametrize(("a", "b"), list(itertools.product([*DTYPES, "float16"], repeat=2)))
def test_promote_types_is_torchs(a: str, b: str) -> None:
    expected = str(torch.promote_types(getattr(torch, a), getattr(torch, b)))
    assert promote_types(np.dtype(a), np.dtype(b)) == np.dtype(expected.removeprefix("torch."))


@pytest.mark.parametrize("name", sorted(OPS))
@pytest.mark.parametrize(("a", "b"), list(itertools.product(DTYPES, repeat=2)))
def test_tensor_with_tensor(name: str, a: str, b: str) -> None:
    assert_matches_torch(
        name,
        lambda: _our_op(name, _ours(a), _ours(b)),
        lambda: _torch_op(name, _theirs(a), _theirs(b)),
    )


@pytest.mark.parametrize("name", sorted(OPS))
@pytest.mark.parametrize(("a", "b"), list(itertools.product(DTYPES, repeat=2)))
def test_tensor_with_a_zero_dim_tensor(name: str, a: str, b: str) -> None:
    """A 0-d tensor promotes a tensor with dimensions only across categories."""
    assert_matches_torch(
        name,
        lambda: _our_op(name, _ours(a), _ours(b, ())),
        lambda: _torch_op(name, _theirs(a), _theirs(b, ())),
    )
    assert_matches_torch(
        name,
        lambda: _our_op(name, _ours(b, ()), _ours(a)),
        lambda: _torch_op(name, _theirs(b, ()), _theirs(a)),
    )


@pytest.mark.parametrize("scalar", SCALARS, ids=repr)
@pytest.mark.parametrize("name", sorted(OPS))
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("zero_dim", [False, True])
def test_tensor_with_a_python_scalar_on_either_side(
    dtype: str, name: str, scalar: Any, zero_dim: bool
) -> None:
    shape = () if zero_dim else (3,)
    assert_matches_torch(
        name,
        lambda: _our_op(name, _ours(dtype, shape), scalar),
        lambda: _torch_op(name, _theirs(dtype, shape), scalar),
    )
    assert_matches_torch(
        name,
        lambda: _our_op(name, scalar, _ours(dtype, shape)),
        lambda: _torch_op(name, scalar, _theirs(dtype, shape)),
    )


@pytest.mark.parametrize(("a", "b"), list(itertools.product(["float32", "float64"], repeat=2)))
@pytest.mark.parametrize("name", ["add", "sub", "mul", "truediv", "pow", "maximum"])
def test_mixed_float_gradients_reach_each_input_in_its_dtype(name: str, a: str, b: str) -> None:
    x = Tensor(np.array([1.5, 2.0, 0.5], dtype=a), requires_grad=True)
    y = Tensor(np.array([0.5, 3.0, 2.0], dtype=b), requires_grad=True)
    tx, ty = (torch.tensor(t.numpy(), requires_grad=True) for t in (x, y))
    out, expected = _our_op(name, x, y), _torch_op(name, tx, ty)
    out.sum().backward()
    expected.sum().backward()
    assert out.dtype == np.dtype(str(expected.dtype).removeprefix("torch."))
    for ours, theirs in ((x, tx), (y, ty)):
        grad = ours.grad.numpy() if isinstance(ours.grad, Tensor) else ours.grad
        assert grad.dtype == ours.dtype
        np.testing.assert_allclose(grad, theirs.grad.numpy(), rtol=1e-6)


def test_the_issue_examples() -> None:
    int32 = Tensor(np.array([1, 2, 4], dtype=np.int32))
    assert (int32**2.5).dtype == np.float32
    assert (int32 / int32).dtype == np.float32
    assert Tensor([True, False]).maximum(int32[:2]).dtype == np.int32
    assert (int32 + int32).dtype == np.int32  # integer ops stay integer
    assert (int32 * 2).dtype == np.int32
    assert (Tensor([True]) + 1).dtype == np.int64
    assert (Tensor([1, 2]) * 2.5).dtype == np.float32


def test_functional_forms_promote_as_the_operators() -> None:
    int32 = Tensor(np.array([1, 2], dtype=np.int32))
    assert tc.div(int32, int32).dtype == np.float32
    assert tc.add(2, int32).dtype == np.int32
    assert tc.pow(2.5, int32).dtype == np.float32


def test_uint16_and_wider_unsigned_do_not_promote() -> None:
    with pytest.raises(TypeError, match="uint16"):
        Tensor(np.array([1], dtype=np.uint16)) + Tensor(np.array([1], dtype=np.int64))
    same = Tensor(np.array([1], dtype=np.uint16))
    assert (same + same).dtype == np.uint16


def test_result_type_counts_zero_dim_tensors_like_scalars() -> None:
    ones = np.ones(2, np.float32)
    assert result_type(ones, np.float64(1.0).reshape(())) == np.float32
    assert result_type(np.ones(2, np.int32), np.array(1.0)) == np.float64
    assert result_type(np.array(1, np.int8), np.array(1.0, np.float64)) == np.float64
