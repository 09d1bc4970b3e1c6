"""Forward and backward of every registered op match PyTorch (skipped without torch).

Inputs come from the OpSpec table (``tests/op_specs.py``): each spec draws a :class:`Case`
(arrays and keyword arguments), applies our op with ``spec.call`` and PyTorch's equivalent
with ``spec.torch``, on the same values. Float inputs become ``torch.float64`` tensors (or
float32 in the float32 test), integer inputs ``torch.int64``. A random upstream gradient is
pushed through both graphs and every differentiable input's gradient is compared.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from op_specs import SPECS, Case, OpSpec, some_requiring_grad

from tinygrad_cnn import Function, Tensor

torch = pytest.importorskip("torch")

# Registered ops that PyTorch has no counterpart for, each with the reason. Every other
# registered op must have a spec with a ``torch`` callable (checked below). Empty today: even
# ``cast`` and ``pow_scalar`` have one (``Tensor.to``, ``torch.pow`` with a number).
NO_TORCH_COUNTERPART: dict[str, str] = {}

WITH_TORCH = sorted(name for name, spec in SPECS.items() if spec.torch is not None)

# float32 tolerances, relative to the largest magnitude involved (sums of many float32 terms).
FLOAT32_RTOL = 2e-5


@pytest.fixture(autouse=True, scope="module")
def _single_threaded_torch() -> Iterator[None]:
    """Tiny ops run ~40x faster on one thread than on threads that compete for shared cores."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_every_registered_op_has_a_torch_counterpart_or_a_stated_reason() -> None:
    registered = set(Function.registry)
    without = sorted(
        name
        for name in registered
        if name not in NO_TORCH_COUNTERPART and (name not in SPECS or SPECS[name].torch is None)
    )
    assert not without, f"registered ops with no torch counterpart and no reason: {without}"
    for name, reason in NO_TORCH_COUNTERPART.items():
        assert name in registered, f"NO_TORCH_COUNTERPART lists {name!r}, which is not an op"
        assert SPECS[name].torch is None, f"{name!r} has a torch counterpart after all"
        assert reason.strip(), f"no reason given for {name!r}"


def to_torch(case: Case, dtype: Any) -> list[Any]:
    """One torch tensor per input: floats as ``dtype`` (requiring grad when differentiable)."""
    tensors = []
    for array, differentiable in zip(case.inputs, case.differentiable, strict=True):
        if np.issubdtype(array.dtype, np.floating):
            tensors.append(torch.tensor(array, dtype=dtype, requires_grad=differentiable))
        else:
            tensors.append(torch.tensor(array, dtype=torch.int64))
    return tensors


def to_ours(case: Case, dtype: type) -> list[Tensor]:
    """One Tensor per input: floats as ``dtype`` (requiring grad when differentiable)."""
    tensors = []
    for array, differentiable in zip(case.inputs, case.differentiable, strict=True):
        if np.issubdtype(array.dtype, np.floating):
            tensors.append(Tensor(array.astype(dtype), requires_grad=differentiable))
        else:
            tensors.append(Tensor(array))
    return tensors


