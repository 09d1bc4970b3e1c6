"""Every registered op's gradients, checked by one generic Hypothesis property test.

For each spec in ``tests/op_specs.py`` and each drawn case, :func:`check_op_gradients` asserts
(through :func:`tinygrad_cnn.testing.assert_grads`, the helper users get):

- backward equals central finite differences in float64 (eps 1e-6 unless the spec says
  otherwise, atol 1e-5, rtol 1e-3);
- gradients have their inputs' shapes and dtypes, in float64 and in float32;
- a zero upstream gradient gives exactly zero; backward is linear in the upstream gradient;
- backward twice through a retained graph gives identical results;
- inputs, outputs and upstream gradients are never modified in place;

- inputs that do not require grad get no gradient;

and that the spec really exercises the op it is named after. Which of the differentiable
inputs require grad is drawn too (a non-empty subset, all of them most often): a backward
skips work for the others (``needs_input_grad``), and a frozen weight, an input image that
needs no gradient or a bias alone each take a path of their own. The last tests plant wrong
backward passes in test-only ops and show that this same check catches each of them.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import Phase, find, given, settings
from hypothesis import strategies as st
from op_specs import SPECS, Case, OpSpec, some_requiring_grad

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
    case = data.draw(some_requiring_grad(case), label="case, with the inputs requiring grad")
    check_op_gradients(spec, case, seed)


def _conv2d_layout(case: Case) -> str:
    """The memory layout conv2d picks for ``case`` (see ``_conv_layout`` in ops/conv.py)."""
    tensors = [Tensor(a, requires_grad=True) for a in case.inputs]
    return SPECS["conv2d"].call(*tensors, **case.kwargs)._ctx.layout


@pytest.mark.parametrize("layout", ["rows", "columns", "banded"])
@pytest.mark.parametrize("bias", [False, True])
def test_the_conv2d_spec_draws_every_layout_with_and_without_bias(layout: str, bias: bool) -> None:
    """conv2d's backward is three kernels per layout, so the generic test (which draws which
    inputs require grad independently of the case) must reach each layout, with a bias too."""
    found = find(
        SPECS["conv2d"].draw,
        lambda case: (len(case.inputs) == 3) == bias and _conv2d_layout(case) == layout,
        settings=settings(max_examples=500, database=None, phases=[Phase.generate]),
    )
    assert _conv2d_layout(found) == layout


@given(data=st.data())
def test_some_requiring_grad_draws_non_empty_subsets_of_the_differentiable_inputs(
    data: st.DataObject,
) -> None:
    case = data.draw(SPECS["cross_entropy_backward"].draw)  # inputs 0 and 2 differentiable
    narrowed = data.draw(some_requiring_grad(case))
    assert narrowed.inputs is case.inputs and narrowed.kwargs is case.kwargs
    assert narrowed.wrt and set(narrowed.wrt) <= {0, 2}


def test_every_subset_of_inputs_requiring_grad_is_drawn() -> None:
    case = Case((np.zeros(2), np.zeros(2), np.zeros(2)))
    for subset in ([0], [1], [2], [0, 1], [0, 2], [1, 2], [0, 1, 2]):
        find(
            some_requiring_grad(case),
            lambda narrowed, subset=subset: narrowed.wrt == subset,
            settings=settings(database=None, phases=[Phase.generate]),
        )


def test_requiring_grad_refuses_an_empty_or_non_differentiable_subset() -> None:
    case = Case((np.zeros(2), np.zeros(2, dtype=np.int64)))
    with pytest.raises(ValueError, match="not a non-empty subset"):
        case.requiring_grad([])
    with pytest.raises(ValueError, match="not a non-empty subset"):
        case.requiring_grad([1])
    assert case.requiring_grad([0]).differentiable == (True, False)


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


class SkippingMul(Function, register=False):
    """out = a * b with a planted bug: a's gradient is skipped when b needs none (as if the
    work were shared and only done for both)."""

    def forward(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return a * b

    def backward(self, g: Tensor) -> tuple[Tensor | None, Tensor | None]:
        a, b = self.inputs
        if not self.needs_input_grad[1]:
            return None, None
        return (g * b if self.needs_input_grad[0] else None), g * a


class GradPlantingMul(Function, register=False):
    """out = a * b whose backward writes a gradient into b's ``.grad`` itself, even when b
    does not require grad."""

    def forward(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return a * b

    def backward(self, g: Tensor) -> tuple[Tensor | None, Tensor | None]:
        a, b = self.inputs
        b.grad = g * a
        return g * b, None


def _pair_case() -> st.SearchStrategy[Case]:
    values = shapes(min_dims=1, max_side=3).flatmap(lambda s: st.tuples(*[kink_free_arrays(s)] * 2))
    return values.map(Case)


@pytest.mark.parametrize("op", [SkippingMul, GradPlantingMul])
@given(data=st.data())
def test_the_generic_check_catches_a_bug_that_only_some_inputs_requiring_grad_show(
    op: type[Function], data: st.DataObject
) -> None:
    """With both inputs requiring grad the planted bug is invisible; with only ``a`` it is
    caught (a missing gradient, or one given to an input that does not require grad)."""
    spec = OpSpec(op.name, _pair_case(), op.apply)
    case = data.draw(spec.draw)
    if op is SkippingMul:
        check_op_gradients(spec, case, seed=0)
    with pytest.raises(GradcheckError, match=r"input 0 .* disagrees|input 1 does not require"):
        check_op_gradients(spec, case.requiring_grad([0]), seed=0)


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
