"""Property-test your own ops: Hypothesis strategies and :func:`assert_grads`.

This module needs Hypothesis (``pip install "tinygrad_cnn[testing]"``); ``import tinygrad_cnn``
never imports it. The project's own gradient tests are built from these same pieces.

Strategies (all values float64 unless said otherwise):

- shapes: :func:`shapes`, :func:`broadcastable_shapes` (size-1 axes, different ranks),
  :func:`reduction_axes`;
- values: :func:`arrays`, :func:`tensors`, :func:`kink_free_arrays` (away from points where
  the derivative jumps, such as 0 for ``relu``/``abs``), :func:`positive_arrays` (for ``log``,
  ``sqrt``, a ``pow`` base), :func:`distinct_arrays` and :func:`separated_arrays` (no ties, for
  ``max``/``min``, ``max_pool2d`` windows and ``maximum``/``minimum`` operands);
- geometries: :func:`conv_geometries`, :func:`pool_geometries`.

:func:`assert_grads` checks every gradient property of an op at one point.

Examples
--------
>>> from hypothesis import given
>>> from tinygrad_cnn.testing import assert_grads, kink_free_arrays
>>> @given(kink_free_arrays((3, 4)))
... def test_softplus_like(x):
...     assert_grads(lambda t: (t.relu() + 1).log(), x)
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import hypothesis.extra.numpy as hnp
import numpy as np
from hypothesis import strategies as st

from tinygrad_cnn.debug.gradcheck import GradcheckError, GradcheckWarning, gradcheck
from tinygrad_cnn.debug.numerical import (
    ATOL,
    EPS,
    RTOL,
    RecordedFunction,
    as_arrays,
    checked_positions,
)
from tinygrad_cnn.tensor import Tensor

Shape = tuple[int, ...]
Pair = tuple[int, int]
ShapeArg = Shape | st.SearchStrategy[Shape] | None

__all__ = [
    "ConvGeometry",
    "PoolGeometry",
    "arrays",
    "assert_grads",
    "broadcastable_shapes",
    "conv_geometries",
    "distinct_arrays",
    "kink_free_arrays",
    "pool_geometries",
    "positive_arrays",
    "reduction_axes",
    "separated_arrays",
    "shapes",
    "tensors",
]


# ---------------------------------------------------------------------- shapes
def shapes(
    *, min_dims: int = 0, max_dims: int = 3, min_side: int = 1, max_side: int = 4
) -> st.SearchStrategy[Shape]:
    """Array shapes with ``min_dims..max_dims`` axes of ``min_side..max_side`` elements.

    Examples
    --------
    >>> shapes(min_dims=2, max_dims=2).example()  # doctest: +SKIP
    (3, 1)
    """
    return hnp.array_shapes(
        min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side
    )


def broadcastable_shapes(
    num_shapes: int = 2,
    *,
    min_dims: int = 0,
    max_dims: int = 3,
    min_side: int = 1,
    max_side: int = 4,
) -> st.SearchStrategy[tuple[Shape, ...]]:
    """Tuples of ``num_shapes`` shapes that broadcast together under numpy's rules.

    The shapes have different ranks and size-1 axes (stretched by broadcasting) as often as
    not, e.g. ``((3, 1), (2, 1, 4))``.

    Examples
    --------
    >>> import numpy as np
    >>> a, b = broadcastable_shapes().example()  # doctest: +SKIP
    >>> np.broadcast_shapes(a, b)  # doctest: +SKIP
    (2, 3, 4)
    """
    return hnp.mutually_broadcastable_shapes(
        num_shapes=num_shapes,
        min_dims=min_dims,
        max_dims=max_dims,
        min_side=min_side,
        max_side=max_side,
    ).map(lambda result: tuple(result.input_shapes))


@st.composite
def reduction_axes(draw: st.DrawFn, ndim: int) -> int | tuple[int, ...] | None:
    """An ``axis`` argument for a reduction over an ``ndim``-dimensional array.

    ``None`` (all axes), one axis (possibly negative), or a non-empty tuple of distinct axes
    (possibly negative); for ``ndim == 0`` only ``None``.
    """
    if ndim == 0:
        return None
    kind = draw(st.sampled_from(["none", "int", "tuple"]))
    if kind == "none":
        return None
    axis = st.integers(-ndim, ndim - 1)
    if kind == "int":
        return draw(axis)
    return tuple(draw(st.lists(axis, min_size=1, max_size=ndim, unique_by=lambda a: a % ndim)))


# ---------------------------------------------------------------------- values
def _shape_strategy(shape: ShapeArg) -> st.SearchStrategy[Shape]:
    if shape is None:
        return shapes()
    if isinstance(shape, st.SearchStrategy):
        return shape
    return st.just(tuple(int(n) for n in shape))


def _floats(min_value: float, max_value: float) -> st.SearchStrategy[float]:
    return st.floats(
        min_value, max_value, allow_nan=False, allow_infinity=False, allow_subnormal=False
    )


def arrays(
    shape: ShapeArg = None,
    *,
    min_value: float = -3.0,
    max_value: float = 3.0,
    elements: st.SearchStrategy[float] | None = None,
    dtype: Any = np.float64,
) -> st.SearchStrategy[np.ndarray]:
    """Arrays of finite floats in ``[min_value, max_value]``.

    Parameters
    ----------
    shape : tuple of int, strategy of shapes, or None
        A fixed shape, a strategy to draw one from, or ``None`` for :func:`shapes`'s default.
    min_value, max_value : float
        Range of the values (ignored when ``elements`` is given).
    elements : strategy of float, optional
        Draw each value from this strategy instead.
    dtype : numpy dtype, default float64

    Examples
    --------
    >>> arrays((2, 3)).example().shape  # doctest: +SKIP
    (2, 3)
    """
    values = _floats(min_value, max_value) if elements is None else elements
    return hnp.arrays(dtype, _shape_strategy(shape), elements=values)


def tensors(
    shape: ShapeArg = None,
    *,
    requires_grad: bool = True,
    min_value: float = -3.0,
    max_value: float = 3.0,
    dtype: Any = np.float64,
) -> st.SearchStrategy[Tensor]:
    """Tensors wrapping :func:`arrays` (``requires_grad=True`` by default).

    Examples
    --------
    >>> t = tensors((4,)).example()  # doctest: +SKIP
    >>> t.shape, t.dtype, t.requires_grad  # doctest: +SKIP
    ((4,), dtype('float64'), True)
    """
    return arrays(shape, min_value=min_value, max_value=max_value, dtype=dtype).map(
        lambda a: Tensor(a, requires_grad=requires_grad)
    )


def kink_free_arrays(
    shape: ShapeArg = None,
    *,
    kinks: Sequence[float] = (0.0,),
    margin: float = 0.05,
    min_value: float = -3.0,
    max_value: float = 3.0,
) -> st.SearchStrategy[np.ndarray]:
    """Arrays whose every value is at least ``margin`` from each point of ``kinks``.

    Use for ops whose derivative jumps at known points (``relu`` and ``abs`` at 0): finite
    differences straddling a kink measure neither one-sided derivative.

    Examples
    --------
    >>> import numpy as np
    >>> x = kink_free_arrays((10,)).example()  # doctest: +SKIP
    >>> bool(np.all(np.abs(x) >= 0.05))  # doctest: +SKIP
    True
    """
    points = tuple(float(k) for k in kinks)
    values = _floats(min_value, max_value).filter(
        lambda v: all(abs(v - k) >= margin for k in points)
    )
    return arrays(shape, elements=values)


def positive_arrays(
    shape: ShapeArg = None, *, min_value: float = 0.1, max_value: float = 3.0
) -> st.SearchStrategy[np.ndarray]:
    """Arrays of values in ``[min_value, max_value]``, ``min_value > 0`` (``log``, ``sqrt``...)."""
    if not min_value > 0:
        raise ValueError(f"positive_arrays: min_value must be positive, got {min_value!r}")
    return arrays(shape, min_value=min_value, max_value=max_value)


@st.composite
def separated_arrays(
    draw: st.DrawFn,
    array_shapes: Sequence[Shape],
    *,
    min_gap: float = 0.01,
    min_value: float = -3.0,
    max_value: float = 3.0,
) -> tuple[np.ndarray, ...]:
    """Arrays of the given shapes whose values, all arrays together, differ by >= ``min_gap``.

    No two values anywhere are tied, so ``max``/``min`` reductions, ``max_pool2d`` windows
    and ``maximum(a, b)``/``minimum(a, b)`` (even broadcast) have a unique winner that a
    finite-difference step of size ``eps << min_gap`` cannot change.

    Values are built on a grid: distinct slots ``2 * min_gap`` wide, each with a random offset
    in ``[0, min_gap]``.

    Raises
    ------
    ValueError
        When that many values cannot fit in ``[min_value, max_value]``.

    Examples
    --------
    >>> a, b = separated_arrays([(3, 1), (4,)]).example()  # doctest: +SKIP
    >>> bool(np.min(np.abs(a - b)) >= 0.01)  # doctest: +SKIP
    True
    """
    sizes = [int(np.prod(s, dtype=np.int64)) for s in array_shapes]
    total = sum(sizes)
    slots = int((max_value - min_value - min_gap) // (2 * min_gap)) + 1
    if total > slots:
        raise ValueError(
            f"separated_arrays: {total} values at least {min_gap} apart do not fit in "
            f"[{min_value}, {max_value}]; widen the range or lower min_gap"
        )
    if total == 0:
        return tuple(np.zeros(s) for s in array_shapes)
    slot = draw(hnp.arrays(np.int64, (total,), elements=st.integers(0, slots - 1), unique=True))
    offset = draw(hnp.arrays(np.float64, (total,), elements=_floats(0.0, min_gap)))
    values = min_value + slot * (2 * min_gap) + offset
    pieces = np.split(values, np.cumsum(sizes)[:-1])
    return tuple(piece.reshape(s) for piece, s in zip(pieces, array_shapes, strict=True))


def distinct_arrays(
    shape: Shape, *, min_gap: float = 0.01, min_value: float = -3.0, max_value: float = 3.0
) -> st.SearchStrategy[np.ndarray]:
    """One array whose values differ pairwise by at least ``min_gap`` (no ties).

    See :func:`separated_arrays`.
    """
    return separated_arrays(
        [tuple(shape)], min_gap=min_gap, min_value=min_value, max_value=max_value
    ).map(lambda result: result[0])


# ---------------------------------------------------------------------- geometries
@dataclass(frozen=True)
class ConvGeometry:
    """A valid ``conv2d`` configuration: images (N, C, H, W), weight (O, C, kh, kw).

    The kernel always fits in the padded image.
    """

    batch: int
    in_channels: int
    height: int
    width: int
    out_channels: int
    kernel: Pair
    stride: Pair
    padding: Pair

    @property
    def input_shape(self) -> Shape:
        """``(N, C, H, W)``."""
        return (self.batch, self.in_channels, self.height, self.width)

    @property
    def weight_shape(self) -> Shape:
        """``(O, C, kh, kw)``."""
        return (self.out_channels, self.in_channels, *self.kernel)

    @property
    def bias_shape(self) -> Shape:
        """``(O,)``."""
        return (self.out_channels,)

    @property
    def output_shape(self) -> Shape:
        """``(N, O, OH, OW)`` with ``OH = (H + 2 ph - kh) // sh + 1``."""
        oh = (self.height + 2 * self.padding[0] - self.kernel[0]) // self.stride[0] + 1
        ow = (self.width + 2 * self.padding[1] - self.kernel[1]) // self.stride[1] + 1
        return (self.batch, self.out_channels, oh, ow)


