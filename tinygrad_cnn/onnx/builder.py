"""The ONNX graph being written: nodes, initialisers and unique value names.

:class:`GraphBuilder` knows nothing about tinygrad_cnn's ops; the export rules
(:mod:`tinygrad_cnn.onnx.rules`) call it to add nodes and constants, and the exporter
(:mod:`tinygrad_cnn.onnx.exporter`) to declare the graph's inputs and outputs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import onnx
from onnx import helper, numpy_helper


def onnx_dtype(dtype: np.dtype) -> int:
    """The ONNX element type (``onnx.TensorProto.FLOAT`` ...) of a numpy dtype."""
    return helper.np_dtype_to_tensor_dtype(np.dtype(dtype))


@dataclass
class OpCall:
    """One recorded op as an export rule sees it.

    Attributes
    ----------
    node : Function
        The recorded op: its ``attrs`` and its ``inputs`` (Tensors, for shapes and dtypes).
    inputs : list of str
        The ONNX value names of the op's inputs, in order.
    output : str
        The ONNX value name the rule must write the op's result to.
    result : ndarray
        The op's output on the example inputs (for its shape and dtype).
    """

    node: Any
    inputs: list[str]
    output: str
    result: np.ndarray

    def input_array(self, position: int) -> np.ndarray:
        """The example value of input ``position`` (for its shape and dtype)."""
        return self.node.inputs[position].data


class GraphBuilder:
    """Collects the nodes and initialisers of one ONNX graph.

    Parameters
    ----------
    opset : int
        The default-domain opset the graph is written for (rules pick operator forms by it).
    """

    def __init__(self, opset: int) -> None:
        self.opset = opset
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self._taken: set[str] = set()
        self._node_prefix = "node"
        self._nodes_of_prefix = 0

    def reserve(self, name: str) -> str:
        """``name``, or ``name_1``, ``name_2`` ... when taken: a value name used once."""
        candidate, suffix = name, 0
        while candidate in self._taken:
            suffix += 1
            candidate = f"{name}_{suffix}"
        self._taken.add(candidate)
        return candidate

    def start_op(self, prefix: str) -> None:
        """Name the next nodes after the recorded op ``prefix`` (``op7``, ``op7_1`` ...)."""
        self._node_prefix, self._nodes_of_prefix = prefix, 0

    def constant(self, array: Any, hint: str, dtype: Any = None) -> str:
        """Add ``array`` as an initialiser; return its (unique) value name."""
        name = self.reserve(hint)
        value = np.asarray(array, dtype=dtype)
        self.initializers.append(numpy_helper.from_array(np.array(value, order="C"), name))
        return name

    def op_constant(self, array: Any, hint: str, dtype: Any = None) -> str:
        """A constant of the current op, named after it (``op7_exponent``)."""
        return self.constant(array, f"{self._node_prefix}_{hint}", dtype)

    def ints(self, values: Any, hint: str) -> str:
        """A 1-D int64 constant of the current op (shapes, axes, pads, slice bounds)."""
        return self.op_constant(np.asarray(values, dtype=np.int64).reshape(-1), hint)

    def node(
        self, op_type: str, inputs: list[str], output: str | None = None, **attributes: Any
    ) -> str:
        """Append an ``op_type`` node; return its output's name (a fresh one unless given).

        An input named ``""`` is an omitted optional input, as ONNX spells it.
        """
        if output is None:
            output = self.reserve(f"{self._node_prefix}_{op_type.lower()}")
        name = self._node_prefix
        if self._nodes_of_prefix:
            name = f"{name}_{self._nodes_of_prefix}"
        self._nodes_of_prefix += 1
        self.nodes.append(helper.make_node(op_type, inputs, [output], name=name, **attributes))
        return output
