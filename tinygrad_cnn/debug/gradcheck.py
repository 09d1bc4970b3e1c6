"""Numerical gradient checking: compare ``backward()`` with central finite differences.

:func:`gradcheck` evaluates ``fn`` on float64 copies of the inputs and compares the gradients
that ``backward()`` computes (*analytic*) with central differences
``(f(x + eps) - f(x - eps)) / (2 eps)`` (*numerical*):

- **full Jacobian** when the checked inputs together and the output each have at most
  ``full_jacobian_max`` elements (default :data:`FULL_JACOBIAN_MAX` = 256): every entry
  ``d out[k] / d input[j]`` is compared, costing ``2 * (input elements)`` forward calls and
  ``(output elements)`` backward calls;
- **random projections** otherwise: for a random upstream gradient ``u`` and a random unit
  direction ``d`` per input, the analytic ``<backward(u), d>`` is compared with the numerical
  directional derivative ``<u, (f(x + eps d) - f(x - eps d)) / (2 eps)>``, ``num_projections``
  times. A failing projection is narrowed down to one input element by bisection, so the
  error message still names an element.

The finite differences and the tolerance rule (``|analytic - numerical| <= atol + rtol *
|numerical|``, as ``torch.autograd.gradcheck``) come from :mod:`tinygrad_cnn.debug.numerical`.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from tinygrad_cnn.debug.numerical import (
    ATOL,
    EPS,
    NUM_PROJECTIONS,
    RTOL,
    RecordedFunction,
    Tolerance,
    as_arrays,
    checked_positions,
    directional_difference,
    element_differences,
    evaluate,
    float64_copies,
    relative_error,
    unit_direction,
    validate_options,
)
from tinygrad_cnn.tensor import Tensor

#: Largest number of checked input elements (summed over inputs), and of output elements, for
#: which :func:`gradcheck` compares the full Jacobian; above it, random projections are used.
FULL_JACOBIAN_MAX = 256

_MODES = ("auto", "full", "projection")
_OP = "gradcheck"


class GradcheckError(AssertionError):
    """A gradient computed by ``backward()`` disagrees with finite differences.

    Attributes
    ----------
    input_index : int
        Position of the input (in ``gradcheck``'s ``*inputs``) whose gradient is wrong.
    element_index : tuple of int or None
        Index of the worst element of that input (``None`` when not about one element).
    output_index : tuple of int or None
        Index of the output element of the worst Jacobian entry (full mode only).
    analytic, numerical : float
        The two values compared at that element.
    relative_error : float
        ``|analytic - numerical| / |numerical|`` (``inf`` when ``numerical`` is 0).
    summary : str
        How the check ran and how much failed (the message's last line).
    """

    def __init__(
        self,
        message: str,
        *,
        input_index: int | None = None,
        element_index: tuple[int, ...] | None = None,
        output_index: tuple[int, ...] | None = None,
        analytic: float = float("nan"),
        numerical: float = float("nan"),
        relative_error: float = float("nan"),
        summary: str = "",
    ) -> None:
        super().__init__(message)
        self.input_index = input_index
        self.element_index = element_index
        self.output_index = output_index
        self.analytic = analytic
        self.numerical = numerical
        self.relative_error = relative_error
        self.summary = summary


class GradcheckWarning(UserWarning):
    """The check ran, but on something it could not check faithfully (e.g. float32 inputs)."""


class _Checker:
    """One gradcheck: ``fn`` recorded on float64 copies, and its numerical side."""

    def __init__(
        self,
        fn: Callable[..., Tensor],
        arrays: list[np.ndarray],
        positions: list[int],
        eps: float,
        tolerance: Tolerance,
    ) -> None:
        self.arrays, self.eps, self.tolerance = arrays, eps, tolerance
        self.recorded = RecordedFunction(_OP, fn, arrays, positions)
        self.positions = positions
        self.evaluate = functools.partial(evaluate, _OP, fn)  # fn without a graph, in float64

    def vjp(self, upstream: np.ndarray) -> dict[int, np.ndarray]:
        """Gradient of each checked input for ``upstream``, in float64 (zeros where none)."""
        out = self.recorded.out
        grads = self.recorded.vjp(np.array(upstream, dtype=out.dtype))
        return {
            p: np.zeros(self.arrays[p].shape) if g is None else np.asarray(g, dtype=np.float64)
            for p, g in zip(self.positions, grads, strict=True)
        }

    def directional(self, position: int, direction: np.ndarray, upstream: np.ndarray) -> float:
        """``<upstream, d fn / d input[position] along direction>`` by central differences."""
        difference = directional_difference(
            self.evaluate, self.arrays, position, direction, self.eps
        )
        return float(np.sum(upstream * (difference.plus - difference.minus))) / difference.step

    def failure(
        self,
        *,
        position: int,
        element: tuple[int, ...],
        output: tuple[int, ...] | None,
        analytic: float,
        numerical: float,
        summary: str,
    ) -> GradcheckError:
        relative = relative_error(analytic, numerical)
        tolerance = self.tolerance
        where = f"input index {element}"
        where += (
            f", output index {output}"
            if output is not None
            else " (projected on a random upstream)"
        )
        message = (
            f"gradcheck: the gradient of input {position} (shape {self.arrays[position].shape}) "
            f"disagrees with central differences\n"
            f"  worst element: {where}\n"
            f"  analytic (backward):             {analytic!r}\n"
            f"  numerical (central differences): {numerical!r}\n"
            f"  absolute error {abs(analytic - numerical):.6g}, relative error {relative:.6g} "
            f"(allowed: atol {tolerance.atol:g} + rtol {tolerance.rtol:g} * |numerical| = "
            f"{tolerance.allowed(numerical):.6g})\n"
            f"  {summary}"
        )
        return GradcheckError(
            message,
            input_index=position,
            element_index=element,
            output_index=output,
            analytic=analytic,
            numerical=numerical,
            relative_error=relative,
            summary=summary,
        )

    def check_full(self) -> None:
        out_shape = self.recorded.out.shape
        out_size = int(np.prod(out_shape))
        rows: dict[int, list[np.ndarray]] = {p: [] for p in self.positions}
        for k in range(out_size):
            upstream = np.zeros(out_size)
            upstream[k] = 1.0
            for position, grad in self.vjp(upstream.reshape(out_shape)).items():
                rows[position].append(grad.reshape(-1))
        for position in self.positions:
            x = self.arrays[position]
            if x.size == 0 or out_size == 0:
                continue
            differences = element_differences(self.evaluate, self.arrays, position, self.eps)
            numerical = np.stack([d.central.reshape(-1) for d in differences], axis=1)
            exact = np.stack(rows[position], axis=0)
            excess = self.tolerance.excess(exact, numerical)
            worst = np.unravel_index(int(np.argmax(excess)), excess.shape)
            if excess[worst] > 1:
                bad = int(np.count_nonzero(excess > 1))
                raise self.failure(
                    position=position,
                    element=tuple(int(i) for i in np.unravel_index(worst[1], x.shape)),
                    output=tuple(int(i) for i in np.unravel_index(worst[0], out_shape)),
                    analytic=float(exact[worst]),
                    numerical=float(numerical[worst]),
                    summary=(
                        f"{bad} of {excess.size} Jacobian entries are out of tolerance "
                        f"(mode: full Jacobian, eps={self.eps:g})"
                    ),
                )

    def bisect(
        self, position: int, grad: np.ndarray, direction: np.ndarray, upstream: np.ndarray
    ) -> int:
        """Narrow a failing projection to one element: keep the half whose projection errs
        most (about ``4 log2(n)`` more calls of ``fn``)."""
        candidates = np.arange(self.arrays[position].size)
        flat_direction, flat_grad = direction.reshape(-1), grad.reshape(-1)
        while candidates.size > 1:
            halves = np.array_split(candidates, 2)
            errors = []
            for half in halves:
                part = np.zeros(direction.size)
                part[half] = flat_direction[half]
                exact = float(flat_grad[half] @ flat_direction[half])
                numerical = self.directional(position, part.reshape(direction.shape), upstream)
                errors.append(float(self.tolerance.excess(exact, numerical)))
            candidates = halves[int(np.argmax(errors))]
        return int(candidates[0])

    def check_projections(self, num_projections: int, seed: int | None) -> None:
        rng = np.random.default_rng(seed)
        out_shape = self.recorded.out.shape
        for projection in range(num_projections):
            upstream = rng.standard_normal(out_shape)
            grads = self.vjp(upstream)
            for position in self.positions:
                x = self.arrays[position]
                if x.size == 0:
                    continue
                direction = unit_direction(rng, x.shape)
                exact = float(np.sum(grads[position] * direction))
                numerical = self.directional(position, direction, upstream)
                if self.tolerance.accepts(exact, numerical):
                    continue
                flat = self.bisect(position, grads[position], direction, upstream)
                unit = np.zeros(x.size)
                unit[flat] = 1.0
                element_numerical = self.directional(position, unit.reshape(x.shape), upstream)
                raise self.failure(
                    position=position,
                    element=tuple(int(i) for i in np.unravel_index(flat, x.shape)),
                    output=None,
                    analytic=float(grads[position].reshape(-1)[flat]),
                    numerical=element_numerical,
                    summary=(
                        f"projection {projection + 1} of {num_projections} failed: analytic "
                        f"<grad, d> = {exact!r}, numerical = {numerical!r} (mode: random "
                        f"projections, eps={self.eps:g}; the element was found by bisection)"
                    ),
                )


def checked_inputs(
    op: str,
    fn: Any,
    inputs: Sequence[Any],
    wrt: Any,
    mode: str,
    options: dict[str, Any],
    precision_note: str = "",
) -> tuple[Tolerance, list[np.ndarray], list[int]]:
    """The checks ``gradcheck`` and ``gradgradcheck`` open with, in one place.

    Validates ``fn``, the options and ``mode``; returns the tolerance, float64 copies of the
    inputs and the positions to check. A floating input below float64 gets a
    :class:`GradcheckWarning` (``precision_note``, formatted with ``dtype``, ends it),
    attributed to the caller of the check.
    """
    if not callable(fn):
        raise TypeError(f"{op}: fn must be callable, got {type(fn).__name__}")
    tolerance = validate_options(op, **options)
    if mode not in _MODES:
        raise ValueError(f"{op}: mode must be one of {_MODES}, got {mode!r}")
    arrays = as_arrays(op, inputs)
    positions = checked_positions(op, arrays, wrt)
    for position, array in enumerate(arrays):
        if np.issubdtype(array.dtype, np.floating) and array.dtype != np.float64:
            warnings.warn(
                f"{op}: input {position} has dtype {array.dtype}; central differences are "
                f"too imprecise below float64, so it is checked as a float64 copy"
                + precision_note.format(dtype=array.dtype),
                GradcheckWarning,
                stacklevel=3,
            )
    return tolerance, float64_copies(arrays), positions


def gradcheck(
    fn: Callable[..., Tensor],
    *inputs: Any,
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
    """Check the gradients of ``fn`` against central finite differences, in float64.

    Parameters
    ----------
    fn : callable
        Takes one Tensor per input and returns a floating-point Tensor of any shape.
    *inputs : Tensor or array_like
        The point at which to check. Never modified: ``fn`` runs on float64 copies.
        Integer inputs (labels, indices) are passed through unchanged and not checked.
    eps : float, default 1e-6
        Half the step of the central difference.
    atol, rtol : float, default 1e-5 and 1e-3
        An entry passes when ``|analytic - numerical| <= atol + rtol * |numerical|``
        (:class:`~tinygrad_cnn.debug.numerical.Tolerance`).
    raise_exception : bool, default True
        On a wrong gradient, raise :class:`GradcheckError` (True) or return ``False``, as
        ``torch.autograd.gradcheck``.
    wrt : sequence of int, optional
        Positions of the inputs whose gradients are checked; default every floating-point
        input. The other inputs are constants.
    mode : {'auto', 'full', 'projection'}, default 'auto'
        'auto' compares the full Jacobian when the checked inputs (together) and the output
        each have at most ``full_jacobian_max`` elements, random projections otherwise.
    full_jacobian_max : int, default 256
        The size threshold of 'auto'.
    num_projections : int, default 3
        Random (upstream, direction) pairs per input in projection mode.
    seed : int or None, default 0
        Seed of the random projections.

    Returns
    -------
    bool
        ``True``; ``False`` for a wrong gradient when ``raise_exception`` is False.

    Raises
    ------
    GradcheckError
        (An ``AssertionError``.) Names the input, the worst element's index (and output index
        in full mode), the analytic and numerical values and the relative error.
    ValueError
        When ``fn``'s output is not finite at ``inputs``, or for invalid options.
    TypeError
        When ``fn`` does not return a floating-point Tensor, or an option has the wrong type.

    Warns
    -----
    GradcheckWarning
        For inputs below float64 precision (checked as float64 copies), and when ``fn``
        returns a lower-precision output from float64 inputs.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([[0.5, -1.0, 2.0]])
    >>> gradcheck(lambda t: (t * t.sigmoid()).sum(axis=1), x)
    True
    """
    tolerance, arrays, positions = checked_inputs(
        _OP,
        fn,
        inputs,
        wrt,
        mode,
        dict(
            eps=eps,
            atol=atol,
            rtol=rtol,
            num_projections=num_projections,
            full_jacobian_max=full_jacobian_max,
        ),
        " and {dtype}-specific bugs are not covered (tinygrad_cnn.testing.assert_grads checks "
        "gradient dtypes)",
    )
    checker = _Checker(fn, arrays, positions, float(eps), tolerance)
    out = checker.recorded.out
    if not np.issubdtype(out.dtype, np.floating):
        raise TypeError(f"{_OP}: fn must return a floating-point Tensor, got dtype {out.dtype}")
    if out.dtype != np.float64:
        warnings.warn(
            f"{_OP}: fn returned a {out.dtype} output from float64 inputs; central differences "
            f"of a low-precision output are inaccurate",
            GradcheckWarning,
            stacklevel=2,
        )
    if not np.all(np.isfinite(out.data)):
        bad = int(np.count_nonzero(~np.isfinite(out.data)))
        raise ValueError(
            f"{_OP}: fn's output has {bad} non-finite (NaN or inf) of {out.numel()} elements at "
            f"these inputs; check gradients at a point where fn is finite"
        )
    checked_size = sum(arrays[p].size for p in positions)
    full = mode == "full" or (
        mode == "auto" and checked_size <= full_jacobian_max and out.numel() <= full_jacobian_max
    )
    try:
        if full:
            checker.check_full()
        else:
            checker.check_projections(num_projections, seed)
    except GradcheckError:
        if raise_exception:
            raise
        return False
    return True