@dataclass(frozen=True)
class PoolGeometry:
    """A valid pooling configuration: images (N, C, H, W), a window that fits, a stride."""

    batch: int
    channels: int
    height: int
    width: int
    kernel: Pair
    stride: Pair

    @property
    def input_shape(self) -> Shape:
        """``(N, C, H, W)``."""
        return (self.batch, self.channels, self.height, self.width)

    @property
    def output_shape(self) -> Shape:
        """``(N, C, OH, OW)`` with ``OH = (H - kh) // sh + 1`` (windows that do not fit dropped)."""
        oh = (self.height - self.kernel[0]) // self.stride[0] + 1
        ow = (self.width - self.kernel[1]) // self.stride[1] + 1
        return (self.batch, self.channels, oh, ow)


@st.composite
def conv_geometries(
    draw: st.DrawFn,
    *,
    max_batch: int = 2,
    max_channels: int = 3,
    max_out_channels: int = 3,
    max_size: int = 6,
    max_kernel: int = 3,
    max_stride: int = 2,
    max_padding: int = 1,
) -> ConvGeometry:
    """Valid ``conv2d`` geometries, non-square kernels, strides and paddings included.

    Examples
    --------
    >>> g = conv_geometries().example()  # doctest: +SKIP
    >>> g.input_shape, g.weight_shape, g.stride, g.padding  # doctest: +SKIP
    ((2, 1, 5, 4), (3, 1, 2, 3), (1, 2), (0, 1))
    """
    sizes, kernel, padding = [], [], []
    for _ in range(2):
        size = draw(st.integers(1, max_size))
        pad = draw(st.integers(0, max_padding))
        kernel.append(draw(st.integers(1, min(max_kernel, size + 2 * pad))))
        sizes.append(size)
        padding.append(pad)
    stride = (draw(st.integers(1, max_stride)), draw(st.integers(1, max_stride)))
    return ConvGeometry(
        batch=draw(st.integers(1, max_batch)),
        in_channels=draw(st.integers(1, max_channels)),
        height=sizes[0],
        width=sizes[1],
        out_channels=draw(st.integers(1, max_out_channels)),
        kernel=(kernel[0], kernel[1]),
        stride=stride,
        padding=(padding[0], padding[1]),
    )


