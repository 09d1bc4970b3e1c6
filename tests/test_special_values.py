"""Every elementwise op's forward and gradient at special values equal PyTorch's.

The values: 0, -0.0, +-1, +-inf, NaN, the ops' kinks (relu and abs at 0, sqrt and log at 0,
maximum and minimum at ties, pow at base 0 and exponent 0) and a few ordinary numbers; binary
ops take every pair. Compared in float32 and float64 with the upstream gradient 1: NaN where
torch gives NaN, infinities and zeros with torch's sign, other values to a few ulps.

One documented difference: ``relu(-0.0)`` is ``+0.0`` here (PyTorch keeps ``-0.0``); the two
compare equal, and matching the sign would slow the tuned ReLU kernel (docs/dtypes.md).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import tinygrad_cnn as tc
from tinygrad_cnn import Tensor

torch = pytest.importorskip("torch")
# numpy warns where IEEE arithmetic gives inf or NaN (0 / 0, log(0) ...): those are the point.
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")

INF, NAN = float("inf"), float("nan")
GRID = [0.0, -0.0, 1.0, -1.0, INF, -INF, NAN, 0.5, -2.0, 3.0]
DTYPES = {"float32": (np.float32, torch.float32), "float64": (np.float64, torch.float64)}
# Relative tolerance for finite, non-zero values (numpy and torch use different libms).
RTOL = {"float32": 1e-5, "float64": 1e-12}


def assert_same_values(
    ours: np.ndarray, theirs: np.ndarray, dtype: str, what: str, zero_sign: bool = True
) -> None:
    """NaN where torch has NaN, infinities and zeros with torch's sign, others within RTOL."""
    theirs = np.asarray(theirs, dtype=ours.dtype)
    assert ours.shape == theirs.shape, f"{what}: shape {ours.shape} != {theirs.shape}"
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(theirs), err_msg=f"{what}: NaN")
    exact = np.isinf(theirs) | (theirs == 0)
    np.testing.assert_array_equal(ours[exact], theirs[exact], err_msg=f"{what}: inf/0")
    if zero_sign:
        np.testing.assert_array_equal(
            np.signbit(ours[exact]), np.signbit(theirs[exact]), err_msg=f"{what}: sign of 0/inf"
        )
    rest = ~exact & ~np.isnan(theirs)
    np.testing.assert_allclose(ours[rest], theirs[rest], rtol=RTOL[dtype], err_msg=what)


def _run_ours(
    function: Callable[..., Tensor], arrays: list[np.ndarray]
) -> tuple[np.ndarray, list[np.ndarray]]:
    inputs = [Tensor(a.copy(), requires_grad=True) for a in arrays]
    out = function(*inputs)
    out.backward(np.ones(out.shape))
    return out.numpy(), [_grad(t) for t in inputs]


def _grad(t: Tensor) -> np.ndarray:
    """``t.grad`` as an array (whether ``.grad`` holds an array or a Tensor)."""
    return t.grad.numpy() if isinstance(t.grad, Tensor) else np.asarray(t.grad)


def _run_torch(function: Callable[..., Any], arrays: list[np.ndarray]) -> tuple[Any, list[Any]]:
    inputs = [torch.tensor(a, requires_grad=True) for a in arrays]
    out = function(*inputs)
    out.backward(torch.ones_like(out))
    return out.detach().numpy(), [t.grad.numpy() for t in inputs]


def check(
    ours: Callable[..., Tensor],
    theirs: Callable[..., Any],
    arrays: list[np.ndarray],
    dtype: str,
    out_zero_sign: bool = True,
) -> None:
    out, grads = _run_ours(ours, arrays)
    expected_out, expected_grads = _run_torch(theirs, arrays)
    assert out.dtype == arrays[0].dtype
    assert_same_values(out, expected_out, dtype, "forward", zero_sign=out_zero_sign)
    for position, (grad, expected) in enumerate(zip(grads, expected_grads, strict=True)):
        assert_same_values(grad, expected, dtype, f"gradient of input {position}")


UNARY = {
    "exp": (lambda x: x.exp(), torch.exp),
    "log": (lambda x: x.log(), torch.log),
    "sqrt": (lambda x: x.sqrt(), torch.sqrt),
    "tanh": (lambda x: x.tanh(), torch.tanh),
    "sigmoid": (lambda x: x.sigmoid(), torch.sigmoid),
    "abs": (lambda x: x.abs(), torch.abs),
    "relu": (lambda x: x.relu(), torch.relu),
    "neg": (lambda x: -x, lambda x: -x),
    "functional exp": (tc.exp, torch.exp),
}

BINARY = {
    "add": (lambda a, b: a + b, lambda a, b: a + b),
    "sub": (lambda a, b: a - b, lambda a, b: a - b),
    "mul": (lambda a, b: a * b, lambda a, b: a * b),
    "div": (lambda a, b: a / b, lambda a, b: a / b),
    "pow": (lambda a, b: a**b, lambda a, b: a**b),
    "maximum": (lambda a, b: a.maximum(b), torch.maximum),
    "minimum": (lambda a, b: a.minimum(b), torch.minimum),
}

EXPONENTS = [0, 1, 2, 3, -1, -2, 0.0, 0.5, -0.5, 1.5, 2.5, -1.5, 1.0, 2.0, INF, -INF, NAN]
BASES = [0.0, -0.0, 1.0, -1.0, 2.0, 0.5, -2.0, INF, -INF, NAN]


