"""tinygrad_cnn.testing: the strategies produce what they promise, and assert_grads catches
each kind of broken backward it claims to (while passing correct ops)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import find, given
from hypothesis import strategies as st

from tinygrad_cnn import Function, Tensor, avg_pool2d, conv2d, max_pool2d
from tinygrad_cnn.debug import GradcheckError
from tinygrad_cnn.ops.reduce import normalize_axes
from tinygrad_cnn.testing import (
    arrays,
    assert_grads,
    broadcastable_shapes,
    conv_geometries,
    distinct_arrays,
    kink_free_arrays,
    pool_geometries,
    positive_arrays,
    reduction_axes,
    separated_arrays,
    shapes,
    tensors,
)


# ---------------------------------------------------------------------- optional dependency
def test_importing_the_library_does_not_import_hypothesis() -> None:
    code = (
        "import sys, tinygrad_cnn, tinygrad_cnn.debug.numerical; "
        "sys.exit('hypothesis' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


# ---------------------------------------------------------------------- shapes
@given(shapes(min_dims=1, max_dims=3, min_side=2, max_side=5))
def test_shapes_respect_their_bounds(shape: tuple[int, ...]) -> None:
    assert 1 <= len(shape) <= 3
    assert all(2 <= n <= 5 for n in shape)


@given(broadcastable_shapes())
def test_broadcastable_shapes_broadcast(pair: tuple[tuple[int, ...], ...]) -> None:
    a, b = pair
    np.broadcast_shapes(a, b)


def test_broadcastable_shapes_include_rank_changes_and_stretched_size_one_axes() -> None:
    def stretches(pair: tuple[tuple[int, ...], ...]) -> bool:
        a, b = pair
        out = np.broadcast_shapes(a, b)
        return len(a) != len(b) and any(
            n == 1 and m > 1 for n, m in zip(a[::-1], out[::-1], strict=False)
        )

    a, b = find(broadcastable_shapes(), stretches)
    assert np.broadcast_shapes(a, b) != a


@given(st.data(), shapes(max_dims=4))
def test_reduction_axes_are_valid_axes(data: st.DataObject, shape: tuple[int, ...]) -> None:
    axis = data.draw(reduction_axes(len(shape)))
    axes = normalize_axes("test", axis, len(shape))
    if axis is not None:
        assert axes  # never the empty tuple, whose meaning differs between libraries


# ---------------------------------------------------------------------- values
@given(arrays((2, 3), min_value=-1.0, max_value=2.0))
def test_arrays_have_the_shape_dtype_and_range(x: np.ndarray) -> None:
    assert x.shape == (2, 3) and x.dtype == np.float64
    assert np.all(np.isfinite(x)) and np.all((x >= -1.0) & (x <= 2.0))


@given(tensors((4,)))
def test_tensors_require_grad_and_are_float64(t: Tensor) -> None:
    assert isinstance(t, Tensor) and t.requires_grad
    assert t.shape == (4,) and t.dtype == np.float64


@given(kink_free_arrays((3, 3), kinks=(0.0, 1.0), margin=0.1))
def test_kink_free_arrays_stay_away_from_the_kinks(x: np.ndarray) -> None:
    assert np.all(np.abs(x) >= 0.1) and np.all(np.abs(x - 1.0) >= 0.1)


@given(positive_arrays((5,), min_value=0.25))
def test_positive_arrays_are_positive(x: np.ndarray) -> None:
    assert np.all(x >= 0.25)


def test_positive_arrays_reject_a_non_positive_minimum() -> None:
    with pytest.raises(ValueError, match="min_value must be positive"):
        positive_arrays((2,), min_value=0.0)


@given(separated_arrays([(3, 1), (4,), ()], min_gap=0.02))
def test_separated_arrays_have_no_close_values_anywhere(
    pieces: tuple[np.ndarray, ...],
) -> None:
    assert [p.shape for p in pieces] == [(3, 1), (4,), ()]
    values = np.sort(np.concatenate([p.reshape(-1) for p in pieces]))
    assert np.all(np.diff(values) >= 0.02 - 1e-12)
    assert np.all((values >= -3.0) & (values <= 3.0))


@given(distinct_arrays((2, 2, 3, 3)))
def test_distinct_arrays_have_no_ties(x: np.ndarray) -> None:
    assert x.shape == (2, 2, 3, 3)
    assert np.all(np.diff(np.sort(x.reshape(-1))) >= 0.01 - 1e-12)


def test_separated_arrays_refuse_what_cannot_fit() -> None:
    with pytest.raises(ValueError, match="do not fit"):
        find(separated_arrays([(1000,)], min_gap=0.1), lambda _: True)


# ---------------------------------------------------------------------- geometries
@given(conv_geometries())
def test_conv_geometries_are_valid_and_predict_the_output_shape(geometry) -> None:
    x = Tensor(np.zeros(geometry.input_shape))
    w = Tensor(np.zeros(geometry.weight_shape))
    b = Tensor(np.zeros(geometry.bias_shape))
    out = conv2d(x, w, b, stride=geometry.stride, padding=geometry.padding)
    assert out.shape == geometry.output_shape


@given(pool_geometries())
def test_pool_geometries_are_valid_and_predict_the_output_shape(geometry) -> None:
    x = Tensor(np.zeros(geometry.input_shape))
    for pool in (max_pool2d, avg_pool2d):
        assert pool(x, geometry.kernel, geometry.stride).shape == geometry.output_shape


def test_geometries_include_strides_paddings_and_non_square_kernels() -> None:
    find(
        conv_geometries(),
        lambda g: g.kernel[0] != g.kernel[1] and max(g.stride) > 1 and max(g.padding) > 0,
    )
    find(pool_geometries(), lambda g: g.stride[0] < g.kernel[0])  # overlapping windows


# ---------------------------------------------------------------------- assert_grads
class Square(Function, register=False):
    """out = x**2, correct."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.x = x
        return x * x

    def backward(self, g: Tensor) -> tuple[Tensor]:
        return (2 * g * self.x,)