@st.composite
def pool_geometries(
    draw: st.DrawFn,
    *,
    max_batch: int = 2,
    max_channels: int = 2,
    max_size: int = 6,
    max_kernel: int = 3,
    max_stride: int = 3,
) -> PoolGeometry:
    """Valid pooling geometries: the window fits; strides smaller than (overlapping), equal
    to, or larger than the window (skipping pixels)."""
    sizes = (draw(st.integers(1, max_size)), draw(st.integers(1, max_size)))
    kernel = tuple(draw(st.integers(1, min(max_kernel, n))) for n in sizes)
    stride = (draw(st.integers(1, max_stride)), draw(st.integers(1, max_stride)))
    return PoolGeometry(
        batch=draw(st.integers(1, max_batch)),
        channels=draw(st.integers(1, max_channels)),
        height=sizes[0],
        width=sizes[1],
        kernel=(kernel[0], kernel[1]),
        stride=stride,
    )


# ---------------------------------------------------------------------- the gradient properties
class _Recorded(RecordedFunction):
    """``fn`` recorded once on private copies of the inputs, in one dtype, with the values of
    the inputs and the output kept to detect in-place changes."""

    def __init__(
        self, fn: Callable[..., Tensor], arrays: list[np.ndarray], positions: list[int]
    ) -> None:
        super().__init__("assert_grads", fn, arrays, positions)
        self.before = [t.data.copy() for t in self.tensors]
        self.out_before = self.out.data.copy()

    def grads(self, upstream: np.ndarray, what: str) -> list[np.ndarray | None]:
        """``backward(upstream, retain_graph=True)``; each checked input's ``.grad``."""
        sent = upstream.copy()
        try:
            grads = self.vjp(sent)
        except (TypeError, ValueError, RuntimeError) as error:
            dtypes = [str(self.tensors[p].dtype) for p in self.positions]
            raise GradcheckError(
                f"assert_grads: backward with {what} failed for inputs of dtypes {dtypes}: "
                f"{type(error).__name__}: {error}"
            ) from error
        if not np.array_equal(sent, upstream, equal_nan=True):
            raise GradcheckError(f"assert_grads: backward modified the upstream gradient ({what})")
        return grads


