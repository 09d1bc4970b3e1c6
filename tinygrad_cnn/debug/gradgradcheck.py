"""Second derivatives checked against central differences of first derivatives.

:func:`gradgradcheck` is ``torch.autograd.gradgradcheck``: it differentiates
``grad_outputs · d fn / d inputs`` (the first derivatives, computed with
``create_graph=True``) once more by ``backward()`` and compares the result with central
differences of those first derivatives, with respect to the inputs and to ``grad_outputs``.
It is :func:`~tinygrad_cnn.debug.gradcheck.gradcheck` applied to the function
``(inputs, grad_outputs) -> first derivatives``, so the modes (full Jacobian or random
projections), the tolerance rule and the options are gradcheck's, from
:mod:`tinygrad_cnn.debug.numerical`; a failure names the second derivative that is wrong.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from tinygrad_cnn.autograd import grad
from tinygrad_cnn.debug.gradcheck import (
    FULL_JACOBIAN_MAX,
    GradcheckError,
    checked_inputs,
    gradcheck,
)
from tinygrad_cnn.debug.numerical import (
    ATOL,
    EPS,
    NUM_PROJECTIONS,
    RTOL,
    as_arrays,
    evaluate,
)
from tinygrad_cnn.grad_mode import enable_grad
from tinygrad_cnn.ops import concatenate
from tinygrad_cnn.tensor import Tensor

_OP = "gradgradcheck"


class GradgradcheckError(GradcheckError):
    """A second derivative computed by ``backward()`` disagrees with finite differences.

    The attributes of :class:`GradcheckError` describe the entry of the Hessian (times
    ``grad_outputs``) that is wrong: ``input_index`` and ``element_index`` say what it is
    differentiated *with respect to* (``input_index == len(inputs)`` means ``grad_outputs``),
    and:

    Attributes
    ----------
    gradient_index : int or None
        Position of the input whose first derivative was differentiated (``None`` in
        projection mode, where a random combination of them is).
    gradient_element : tuple of int or None
        The element of that first derivative.
    """

    def __init__(
        self,
        message: str,
        *,
        gradient_index: int | None,
        gradient_element: tuple[int, ...] | None,
        **details: Any,
    ) -> None:
        super().__init__(message, **details)
        self.gradient_index = gradient_index
        self.gradient_element = gradient_element


def _as_inputs(inputs: Any) -> list[Any]:
    """``inputs`` as a list: a tuple or list holds several inputs, anything else is one."""
    return list(inputs) if isinstance(inputs, tuple | list) else [inputs]


def _upstream(grad_outputs: Any, shape: tuple[int, ...], seed: int | None) -> np.ndarray:
    """The float64 ``grad_outputs`` of fn's output (random standard normal when None)."""
    if grad_outputs is None:
        return np.random.default_rng(seed).standard_normal(shape)
    items = _as_inputs(grad_outputs)
    if len(items) != 1:
        raise ValueError(
            f"{_OP}: fn has one output, so grad_outputs must hold one array, got {len(items)}"
        )
    (array,) = as_arrays(_OP, items)
    if array.shape != shape:
        raise ValueError(
            f"{_OP}: grad_outputs has shape {array.shape}, expected the output's shape {shape}"
        )
    return np.array(array, dtype=np.float64, copy=True)


def _first_derivatives(
    fn: Callable[..., Tensor], positions: list[int], count: int
) -> Callable[..., Tensor]:
    """``(*inputs, grad_outputs) -> grad_outputs · d fn / d inputs[positions]``, recorded.

    The gradients are flattened and concatenated when there are several. Called by gradcheck
    on recorded inputs (which require grad) and, for the central differences, on constants:
    those get fresh leaves, as the first derivatives need inputs that require grad.
    """

    def first(*tensors: Tensor) -> Tensor:
        upstream = tensors[count]
        with enable_grad():
            leaves = [
                Tensor(t.data, requires_grad=True) if i in positions and not t.requires_grad else t
                for i, t in enumerate(tensors[:count])
            ]
            out = fn(*leaves)
            grads = grad(
                out,
                [leaves[p] for p in positions],
                grad_outputs=upstream,
                create_graph=True,
                allow_unused=True,
            )
            pieces = [
                Tensor(np.zeros(leaves[p].shape)) if g is None else g
                for p, g in zip(positions, grads, strict=True)
            ]
            if len(pieces) == 1:
                return pieces[0]
            return concatenate([piece.reshape(-1) for piece in pieces])

    return first