def run_both(
    spec: OpSpec, case: Case, upstream_seed: int, dtype: type
) -> tuple[np.ndarray, np.ndarray, list[tuple[np.ndarray, np.ndarray]]]:
    """Apply the op in both libraries, backpropagate one random upstream gradient.

    Returns
    -------
    ours, theirs : ndarray
        The two forward outputs.
    grads : list of (ndarray, ndarray)
        For each differentiable input, (our gradient, torch's gradient). Asserted here: the
        other inputs get no gradient, and each differentiable input gets one exactly where
        torch gives one (zeros where torch's are zeros, not None: ``x.grad.norm()`` must not
        fail where it works in PyTorch).
    """
    torch_dtype = torch.float64 if dtype == np.float64 else torch.float32
    ours_in, theirs_in = to_ours(case, dtype), to_torch(case, torch_dtype)
    ours = spec.call(*ours_in, **case.kwargs)
    theirs = spec.torch(*theirs_in, **case.kwargs)
    upstream = np.random.default_rng(upstream_seed).standard_normal(ours.shape).astype(dtype)
    ours.backward(upstream)
    theirs.backward(torch.tensor(upstream, dtype=torch_dtype))
    for position, tensor in enumerate(ours_in):
        if position not in case.wrt:
            assert tensor.grad is None, f"input {position} does not require grad, got a gradient"
    grads = []
    for position in case.wrt:
        mine, reference = ours_in[position].grad, theirs_in[position].grad
        assert (mine is None) == (reference is None), (
            f"input {position}: gradient {'None' if mine is None else 'given'} here, "
            f"{'None' if reference is None else 'given'} in torch"
        )
        shape = case.inputs[position].shape
        mine = np.zeros(shape, dtype) if mine is None else mine.numpy()
        reference = np.zeros(shape, dtype) if reference is None else reference.numpy()
        grads.append((mine, reference))
    return ours.numpy(), theirs.detach().numpy(), grads


@pytest.mark.parametrize("name", WITH_TORCH)
@given(data=st.data())
def test_forward_and_backward_match_torch_in_float64(name: str, data: st.DataObject) -> None:
    """Which differentiable inputs require grad is drawn too (in both libraries alike)."""
    spec = SPECS[name]
    case = data.draw(spec.draw, label="case")
    case = data.draw(some_requiring_grad(case), label="case, with the inputs requiring grad")
    ours, theirs, grads = run_both(spec, case, data.draw(st.integers(0, 2**32 - 1)), np.float64)

    assert ours.shape == theirs.shape and ours.dtype == theirs.dtype == np.float64
    np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12, err_msg=f"{name} forward")
    for position, (mine, reference) in zip(case.wrt, grads, strict=True):
        assert mine.shape == reference.shape and mine.dtype == np.float64
        np.testing.assert_allclose(
            mine, reference, rtol=1e-10, atol=1e-12, err_msg=f"{name} gradient {position}"
        )


@pytest.mark.parametrize("name", WITH_TORCH)
@given(data=st.data())
def test_forward_and_backward_match_torch_in_float32(name: str, data: st.DataObject) -> None:
    """The same in float32: outputs and gradients stay float32 and agree to float32 rounding."""
    spec = SPECS[name]
    case = data.draw(spec.draw, label="case")
    ours, theirs, grads = run_both(spec, case, data.draw(st.integers(0, 2**32 - 1)), np.float32)

    assert ours.dtype == theirs.dtype == np.float32
    assert_close_float32(ours, theirs, f"{name} forward")
    for position, (mine, reference) in zip(case.wrt, grads, strict=True):
        assert mine.dtype == np.float32
        assert_close_float32(mine, reference, f"{name} gradient {position}")


def assert_close_float32(mine: np.ndarray, reference: np.ndarray, what: str) -> None:
    assert mine.shape == reference.shape, what
    scale = max(1.0, float(np.abs(reference).max(initial=0.0)))
    np.testing.assert_allclose(
        mine, reference, rtol=FLOAT32_RTOL, atol=FLOAT32_RTOL * scale, err_msg=what
    )