def _check_structure(recorded: _Recorded, upstream: np.ndarray) -> list[np.ndarray | None]:
    """Backward runs, each gradient has its input's shape and dtype, and the inputs that do
    not require grad get none."""
    grads = recorded.grads(upstream, "a random upstream gradient")
    for position, tensor in enumerate(recorded.tensors):
        if position not in recorded.positions and tensor.grad is not None:
            raise GradcheckError(
                f"assert_grads: input {position} does not require grad, but backward gave it "
                f"a gradient"
            )
    for position, grad in zip(recorded.positions, grads, strict=True):
        tensor = recorded.tensors[position]
        if grad is None:
            continue
        if grad.shape != tensor.shape or grad.dtype != tensor.dtype:
            raise GradcheckError(
                f"assert_grads: the gradient of input {position} has shape {grad.shape} and "
                f"dtype {grad.dtype}; the input has shape {tensor.shape} and dtype {tensor.dtype}"
            )
    return grads


def _zeros_like(grad: np.ndarray | None, tensor: Tensor) -> np.ndarray:
    return np.zeros(tensor.shape, dtype=tensor.dtype) if grad is None else grad


def _check_zero_and_linear(
    recorded: _Recorded, first: np.ndarray, second: np.ndarray, coefficients: tuple[float, float]
) -> None:
    """A zero upstream gives exact zeros; backward(a u + b v) = a backward(u) + b backward(v)."""
    out = recorded.out
    zero = recorded.grads(np.zeros(out.shape, dtype=out.dtype), "a zero upstream gradient")
    for position, grad in zip(recorded.positions, zero, strict=True):
        if grad is not None and np.any(grad != 0):
            raise GradcheckError(
                f"assert_grads: a zero upstream gradient gave a non-zero gradient for input "
                f"{position} (largest magnitude {np.nanmax(np.abs(grad))!r}, "
                f"{int(np.count_nonzero(grad != 0))} non-zero elements)"
            )
    a, b = coefficients
    g_first = recorded.grads(first, "upstream u")
    g_second = recorded.grads(second, "upstream v")
    combined = (a * first + b * second).astype(out.dtype)
    g_combined = recorded.grads(combined, "upstream a*u + b*v")
    # Rounding (in float32 casts along the way, too) breaks linearity by ~1e-7 relative; a
    # wrong backward breaks it by O(1).
    tolerance = max(float(np.sqrt(np.finfo(out.dtype).eps)), 1e-4)
    for index, position in enumerate(recorded.positions):
        tensor = recorded.tensors[position]
        expected = a * _zeros_like(g_first[index], tensor).astype(np.float64)
        expected = expected + b * _zeros_like(g_second[index], tensor).astype(np.float64)
        actual = _zeros_like(g_combined[index], tensor).astype(np.float64)
        scale = float(np.max(np.abs(expected), initial=0.0)) + 1.0
        if not np.allclose(actual, expected, rtol=tolerance, atol=tolerance * scale):
            worst = np.unravel_index(int(np.argmax(np.abs(actual - expected))), actual.shape)
            raise GradcheckError(
                f"assert_grads: backward is not linear in the upstream gradient for input "
                f"{position}: at element {tuple(int(i) for i in worst)}, "
                f"backward({a:g} u + {b:g} v) = {actual[worst]!r} but {a:g} backward(u) + "
                f"{b:g} backward(v) = {expected[worst]!r}"
            )