def _describe(
    error: GradcheckError,
    arrays: list[np.ndarray],
    upstream: np.ndarray,
    positions: list[int],
    tolerance_line: str,
) -> GradgradcheckError:
    """gradcheck's failure on the first derivatives, told as a wrong second derivative."""
    count = len(arrays)
    gradient_index: int | None = None
    gradient_element: tuple[int, ...] | None = None
    if error.output_index is not None:
        if len(positions) == 1:
            gradient_index, gradient_element = positions[0], error.output_index
        else:
            flat = int(error.output_index[0])
            for p in positions:
                if flat < arrays[p].size:
                    gradient_index = p
                    gradient_element = tuple(
                        int(i) for i in np.unravel_index(flat, arrays[p].shape)
                    )
                    break
                flat -= arrays[p].size
    if gradient_index is None:
        differentiated = "grad_outputs · d fn / d inputs (projected on a random upstream)"
    else:
        differentiated = (
            f"element {gradient_element} of the gradient of input {gradient_index} "
            f"(grad_outputs · d fn / d input {gradient_index})"
        )
    position = error.input_index
    if position == count:
        respect = f"grad_outputs (shape {upstream.shape}), element {error.element_index}"
    else:
        shape = arrays[position].shape if position is not None else ()
        respect = f"input {position} (shape {shape}), element {error.element_index}"
    message = (
        f"{_OP}: a second derivative disagrees with central differences of the first "
        f"derivatives\n"
        f"  differentiated:  {differentiated}\n"
        f"  with respect to: {respect}\n"
        f"  analytic (backward of the create_graph=True gradient): {error.analytic!r}\n"
        f"  numerical (central differences of the gradient):       {error.numerical!r}\n"
        f"  {tolerance_line}\n"
        f"  {error.summary}"
    )
    return GradgradcheckError(
        message,
        gradient_index=gradient_index,
        gradient_element=gradient_element,
        input_index=position,
        element_index=error.element_index,
        output_index=error.output_index,
        analytic=error.analytic,
        numerical=error.numerical,
        relative_error=error.relative_error,
        summary=error.summary,
    )


def gradgradcheck(
    fn: Callable[..., Tensor],
    inputs: Any,
    grad_outputs: Any = None,
    *,
    eps: float = EPS,
    atol: float = ATOL,
    rtol: float = RTOL,
    raise_exception: bool = True,
    wrt: Sequence[int] | None = None,
    mode: str = "auto",
    full_jacobian_max: int = FULL_JACOBIAN_MAX,
    num_projections: int = NUM_PROJECTIONS,
    seed: int | None = 0,
) -> bool:
    """Check the second derivatives of ``fn`` against central differences, in float64.

    As ``torch.autograd.gradgradcheck``: the first derivatives
    ``G(inputs, v) = v · d fn / d inputs`` (``v`` = ``grad_outputs``) are computed with
    ``create_graph=True``, and their gradients by ``backward()`` (vector-Hessian products, and
    the derivative with respect to ``v``) are compared with central differences of ``G``.

    Parameters
    ----------
    fn : callable
        Takes one Tensor per input and returns a floating-point Tensor of any shape.
    inputs : Tensor, array_like, or tuple or list of them
        The point at which to check: a tuple or list holds one entry per argument of ``fn``,
        anything else is the only argument. Never modified: ``fn`` runs on float64 copies.
        Integer inputs are passed through unchanged and not checked.
    grad_outputs : Tensor or array_like, or a one-element tuple or list of it, optional
        ``v``, of ``fn``'s output shape; default random standard normal (from ``seed``).
    eps : float, default 1e-6
        Half the step of the central differences.
    atol, rtol : float, default 1e-5 and 1e-3
        An entry passes when ``|analytic - numerical| <= atol + rtol * |numerical|``.
    raise_exception : bool, default True
        On a wrong second derivative, raise :class:`GradgradcheckError` (True) or return False.
    wrt : sequence of int, optional
        Positions of the inputs differentiated (twice); default every floating-point input.
        The derivative with respect to ``grad_outputs`` is always checked.
    mode : {'auto', 'full', 'projection'}, default 'auto'
        As :func:`~tinygrad_cnn.debug.gradcheck.gradcheck`, for the function ``G``: its inputs
        are the checked inputs and ``v``, its output the first derivatives.
    full_jacobian_max : int, default 256
        The size threshold of 'auto'.
    num_projections : int, default 3
        Random (upstream, direction) pairs per input in projection mode.
    seed : int or None, default 0
        Seed of the random ``grad_outputs`` and of the random projections.

    Returns
    -------
    bool
        ``True``; ``False`` for a wrong second derivative when ``raise_exception`` is False.

    Raises
    ------
    GradgradcheckError
        (A :class:`GradcheckError`.) Names the first derivative (input and element)
        differentiated, what it was differentiated with respect to (input or
        ``grad_outputs``, and element), the analytic and numerical values and the error.
    RuntimeError
        When an op on the way has a backward that is not differentiable (no second order).
    ValueError, TypeError
        For invalid options, inputs or ``grad_outputs``, or a non-float output of ``fn``.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([0.5, -1.0, 2.0])
    >>> gradgradcheck(lambda t: t.tanh() * t, x)
    True
    """
    tolerance, arrays, positions = checked_inputs(
        _OP,
        fn,
        _as_inputs(inputs),
        wrt,
        mode,
        dict(
            eps=eps,
            atol=atol,
            rtol=rtol,
            num_projections=num_projections,
            full_jacobian_max=full_jacobian_max,
        ),
    )
    upstream = _upstream(grad_outputs, evaluate(_OP, fn, arrays).shape, seed)
    count = len(arrays)
    try:
        return gradcheck(
            _first_derivatives(fn, positions, count),
            *arrays,
            upstream,
            eps=eps,
            atol=atol,
            rtol=rtol,
            wrt=[*positions, count],
            mode=mode,
            full_jacobian_max=full_jacobian_max,
            num_projections=num_projections,
            seed=seed,
        )
    except GradcheckError as error:
        line = (
            f"absolute error {abs(error.analytic - error.numerical):.6g}, relative error "
            f"{error.relative_error:.6g} (allowed: atol {tolerance.atol:g} + rtol "
            f"{tolerance.rtol:g} * |numerical| = {tolerance.allowed(error.numerical):.6g})"
        )
        failure = _describe(error, arrays, upstream, positions, line)
        if raise_exception:
            raise failure from None
        return False