@pytest.mark.parametrize("dtype", sorted(DTYPES))
@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_ops_at_special_values(name: str, dtype: str) -> None:
    ours, theirs = UNARY[name]
    x = np.array(GRID, dtype=DTYPES[dtype][0])
    check(ours, theirs, [x], dtype, out_zero_sign=name != "relu")


def test_relu_of_minus_zero_is_plus_zero_documented_difference() -> None:
    """relu(-0.0): +0.0 here, -0.0 in PyTorch (equal as numbers); the gradient is 0 in both."""
    x = Tensor(np.array([-0.0, 0.0]), requires_grad=True)
    y = x.relu()
    y.backward(np.ones(2))
    assert (y.numpy() == 0).all() and not np.signbit(y.numpy()).any()
    np.testing.assert_array_equal(_grad(x), [0.0, 0.0])


@pytest.mark.parametrize("dtype", sorted(DTYPES))
@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_ops_at_every_pair_of_special_values(name: str, dtype: str) -> None:
    ours, theirs = BINARY[name]
    pairs = np.array(list(itertools.product(GRID, GRID)), dtype=DTYPES[dtype][0])
    check(ours, theirs, [pairs[:, 0].copy(), pairs[:, 1].copy()], dtype)


@pytest.mark.parametrize("dtype", sorted(DTYPES))
@pytest.mark.parametrize("exponent", EXPONENTS, ids=repr)
def test_pow_with_a_scalar_exponent(exponent: float, dtype: str) -> None:
    """``x ** 0`` has gradient 0 everywhere (also at x = 0), as in PyTorch."""
    x = np.array(GRID, dtype=DTYPES[dtype][0])
    check(lambda t: t**exponent, lambda t: t**exponent, [x], dtype)


@pytest.mark.parametrize("dtype", sorted(DTYPES))
@pytest.mark.parametrize("base", BASES, ids=repr)
def test_pow_with_a_scalar_base(base: float, dtype: str) -> None:
    """``0 ** y``: the gradient with respect to ``y`` is 0 where ``y >= 0`` (PyTorch's rule)."""
    y = np.array(GRID, dtype=DTYPES[dtype][0])
    check(lambda t: base**t, lambda t: base**t, [y], dtype)


def test_pow_gradients_at_zero_are_the_issue_examples() -> None:
    x = Tensor(np.array([0.0, 2.0]), requires_grad=True)
    (x**0).sum().backward()
    np.testing.assert_array_equal(_grad(x), [0.0, 0.0])  # was NaN at 0
    base = Tensor(np.array([0.0, 0.0, 0.0]))
    y = Tensor(np.array([0.0, 1.0, 2.5]), requires_grad=True)
    (base**y).sum().backward()
    np.testing.assert_array_equal(_grad(y), [0.0, 0.0, 0.0])  # was NaN and -inf


@pytest.mark.parametrize("name", ["maximum", "minimum"])
def test_ties_split_the_gradient_and_nan_sends_it_to_both(name: str) -> None:
    a = Tensor(np.array([1.0, NAN, 2.0]), requires_grad=True)
    b = Tensor(np.array([1.0, 1.0, NAN]), requires_grad=True)
    getattr(a, name)(b).backward(np.ones(3))
    np.testing.assert_array_equal(_grad(a), [0.5, 1.0, 1.0])
    np.testing.assert_array_equal(_grad(b), [0.5, 1.0, 1.0])


@pytest.mark.parametrize("value", [INF, -INF, NAN])
@pytest.mark.parametrize("filters", [1, 3, 8])  # the banded layout (<= 4 filters) and others
def test_conv2d_keeps_a_non_finite_pixel_in_the_outputs_that_see_it(
    value: float, filters: int
) -> None:
    """Once, the banded layout's zeros spread an inf pixel as NaN over its whole image row."""
    x = np.ones((1, 2, 5, 7))
    x[0, 1, 2, 3] = value
    w = np.random.default_rng(0).standard_normal((filters, 2, 2, 3))
    ours = tc.conv2d(Tensor(x), Tensor(w)).numpy()
    theirs = torch.nn.functional.conv2d(torch.tensor(x), torch.tensor(w)).numpy()
    assert_same_values(ours, theirs, "float64", "conv2d", zero_sign=False)
    assert np.isfinite(ours).sum() == ours.size - 2 * 3 * filters  # the 2 x 3 patches with it


def test_clamp_with_only_an_infinite_min_sends_the_gradient_to_min() -> None:
    """Once, the missing max counted as +inf, tying with min = inf: no gradient anywhere."""
    x, low = Tensor([0.0, 5.0], requires_grad=True), Tensor([INF, 1.0], requires_grad=True)
    tc.clamp(x, min=low).backward(np.ones(2))
    tx = torch.tensor([0.0, 5.0], requires_grad=True)
    tlow = torch.tensor([INF, 1.0], requires_grad=True)
    torch.clamp(tx, min=tlow).backward(torch.ones(2))
    assert_same_values(x.grad.numpy(), tx.grad.numpy(), "float32", "clamp d/dx")
    assert_same_values(low.grad.numpy(), tlow.grad.numpy(), "float32", "clamp d/dmin")