def _check_repeatable(recorded: _Recorded, upstream: np.ndarray) -> None:
    """Two backward passes through one retained graph give identical gradients."""
    once = [None if g is None else g.copy() for g in recorded.grads(upstream, "retain_graph")]
    twice = recorded.grads(upstream, "retain_graph, a second time")
    for position, g1, g2 in zip(recorded.positions, once, twice, strict=True):
        if (g1 is None) != (g2 is None) or (
            g1 is not None and not np.array_equal(g1, g2, equal_nan=True)
        ):
            raise GradcheckError(
                f"assert_grads: a second backward (retain_graph=True) gave a different gradient "
                f"for input {position}: did backward modify what forward saved?"
            )


def _check_unmodified(recorded: _Recorded) -> None:
    """Neither the inputs nor the output changed during forward and backward."""
    for position, (tensor, before) in enumerate(
        zip(recorded.tensors, recorded.before, strict=True)
    ):
        if not np.array_equal(tensor.data, before, equal_nan=True):
            raise GradcheckError(f"assert_grads: input {position} was modified in place")
    if not np.array_equal(recorded.out.data, recorded.out_before, equal_nan=True):
        raise GradcheckError("assert_grads: backward modified the output of forward in place")


def assert_grads(
    fn: Callable[..., Tensor],
    *inputs: Any,
    wrt: Sequence[int] | None = None,
    dtypes: Sequence[Any] | None = None,
    eps: float = EPS,
    atol: float = ATOL,
    rtol: float = RTOL,
    seed: int = 0,
    **gradcheck_options: Any,
) -> None:
    """Assert every gradient property of ``fn`` at ``inputs``; raise on the first that fails.

    Checked in this order, with random upstream gradients drawn from ``seed``; checks 1-5
    run once per dtype of ``dtypes``:

    1. ``backward`` runs, every checked input's gradient has the input's shape and dtype,
       and the other inputs (which do not require grad) get no gradient (``.grad is None``);
    2. backward twice through the same graph (``retain_graph=True``) gives identical results;
    3. a zero upstream gradient gives gradients that are exactly zero;
    4. backward is linear in the upstream gradient (to ``max(sqrt(dtype eps), 1e-4)``
       relative);
    5. neither the inputs, nor the output, nor the upstream gradient are modified in place;
    6. the gradients equal central finite differences in float64 (:func:`gradcheck` with
       ``eps``, ``atol``, ``rtol`` and ``gradcheck_options``).

    Parameters
    ----------
    fn : callable
        Takes one Tensor per input and returns a Tensor of any shape.
    *inputs : Tensor or array_like
        The point at which to check; never modified (``fn`` gets private copies).
    wrt : sequence of int, optional
        Positions of the inputs to check; default every floating-point input. Only these
        inputs require grad: the others are constants (as a frozen weight is), so a subset
        checks the backward's work for some inputs without the others (``needs_input_grad``).
    dtypes : sequence of numpy dtypes, optional
        Run checks 1-5 with the floating-point inputs cast to each of these dtypes
        (e.g. ``(np.float64, np.float32)``); default the inputs' own dtypes.
    eps, atol, rtol : float
        Passed to :func:`gradcheck`.
    seed : int, default 0
        Seed of the random upstream gradients.
    **gradcheck_options
        More :func:`gradcheck` options (``mode``, ``full_jacobian_max``, ``num_projections``).

    Raises
    ------
    GradcheckError
        An ``AssertionError`` saying which property failed, for which input, and how.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([[0.5, -1.5], [2.0, 0.25]])
    >>> assert_grads(lambda t: (t * t).tanh(), x, dtypes=(np.float64, np.float32))
    """
    if not callable(fn):
        raise TypeError(f"assert_grads: fn must be callable, got {type(fn).__name__}")
    if "raise_exception" in gradcheck_options:
        raise TypeError(
            "assert_grads: always raises on a wrong gradient; use gradcheck for raise_exception"
        )
    arrays = as_arrays("assert_grads", inputs)
    positions = checked_positions("assert_grads", arrays, wrt)
    for dtype in dtypes or ():
        if not np.issubdtype(np.dtype(dtype), np.floating):
            raise TypeError(f"assert_grads: dtypes must be floating-point, got {dtype!r}")
    rng = np.random.default_rng(seed)
    coefficients = (float(rng.uniform(0.5, 2.0)), float(rng.uniform(-2.0, -0.5)))
    for dtype in [None] if dtypes is None else list(dtypes):
        cast = [
            a.astype(dtype) if dtype is not None and np.issubdtype(a.dtype, np.floating) else a
            for a in arrays
        ]
        recorded = _Recorded(fn, cast, positions)
        out = recorded.out
        if not np.issubdtype(out.dtype, np.floating):
            raise TypeError(
                f"assert_grads: fn must return a floating-point Tensor, got {out.dtype}"
            )
        first = rng.standard_normal(out.shape).astype(out.dtype)
        second = rng.standard_normal(out.shape).astype(out.dtype)
        if not out.requires_grad:
            raise GradcheckError(
                "assert_grads: fn's output does not require grad: no checked input reaches it "
                "through recorded ops (was it detached, or computed under no_grad?)"
            )
        _check_structure(recorded, first)
        _check_repeatable(recorded, first)
        _check_zero_and_linear(recorded, first, second, coefficients)
        _check_unmodified(recorded)
    with warnings.catch_warnings():
        # Inputs below float64 are checked as float64 copies on purpose; check 1 covers dtypes.
        warnings.filterwarnings("ignore", r"gradcheck: input \d+ has dtype", GradcheckWarning)
        gradcheck(fn, *arrays, eps=eps, atol=atol, rtol=rtol, wrt=wrt, **gradcheck_options)
