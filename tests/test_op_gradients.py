"""Every registered op's gradients, checked by one generic Hypothesis property test.

For each spec in ``tests/op_specs.py`` and each drawn case, :func:`check_op_gradients` asserts
(through :func:`tinygrad_cnn.testing.assert_grads`, the helper users get):

- backward equals central finite differences in float64 (eps 1e-6 unless the spec says
  otherwise, atol 1e-5, rtol 1e-3);
- gradients have their inputs' shapes and dtypes, in float64 and in float32;
- a zero upstream gradient gives exactly zero; backward is linear in the upstream gradient;
- backward twice through a retained graph gives identical results;
- inputs, outputs and upstream gradients are never modified in place;

and that the spec really exercises the op it is named after. The last tests plant wrong
backward passes in test-only ops and show that this same check catches each of them.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from op_specs import SPECS, Case, OpSpec

from tinygrad_cnn import Function, Tensor
from tinygrad_cnn.debug import GradcheckError
from tinygrad_cnn.function import topological_order
from tinygrad_cnn.testing import arrays, assert_grads, kink_free_arrays, shapes

ATOL, RTOL = 1e-5, 1e-3


def recorded_op_names(spec: OpSpec, case: Case) -> set[str]:
    """Names of the ops that ``spec.call`` records on ``case``."""
    tensors = [
        Tensor(np.array(a, copy=True), requires_grad=flag)
        for a, flag in zip(case.inputs, case.differentiable, strict=True)
    ]
    out = spec.call(*tensors, **case.kwargs)
    return {t._ctx.name for t in topological_order(out) if t._ctx is not None}


def check_op_gradients(spec: OpSpec, case: Case, seed: int) -> None:
    """Assert every gradient property of ``spec``'s op on ``case`` (raises GradcheckError)."""
    names = recorded_op_names(spec, case)
    assert spec.name in names, f"spec {spec.name!r} does not record its op; it records {names}"
    assert_grads(
        lambda *tensors: spec.call(*tensors, **case.kwargs),
        *case.inputs,
        wrt=case.wrt,
        dtypes=(np.float64, np.float32),
        eps=spec.eps,
        atol=ATOL,
        rtol=RTOL,
        seed=seed,
    )


def test_every_registered_op_has_a_spec() -> None:
    missing = sorted(set(Function.registry) - set(SPECS))
    stale = sorted(set(SPECS) - set(Function.registry))
    assert not missing, f"registered ops without a spec in tests/op_specs.py: {missing}"
    assert not stale, f"specs in tests/op_specs.py for ops that are not registered: {stale}"


@pytest.mark.parametrize("name", sorted(SPECS))
@given(data=st.data(), seed=st.integers(0, 2**32 - 1))
def test_op_gradients(name: str, data: st.DataObject, seed: int) -> None:
    spec = SPECS[name]
    case = data.draw(spec.draw, label="case")
    check_op_gradients(spec, case, seed)


# ---------------------------------------------------------------------- test the tester
class BadSquare(Function, register=False):
    """out = x**2 with a planted bug: backward forgets the factor 2."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.x = x
        return x * x

    def backward(self, g: Tensor) -> tuple[Tensor]:
        return (g * self.x,)


class Float64GradSquare(Function, register=False):
    """out = x**2 whose backward always returns float64 (wrong for float32 inputs)."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.x = x
        return x * x

    def backward(self, g: Tensor) -> tuple[Tensor]:
        return ((2 * g * self.x).astype(np.float64),)


class WrongShapeSquare(Function, register=False):
    """out = x**2 whose backward drops all but the first column of the gradient."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.x = x
        return x * x

    def backward(self, g: Tensor) -> tuple[Tensor]:
        return ((2 * g * self.x)[..., :1],)


class UpstreamIgnoringSquare(Function, register=False):
    """out = x**2 whose backward returns 2x whatever the upstream gradient."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.x = x
        return x * x

    def backward(self, g: Tensor) -> tuple[Tensor]:
        return (Tensor(2 * self.x),)


class MutatingSquare(Function, register=False):
    """out = x**2 whose backward doubles the saved input in place (corrupting it)."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.x = x
        return x * x

    def backward(self, g: Tensor) -> tuple[Tensor]:
        self.x *= 2
        return (g * self.x,)


def _bad_spec(op: type[Function]) -> OpSpec:
    # Values away from 0 (where x and 2x agree within atol), at least two columns (so dropping
    # columns changes the shape).
    values = shapes(min_dims=1, max_dims=3, min_side=2).flatmap(kink_free_arrays)
    return OpSpec(op.name, values.map(lambda x: Case((x,))), op.apply)


@pytest.mark.parametrize(
    ("op", "message"),
    [
        (BadSquare, r"gradient of input 0 .* disagrees with central differences"),
        (Float64GradSquare, r"returned a float64 gradient for a float32 input"),
        (WrongShapeSquare, r"cannot be reduced to shape"),
        (UpstreamIgnoringSquare, r"a zero upstream gradient gave a non-zero gradient"),
        (MutatingSquare, r"not linear|different gradient|modified in place"),
    ],
)
@given(data=st.data())
def test_the_generic_check_catches_a_planted_bug(
    op: type[Function], message: str, data: st.DataObject
) -> None:
    spec = _bad_spec(op)
    with pytest.raises(GradcheckError, match=message):
        check_op_gradients(spec, data.draw(spec.draw), seed=0)


@given(x=arrays(shapes(min_dims=1)))
def test_the_generic_check_passes_a_correct_test_only_op(x: np.ndarray) -> None:
    class GoodSquare(Function, register=False):
        def forward(self, x: np.ndarray) -> np.ndarray:
            self.x = x
            return x * x

        def backward(self, g: Tensor) -> tuple[Tensor]:
            return (2 * g * self.x,)

    check_op_gradients(OpSpec("goodsquare", st.nothing(), GoodSquare.apply), Case((x,)), seed=1)
