"""Export a model (or any function of tensors) to ONNX from the graph its forward records.

The model runs once on the example inputs with recording on; the graph behind its outputs
(the graph :func:`tinygrad_cnn.viz.draw` shows, numbered the same way: value ``t7`` is drawn
tensor ``t7``, node ``op7`` drawn op ``op7``) is walked in topological order, without
recursion, and each op is written by its export rule (:mod:`tinygrad_cnn.onnx.rules`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import helper

from tinygrad_cnn.atomic import write_atomically
from tinygrad_cnn.function import topological_order
from tinygrad_cnn.grad_mode import enable_grad
from tinygrad_cnn.nn.module import Module
from tinygrad_cnn.onnx.builder import GraphBuilder, OpCall, onnx_dtype
from tinygrad_cnn.onnx.rules import EXPORT_RULES, NOT_EXPORTABLE, OnnxExportError
from tinygrad_cnn.tensor import Tensor

DEFAULT_OPSET = 17
MIN_OPSET = 13  # SoftmaxCrossEntropyLoss, ReduceSum's axes input, Squeeze/Unsqueeze inputs
BATCH_DIM = "N"


def export(
    model_or_fn: Module | Callable[..., Any],
    example_inputs: Any,
    path: str | Path | None = None,
    *,
    opset: int = DEFAULT_OPSET,
    input_names: Sequence[str] | None = None,
    output_names: Sequence[str] | None = None,
    dynamic_batch: bool = True,
) -> onnx.ModelProto:
    """Write ``model_or_fn`` as an ONNX model, traced on ``example_inputs``.

    Parameters
    ----------
    model_or_fn : Module or callable
        Called once as ``model_or_fn(*example_inputs)``; returns a Tensor or a tuple/list of
        Tensors. A Module is run in eval mode (its mode is restored afterwards) and its
        parameters become initialisers named by their dotted names (``conv.weight``); any
        other leaf tensor becomes an initialiser named ``t<i>`` (its :attr:`Tensor.name` if
        it has one).
    example_inputs : Tensor, ndarray or tuple of them
        One array per graph input, e.g. images of shape ``(N, 1, 28, 28)`` float32 (and int64
        labels for a loss). Copied; floating-point ones are traced as leaves that require
        grad, so that every op on them is recorded.
    path : str or Path, optional
        Where to write the ``.onnx`` file (atomically). ``None`` only returns the model.
    opset : int, default 17
        The ONNX opset, from 13 to the installed onnx package's newest.
    input_names, output_names : sequence of str, optional
        Names of the graph's inputs and outputs; by default ``input`` / ``output`` for one,
        ``input0``, ``input1`` ... for several.
    dynamic_batch : bool, default True
        Declare the first axis of every input (and of each output whose first axis has the
        example's batch size) as the symbolic dimension ``N``. The export rules keep the batch
        axis free where the example shows it is kept (see :mod:`tinygrad_cnn.onnx.rules`).

    Returns
    -------
    onnx.ModelProto
        The model, already checked by ``onnx.checker.check_model(..., full_check=True)``.

    Raises
    ------
    OnnxExportError
        For an op without an export rule (with the reason when it is declared
        non-exportable), an output that is not a Tensor, or names that do not fit.
    ValueError
        For an unsupported opset.
    """
    newest = onnx.defs.onnx_opset_version()
    if isinstance(opset, bool) or not isinstance(opset, int) or not MIN_OPSET <= opset <= newest:
        raise ValueError(f"export: opset must be an int in [{MIN_OPSET}, {newest}], got {opset!r}")
    inputs = _example_tensors(example_inputs)
    with _eval_mode(model_or_fn), enable_grad():
        result = model_or_fn(*inputs)
    outputs = _output_tensors(result)
    in_names = _names(input_names, "input", len(inputs), "input_names")
    out_names = _names(output_names, "output", len(outputs), "output_names")
    if len(set(in_names) | set(out_names)) != len(in_names) + len(out_names):
        raise OnnxExportError(f"export: input and output names repeat: {in_names + out_names}")
    builder = GraphBuilder(opset)
    for name in (*in_names, *out_names):
        builder.reserve(name)
    batch = inputs[0].shape[0] if inputs and inputs[0].ndim else None
    graph_inputs = [
        _value_info(name, t.data, dynamic_batch and t.ndim > 0)
        for name, t in zip(in_names, inputs, strict=True)
    ]
    values = _write_nodes(builder, model_or_fn, inputs, in_names, outputs, out_names)
    graph_outputs = []
    for name, tensor in zip(out_names, outputs, strict=True):
        if values[id(tensor)] != name:  # an input, a constant, or an output twice
            builder.start_op(name)
            builder.node("Identity", [values[id(tensor)]], name)
        dynamic = dynamic_batch and tensor.ndim > 0 and tensor.shape[0] == batch
        graph_outputs.append(_value_info(name, tensor.data, dynamic))
    graph = helper.make_graph(
        builder.nodes,
        type(model_or_fn).__name__ if isinstance(model_or_fn, Module) else "tinygrad_cnn",
        graph_inputs,
        graph_outputs,
        initializer=builder.initializers,
    )
    opset_ids = [helper.make_opsetid("", opset)]
    model = helper.make_model(
        graph,
        opset_imports=opset_ids,
        producer_name="tinygrad_cnn",
        ir_version=helper.find_min_ir_version_for(opset_ids),
    )
    onnx.checker.check_model(model, full_check=True)
    if path is not None:
        data = model.SerializeToString()
        write_atomically(path, lambda file: file.write(data))
    return model


def _write_nodes(
    builder: GraphBuilder,
    model_or_fn: Any,
    inputs: list[Tensor],
    in_names: list[str],
    outputs: list[Tensor],
    out_names: list[str],
) -> dict[int, str]:
    """Add an initialiser or nodes for every tensor behind ``outputs``; map id -> value name."""
    by_tensor = {id(t): name for t, name in zip(inputs, in_names, strict=True)}
    # cross_entropy wraps its labels in a new Tensor around the same array: match by array too.
    by_array = {id(t.data): name for t, name in zip(inputs, in_names, strict=True)}
    params = {}
    if isinstance(model_or_fn, Module):
        params = {id(p): name for name, p in model_or_fn.named_parameters()}
    first_output = {}
    for tensor, name in zip(outputs, out_names, strict=True):
        first_output.setdefault(id(tensor), name)
    values: dict[int, str] = {}
    for position, tensor in enumerate(topological_order(*outputs)):
        node = tensor._ctx
        if node is None:
            if id(tensor) in by_tensor or id(tensor.data) in by_array:
                values[id(tensor)] = by_tensor.get(id(tensor), by_array.get(id(tensor.data)))
            else:
                hint = params.get(id(tensor)) or tensor.name or f"t{position}"
                values[id(tensor)] = builder.constant(tensor.data, hint)
            continue
        rule = EXPORT_RULES.get(node.name)
        if rule is None:
            reason = NOT_EXPORTABLE.get(node.name, "it has no export rule")
            raise OnnxExportError(f"export: op {node.name!r} cannot be exported to ONNX: {reason}")
        output = first_output.get(id(tensor)) or builder.reserve(f"t{position}")
        values[id(tensor)] = output
        builder.start_op(f"op{position}")
        rule(builder, OpCall(node, [values[id(t)] for t in node.inputs], output, tensor.data))
    return values


def _example_tensors(example_inputs: Any) -> list[Tensor]:
    """Fresh leaf tensors with copies of the example data (float ones require grad)."""
    items = example_inputs if isinstance(example_inputs, tuple | list) else (example_inputs,)
    tensors = []
    for position, item in enumerate(items):
        if isinstance(item, Tensor):
            data = np.array(item.data)
        elif isinstance(item, np.ndarray):
            data = np.array(item)
        else:
            raise OnnxExportError(
                f"export: example input {position} must be a Tensor or an ndarray, got "
                f"{type(item).__name__}"
            )
        tensors.append(Tensor(data, requires_grad=np.issubdtype(data.dtype, np.floating)))
    return tensors


def _output_tensors(result: Any) -> list[Tensor]:
    """The traced call's outputs as a list of Tensors."""
    items = result if isinstance(result, tuple | list) else (result,)
    for position, item in enumerate(items):
        if not isinstance(item, Tensor):
            raise OnnxExportError(
                f"export: output {position} must be a Tensor, got {type(item).__name__}"
            )
    if not items:
        raise OnnxExportError("export: the traced call returned no tensor")
    return list(items)


def _names(given: Sequence[str] | None, stem: str, count: int, what: str) -> list[str]:
    """The given names (checked), or ``stem`` / ``stem0, stem1 ...``."""
    if given is None:
        return [stem] if count == 1 else [f"{stem}{i}" for i in range(count)]
    names = list(given)
    if len(names) != count or not all(isinstance(n, str) and n for n in names):
        raise OnnxExportError(f"export: {what} must be {count} non-empty strings, got {given!r}")
    return names


def _value_info(name: str, data: np.ndarray, dynamic: bool) -> onnx.ValueInfoProto:
    """A graph input or output: element type and shape, axis 0 named ``N`` when dynamic."""
    shape: list[int | str] = list(data.shape)
    if dynamic:
        shape[0] = BATCH_DIM
    return helper.make_tensor_value_info(name, onnx_dtype(data.dtype), shape)


@contextlib.contextmanager
def _eval_mode(model_or_fn: Any) -> Iterator[None]:
    """Run a Module in eval mode, restoring each submodule's mode afterwards."""
    if not isinstance(model_or_fn, Module):
        yield
        return
    modes = [(m, m.training) for m in model_or_fn.modules()]
    model_or_fn.eval()
    try:
        yield
    finally:
        for module, mode in modes:  # one by one: train() would also set the children
            object.__setattr__(module, "training", mode)
