"""Second order through the movement, selection, extremum and in-place ops (issue 14):
vector-Hessian products equal ``torch.autograd.grad(create_graph=True)`` twice, in float64.

Covers repeated indices (getitem, gather: the gradients add up), ties in ``amax``/``amin``
(shared gradient), ``clamp`` near but not at its bounds, and in-place ops inside a graph
(``mul_``/``div_`` use the old ``self``, whose own graph a second derivative follows).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import tinygrad_cnn as tc
from tinygrad_cnn import Tensor

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(1414)


def _any(*shape: int) -> np.ndarray:
    return RNG.uniform(-1.5, 1.5, shape)


def _away_from_zero(*shape: int) -> np.ndarray:
    return RNG.uniform(0.5, 1.5, shape) * RNG.choice([-1.0, 1.0], shape)


def _tied() -> np.ndarray:
    """Rows with tied maxima and minima (two or three equal entries)."""
    return np.array([[0.5, 1.25, 1.25, -0.75], [0.3, 0.3, 0.3, 0.9], [-1.0, 2.0, -1.0, 2.0]])


def _in_place_chain(lib: Any) -> Callable[..., Any]:
    """mul_, add_ (alpha), div_, sub_, clamp_, each on the result so far."""

    def fn(x: Any, w: Any) -> Any:
        y = x * 1.5
        y.mul_(w)  # d/dw reads the old y, a function of x
        y.add_(x, alpha=-0.5)
        y.div_(w + 3.0)
        y.sub_(x * x)
        y.clamp_(-2.5, 2.5)  # values stay inside: the mask is all ones
        return y * x

    return fn


def _copy_in_place(x: Any, w: Any) -> Any:
    y = x * x
    y.copy_(w * w * x)  # y's old value gets no gradient, the source all of it
    return y * x


def _mixed_dtype_mul(x: Any, w: Any) -> Any:
    y = (x * x).float()
    y.mul_(w)  # float32 self, float64 operand: computed in float64, stored as float32
    return y.double() * w


# name -> (our function, torch's function, inputs): most are written with methods and
# operators that both libraries have, so one function serves both.
CASES: dict[str, tuple[Callable[..., Any], Callable[..., Any], list[np.ndarray]]] = {}


def _case(name: str, ours: Callable[..., Any], inputs: list[np.ndarray], theirs: Any = None):
    CASES[name] = (ours, theirs or ours, inputs)


_case("amax_ties", lambda x: (x * x).amax(1) * x.amax(0).sum(), [_tied()])
_case("amin_ties", lambda x: x.amin(dim=(0, 1)) * (x * x).amin(1), [_tied()])
_case("amax_all", lambda x: x.amax() * x, [_tied()])
_case("getitem_basic", lambda x: x[1:, ::2] * x[:2, 1:3] * x[0, 1], [_any(3, 4)])
_case(
    "getitem_repeated_indices",
    lambda x: x[[0, 2, 0, 0]] ** 3,
    [_any(3, 2)],
    lambda x: x[torch.tensor([0, 2, 0, 0])] ** 3,
)
_case(
    "getitem_int_and_array",
    lambda x: x[1, :, np.array([2, 0, 2])] * x[0, :, np.array([1, 1, 0])],
    [_any(2, 3, 4)],
    lambda x: x[1, :, torch.tensor([2, 0, 2])] * x[0, :, torch.tensor([1, 1, 0])],
)
_MASK = np.array([True, False, True, True])
_case(
    "getitem_mask",
    lambda x: x[Tensor(_MASK)] * x[Tensor(_MASK)].sum(0),
    [_any(4, 3)],
    lambda x: x[torch.tensor(_MASK)] * x[torch.tensor(_MASK)].sum(0),
)
_case(
    "pad",
    lambda x: x.pad(((1, 0), (2, 1)), value=1.5) ** 2,
    [_any(2, 3)],
    lambda x: torch.nn.functional.pad(x, (2, 1, 1, 0), value=1.5) ** 2,
)
_case(
    "cat",
    lambda x, y: tc.cat([x * y, y, x], dim=1) ** 2,
    [_any(2, 3), _any(2, 3)],
    lambda x, y: torch.cat([x * y, y, x], dim=1) ** 2,
)
_case(
    "stack",
    lambda x, y: tc.stack([x * y, x], dim=-1) ** 3,
    [_any(3), _any(3)],
    lambda x, y: torch.stack([x * y, x], dim=-1) ** 3,
)
_case(
    "clamp_numbers",
    lambda x: x.clamp(-0.6, 0.7) * x,
    [np.array([-1.2, -0.5, 0.1, 0.65, 1.3, 0.0])],
)
_case(
    "clamp_tensor_bounds",
    lambda x, low, high: x.clamp(low, high) * (x + low * high),
    [
        np.array([-1.0, 0.2, 0.9, 1.4, -0.3]),
        np.array([-0.5, -0.4, 0.0, 0.1, 0.6]),
        np.array([0.5, 0.8, 0.5, 1.0, 0.2]),  # the last: high < low, so high wins
    ],
)
_GATHER_INDEX = np.array([[0, 0, 2], [1, 1, 1]])
_case(
    "gather_repeated_indices",
    lambda x: x.gather(1, Tensor(_GATHER_INDEX)) ** 2 * x[:, :1],
    [_any(2, 3)],
    lambda x: x.gather(1, torch.tensor(_GATHER_INDEX)) ** 2 * x[:, :1],
)
_case(
    "max_dim_sort_topk",
    lambda x: x.max(1).values * x.sort(1).values[:, 0] + x.topk(2, dim=1).values.sum(1) ** 2,
    [np.array([[0.3, -1.2, 0.8], [1.1, 0.4, -0.6]])],
)
_case("in_place_chain", _in_place_chain(tc), [_any(2, 3), _away_from_zero(3)])
_case("copy_in_place", _copy_in_place, [_any(2, 3), _any(3)])
_case("mixed_dtype_mul_in_place", _mixed_dtype_mul, [_any(4), _any(4)])


def _vhp(lib: Any, fn: Callable[..., Any], xs: list[Any], v: np.ndarray, ws: list[np.ndarray]):
    """(first derivatives, d/dx <w, d<v, f(x)>/dx>) with ``lib`` (tinygrad_cnn or torch)."""
    if lib is tc:
        grad, wrap = tc.grad, Tensor
    else:
        grad, wrap = torch.autograd.grad, torch.tensor
    out = fn(*xs)
    firsts = grad(out, xs, grad_outputs=wrap(v.astype(np.dtype(str(out.dtype).split(".")[-1]))),
                  create_graph=True)  # fmt: skip
    total = sum((g * wrap(w)).sum() for g, w in zip(firsts, ws, strict=True))
    seconds = grad(total, xs, allow_unused=True)
    return firsts, seconds


@pytest.mark.parametrize("name", sorted(CASES))
def test_vector_hessian_products_match_torch(name: str) -> None:
    ours, theirs, arrays = CASES[name]
    xs = [Tensor(a.copy(), requires_grad=True) for a in arrays]
    txs = [torch.tensor(a.copy(), requires_grad=True) for a in arrays]
    with torch.no_grad():
        out_shape = tuple(theirs(*[t.detach() for t in txs]).shape)
    v = RNG.standard_normal(out_shape)
    ws = [RNG.standard_normal(a.shape) for a in arrays]
    firsts, seconds = _vhp(tc, ours, xs, v, ws)
    tfirsts, tseconds = _vhp(torch, theirs, txs, v, ws)
    tol = {"rtol": 1e-5, "atol": 1e-6} if "mixed" in name else {"rtol": 1e-10, "atol": 1e-12}
    for ours_g, theirs_g in zip(firsts, tfirsts, strict=True):
        np.testing.assert_allclose(ours_g.data, theirs_g.detach().numpy(), **tol)
    nonzero = False
    for ours_h, theirs_h in zip(seconds, tseconds, strict=True):
        expected = np.zeros(1) if theirs_h is None else theirs_h.numpy()
        got = np.zeros(1) if ours_h is None else ours_h.data
        np.testing.assert_allclose(got, expected, **tol)
        nonzero |= bool(np.any(expected != 0))
    assert nonzero, "a case whose second derivative is zero checks nothing"


def test_in_place_second_order_follows_the_old_self() -> None:
    """d/dw of y.mul_(w) is the old y = x**2: its derivative in x must not be lost."""
    x = Tensor(np.array([0.5, -2.0]), requires_grad=True)
    w = Tensor(np.array([3.0, 0.25]), requires_grad=True)
    y = x * x
    y.mul_(w)
    (gw,) = tc.grad(y.sum(), w, create_graph=True)
    np.testing.assert_allclose(gw.data, x.data**2)
    (gx,) = tc.grad(gw.sum(), x)
    np.testing.assert_allclose(gx.data, 2 * x.data)


def test_in_place_by_itself_differentiates_twice() -> None:
    """y.mul_(y) (torch refuses its backward): y = x**3 becomes x**6, whose second
    derivative is 30 x**4; the operand is the old self, copied before the overwrite."""
    x = Tensor(np.array([0.5, -1.5, 1.25]), requires_grad=True)
    y = x**3
    y.mul_(y)
    (d1,) = tc.grad(y.sum(), x, create_graph=True)
    np.testing.assert_allclose(d1.data, 6 * x.data**5)
    (d2,) = tc.grad(d1.sum(), x)
    np.testing.assert_allclose(d2.data, 30 * x.data**4)


def test_third_order_through_getitem_and_gather() -> None:
    """getitem's backward (getitem_backward) and gather's (gather_backward) differentiate
    again to getitem and gather: a third derivative of a cubic is 6, accumulated."""
    x = Tensor(np.array([0.5, -1.0, 2.0]), requires_grad=True)
    index = np.array([0, 0, 2])
    y = (x[index] ** 3).sum() + (x.gather(0, Tensor(index)) ** 3).sum()
    (d1,) = tc.grad(y, x, create_graph=True)
    (d2,) = tc.grad(d1.sum(), x, create_graph=True)
    (d3,) = tc.grad(d2.sum(), x)
    np.testing.assert_allclose(d3.data, [24.0, 0.0, 12.0])


def test_first_order_gradients_carry_no_graph() -> None:
    x = Tensor(_any(3, 4), requires_grad=True)
    y = x[[0, 0]].amax() + x.pad(1).sum() + x.gather(1, Tensor(np.array([[0], [1], [3]]))).sum()
    y.backward()
    assert x.grad is not None and x.grad._ctx is None and not x.grad.requires_grad
