"""check_graph: check every recorded op's backward on its own inputs, and report which is wrong.

A wrong gradient at the leaves says *that* something is wrong; :func:`check_graph` says *where*.
For each op node behind ``loss`` (in forward order) it re-runs the op's class
(``type(node).apply``) on copies of the node's inputs with the node's attributes, and:

1. **contract** (at the graph's own dtypes): ``backward`` must return one gradient per input,
   each with the input's dtype (a float64 gradient for a float32 input fails) and the input's
   shape or a broadcast of it;
2. **values** (in float64): with a random unit upstream gradient ``v``, so that
   ``f(x) = <v, op(x)>`` is a scalar, the analytic directional derivative ``<backward(v), d>``
   is compared with the central difference ``c = (f(x + h d) - f(x - h d)) / (2h)``. For
   inputs with at most ``full_jacobian_max`` elements ``d`` runs over every element (so the
   report names the element); for larger inputs ``d`` is ``num_projections`` random unit
   directions. A ``None`` gradient counts as zeros. Integer inputs (labels) are skipped.

The differences, the options and the tolerance rule are those of every gradient check
(:mod:`tinygrad_cnn.debug.numerical`).

The kink rule
-------------
Ops such as relu (at exactly 0), max and max-pooling (at ties) are not differentiable
everywhere; there finite differences disagree with any gradient convention. A comparison
passes when ``|analytic - c| <= atol + rtol * |c|``. When it does not, the one-sided
differences ``(f(x + hd) - f(x)) / h`` and ``(f(x) - f(x - hd)) / h`` decide:

- if they agree (their gap is within that same tolerance), ``f`` is smooth there and the op
  **fails**;
- if they disagree, a kink lies within ``h`` of ``x`` and the comparison is **undetermined**.
  (A single kink moves ``c`` by half the gap between the one-sided differences, so a correct
  op can never fail this way.) The check is then retried at inputs nudged by random noise
  (``nudge`` times the input's RMS), which moves ties and zeros away from ``x``; the op is
  reported ``undetermined`` only if every retry still meets a kink, never as a false failure.

A non-finite numerical derivative (an input within ``h`` of the edge of the op's domain, e.g.
``log`` near 0) is also undetermined.

:func:`check_graph` does not need the arrays ops saved for backward: it can run before or after
``backward()``, as long as the graph's input tensors have not been changed in place since the
forward pass (run it before ``optimizer.step()``). An in-place op (``relu_``) has overwritten
its own input, so it is checked, out of place, at the values it left there: for a ReLU that
means exact zeros, kinks, and the check passes (or not) at nudged inputs.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, overload

import numpy as np

from tinygrad_cnn.debug.numerical import (
    ATOL,
    EPS,
    NUM_PROJECTIONS,
    RTOL,
    Difference,
    RecordedFunction,
    Tolerance,
    directional_difference,
    element_differences,
    evaluate,
    relative_error,
    unit_direction,
    validate_options,
)
from tinygrad_cnn.function import (
    Function,
    anomaly_hooks,
    call_backward,
    topological_order,
    unbroadcast,
)
from tinygrad_cnn.tensor import Tensor

#: Inputs with at most this many elements are checked element by element by default.
FULL_JACOBIAN_MAX = 16

PASS, FAIL, UNDETERMINED = "pass", "fail", "undetermined"
_ORDER = {PASS: 0, UNDETERMINED: 1, FAIL: 2}


@dataclass(frozen=True)
class OpCheck:
    """The check of one op node.

    Attributes
    ----------
    index : int
        The node's position in forward order (0 = the first op recorded).
    node : Function
        The graph node that was checked.
    op : str
        The op's registered name.
    output_shape : tuple of int
        The shape of the node's output.
    status : {"pass", "fail", "undetermined"}
        ``undetermined``: every comparison met a kink (see the module docstring).
    abs_error : float
        The worst ``|analytic - numerical|`` over the comparisons (NaN when no comparison
        decided the status, e.g. a failed dtype or shape contract).
    rel_error : float
        That comparison's ``|analytic - numerical| / |numerical|`` (``inf`` when
        ``numerical`` is 0; NaN when no comparison decided the status).
    input_index : int or None
        The input with the worst comparison (or the failing contract).
    detail : str
        Why the op failed or is undetermined; for a pass, empty unless it needed nudged inputs
        (a kink at the graph's own inputs).
    """

    index: int
    node: Function = field(repr=False)
    op: str
    output_shape: tuple[int, ...]
    status: str
    abs_error: float
    rel_error: float
    input_index: int | None
    detail: str

    @property
    def passed(self) -> bool:
        """True when the op's backward agreed with finite differences everywhere checked."""
        return self.status == PASS


class GraphReport(Sequence[OpCheck]):
    """The result of :func:`check_graph`: one :class:`OpCheck` per op, in forward order.

    ``str(report)`` is a table; ``report.ok`` is False when any op failed;
    ``report.status_by_node()`` maps each graph node to ``"pass"``, ``"fail"`` or
    ``"undetermined"`` (for the graph renderer to colour nodes by).
    """

    def __init__(self, entries: list[OpCheck], settings: dict[str, float]) -> None:
        self.entries = entries
        self.settings = settings

    @overload
    def __getitem__(self, index: int) -> OpCheck: ...
    @overload
    def __getitem__(self, index: slice) -> list[OpCheck]: ...
    def __getitem__(self, index: int | slice) -> OpCheck | list[OpCheck]:
        return self.entries[index]

    def __len__(self) -> int:
        return len(self.entries)

    def __iter__(self) -> Iterator[OpCheck]:
        return iter(self.entries)

    @property
    def ok(self) -> bool:
        """True when no op failed (undetermined ops do not count as failures)."""
        return not self.failures

    @property
    def failures(self) -> list[OpCheck]:
        """The entries whose status is ``"fail"``."""
        return [e for e in self.entries if e.status == FAIL]

    @property
    def undetermined(self) -> list[OpCheck]:
        """The entries whose status is ``"undetermined"``."""
        return [e for e in self.entries if e.status == UNDETERMINED]

    def status_by_node(self) -> dict[Function, str]:
        """Map each checked graph node to its status (nodes hash by identity)."""
        return {e.node: e.status for e in self.entries}

    def status_of(self, node: Function) -> str | None:
        """The status of ``node``, or None when it is not part of the checked graph."""
        for entry in self.entries:
            if entry.node is node:
                return entry.status
        return None

    def __str__(self) -> str:
        counts = {s: sum(e.status == s for e in self.entries) for s in (PASS, FAIL, UNDETERMINED)}
        settings = ", ".join(f"{k}={v:g}" for k, v in self.settings.items())
        header = (
            f"check_graph: {len(self.entries)} ops, {counts[PASS]} pass, {counts[FAIL]} fail, "
            f"{counts[UNDETERMINED]} undetermined ({settings})"
        )
        rows = [("#", "op", "output shape", "status", "abs err", "rel err", "detail")]
        for e in self.entries:
            status = e.status.upper() if e.status == FAIL else e.status
            rows.append(
                (
                    str(e.index),
                    e.op,
                    str(e.output_shape),
                    status,
                    _number(e.abs_error),
                    _number(e.rel_error),
                    e.detail,
                )
            )
        widths = [max(len(row[i]) for row in rows) for i in range(6)]
        lines = [header]
        for row in rows:
            cells = [cell.ljust(width) for cell, width in zip(row[:6], widths, strict=True)]
            lines.append(("  ".join(cells) + "  " + row[6]).rstrip())
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"<GraphReport {len(self.entries)} ops, {len(self.failures)} failed>"


def _number(value: float) -> str:
    return "-" if np.isnan(value) else f"{value:.1e}"


# ---------------------------------------------------------------------- one comparison
@dataclass
class _Outcome:
    """The verdict for one input of one op: status, worst comparison, and a message."""

    status: str = PASS
    abs_error: float = 0.0
    rel_error: float = 0.0
    detail: str = ""

    def record(self, status: str, abs_error: float, rel_error: float, detail: str) -> None:
        """Keep the more severe status; within a status, the larger error."""
        rank, mine = _ORDER[status], _ORDER[self.status]
        if rank > mine or (rank == mine and abs_error > self.abs_error):
            self.status, self.abs_error, self.rel_error = status, abs_error, rel_error
            self.detail = detail


def _float64_attr(value: Any) -> Any:
    """A floating dtype attribute (e.g. ``cast``'s target) becomes float64 for the check."""
    if isinstance(value, np.dtype) and value.kind == "f":
        return np.dtype(np.float64)
    if isinstance(value, type) and issubclass(value, np.floating):
        return np.float64
    return value


class _OpAtPoint:
    """An op re-run on given input arrays: ``f(x) = <v, op(x)>`` and its analytic gradient.

    ``v`` is a random unit upstream gradient; the gradients are the op's own ``backward(v)``
    (not the engine's), so that a broken backward contract is reported, not raised.
    """

    def __init__(self, op: type[Function], attrs: dict[str, Any], arrays: list[np.ndarray]):
        self.op, self.attrs, self.arrays = op, attrs, arrays
        floating = [i for i, a in enumerate(arrays) if a.dtype.kind == "f"]
        recorded = RecordedFunction("check_graph", self._apply, arrays, floating)
        out = recorded.out
        self.output_dtype = out.dtype
        self.v = unit_direction(np.random.default_rng(_seed_of(arrays)), out.shape)
        self.f0 = float((self.v * out.data).sum())
        self.grads: list[np.ndarray | None] = []
        self.problem: tuple[int | None, str] | None = None
        if out._ctx is None:
            self.problem = (None, "no input requires grad")
            return
        raw = call_backward(out._ctx, out, self.v.astype(out.dtype, copy=True))
        self.problem = _contract_problem(raw, arrays)
        if self.problem is None:
            self.grads = [
                None if g is None else unbroadcast(np.asarray(g), a.shape)[0]
                for g, a in zip(raw, arrays, strict=True)
            ]

    def _apply(self, *tensors: Tensor) -> Tensor:
        return self.op.apply(*tensors, **self.attrs)

    def value(self, arrays: list[np.ndarray]) -> float:
        """``<v, op(arrays)>`` without recording anything."""
        return float((self.v * evaluate("check_graph", self._apply, arrays)).sum())


def _seed_of(arrays: list[np.ndarray]) -> int:
    """A deterministic seed from the inputs' shapes (the same graph gives the same report)."""
    return sum((i + 1) * a.size for i, a in enumerate(arrays)) + 12345


def _contract_problem(grads: Any, arrays: list[np.ndarray]) -> tuple[int | None, str] | None:
    """The input and the reason ``grads`` breaks the backward contract (None if it does not)."""
    if not isinstance(grads, tuple) or len(grads) != len(arrays):
        kind = type(grads).__name__
        return None, f"backward returned {kind}, not a tuple of {len(arrays)} gradients"
    for i, (g, a) in enumerate(zip(grads, arrays, strict=True)):
        if g is None or a.dtype.kind != "f":
            continue
        g = np.asarray(g)
        if g.dtype != a.dtype:
            return i, f"backward returned a {g.dtype} gradient for {a.dtype} input {i}"
        try:
            unbroadcast(g, a.shape)
        except ValueError:
            return i, (
                f"backward returned a gradient of shape {g.shape} for input {i} of shape {a.shape}"
            )
    return None


# ---------------------------------------------------------------------- one input of one op
@dataclass(frozen=True)
class _Settings:
    eps: float
    tolerance: Tolerance
    num_projections: int
    full_jacobian_max: int
    nudges: int
    nudge: float


def _differences(
    point: _OpAtPoint, position: int, settings: _Settings, rng: np.random.Generator
) -> Iterator[tuple[Difference, float, str]]:
    """(difference, analytic value, where) for one input: along every element when the input
    has at most ``full_jacobian_max`` of them, else along random unit directions."""
    x, grad, eps = point.arrays[position], point.grads[position], settings.eps
    if x.size <= settings.full_jacobian_max:
        flat_grad = None if grad is None else grad.reshape(-1)
        differences = element_differences(point.value, point.arrays, position, eps)
        for flat, difference in enumerate(differences):
            analytic = 0.0 if flat_grad is None else float(flat_grad[flat])
            element = tuple(int(i) for i in np.unravel_index(flat, x.shape))
            yield difference, analytic, f"at element {element}"
    else:
        for _ in range(settings.num_projections):
            d = unit_direction(rng, x.shape)
            analytic = 0.0 if grad is None else float((grad * d).sum())
            difference = directional_difference(point.value, point.arrays, position, d, eps)
            yield difference, analytic, "along a random direction"


def _check_input(
    point: _OpAtPoint, position: int, settings: _Settings, rng: np.random.Generator
) -> _Outcome:
    """Compare input ``position``'s analytic gradient at ``point`` with finite differences."""
    outcome = _Outcome()
    tolerance = settings.tolerance
    for difference, analytic, where in _differences(point, position, settings, rng):
        numeric = difference.central
        if not np.isfinite(numeric) or not np.isfinite(analytic):
            detail = (
                f"input {position}: non-finite value {where} (analytic {analytic:.6g}, "
                f"numerical {numeric:.6g}): too close to the edge of the op's domain?"
            )
            outcome.record(UNDETERMINED, float("nan"), float("nan"), detail)
            continue
        error = abs(analytic - numeric)
        rel = relative_error(analytic, numeric)
        if tolerance.accepts(analytic, numeric):
            outcome.record(PASS, error, rel, "")
            continue
        left, right = difference.one_sided(point.f0)
        numbers = f"analytic {analytic:.6g} vs numerical {numeric:.6g}"
        if abs(right - left) > tolerance.allowed(numeric):
            detail = (
                f"input {position}: kink {where} (one-sided differences {left:.6g} and "
                f"{right:.6g}; {numbers})"
            )
            outcome.record(UNDETERMINED, error, rel, detail)
        else:
            outcome.record(FAIL, error, rel, f"input {position}: {numbers} {where}")
    return outcome


def _nudged(arrays: list[np.ndarray], scale: float, rng: np.random.Generator) -> list[np.ndarray]:
    out = []
    for a in arrays:
        if a.dtype.kind == "f" and a.size:
            rms = float(np.sqrt((a * a).mean()))
            a = a + rng.standard_normal(a.shape) * scale * (rms if rms > 0 else 1.0)
        out.append(a)
    return out


# ---------------------------------------------------------------------- one op
def _check_node(
    index: int, node: Function, output_shape: tuple[int, ...], settings: _Settings
) -> OpCheck:
    op = type(node)

    def entry(status: str, outcome: _Outcome | None, position: int | None, detail: str) -> OpCheck:
        abs_error = outcome.abs_error if outcome else float("nan")
        rel_error = outcome.rel_error if outcome else float("nan")
        return OpCheck(
            index, node, node.name, output_shape, status, abs_error, rel_error, position, detail
        )

    originals = [np.array(t.data, copy=True) for t in node.inputs]
    # Re-run in-place ops out of place, so that no run overwrites the arrays checked around.
    attrs = {key: value for key, value in node.attrs.items() if key != "inplace"}
    try:
        native = _OpAtPoint(op, attrs, originals)
    except Exception as error:  # a broken op must show in the report, not abort the check
        return entry(FAIL, None, None, f"re-running the op raised {error!r}")
    if native.problem is not None:
        return entry(FAIL, None, *native.problem)

    attrs64 = {k: _float64_attr(v) for k, v in attrs.items()}
    arrays64 = [a.astype(np.float64) if a.dtype.kind == "f" else a for a in originals]
    rng = np.random.default_rng(index)
    try:
        point = _OpAtPoint(op, attrs64, arrays64)
    except Exception as error:  # e.g. a backward that only breaks in float64
        return entry(FAIL, None, None, f"re-running the op in float64 raised {error!r}")
    if point.problem is not None:
        position, problem = point.problem
        return entry(FAIL, None, position, f"in float64: {problem}")
    if point.output_dtype != np.float64:
        detail = f"the op returns {point.output_dtype} for float64 inputs: cannot check in float64"
        return entry(UNDETERMINED, None, None, detail)

    worst_status, worst, worst_position = PASS, _Outcome(), None
    for position, array in enumerate(arrays64):
        if array.dtype.kind != "f" or array.size == 0:
            continue  # integer labels, indices: not differentiable
        outcome = _check_input(point, position, settings, rng)
        for _ in range(settings.nudges if outcome.status == UNDETERMINED else 0):
            nudged = _OpAtPoint(op, attrs64, _nudged(arrays64, settings.nudge, rng))
            if nudged.problem is not None:
                break
            retry = _check_input(nudged, position, settings, rng)
            if retry.status != UNDETERMINED:
                kink, outcome = outcome.detail, retry
                if retry.status == FAIL:
                    outcome.detail += " (at nudged inputs)"
                else:
                    outcome.detail = f"passed at nudged inputs; at the graph's inputs: {kink}"
                break
        rank, mine = _ORDER[outcome.status], _ORDER[worst_status]
        if rank > mine or (rank == mine and outcome.abs_error >= worst.abs_error):
            worst_status, worst, worst_position = outcome.status, outcome, position
    return entry(worst_status, worst, worst_position, worst.detail)


# ---------------------------------------------------------------------- public entry point
def check_graph(
    *roots: Tensor,
    eps: float = EPS,
    atol: float = ATOL,
    rtol: float = RTOL,
    num_projections: int = NUM_PROJECTIONS,
    full_jacobian_max: int = FULL_JACOBIAN_MAX,
    nudges: int = 3,
    nudge: float = 1e-2,
) -> GraphReport:
    """Check the backward of every op recorded behind ``roots`` on that op's own inputs.

    Parameters
    ----------
    *roots : Tensor
        The output(s) of a forward pass (typically the loss), recorded with grad mode on.
    eps : float, default 1e-6
        Finite-difference step ``h`` (in float64).
    atol, rtol : float, default 1e-5 and 1e-3
        A comparison passes when ``|analytic - numerical| <= atol + rtol * |numerical|``
        (:class:`~tinygrad_cnn.debug.numerical.Tolerance`).
    num_projections : int, default 3
        Random directions per input larger than ``full_jacobian_max`` elements.
    full_jacobian_max : int, default 16
        Inputs with at most this many elements are checked element by element.
    nudges : int, default 3
        Retries at randomly nudged inputs when a comparison meets a kink.
    nudge : float, default 1e-2
        Size of the nudge, relative to each input's RMS.

    Returns
    -------
    GraphReport
        One entry per op (forward order): status ``pass``/``fail``/``undetermined``, worst
        error, and the reason; ``print(report)`` shows a table.

    Raises
    ------
    TypeError
        When a root is not a Tensor, or a setting has the wrong type.
    ValueError
        When a root has no recorded graph, or a setting is out of range.

    Examples
    --------
    >>> loss = model(x).cross_entropy(y)
    >>> report = check_graph(loss)
    >>> print(report)          # the op whose backward is wrong is marked FAIL
    """
    settings = _validated_settings(
        eps, atol, rtol, num_projections, full_jacobian_max, nudges, nudge
    )
    if not roots:
        raise TypeError("check_graph: expected at least one Tensor (the loss), got none")
    for root in roots:
        if not isinstance(root, Tensor):
            raise TypeError(f"check_graph: expected Tensors, got {type(root).__name__}")
        if root._ctx is None:
            raise ValueError(
                "check_graph: this tensor has no recorded graph (a leaf, or computed under "
                "no_grad() or from inputs that do not require grad)"
            )
    outputs = [t for t in topological_order(*roots) if t._ctx is not None]
    token = anomaly_hooks.set(None)  # the re-runs probe near the domain's edge on purpose
    try:
        with np.errstate(all="ignore"):
            entries = [_check_node(i, t._ctx, t.shape, settings) for i, t in enumerate(outputs)]
    finally:
        anomaly_hooks.reset(token)
    shown = {"eps": eps, "atol": atol, "rtol": rtol}
    return GraphReport(entries, shown)


def _validated_settings(
    eps: float,
    atol: float,
    rtol: float,
    num_projections: int,
    full_jacobian_max: int,
    nudges: int,
    nudge: float,
) -> _Settings:
    tolerance = validate_options(
        "check_graph",
        eps=eps,
        atol=atol,
        rtol=rtol,
        num_projections=num_projections,
        full_jacobian_max=full_jacobian_max,
    )
    if isinstance(nudge, bool) or not isinstance(nudge, int | float | np.floating):
        raise TypeError(f"check_graph: nudge must be a number, got {nudge!r}")
    if isinstance(nudges, bool) or not isinstance(nudges, int | np.integer):
        raise TypeError(f"check_graph: nudges must be an int, got {nudges!r}")
    if not nudge > 0:
        raise ValueError(f"check_graph: nudge must be positive, got {nudge!r}")
    if nudges < 0:
        raise ValueError(f"check_graph: nudges must be non-negative, got {nudges!r}")
    return _Settings(
        float(eps), tolerance, num_projections, full_jacobian_max, nudges, float(nudge)
    )
