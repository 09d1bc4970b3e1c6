"""Numerical gradient checking: compare ``backward()`` with central finite differences.

:func:`gradcheck` is the public checker. It evaluates ``fn`` on float64 copies of the inputs and
compares the gradients that ``backward()`` computes (*analytic*) with central differences
``(f(x + eps) - f(x - eps)) / (2 eps)`` (*numerical*):

- **full Jacobian** when the checked inputs together and the output each have at most
  ``max_full_size`` elements (default :data:`FULL_JACOBIAN_MAX_SIZE` = 256): every entry
  ``d out[k] / d input[j]`` is compared, costing ``2 * (input elements)`` forward calls and
  ``(output elements)`` backward calls;
- **random projections** otherwise: for a random upstream gradient ``u`` and a random unit
  direction ``d`` per input, the analytic ``<backward(u), d>`` is compared with the numerical
  directional derivative ``<u, (f(x + eps d) - f(x - eps d)) / (2 eps)>``, ``num_projections``
  times. A failing projection is narrowed down to one input element by bisection, so the
  error message still names an element.

An entry passes when ``|analytic - numerical| <= atol + rtol * |numerical|`` (as
``numpy.isclose``); NaN or infinity on either side fails. :func:`numerical_jacobian` and
:func:`numerical_gradient` expose the finite differences for reuse in tests.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from tinygrad_cnn.grad_mode import no_grad
from tinygrad_cnn.tensor import Tensor

#: Largest number of checked input elements (summed over inputs), and of output elements, for
#: which :func:`gradcheck` compares the full Jacobian; above it, random projections are used.
FULL_JACOBIAN_MAX_SIZE = 256

#: Number of random projections per input in projection mode.
NUM_PROJECTIONS = 3

_MODES = ("auto", "full", "projection")


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
    ) -> None:
        super().__init__(message)
        self.input_index = input_index
        self.element_index = element_index
        self.output_index = output_index
        self.analytic = analytic
        self.numerical = numerical
        self.relative_error = relative_error


class GradcheckWarning(UserWarning):
    """The check ran, but on something it could not check faithfully (e.g. float32 inputs)."""


# ---------------------------------------------------------------------- inputs and evaluation
def _to_arrays(op: str, inputs: Sequence[Any]) -> list[np.ndarray]:
    """The arrays behind ``inputs`` (Tensors or array-likes), not copied yet."""
    arrays = []
    for position, value in enumerate(inputs):
        if value is None:
            raise TypeError(f"{op}: input {position} must be a Tensor or an array, got None")
        array = np.asarray(value.data if isinstance(value, Tensor) else value)
        if not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
            raise TypeError(
                f"{op}: input {position} must be a Tensor or a numeric array, got "
                f"{type(value).__name__} of dtype {array.dtype}"
            )
        arrays.append(array)
    if not arrays:
        raise ValueError(f"{op}: expected at least one input, got none")
    return arrays


def _checked_positions(op: str, arrays: list[np.ndarray], wrt: Sequence[int] | None) -> list[int]:
    """Positions of the inputs whose gradients are checked (default: every float input)."""
    floating = [i for i, a in enumerate(arrays) if np.issubdtype(a.dtype, np.floating)]
    if wrt is None:
        if not floating:
            dtypes = [str(a.dtype) for a in arrays]
            raise ValueError(f"{op}: no floating-point input to check, got dtypes {dtypes}")
        return floating
    positions = []
    for position in wrt:
        if isinstance(position, bool) or not isinstance(position, int | np.integer):
            raise TypeError(f"{op}: wrt must hold input positions (ints), got {wrt!r}")
        if not 0 <= position < len(arrays):
            raise ValueError(
                f"{op}: wrt position {position} is out of range for {len(arrays)} inputs"
            )
        if position not in floating:
            raise ValueError(
                f"{op}: input {position} has dtype {arrays[position].dtype}; only "
                f"floating-point inputs have gradients"
            )
        if position in positions:
            raise ValueError(f"{op}: wrt repeats input {position}")
        positions.append(int(position))
    if not positions:
        raise ValueError(f"{op}: wrt is empty: nothing to check")
    return positions


def _float64_copies(op: str, arrays: list[np.ndarray], warn: bool) -> list[np.ndarray]:
    """Private copies of the inputs with every floating-point one in float64."""
    copies = []
    for position, array in enumerate(arrays):
        if np.issubdtype(array.dtype, np.floating):
            if warn and array.dtype != np.float64:
                warnings.warn(
                    f"{op}: input {position} has dtype {array.dtype}; central differences are "
                    f"too imprecise below float64, so it is checked as a float64 copy and "
                    f"{array.dtype}-specific bugs are not covered (tinygrad_cnn.testing."
                    f"assert_grads checks gradient dtypes)",
                    GradcheckWarning,
                    stacklevel=3,
                )
            copies.append(np.array(array, dtype=np.float64, copy=True))
        else:
            copies.append(np.array(array, copy=True))
    return copies


def _call(op: str, fn: Callable[..., Tensor], tensors: list[Tensor]) -> Tensor:
    out = fn(*tensors)
    if not isinstance(out, Tensor):
        raise TypeError(f"{op}: fn must return a Tensor, got {type(out).__name__}")
    if not np.issubdtype(out.dtype, np.floating):
        raise TypeError(f"{op}: fn must return a floating-point Tensor, got dtype {out.dtype}")
    return out


def _evaluate(fn: Callable[..., Tensor], arrays: list[np.ndarray], op: str) -> np.ndarray:
    """``fn`` on constant tensors made from ``arrays``, as a new float64 array.

    A copy, since ops such as reshape return views of their input, which the caller perturbs.
    """
    with no_grad():
        out = _call(op, fn, [Tensor(a) for a in arrays])
    return np.array(out.data, dtype=np.float64, copy=True)


def _directional(
    fn: Callable[..., Tensor],
    arrays: list[np.ndarray],
    position: int,
    direction: np.ndarray,
    upstream: np.ndarray,
    eps: float,
    op: str,
) -> float:
    """``<upstream, d fn / d input[position] along direction>`` by central differences."""
    x = arrays[position]
    plus, minus = list(arrays), list(arrays)
    plus[position], minus[position] = x + eps * direction, x - eps * direction
    difference = _evaluate(fn, plus, op) - _evaluate(fn, minus, op)
    return float(np.sum(upstream * difference)) / (2 * eps)


def _element_derivatives(
    fn: Callable[..., Tensor], arrays: list[np.ndarray], position: int, eps: float, op: str
) -> tuple[np.ndarray, ...]:
    """For each element j of input ``position``: (f(x + eps e_j) - f(x - eps e_j)) / step_j."""
    work = list(arrays)
    x = np.array(arrays[position], dtype=np.float64, copy=True)
    work[position] = x
    flat = x.reshape(-1)
    columns = []
    for j in range(x.size):
        original = flat[j]
        flat[j] = original + eps
        plus = _evaluate(fn, work, op)
        step = flat[j]
        flat[j] = original - eps
        minus = _evaluate(fn, work, op)
        step -= flat[j]
        flat[j] = original
        columns.append(((plus - minus) / step).reshape(-1))
    return tuple(columns)


def numerical_jacobian(
    fn: Callable[..., Tensor], *inputs: Any, wrt: int = 0, eps: float = 1e-6
) -> np.ndarray:
    """The Jacobian of ``fn`` with respect to one input, by central differences in float64.

    Parameters
    ----------
    fn : callable
        Takes one Tensor per input and returns a Tensor of any shape.
    *inputs : Tensor or array_like
        The point at which to differentiate (never modified; floats are used as float64).
    wrt : int, default 0
        Position of the input to differentiate with respect to.
    eps : float, default 1e-6
        Half the step of the central difference.

    Returns
    -------
    ndarray, shape (output size, input size)
        ``J[k, j] = d out.flat[k] / d input.flat[j]``.

    Examples
    --------
    >>> import numpy as np
    >>> J = numerical_jacobian(lambda x: x * x, np.array([1.0, 2.0]))
    >>> np.round(J, 6)
    array([[2., 0.],
           [0., 4.]])
    """
    op = "numerical_jacobian"
    arrays = _to_arrays(op, inputs)
    (position,) = _checked_positions(op, arrays, [wrt])
    arrays = _float64_copies(op, arrays, warn=False)
    out_size = _evaluate(fn, arrays, op).size
    columns = _element_derivatives(fn, arrays, position, eps, op)
    if not columns:
        return np.zeros((out_size, 0))
    return np.stack(columns, axis=1)


def numerical_gradient(
    fn: Callable[..., Tensor],
    *inputs: Any,
    upstream: Any = None,
    wrt: Sequence[int] | None = None,
    eps: float = 1e-6,
) -> tuple[np.ndarray | None, ...]:
    """The gradient of ``sum(upstream * fn(*inputs))`` by central differences in float64.

    This is what ``fn(*inputs).backward(upstream)`` should leave in each input's ``.grad``.

    Parameters
    ----------
    fn : callable
        Takes one Tensor per input and returns a Tensor.
    *inputs : Tensor or array_like
        The point at which to differentiate (never modified).
    upstream : array_like, optional
        The upstream gradient, shape of the output; default all ones.
    wrt : sequence of int, optional
        Positions of the inputs to differentiate; default every floating-point input.
    eps : float, default 1e-6
        Half the step of the central difference.

    Returns
    -------
    tuple of ndarray or None
        One float64 gradient per input, shaped like it; ``None`` for inputs not in ``wrt``.

    Examples
    --------
    >>> import numpy as np
    >>> grads = numerical_gradient(lambda a, b: (a * b).sum(), np.array([1.0, 2.0]),
    ...                            np.array([3.0, 4.0]))
    >>> [np.round(g, 6) for g in grads]
    [array([3., 4.]), array([1., 2.])]
    """
    op = "numerical_gradient"
    arrays = _to_arrays(op, inputs)
    positions = _checked_positions(op, arrays, wrt)
    arrays = _float64_copies(op, arrays, warn=False)
    out_shape = _evaluate(fn, arrays, op).shape
    weights = np.ones(out_shape) if upstream is None else np.asarray(upstream, dtype=np.float64)
    if weights.shape != out_shape:
        raise ValueError(
            f"{op}: upstream has shape {weights.shape}, expected the output's shape {out_shape}"
        )
    weights = weights.reshape(-1)
    grads: list[np.ndarray | None] = [None] * len(arrays)
    for position in positions:
        columns = _element_derivatives(fn, arrays, position, eps, op)
        values = [float(weights @ column) for column in columns]
        grads[position] = np.array(values, dtype=np.float64).reshape(arrays[position].shape)
    return tuple(grads)


# ---------------------------------------------------------------------- analytic side
class _Analytic:
    """``fn`` recorded once on float64 copies; ``vjp(u)`` runs ``backward(u)`` on that graph."""

    def __init__(
        self, fn: Callable[..., Tensor], arrays: list[np.ndarray], positions: list[int], op: str
    ) -> None:
        self.positions = positions
        self.tensors = [
            Tensor(np.array(a, copy=True), requires_grad=i in positions)
            for i, a in enumerate(arrays)
        ]
        self.out = _call(op, fn, self.tensors)

    def vjp(self, upstream: np.ndarray) -> dict[int, np.ndarray]:
        """Gradient of each checked input for ``upstream`` (zeros where none arrives)."""
        for tensor in self.tensors:
            tensor.grad = None
        if self.out.requires_grad:
            self.out.backward(np.array(upstream, dtype=self.out.dtype), retain_graph=True)
        grads = {}
        for position in self.positions:
            tensor = self.tensors[position]
            grad = np.zeros(tensor.shape) if tensor.grad is None else tensor.grad
            grads[position] = np.asarray(grad, dtype=np.float64)
        return grads


# ---------------------------------------------------------------------- comparison
def _excess(analytic: np.ndarray, numerical: np.ndarray, atol: float, rtol: float) -> np.ndarray:
    """``|a - n| / (atol + rtol |n|)``: above 1 means out of tolerance; non-finite -> inf."""
    difference = np.abs(analytic - numerical)
    allowed = atol + rtol * np.abs(numerical)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(allowed > 0, difference / allowed, np.where(difference > 0, np.inf, 0.0))
    finite = np.isfinite(analytic) & np.isfinite(numerical)
    return np.where(finite, ratio, np.inf)


def _relative_error(analytic: float, numerical: float) -> float:
    difference = abs(analytic - numerical)
    if numerical == 0:
        return 0.0 if difference == 0 else float("inf")
    return difference / abs(numerical)


def _failure(
    *,
    position: int,
    array: np.ndarray,
    element: tuple[int, ...],
    output: tuple[int, ...] | None,
    analytic: float,
    numerical: float,
    atol: float,
    rtol: float,
    summary: str,
) -> GradcheckError:
    relative = _relative_error(analytic, numerical)
    where = f"input index {element}"
    where += (
        f", output index {output}" if output is not None else " (projected on a random upstream)"
    )
    message = (
        f"gradcheck: the gradient of input {position} (shape {array.shape}) disagrees with "
        f"central differences\n"
        f"  worst element: {where}\n"
        f"  analytic (backward):             {analytic!r}\n"
        f"  numerical (central differences): {numerical!r}\n"
        f"  absolute error {abs(analytic - numerical):.6g}, relative error {relative:.6g} "
        f"(allowed: atol {atol:g} + rtol {rtol:g} * |numerical| = "
        f"{atol + rtol * abs(numerical):.6g})\n"
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
    )


def _check_full(
    fn: Callable[..., Tensor],
    arrays: list[np.ndarray],
    analytic: _Analytic,
    eps: float,
    atol: float,
    rtol: float,
    op: str,
) -> None:
    out_shape = analytic.out.shape
    out_size = int(np.prod(out_shape))
    rows: dict[int, list[np.ndarray]] = {p: [] for p in analytic.positions}
    for k in range(out_size):
        upstream = np.zeros(out_size)
        upstream[k] = 1.0
        for position, grad in analytic.vjp(upstream.reshape(out_shape)).items():
            rows[position].append(grad.reshape(-1))
    for position in analytic.positions:
        x = arrays[position]
        if x.size == 0 or out_size == 0:
            continue
        numerical = np.stack(_element_derivatives(fn, arrays, position, eps, op), axis=1)
        exact = np.stack(rows[position], axis=0)
        excess = _excess(exact, numerical, atol, rtol)
        worst = np.unravel_index(int(np.argmax(excess)), excess.shape)
        if excess[worst] > 1:
            bad = int(np.count_nonzero(excess > 1))
            raise _failure(
                position=position,
                array=x,
                element=tuple(int(i) for i in np.unravel_index(worst[1], x.shape)),
                output=tuple(int(i) for i in np.unravel_index(worst[0], out_shape)),
                analytic=float(exact[worst]),
                numerical=float(numerical[worst]),
                atol=atol,
                rtol=rtol,
                summary=(
                    f"{bad} of {excess.size} Jacobian entries are out of tolerance "
                    f"(mode: full Jacobian, eps={eps:g})"
                ),
            )


def _bisect(
    fn: Callable[..., Tensor],
    arrays: list[np.ndarray],
    position: int,
    grad: np.ndarray,
    direction: np.ndarray,
    upstream: np.ndarray,
    tolerances: tuple[float, float, float],
    op: str,
) -> int:
    """Narrow a failing projection to one element: keep the half whose projection errs most."""
    eps, atol, rtol = tolerances
    candidates = np.arange(arrays[position].size)
    flat_direction, flat_grad = direction.reshape(-1), grad.reshape(-1)
    while candidates.size > 1:
        halves = np.array_split(candidates, 2)
        errors = []
        for half in halves:
            part = np.zeros(direction.size)
            part[half] = flat_direction[half]
            exact = float(flat_grad[half] @ flat_direction[half])
            numerical = _directional(
                fn, arrays, position, part.reshape(direction.shape), upstream, eps, op
            )
            errors.append(float(_excess(np.array(exact), np.array(numerical), atol, rtol)))
        candidates = halves[int(np.argmax(errors))]
    return int(candidates[0])


def _check_projections(
    fn: Callable[..., Tensor],
    arrays: list[np.ndarray],
    analytic: _Analytic,
    tolerances: tuple[float, float, float],
    num_projections: int,
    seed: int | None,
    op: str,
) -> None:
    eps, atol, rtol = tolerances
    rng = np.random.default_rng(seed)
    out_shape = analytic.out.shape
    for projection in range(num_projections):
        upstream = rng.standard_normal(out_shape)
        grads = analytic.vjp(upstream)
        for position in analytic.positions:
            x = arrays[position]
            if x.size == 0:
                continue
            direction = rng.standard_normal(x.shape)
            direction /= np.linalg.norm(direction)
            exact = float(np.sum(grads[position] * direction))
            numerical = _directional(fn, arrays, position, direction, upstream, eps, op)
            if float(_excess(np.array(exact), np.array(numerical), atol, rtol)) <= 1:
                continue
            flat = _bisect(
                fn, arrays, position, grads[position], direction, upstream, tolerances, op
            )
            unit = np.zeros(x.size)
            unit[flat] = 1.0
            element_numerical = _directional(
                fn, arrays, position, unit.reshape(x.shape), upstream, eps, op
            )
            raise _failure(
                position=position,
                array=x,
                element=tuple(int(i) for i in np.unravel_index(flat, x.shape)),
                output=None,
                analytic=float(grads[position].reshape(-1)[flat]),
                numerical=element_numerical,
                atol=atol,
                rtol=rtol,
                summary=(
                    f"projection {projection + 1} of {num_projections} failed: analytic "
                    f"<grad, d> = {exact!r}, numerical = {numerical!r} (mode: random "
                    f"projections, eps={eps:g}; the element was found by bisection)"
                ),
            )


def _validate_options(
    op: str, eps: float, atol: float, rtol: float, mode: str, max_full_size: int, n: int
) -> None:
    if not eps > 0:
        raise ValueError(f"{op}: eps must be positive, got {eps!r}")
    if not (atol >= 0 and rtol >= 0):
        raise ValueError(f"{op}: atol and rtol must be non-negative, got {atol!r} and {rtol!r}")
    if mode not in _MODES:
        raise ValueError(f"{op}: mode must be one of {_MODES}, got {mode!r}")
    if max_full_size < 0:
        raise ValueError(f"{op}: max_full_size must be non-negative, got {max_full_size!r}")
    if n < 1:
        raise ValueError(f"{op}: num_projections must be at least 1, got {n!r}")


def gradcheck(
    fn: Callable[..., Tensor],
    *inputs: Any,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    wrt: Sequence[int] | None = None,
    mode: str = "auto",
    max_full_size: int = FULL_JACOBIAN_MAX_SIZE,
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
        An entry passes when ``|analytic - numerical| <= atol + rtol * |numerical|``.
    wrt : sequence of int, optional
        Positions of the inputs whose gradients are checked; default every floating-point
        input. The other inputs are constants.
    mode : {'auto', 'full', 'projection'}, default 'auto'
        'auto' compares the full Jacobian when the checked inputs (together) and the output
        each have at most ``max_full_size`` elements, random projections otherwise.
    max_full_size : int, default 256
        The size threshold of 'auto'.
    num_projections : int, default 3
        Random (upstream, direction) pairs per input in projection mode.
    seed : int or None, default 0
        Seed of the random projections.

    Returns
    -------
    bool
        ``True`` (a failure raises).

    Raises
    ------
    GradcheckError
        (An ``AssertionError``.) Names the input, the worst element's index (and output index
        in full mode), the analytic and numerical values and the relative error.
    ValueError
        When ``fn``'s output is not finite at ``inputs``, or for invalid options.
    TypeError
        When ``fn`` does not return a floating-point Tensor.

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
    op = "gradcheck"
    if not callable(fn):
        raise TypeError(f"{op}: fn must be callable, got {type(fn).__name__}")
    _validate_options(op, eps, atol, rtol, mode, max_full_size, num_projections)
    arrays = _to_arrays(op, inputs)
    positions = _checked_positions(op, arrays, wrt)
    arrays = _float64_copies(op, arrays, warn=True)
    analytic = _Analytic(fn, arrays, positions, op)
    out = analytic.out
    if out.dtype != np.float64:
        warnings.warn(
            f"{op}: fn returned a {out.dtype} output from float64 inputs; central differences "
            f"of a low-precision output are inaccurate",
            GradcheckWarning,
            stacklevel=2,
        )
    if not np.all(np.isfinite(out.data)):
        bad = int(np.count_nonzero(~np.isfinite(out.data)))
        raise ValueError(
            f"{op}: fn's output has {bad} non-finite (NaN or inf) of {out.numel()} elements at "
            f"these inputs; check gradients at a point where fn is finite"
        )
    checked_size = sum(arrays[p].size for p in positions)
    full = mode == "full" or (
        mode == "auto" and checked_size <= max_full_size and out.numel() <= max_full_size
    )
    if full:
        _check_full(fn, arrays, analytic, eps, atol, rtol, op)
    else:
        tolerances = (eps, atol, rtol)
        _check_projections(fn, arrays, analytic, tolerances, num_projections, seed, op)
    return True
