"""gradgradcheck: second derivatives against central differences of first derivatives."""

from __future__ import annotations

import numpy as np
import pytest

import tinygrad_cnn as tc
from tinygrad_cnn import Function, Tensor
from tinygrad_cnn.debug import GradcheckError, GradgradcheckError, gradcheck, gradgradcheck

RNG = np.random.default_rng(14)


class ConstantSlopeSquare(Function, register=False):
    """out = x**2; backward right at first order, but its slope 2x is a numpy constant, so the
    backward's backward is 0 where it should be 2 g."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.x = x
        return x * x

    def backward(self, g: Tensor) -> tuple[Tensor]:
        return (g * Tensor(2 * self.x),)


class NumpyGradientSquare(Function, register=False):
    """out = x**2 whose backward computes its gradient in numpy: the contract is broken."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.x = x
        return x * x

    def backward(self, g: Tensor) -> tuple[np.ndarray]:
        return (2 * g.data * self.x,)


def test_correct_second_derivatives_pass_in_both_modes() -> None:
    x, y = RNG.uniform(0.5, 2.0, (2, 3)), RNG.uniform(-1.0, 1.0, (3,))
    fn = lambda a, b: (a.log() * b.tanh() * b).sum(1)  # noqa: E731
    assert gradgradcheck(fn, (x, y), mode="full")
    assert gradgradcheck(fn, (x, y), mode="projection", seed=3)
    assert gradgradcheck(fn, [Tensor(x), Tensor(y)], grad_outputs=RNG.standard_normal(2))
    assert tc.gradgradcheck(lambda t: t.exp(), Tensor(x))  # one input, not in a tuple


def test_large_inputs_use_projections() -> None:
    x = RNG.standard_normal((20, 20))
    assert gradgradcheck(lambda t: (t * t).tanh(), x, full_jacobian_max=16)


def test_the_planted_bug_passes_gradcheck_but_not_gradgradcheck() -> None:
    x = np.array([[0.5, -1.0, 2.0]])
    assert gradcheck(ConstantSlopeSquare.apply, x)
    with pytest.raises(GradgradcheckError) as caught:
        gradgradcheck(ConstantSlopeSquare.apply, x, grad_outputs=np.array([[1.0, 2.0, -1.5]]))
    error = caught.value
    assert isinstance(error, GradcheckError)
    # full mode: the diagonal entry of the worst element, analytic 0 against 2 g
    assert error.gradient_index == 0 and error.input_index == 0
    assert error.element_index == error.gradient_element
    assert error.analytic == 0.0
    g = np.array([1.0, 2.0, -1.5])[error.element_index[1]]
    assert error.numerical == pytest.approx(2 * g, rel=1e-6)
    message = str(error)
    for text in (
        "gradgradcheck: a second derivative disagrees",
        f"element {error.gradient_element} of the gradient of input 0",
        f"with respect to: input 0 (shape (1, 3)), element {error.element_index}",
        "analytic (backward of the create_graph=True gradient): 0.0",
        "mode: full Jacobian",
    ):
        assert text in message
    assert not gradgradcheck(ConstantSlopeSquare.apply, x, raise_exception=False)


def test_the_planted_bug_is_found_by_projections_too() -> None:
    x = RNG.uniform(0.5, 1.5, (30, 30))
    with pytest.raises(GradgradcheckError, match="projected on a random upstream") as caught:
        gradgradcheck(ConstantSlopeSquare.apply, x, mode="projection")
    assert caught.value.gradient_index is None and caught.value.input_index == 0
    assert caught.value.element_index is not None


def test_a_wrong_derivative_with_respect_to_grad_outputs_names_it() -> None:
    class ScaledUpstream(Function, register=False):
        """out = 2x; backward 2g at first order, but the g it multiplies is detached, so the
        first derivative looks constant in grad_outputs."""

        def forward(self, x: np.ndarray) -> np.ndarray:
            return 2 * x

        def backward(self, g: Tensor) -> tuple[Tensor]:
            return (2 * g.detach(),)

    with pytest.raises(GradgradcheckError, match=r"with respect to: grad_outputs \(shape \(3,\)"):
        gradgradcheck(ScaledUpstream.apply, np.array([0.5, 1.0, 1.5]))


def test_several_inputs_name_the_first_derivative_that_is_wrong() -> None:
    x, y = np.array([0.5, 1.0]), np.array([1.5, -1.0, 2.0])
    with pytest.raises(GradgradcheckError) as caught:
        gradgradcheck(lambda a, b: a.sum() * ConstantSlopeSquare.apply(b), (x, y), mode="full")
    assert caught.value.gradient_index == 1 and caught.value.input_index == 1
    assert "of the gradient of input 1" in str(caught.value)


def test_a_backward_returning_arrays_raises_the_contract_error() -> None:
    x = np.array([0.5, -1.0, 2.0])
    with pytest.raises(TypeError, match=r"numpygradientsquare\.backward must return Tensors"):
        gradgradcheck(NumpyGradientSquare.apply, x)


def test_integer_inputs_are_passed_through_and_wrt_selects() -> None:
    x, counts = RNG.standard_normal((3, 4)), np.array([0, 2, 1, 3])
    assert gradgradcheck(lambda t, k: t.tanh() * k, (x, counts))
    assert gradgradcheck(lambda a, b: a * b.exp(), (x, x + 1), wrt=[1])


def test_inputs_are_not_modified() -> None:
    x = Tensor(np.array([0.5, -1.0]))
    before = x.data.copy()
    gradgradcheck(lambda t: t.tanh(), (x,))
    np.testing.assert_array_equal(x.data, before)


def test_bad_arguments() -> None:
    x = np.array([1.0, 2.0])
    with pytest.raises(TypeError, match="fn must be callable"):
        gradgradcheck("tanh", x)
    with pytest.raises(ValueError, match="grad_outputs has shape"):
        gradgradcheck(lambda t: t.tanh(), x, grad_outputs=np.ones(3))
    with pytest.raises(ValueError, match="must hold one array"):
        gradgradcheck(lambda t: t.tanh(), x, grad_outputs=[np.ones(2), np.ones(2)])
    with pytest.raises(ValueError, match="mode must be one of"):
        gradgradcheck(lambda t: t.tanh(), x, mode="fast")
    with pytest.raises(ValueError, match="eps must be positive"):
        gradgradcheck(lambda t: t.tanh(), x, eps=0.0)
    with pytest.raises(ValueError, match="no floating-point input"):
        gradgradcheck(lambda t: t.float(), np.array([1, 2]))


def test_float32_inputs_warn() -> None:
    with pytest.warns(tc.debug.GradcheckWarning, match="gradgradcheck: input 0 has dtype float32"):
        gradgradcheck(lambda t: t.tanh(), np.array([0.5, 1.0], dtype=np.float32))
