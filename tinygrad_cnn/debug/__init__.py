"""Gradient debugging tools: :func:`gradcheck`, :func:`check_graph` and :func:`detect_anomaly`.

- :func:`gradcheck` compares the gradients of a function with central finite differences and
  names the input and element that disagree; :func:`gradgradcheck` does the same for second
  derivatives (of ``create_graph=True`` gradients); :func:`numerical_jacobian` and
  :func:`numerical_gradient` give the finite differences themselves. Both build on
  :mod:`tinygrad_cnn.debug.numerical`, the core every gradient check shares (also
  :func:`check_graph` and :func:`tinygrad_cnn.testing.assert_grads`).
- :func:`check_graph` checks each recorded op's backward on its own inputs and reports which op
  is wrong (a table; statuses per node for the graph renderer).
- :func:`detect_anomaly` raises :class:`AnomalyError` at the first op whose output (forward) or
  gradient (backward) is NaN or infinite, naming the op and the user code that called it.

See ``docs/debugging.md`` for a walk-through.
"""

from tinygrad_cnn.debug.anomaly import (
    AnomalyError,
    CallSite,
    describe_array,
    detect_anomaly,
    is_anomaly_enabled,
)
from tinygrad_cnn.debug.check_graph import GraphReport, OpCheck, check_graph
from tinygrad_cnn.debug.gradcheck import GradcheckError, GradcheckWarning, gradcheck
from tinygrad_cnn.debug.gradgradcheck import GradgradcheckError, gradgradcheck
from tinygrad_cnn.debug.numerical import numerical_gradient, numerical_jacobian

__all__ = [
    "AnomalyError",
    "CallSite",
    "GradcheckError",
    "GradcheckWarning",
    "GradgradcheckError",
    "GraphReport",
    "OpCheck",
    "check_graph",
    "describe_array",
    "detect_anomaly",
    "gradcheck",
    "gradgradcheck",
    "is_anomaly_enabled",
    "numerical_gradient",
    "numerical_jacobian",
]
