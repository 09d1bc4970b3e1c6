"""Gradient debugging tools: :func:`check_graph` and :func:`detect_anomaly`.

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

__all__ = [
    "AnomalyError",
    "CallSite",
    "GraphReport",
    "OpCheck",
    "check_graph",
    "describe_array",
    "detect_anomaly",
    "is_anomaly_enabled",
]
