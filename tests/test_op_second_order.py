"""Every registered op's second derivatives, checked by one generic Hypothesis property test.

For each spec in ``tests/op_specs.py`` and each drawn case (float64), with a drawn upstream
gradient ``v``, :func:`check_op_second_order` asserts through
:func:`tinygrad_cnn.debug.gradgradcheck` that the gradients of the first derivatives
``G = v · d op / d inputs`` (computed with ``create_graph=True``), with respect to the inputs
(vector-Hessian products) and to ``v``, equal central differences of ``G``: every entry for
small cases, random projections for large ones.

An op whose backward returns numpy arrays instead of Tensors fails here with the engine's
"must return Tensors" TypeError: nothing is skipped. Ops whose second derivative is
zero by nature (``sign``, ``round``, the movement ops, ``max``) run too, and are checked to be
(trivially) zero. The last tests plant an op whose backward is right but whose backward's
backward is wrong, and show that this same check catches it.

Fewer examples than the first-order test (a third of the profile's ``max_examples``): each one
costs a few hundred evaluations of a first derivative.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from op_specs import SPECS, Case, OpSpec

from tinygrad_cnn import Function, Tensor
from tinygrad_cnn.debug import GradcheckError, gradgradcheck
from tinygrad_cnn.grad_mode import no_grad
from tinygrad_cnn.testing import arrays, kink_free_arrays, shapes

ATOL, RTOL = 1e-5, 1e-3
#: Examples per op: a third of the active profile's (dev 30 -> 10, ci 60 -> 20).
EXAMPLES = max(3, settings().max_examples // 3)


def output_shape(spec: OpSpec, case: Case) -> tuple[int, ...]:
    """The shape of ``spec``'s output on ``case`` (computed without a graph)."""
    with no_grad():
        out = spec.call(*(Tensor(np.array(a, copy=True)) for a in case.inputs), **case.kwargs)
    return tuple(out.shape)


def away_from_second_order_rules(name: str, case: Case) -> Case:
    """``case`` moved off the points where an op follows PyTorch's rule rather than the math at
    second order (those are pinned against torch in ``tests/test_higher_order_torch.py``).

    ``pow``: at an exponent of exactly 0, ``d(a**b)/da`` is PyTorch's constant 0 (a ``where``
    that also avoids ``0 * inf`` at ``a == 0``), so its derivative with respect to ``b`` is 0
    there, not ``1 / a``: exact zeros of the exponent are moved to 0.25.
    """
    if name == "pow":
        base, exponent = case.inputs
        return Case((base, np.where(exponent == 0, 0.25, exponent)), case.kwargs)
    return case


def check_op_second_order(spec: OpSpec, case: Case, upstream: np.ndarray, seed: int) -> None:
    """Assert that ``spec``'s op has right second derivatives on ``case`` for the upstream
    gradient ``upstream`` (raises GradgradcheckError, or RuntimeError for an op whose backward
    is not differentiable)."""
    gradgradcheck(
        lambda *tensors: spec.call(*tensors, **case.kwargs),
        case.inputs,
        upstream,
        wrt=case.wrt,
        eps=spec.eps,
        atol=ATOL,
        rtol=RTOL,
        num_projections=2,
        seed=seed,
    )


@pytest.mark.parametrize("name", sorted(SPECS))
@settings(max_examples=EXAMPLES)
@given(data=st.data(), seed=st.integers(0, 2**32 - 1))
def test_op_second_derivatives(name: str, data: st.DataObject, seed: int) -> None:
    spec = SPECS[name]
    case = away_from_second_order_rules(name, data.draw(spec.draw, label="case"))
    upstream = data.draw(arrays(output_shape(spec, case)), label="upstream")
    check_op_second_order(spec, case, upstream, seed)


# ---------------------------------------------------------------------- test the tester
class ConstantSlopeSquare(Function, register=False):
    """out = x**2 whose backward is right at first order but uses the slope 2x as a constant
    (computed in numpy), so its backward's backward is zero instead of 2 g."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.x = x
        return x * x

    def backward(self, g: Tensor) -> tuple[Tensor]:
        return (g * Tensor(2 * self.x),)


class CubeWithHalfItsCurvature(Function, register=False):
    """out = x**3 whose backward is 3 x**2 g at first order, but written as
    ``3 * x * x.detach() * g``: half of its curvature (6 x g) is lost."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        return x * x * x

    def backward(self, g: Tensor) -> tuple[Tensor]:
        (x,) = self.inputs
        return (3 * x * x.detach() * g,)


class GoodCube(Function, register=False):
    """out = x**3, backward 3 x**2 g in Tensor ops: right at every order."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        return x * x * x

    def backward(self, g: Tensor) -> tuple[Tensor]:
        (x,) = self.inputs
        return (3 * x * x * g,)


def _spec(op: type[Function]) -> OpSpec:
    values = shapes(min_dims=1, max_dims=2, min_side=1, max_side=4).flatmap(kink_free_arrays)
    return OpSpec(op.name, values.map(lambda x: Case((x,))), op.apply)


@pytest.mark.parametrize("op", [ConstantSlopeSquare, CubeWithHalfItsCurvature])
@settings(max_examples=10)
@given(data=st.data())
def test_the_second_order_check_catches_a_wrong_backward_of_backward(
    op: type[Function], data: st.DataObject
) -> None:
    spec = _spec(op)
    case = data.draw(spec.draw)
    # kink-free values and an upstream away from 0: the missing curvature (2 g, or 3 x g) is
    # far above the tolerance at some element.
    upstream = data.draw(kink_free_arrays(case.inputs[0].shape, margin=0.5))
    with pytest.raises(GradcheckError, match="a second derivative disagrees"):
        check_op_second_order(spec, case, upstream, seed=0)


@settings(max_examples=10)
@given(data=st.data())
def test_the_second_order_check_passes_a_correct_test_only_op(data: st.DataObject) -> None:
    spec = _spec(GoodCube)
    case = data.draw(spec.draw)
    check_op_second_order(spec, case, data.draw(arrays(case.inputs[0].shape)), seed=1)
