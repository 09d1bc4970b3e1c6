"""Anomaly mode: stop at the first op whose output or gradient is NaN or infinite.

Inside ``with detect_anomaly():`` the engine calls two hooks (installed through the context
variable :data:`tinygrad_cnn.function.anomaly_hooks`, ``None`` otherwise, so anomaly mode costs
nothing when it is off):

- after every op's ``forward``: the op's call site in *user* code (the first stack frame outside
  the ``tinygrad_cnn`` package) is recorded on the node, and a non-finite output raises
  :class:`AnomalyError` naming that op, its inputs and the call site;
- after every op's ``backward``: a non-finite gradient returned for any input raises
  :class:`AnomalyError` naming *that* op (the one that made the gradient non-finite, not the op
  downstream that first receives it), with the call site recorded when its forward ran.

Anomaly mode is per thread and per async task (a context variable, like grad mode): turning it
on in one thread does not turn it on in another.
"""

from __future__ import annotations

import linecache
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from tinygrad_cnn.array_stats import summarize
from tinygrad_cnn.function import anomaly_hooks
from tinygrad_cnn.tensor import Tensor

if TYPE_CHECKING:
    from tinygrad_cnn.function import Function

# The folder of the tinygrad_cnn package: frames from files inside it are library code.
_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep

# Key under which a node remembers its forward call site (in the node's ``__dict__``, so
# ``Function.release()`` drops it together with the arrays saved for backward).
_CALL_SITE_KEY = "anomaly_call_site"


@dataclass(frozen=True)
class CallSite:
    """Where user code called an op.

    Attributes
    ----------
    filename : str
        The source file of the first stack frame outside the ``tinygrad_cnn`` package.
    lineno : int
        The line number in that file.
    function : str
        The name of the function (``<module>`` at top level).
    """

    filename: str
    lineno: int
    function: str

    @property
    def source(self) -> str:
        """The text of the calling line (empty when the source is unavailable)."""
        return linecache.getline(self.filename, self.lineno).strip()

    def __str__(self) -> str:
        where = f"{self.filename}:{self.lineno} in {self.function}"
        source = self.source
        return f"{where}\n      {source}" if source else where


def user_call_site() -> CallSite | None:
    """The innermost stack frame outside the ``tinygrad_cnn`` package, or None if there is none."""
    frame = sys._getframe(1)
    while frame is not None:
        filename = frame.f_code.co_filename
        if not os.path.abspath(filename).startswith(_PACKAGE_DIR):
            return CallSite(filename, frame.f_lineno, frame.f_code.co_name)
        frame = frame.f_back
    return None


def _is_finite(array: np.ndarray) -> bool:
    if array.dtype.kind not in "fc":
        return True
    return bool(np.isfinite(array).all())


def describe_array(array: np.ndarray) -> str:
    """A one-line summary: shape, dtype, min and max of the finite values, NaN and Inf counts.

    Built from :func:`tinygrad_cnn.array_stats.summarize`, the summary the graph renderer
    shows.

    Parameters
    ----------
    array : ndarray, any shape

    Returns
    -------
    str
        For example ``"shape (4,) float32, min 0, max 3, 0 NaN, 0 +Inf, 1 -Inf"``.
    """
    array = np.asarray(array)
    head = f"shape {array.shape} {array.dtype}"
    stats = summarize(array)
    if stats.size == 0:
        return f"{head}, empty"
    if array.dtype.kind not in "fc":
        return f"{head}, min {stats.minimum:.6g}, max {stats.maximum:.6g}"
    values = (
        f"min {stats.minimum:.6g}, max {stats.maximum:.6g}" if stats.finite else "no finite values"
    )
    return f"{head}, {values}, {stats.nan} NaN, {stats.pos_inf} +Inf, {stats.neg_inf} -Inf"


class AnomalyError(FloatingPointError):
    """An op produced a NaN or an infinity while :func:`detect_anomaly` was on.

    Attributes
    ----------
    op : Function
        The graph node of the op that produced it.
    op_name : str
        Its registered name (``"log"``, ``"conv2d"`` ...).
    phase : {"forward", "backward"}
        Whether its output (forward) or a gradient it returned (backward) was not finite.
    call_site : CallSite or None
        Where user code called the op (recorded at forward time; None when the forward pass
        ran outside ``detect_anomaly()``).
    input_index : int or None
        In backward: the first input whose returned gradient is not finite.
    """

    def __init__(
        self,
        message: str,
        *,
        op: Function,
        phase: str,
        call_site: CallSite | None,
        input_index: int | None = None,
    ) -> None:
        super().__init__(message)
        self.op = op
        self.op_name = op.name
        self.phase = phase
        self.call_site = call_site
        self.input_index = input_index


