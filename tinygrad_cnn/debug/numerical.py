"""The numerical core of every gradient check: recorded functions, central differences, one
tolerance rule and one set of option names.

:func:`~tinygrad_cnn.debug.gradcheck.gradcheck`, :func:`tinygrad_cnn.testing.assert_grads` and
:func:`~tinygrad_cnn.debug.check_graph.check_graph` build on these pieces:

- **inputs**: :func:`as_arrays`, :func:`checked_positions` (which inputs have gradients) and
  :func:`float64_copies`;
- **the analytic side**: :class:`RecordedFunction`, ``fn`` recorded once on private copies of
  the inputs, whose :meth:`~RecordedFunction.vjp` runs ``backward(upstream)`` again and again;
- **the numerical side**: :func:`evaluate` (``fn`` without a graph), central differences along
  each element (:func:`element_differences`, the columns of the Jacobian) or along a direction
  (:func:`directional_difference`, for random projections drawn by :func:`unit_direction`),
  each a :class:`Difference` that also gives the one-sided differences; and, for tests,
  :func:`numerical_jacobian` and :func:`numerical_gradient`;
- **the verdict**: :class:`Tolerance` (the rule, see there) and :func:`relative_error`.

One vocabulary for the options, used by every check (PyTorch's ``torch.autograd.gradcheck``
names where it has them):

=====================  ===================================================================
``eps``                half the step of a central difference (default :data:`EPS`)
``atol``, ``rtol``     the tolerance rule, see :class:`Tolerance` (:data:`ATOL`, :data:`RTOL`)
``num_projections``    number of random projections per input (:data:`NUM_PROJECTIONS`)
``full_jacobian_max``  size (in elements) up to which every entry is compared instead of
                       random projections (each check documents what it counts)
=====================  ===================================================================
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from tinygrad_cnn.grad_mode import enable_grad, no_grad
from tinygrad_cnn.tensor import Tensor

#: Default half step of the central differences (in float64).
EPS = 1e-6
#: Default absolute and relative tolerances (those of ``torch.autograd.gradcheck``).
ATOL, RTOL = 1e-5, 1e-3
#: Default number of random projections per input.
NUM_PROJECTIONS = 3

ArrayFunction = Callable[[list[np.ndarray]], Any]


# ---------------------------------------------------------------------- the tolerance rule
@dataclass(frozen=True)
class Tolerance:
    """The rule every check applies: ``|analytic - numerical| <= atol + rtol * |numerical|``.

    This is the rule of ``torch.autograd.gradcheck`` and ``numpy.isclose(analytic,
    numerical)``, so a tolerance carries over from (or to) PyTorch unchanged. It is relative to
    the *numerical* value alone because that is the reference: a symmetric rule such as
    ``rtol * max(|analytic|, |numerical|)`` lets a backward that overshoots widen its own
    tolerance. ``atol`` covers true derivatives near 0, where central differences (error about
    ``eps**2`` plus rounding ``1e-16 / eps``) cannot be judged relatively. A NaN or infinity on
    either side never passes.

    Attributes
    ----------
    atol, rtol : float
        Non-negative absolute and relative tolerances.
    """

    atol: float = ATOL
    rtol: float = RTOL

    def allowed(self, numerical: Any) -> Any:
        """The largest accepted ``|analytic - numerical|``: ``atol + rtol * |numerical|``."""
        return self.atol + self.rtol * np.abs(numerical)

    def excess(self, analytic: Any, numerical: Any) -> np.ndarray:
        """``|analytic - numerical| / allowed``, elementwise: above 1 means out of tolerance.

        Non-finite values on either side give ``inf``; a zero tolerance gives ``inf`` for any
        difference and 0 for none.
        """
        analytic, numerical = np.asarray(analytic), np.asarray(numerical)
        difference = np.abs(analytic - numerical)
        allowed = self.allowed(numerical)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(
                allowed > 0, difference / allowed, np.where(difference > 0, np.inf, 0.0)
            )
        finite = np.isfinite(analytic) & np.isfinite(numerical)
        return np.where(finite, ratio, np.inf)

    def accepts(self, analytic: float, numerical: float) -> bool:
        """True when the scalar ``analytic`` is within tolerance of ``numerical``.

        The same rule as :meth:`excess` ``<= 1``, on Python floats (checks compare scalars
        often, and numpy's overhead would dominate).
        """
        analytic, numerical = float(analytic), float(numerical)
        if not (math.isfinite(analytic) and math.isfinite(numerical)):
            return False
        return abs(analytic - numerical) <= self.atol + self.rtol * abs(numerical)


def relative_error(analytic: float, numerical: float) -> float:
    """``|analytic - numerical| / |numerical|`` (0 when both are 0, ``inf`` for 0 alone)."""
    difference = abs(analytic - numerical)
    if numerical == 0:
        return 0.0 if difference == 0 else float("inf")
    return difference / abs(numerical)


def validate_options(
    op: str,
    *,
    eps: float,
    atol: float,
    rtol: float,
    num_projections: int,
    full_jacobian_max: int,
) -> Tolerance:
    """Check the shared options (types, then ranges) and return the :class:`Tolerance`.

    Raises
    ------
    TypeError
        When a number is not a real number, or a count is not an int.
    ValueError
        When ``eps`` is not positive, a tolerance or ``full_jacobian_max`` is negative, or
        ``num_projections`` is below 1.
    """
    for name, value in (("eps", eps), ("atol", atol), ("rtol", rtol)):
        if isinstance(value, bool) or not isinstance(value, int | float | np.floating):
            raise TypeError(f"{op}: {name} must be a number, got {value!r}")
    for name, value in (
        ("num_projections", num_projections),
        ("full_jacobian_max", full_jacobian_max),
    ):
        if isinstance(value, bool) or not isinstance(value, int | np.integer):
            raise TypeError(f"{op}: {name} must be an int, got {value!r}")
    if not eps > 0:
        raise ValueError(f"{op}: eps must be positive, got {eps!r}")
    if not (atol >= 0 and rtol >= 0):
        raise ValueError(f"{op}: atol and rtol must be non-negative, got {atol!r} and {rtol!r}")
    if num_projections < 1:
        raise ValueError(f"{op}: num_projections must be at least 1, got {num_projections!r}")
    if full_jacobian_max < 0:
        raise ValueError(f"{op}: full_jacobian_max must be non-negative, got {full_jacobian_max!r}")
    return Tolerance(float(atol), float(rtol))


# ---------------------------------------------------------------------- inputs
def as_arrays(op: str, inputs: Sequence[Any]) -> list[np.ndarray]:
    """The arrays behind ``inputs`` (Tensors or numeric array-likes), not copied.

    Raises
    ------
    TypeError
        For ``None`` or a non-numeric input (the message names its position).
    ValueError
        When there is no input at all.
    """
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


def checked_positions(
    op: str, arrays: Sequence[np.ndarray], wrt: Sequence[int] | None
) -> list[int]:
    """Positions of the inputs whose gradients are checked: ``wrt``, or every float input.

    Raises
    ------
    TypeError, ValueError
        When ``wrt`` names a non-floating input, a position out of range or twice, or nothing.
    """
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


def float64_copies(arrays: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Private copies of ``arrays``, every floating-point one in float64 (others kept as is)."""
    return [
        np.array(a, dtype=np.float64, copy=True)
        if np.issubdtype(a.dtype, np.floating)
        else np.array(a, copy=True)
        for a in arrays
    ]


# ---------------------------------------------------------------------- running fn
def call(op: str, fn: Callable[..., Tensor], tensors: Sequence[Tensor]) -> Tensor:
    """``fn(*tensors)``, which must be a floating-point Tensor (else a TypeError)."""
    out = fn(*tensors)
    if not isinstance(out, Tensor):
        raise TypeError(f"{op}: fn must return a Tensor, got {type(out).__name__}")
    if out.dtype.kind != "f":
        raise TypeError(f"{op}: fn must return a floating-point Tensor, got dtype {out.dtype}")
    return out


def evaluate(op: str, fn: Callable[..., Tensor], arrays: Sequence[np.ndarray]) -> np.ndarray:
    """``fn`` on constant tensors made from ``arrays`` (no graph), as a new float64 array.

    A copy, since ops such as reshape return views of their input, which differences perturb.
    """
    with no_grad():
        out = call(op, fn, [Tensor(a) for a in arrays])
    return np.array(out.data, dtype=np.float64, copy=True)


class RecordedFunction:
    """``fn`` recorded once (grad mode on) on private copies of the inputs, in their dtypes.

    Parameters
    ----------
    op : str
        The name of the calling check, for error messages.
    fn : callable
        Takes one Tensor per input and returns a Tensor.
    arrays : sequence of ndarray
        The inputs (copied; the copies at ``positions`` require grad).
    positions : sequence of int
        The floating-point inputs whose gradients :meth:`vjp` returns.

    Attributes
    ----------
    tensors : list of Tensor
        The recorded inputs, one per array.
    out : Tensor
        ``fn``'s output.
    """

    def __init__(
        self,
        op: str,
        fn: Callable[..., Tensor],
        arrays: Sequence[np.ndarray],
        positions: Sequence[int],
    ) -> None:
        self.positions = list(positions)
        self.tensors = [
            Tensor(np.array(a, copy=True), requires_grad=i in self.positions)
            for i, a in enumerate(arrays)
        ]
        with enable_grad():
            out = fn(*self.tensors)
        if not isinstance(out, Tensor):
            raise TypeError(f"{op}: fn must return a Tensor, got {type(out).__name__}")
        self.out = out

    def vjp(self, upstream: np.ndarray) -> list[np.ndarray | None]:
        """``out.backward(upstream, retain_graph=True)``: the ``.grad`` of each checked input.

        ``None`` where no gradient arrives (also when ``out`` does not require grad). Earlier
        gradients are cleared first, so nothing accumulates across calls.
        """
        for tensor in self.tensors:
            tensor.grad = None
        if self.out.requires_grad:
            self.out.backward(upstream, retain_graph=True)
        grads = [self.tensors[p].grad for p in self.positions]
        return [None if g is None else g.data for g in grads]


# ---------------------------------------------------------------------- central differences
class Difference(NamedTuple):
    """``f`` evaluated a step forward and a step backward along one direction.

    Attributes
    ----------
    plus, minus : float or ndarray
        ``f(x + h d)`` and ``f(x - h d)``.
    step : float
        The distance between the two points along ``d`` (``2 h``, up to rounding of ``x``).
    """

    plus: Any
    minus: Any
    step: float

    @property
    def central(self) -> Any:
        """The central difference ``(plus - minus) / step``: error ``O(h**2)``."""
        return (self.plus - self.minus) / self.step

    def one_sided(self, at: Any) -> tuple[Any, Any]:
        """The backward and forward differences ``(f(x) - minus) / h`` and ``(plus - f(x)) / h``,
        given ``at = f(x)``: they differ by much more than the tolerance at a kink."""
        h = self.step / 2
        return (at - self.minus) / h, (self.plus - at) / h


def element_differences(
    f: ArrayFunction, arrays: Sequence[np.ndarray], position: int, eps: float
) -> Iterator[Difference]:
    """For each element ``j`` (row-major) of input ``position``: ``f`` at ``x +- eps e_j``.

    ``f`` takes the list of input arrays and returns a float or an array it does not share
    with them: the element is perturbed in place on a private float64 copy of the input (the
    other inputs are passed as they are). The step is measured after rounding
    (``(x + eps) - (x - eps)``), which keeps the differences accurate for large ``x``. The
    ``central`` differences are the columns of the Jacobian of ``f`` with respect to the input.
    """
    work = list(arrays)
    # C order, so that ``flat`` is a view: a transposed input would be copied by reshape, and
    # perturbing the copy would leave f unchanged (a false zero derivative).
    x = np.array(arrays[position], dtype=np.float64, order="C", copy=True)
    work[position] = x
    flat = x.reshape(-1)
    for j in range(x.size):
        original = flat[j]
        flat[j] = original + eps
        plus = f(work)
        step = flat[j]
        flat[j] = original - eps
        minus = f(work)
        step -= flat[j]
        flat[j] = original
        yield Difference(plus, minus, float(step))


def directional_difference(
    f: ArrayFunction,
    arrays: Sequence[np.ndarray],
    position: int,
    direction: np.ndarray,
    eps: float,
) -> Difference:
    """``f`` at input ``position`` moved by ``+- eps * direction`` (the others unchanged).

    The ``central`` difference is the directional derivative of ``f`` along ``direction``.
    """
    plus, minus = list(arrays), list(arrays)
    x = arrays[position]
    plus[position], minus[position] = x + eps * direction, x - eps * direction
    return Difference(f(plus), f(minus), 2 * eps)


def unit_direction(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """A random direction of unit length (standard normal, normalised; zeros when empty)."""
    direction = rng.standard_normal(shape)
    norm = math.sqrt(float((direction * direction).sum()))
    return direction / norm if norm > 0 else direction


# ---------------------------------------------------------------------- for tests
def numerical_jacobian(
    fn: Callable[..., Tensor], *inputs: Any, wrt: int = 0, eps: float = EPS
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
    arrays = as_arrays(op, inputs)
    (position,) = checked_positions(op, arrays, [wrt])
    arrays = float64_copies(arrays)
    out_size = evaluate(op, fn, arrays).size
    columns = [
        d.central.reshape(-1)
        for d in element_differences(lambda a: evaluate(op, fn, a), arrays, position, eps)
    ]
    if not columns:
        return np.zeros((out_size, 0))
    return np.stack(columns, axis=1)


def numerical_gradient(
    fn: Callable[..., Tensor],
    *inputs: Any,
    upstream: Any = None,
    wrt: Sequence[int] | None = None,
    eps: float = EPS,
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
    arrays = as_arrays(op, inputs)
    positions = checked_positions(op, arrays, wrt)
    arrays = float64_copies(arrays)
    out_shape = evaluate(op, fn, arrays).shape
    weights = np.ones(out_shape) if upstream is None else np.asarray(upstream, dtype=np.float64)
    if weights.shape != out_shape:
        raise ValueError(
            f"{op}: upstream has shape {weights.shape}, expected the output's shape {out_shape}"
        )
    weights = weights.reshape(-1)
    grads: list[np.ndarray | None] = [None] * len(arrays)
    for position in positions:
        differences = element_differences(lambda a: evaluate(op, fn, a), arrays, position, eps)
        values = [float(weights @ d.central.reshape(-1)) for d in differences]
        grads[position] = np.array(values, dtype=np.float64).reshape(arrays[position].shape)
    return tuple(grads)