# ---------------------------------------------------------------------- special values
SPECIAL_VALUES = (0.0, -0.0, 1.0, -1.0, np.inf, -np.inf, np.nan)
# Inputs (by position) that keep their drawn finite values, per spec, each with the reason.
# Every other float input of every spec gets special values.
KEEP_FINITE: dict[str, tuple[tuple[int, ...], str]] = {
    "conv2d": (
        (1,),
        "a non-finite weight meets the zero padding: here 0 * inf is NaN (the padding is "
        "explicit), PyTorch's float32 kernel skips padded positions (finite), its float64 "
        "kernel pads explicitly (NaN, as here): no single PyTorch answer to match",
    ),
    # The backward kernels' upstream gradient (an input here) is kept finite: with an inf or
    # NaN upstream gradient training has already failed, and the fast kernels differ from
    # PyTorch's only in which non-finite value they report (listed in coming-from-pytorch.md).
    "threshold_backward": (
        (0,),
        "g * mask: an infinite upstream gradient where the mask is off gives NaN (0 * inf), "
        "PyTorch's where() gives 0",
    ),
    "max_pool2d_route": (
        (0,),
        "the gradient is routed by a multiply with the first-max positions: an infinite "
        "upstream gradient gives NaN (0 * inf) off them, PyTorch's scatter gives 0",
    ),
    "conv2d_input_grad": (
        (0, 1),
        "as conv2d: a non-finite upstream gradient or weight meets the zero padding (0 * inf "
        "is NaN here), where PyTorch's float32 kernel skips padded positions",
    ),
    "conv2d_weight_grad": (
        (0, 1),
        "as conv2d: a non-finite upstream gradient meets the input's zero padding (0 * inf is "
        "NaN here), where PyTorch's float32 kernel skips padded positions",
    ),
    "cross_entropy_backward": (
        (2,),
        "g * (softmax - one_hot): an infinite upstream gradient gives -inf at the label, "
        "PyTorch's log_softmax backward subtracts two infinities there (NaN)",
    ),
}


@st.composite
def with_special_values(draw: st.DrawFn, spec: OpSpec) -> Case:
    """The spec's case with some elements of each float input replaced by special values."""
    case = draw(spec.draw)
    keep = KEEP_FINITE.get(spec.name, ((), ""))[0]
    inputs = []
    for position, array in enumerate(case.inputs):
        if np.issubdtype(array.dtype, np.floating) and array.size and position not in keep:
            array = array.copy()
            flat = array.reshape(-1)
            positions = draw(st.sets(st.integers(0, flat.size - 1), min_size=1, max_size=3))
            for position in positions:
                flat[position] = draw(st.sampled_from(SPECIAL_VALUES))
        inputs.append(array)
    return Case(tuple(inputs), case.kwargs, case.differentiable)


def assert_same_special(mine: np.ndarray, reference: np.ndarray, what: str, rtol: float) -> None:
    """NaN where PyTorch has NaN, infinities equal, finite values close (scaled to the data)."""
    assert mine.shape == reference.shape, what
    np.testing.assert_array_equal(np.isnan(mine), np.isnan(reference), err_msg=f"{what}: NaN")
    finite = np.isfinite(reference)
    np.testing.assert_array_equal(mine[~finite], reference[~finite], err_msg=f"{what}: inf")
    scale = max(1.0, float(np.abs(reference[finite]).max(initial=0.0)))
    np.testing.assert_allclose(
        mine[finite], reference[finite], rtol=rtol, atol=rtol * scale, err_msg=what
    )


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("name", WITH_TORCH)
@settings(max_examples=10)
@given(data=st.data())
def test_forward_and_backward_match_torch_at_special_values(
    name: str, dtype: type, data: st.DataObject
) -> None:
    """Drawn inputs with 0, -0.0, +-1, +-inf or NaN in them: output dtype, shape, values (NaN
    and infinities included) and every gradient as PyTorch's."""
    spec = SPECS[name]
    case = data.draw(with_special_values(spec), label="case")
    ours, theirs, grads = run_both(spec, case, data.draw(st.integers(0, 2**32 - 1)), dtype)

    rtol = FLOAT32_RTOL if dtype == np.float32 else 1e-10
    assert ours.dtype == theirs.dtype == dtype
    assert_same_special(ours, theirs, f"{name} forward", rtol)
    for position, (mine, reference) in zip(case.wrt, grads, strict=True):
        assert mine.dtype == dtype
        assert_same_special(mine, reference, f"{name} gradient {position}", rtol)


def test_keep_finite_exclusions_are_real_inputs_with_reasons() -> None:
    for name, (positions, reason) in KEEP_FINITE.items():
        assert name in WITH_TORCH, f"KEEP_FINITE lists {name!r}, which has no torch spec"
        assert positions and reason.strip(), f"no positions or no reason for {name!r}"