def _input_lines(node: Function) -> list[str]:
    return [f"  input {i}: {describe_array(t.data)}" for i, t in enumerate(node.inputs)]


def _site_line(site: CallSite | None, phase: str) -> str:
    if site is not None:
        label = "called from" if phase == "forward" else "forward called from"
        return f"  {label} {site}"
    return (
        "  forward call site not recorded: run the forward pass inside detect_anomaly() to see it"
    )


class _AnomalyHooks:
    """The engine hooks that :func:`detect_anomaly` installs."""

    def __init__(self, check_forward: bool) -> None:
        self.check_forward = check_forward

    def after_forward(self, node: Function, output: np.ndarray) -> None:
        site = user_call_site()
        node_dict = getattr(node, "__dict__", None)
        if node_dict is not None:
            node_dict[_CALL_SITE_KEY] = site
        if self.check_forward and not _is_finite(np.asarray(output)):
            lines = [
                f"detect_anomaly: {node.name} produced a non-finite output in forward: "
                f"{describe_array(output)}",
                _site_line(site, "forward"),
                *_input_lines(node),
            ]
            raise AnomalyError("\n".join(lines), op=node, phase="forward", call_site=site)

    def after_backward(self, node: Function, upstream: Any, grads: Sequence[Any]) -> None:
        """Raise when a gradient ``node``'s backward returned is not finite.

        ``upstream`` and ``grads`` are arrays (first-order walk) or Tensors (``create_graph``).
        """
        upstream = _values(upstream)
        grads = [None if g is None else _values(g) for g in grads]
        bad = [i for i, g in enumerate(grads) if g is not None and not _is_finite(g)]
        if not bad:
            return
        site = getattr(node, "__dict__", {}).get(_CALL_SITE_KEY)
        first = bad[0]
        lines = [
            f"detect_anomaly: {node.name} returned a non-finite gradient in backward for "
            f"input {first}: {describe_array(np.asarray(grads[first]))}",
            _site_line(site, "backward"),
            f"  upstream gradient: {describe_array(upstream)}",
            *_input_lines(node),
        ]
        if not _is_finite(upstream):
            lines.append(
                "  the upstream gradient it received was already non-finite: gradients summed "
                "from several consumers overflowed, or backward() was given a non-finite gradient"
            )
        raise AnomalyError(
            "\n".join(lines), op=node, phase="backward", call_site=site, input_index=first
        )


def _values(value: Any) -> np.ndarray:
    """The array of a gradient: a Tensor's ``data``, or the value as an array."""
    return value.data if isinstance(value, Tensor) else np.asarray(value)


def is_anomaly_enabled() -> bool:
    """Return True inside :func:`detect_anomaly` (in this thread or task)."""
    return anomaly_hooks.get() is not None


@contextmanager
def detect_anomaly(check_forward: bool = True) -> Iterator[None]:
    """Raise :class:`AnomalyError` at the first op that makes a NaN or an infinity.

    Parameters
    ----------
    check_forward : bool, default True
        Check every op's output in forward. With False, forward only records call sites, and
        only backward is checked: use it when a non-finite value in forward is expected and
        handled (e.g. ``log(0) = -inf`` later clamped) but its gradient may not be.

    Notes
    -----
    Backward is checked for the ops whose ``backward`` runs inside the block; the call site
    shown for an op is recorded when its forward runs inside the block. Checking costs a pass
    over every output and gradient, and recording walks the stack, so use it to debug, not to
    train. Off by default; outside the block the engine pays one context-variable lookup per op.

    Examples
    --------
    >>> with detect_anomaly():
    ...     loss = model(x).cross_entropy(y)
    ...     loss.backward()
    """
    token = anomaly_hooks.set(_AnomalyHooks(bool(check_forward)))
    try:
        yield
    finally:
        anomaly_hooks.reset(token)