class WrongValue(Square, register=False):
    def backward(self, g: Tensor) -> tuple[Tensor]:
        return (3 * g * self.x,)


class Float64Gradient(Square, register=False):
    def backward(self, g: Tensor) -> tuple[Tensor]:
        return ((2 * g * self.x).astype(np.float64),)


class NonLinear(Square, register=False):
    def backward(self, g: Tensor) -> tuple[Tensor]:
        return (2 * g * g.abs() * self.x,)


class ModifiesUpstream(Square, register=False):
    def backward(self, g: Tensor) -> tuple[Tensor]:
        g *= 2 * self.x
        return (g,)


class ModifiesOutput(Function, register=False):
    """out = x**2 that saves its output and scales it in place during backward."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.x, self.out = x, x * x
        return self.out

    def backward(self, g: Tensor) -> tuple[Tensor]:
        self.out *= 1.0
        self.out += 1.0
        return (2 * g * self.x,)


class Forgetful(Square, register=False):
    """A backward that changes what it saved, so a second pass differs."""

    def backward(self, g: Tensor) -> tuple[Tensor]:
        grad = 2 * g * self.x
        self.x = self.x * 0.5
        return (grad,)


X = np.array([[0.5, -1.25], [2.0, 0.75]])


def test_assert_grads_passes_a_correct_op_in_both_dtypes() -> None:
    before = X.copy()
    assert_grads(Square.apply, X, dtypes=(np.float64, np.float32))
    np.testing.assert_array_equal(X, before)


def test_assert_grads_passes_library_ops_with_integer_inputs() -> None:
    logits = np.array([[0.1, -0.4, 1.2], [0.3, 0.3, -2.0]])
    labels = np.array([2, 0])
    assert_grads(lambda z, y: z.cross_entropy(y, reduction="none"), logits, labels)


@pytest.mark.parametrize(
    ("op", "match"),
    [
        (WrongValue, "disagrees with central differences"),
        (Float64Gradient, "float64 gradient for a float32 input"),
        (NonLinear, "not linear in the upstream gradient"),
        (ModifiesUpstream, "modified the upstream gradient"),
        (ModifiesOutput, "modified the output of forward"),
        (Forgetful, "second backward"),
    ],
)
def test_assert_grads_catches_each_kind_of_broken_backward(op: type[Function], match: str) -> None:
    with pytest.raises(GradcheckError, match=match):
        assert_grads(op.apply, X, dtypes=(np.float64, np.float32))


def test_assert_grads_rejects_an_output_without_a_graph() -> None:
    with pytest.raises(GradcheckError, match="does not require grad"):
        assert_grads(lambda t: t.detach() * 2.0, X)


def test_assert_grads_rejects_non_float_dtypes() -> None:
    with pytest.raises(TypeError, match="dtypes must be floating-point"):
        assert_grads(Square.apply, X, dtypes=(np.int64,))


def test_assert_grads_passes_gradcheck_options_on_but_always_raises() -> None:
    with pytest.raises(GradcheckError, match="full Jacobian"):
        assert_grads(WrongValue.apply, X)
    with pytest.raises(GradcheckError, match="projection 1 of 2 failed"):
        assert_grads(WrongValue.apply, X, full_jacobian_max=3, num_projections=2)
    with pytest.raises(TypeError, match="always raises"):
        assert_grads(WrongValue.apply, X, raise_exception=False)


# ---------------------------------------------------------------------- documentation
def test_docs_testing_examples_run_in_order(capsys: pytest.CaptureFixture[str]) -> None:
    docs = Path(__file__).resolve().parent.parent / "docs" / "testing.md"
    text = docs.read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert len(blocks) >= 6
    exec(compile("\n".join(blocks), str(docs), "exec"), {"__name__": "docs_testing"})
    printed = capsys.readouterr().out
    assert printed.startswith("True\n")
    # The failure message shown in the page is the one the example prints.
    shown = re.search(r"prints\n\n```\n(.*?)```", text, re.S)
    assert shown is not None
    assert shown.group(1) in printed
