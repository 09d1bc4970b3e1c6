"""Export rules: for each registered op (by its registry name), the ONNX nodes that compute it.

A rule is ``rule(builder, call) -> None``: it reads the op's attributes and example input
shapes from ``call`` (an :class:`~tinygrad_cnn.onnx.builder.OpCall`) and adds nodes that write
the op's result to ``call.output``. ``EXPORT_RULES`` maps every exportable op to its rule;
``NOT_EXPORTABLE`` maps every registered op that has no ONNX counterpart to the reason. The
test suite fails when a registered op is in neither (tests/test_onnx_export.py).

Shapes an op holds as attributes (a reshape's target, a broadcast's shape) are written so
that a different batch size still works where the example shows which axes are kept: a
reshape writes ``0`` ("copy this axis") for its leading axes that keep the input's size, a
broadcast writes ``1`` ("keep") for the axes the input already has at full size, a slice of
the whole batch axis is left out.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from tinygrad_cnn.onnx.builder import GraphBuilder, OpCall, onnx_dtype

Rule = Callable[[GraphBuilder, OpCall], None]

INT64_MAX = np.iinfo(np.int64).max
INT64_MIN = np.iinfo(np.int64).min

# Registered ops with no ONNX counterpart, each with the reason (shown by export's error).
NOT_EXPORTABLE: dict[str, str] = {
    "threshold_backward": "a backward op (ReLU's gradient routing); an export is a forward graph",
    "cross_entropy_backward": "a backward op (cross_entropy's gradient); an export is a "
    "forward graph",
    "getitem_backward": "a backward-only kernel (getitem's gradient), not part of a model",
    "gather_backward": "a backward-only kernel (gather's gradient), not part of a model",
}

# conv2d's and the pools' backward kernels, recorded only by a create_graph=True backward.
NOT_EXPORTABLE.update(
    dict.fromkeys(
        (
            "conv2d_input_grad",
            "conv2d_weight_grad",
            "conv2d_bias_grad",
            "max_pool2d_route",
            "max_pool2d_gather",
            "avg_pool2d_spread",
        ),
        "a backward kernel: exported graphs are forward graphs",
    )
)


class OnnxExportError(ValueError):
    """An op, an index or an input that cannot be written as ONNX (the message says which)."""


def _same(op_type: str) -> Rule:
    """An op with the ONNX operator of the same inputs and meaning (Add, Exp, MatMul ...)."""

    def rule(b: GraphBuilder, call: OpCall) -> None:
        b.node(op_type, call.inputs, call.output)

    rule.__doc__ = f"Written as ONNX {op_type}."
    return rule


def _relu(b: GraphBuilder, call: OpCall) -> None:
    """Relu (the in-place form computes the same values)."""
    b.node("Relu", call.inputs[:1], call.output)


def _cast(b: GraphBuilder, call: OpCall) -> None:
    """Cast to the op's dtype."""
    b.node("Cast", call.inputs, call.output, to=onnx_dtype(call.node.attrs["dtype"]))


def _pow_scalar(b: GraphBuilder, call: OpCall) -> None:
    """Pow with the exponent as a constant of the result's dtype."""
    base = call.inputs[0]
    dtype = call.result.dtype
    if call.input_array(0).dtype != dtype:  # an integer tensor to a fractional power
        base = b.node("Cast", [base], to=onnx_dtype(dtype))
    exponent = b.op_constant(call.node.attrs["exponent"], "exponent", dtype=dtype)
    b.node("Pow", [base, exponent], call.output)


def _reduction(op_type: str) -> Rule:
    """ReduceSum/Mean/Max/Min over the op's axes (axes an input from the opset that says so)."""
    axes_as_input_from = 13 if op_type == "ReduceSum" else 18

    def rule(b: GraphBuilder, call: OpCall) -> None:
        axes, keepdims = call.node.attrs["axis"], int(call.node.attrs["keepdims"])
        if not axes:  # a 0-d input: nothing to reduce
            b.node("Identity", call.inputs, call.output)
        elif b.opset >= axes_as_input_from:
            b.node(op_type, [call.inputs[0], b.ints(axes, "axes")], call.output, keepdims=keepdims)
        else:
            b.node(op_type, call.inputs, call.output, axes=list(axes), keepdims=keepdims)

    rule.__doc__ = f"Written as ONNX {op_type}."
    return rule


def _reshape(b: GraphBuilder, call: OpCall) -> None:
    """Reshape; leading axes that keep the input's size are written 0 (copied at run time)."""
    source, target = call.input_array(0).shape, tuple(call.node.attrs["shape"])
    if 0 in target:  # a literal 0 size: ONNX must not read 0 as "copy"
        if b.opset < 14:
            raise OnnxExportError(
                f"reshape: a target shape with a 0-size axis {target} needs opset >= 14, "
                f"got opset {b.opset}"
            )
        shape = b.ints(target, "shape")
        b.node("Reshape", [call.inputs[0], shape], call.output, allowzero=1)
        return
    written = list(target)
    for axis, (before, after) in enumerate(zip(source, target, strict=False)):
        if before != after:
            break
        written[axis] = 0
    b.node("Reshape", [call.inputs[0], b.ints(written, "shape")], call.output)


def _permute(b: GraphBuilder, call: OpCall) -> None:
    """Transpose with the op's axis order."""
    b.node("Transpose", call.inputs, call.output, perm=list(call.node.attrs["axes"]))


def _broadcast_to(b: GraphBuilder, call: OpCall) -> None:
    """Expand; axes the input already has at full size are written 1 (kept at run time)."""
    source, target = call.input_array(0).shape, tuple(call.node.attrs["shape"])
    offset = len(target) - len(source)
    written = [
        1 if axis >= offset and source[axis - offset] == n and n != 1 else n
        for axis, n in enumerate(target)
    ]
    b.node("Expand", [call.inputs[0], b.ints(written, "shape")], call.output)


def _getitem(b: GraphBuilder, call: OpCall) -> None:
    """Basic indices: Slice, Squeeze (int indices), Unsqueeze (None). Arrays and masks: Gather.

    An index with arrays or masks is written as a Gather from the flattened input of the
    positions it picks, computed at export time by the op's own two steps (PyTorch's order:
    ints, slices and None first, then the arrays): exact for any index, but for the example's
    input shape only.
    """
    x = call.input_array(0)
    index = call.node.attrs["index"]
    parts = index if isinstance(index, tuple) else (index,)
    basic, advanced = call.node.steps
    if advanced is not None:
        positions = np.arange(x.size, dtype=np.int64).reshape(x.shape)
        positions = np.asarray((positions if basic is None else positions[basic])[advanced])
        flat = b.node("Reshape", [call.inputs[0], b.ints([-1], "flat_shape")])
        b.node("Gather", [flat, b.op_constant(positions, "positions")], call.output, axis=0)
        return
    consumed = sum(p is not None and p is not Ellipsis for p in parts)
    expanded: list[Any] = []
    for p in parts:
        expanded.extend([slice(None)] * (x.ndim - consumed) if p is Ellipsis else [p])
    starts: list[int] = []
    ends: list[int] = []
    axes: list[int] = []
    steps: list[int] = []
    squeezed: list[int] = []
    new_axes: list[int] = []
    axis = out_axis = 0
    for p in expanded:
        if p is None:
            new_axes.append(out_axis)
            out_axis += 1
            continue
        if isinstance(p, slice):
            bounds = _slice_bounds(p, x.shape[axis])
            if bounds is not None:
                starts.append(bounds[0])
                ends.append(bounds[1])
                axes.append(axis)
                steps.append(bounds[2])
            out_axis += 1
        else:
            i = int(p)
            starts.append(i)
            ends.append(i + 1 if i + 1 != 0 else INT64_MAX)
            axes.append(axis)
            steps.append(1)
            squeezed.append(axis)
        axis += 1
    value = call.inputs[0]
    if axes:
        inputs = [b.ints(v, hint) for v, hint in ((starts, "starts"), (ends, "ends"))]
        inputs += [b.ints(axes, "axes"), b.ints(steps, "steps")]
        value = b.node("Slice", [value, *inputs])
    if squeezed:
        value = b.node("Squeeze", [value, b.ints(squeezed, "axes")])
    if new_axes:
        value = b.node("Unsqueeze", [value, b.ints(new_axes, "axes")])
    b.node("Identity", [value], call.output)


def _slice_bounds(part: slice, size: int) -> tuple[int, int, int] | None:
    """(start, end, step) of a slice as ONNX Slice reads them; None for the whole axis.

    With a positive step, Python and ONNX clamp negative and too-large bounds alike, so the
    bounds stay as written (an open end is INT64_MAX: the whole axis at any size). A negative
    step is resolved against the example's size.
    """
    step = 1 if part.step is None else int(part.step)
    if step > 0:
        if part.start in (None, 0) and part.stop is None and step == 1:
            return None
        start = 0 if part.start is None else int(part.start)
        end = INT64_MAX if part.stop is None else int(part.stop)
        return start, end, step
    start, end, step = part.indices(size)
    return start, (INT64_MIN if end < 0 else end), step


def _pad(b: GraphBuilder, call: OpCall) -> None:
    """Pad in constant mode: pads (all befores, then all afters) and the value as inputs."""
    pairs = call.node.attrs["pad_width"]
    pads = b.ints([p[0] for p in pairs] + [p[1] for p in pairs], "pads")
    dtype = call.input_array(0).dtype
    value = b.op_constant(call.node.attrs["value"], "pad_value", dtype=dtype)
    b.node("Pad", [call.inputs[0], pads, value], call.output, mode="constant")


def _concatenate(b: GraphBuilder, call: OpCall) -> None:
    """Concat along the op's axis."""
    b.node("Concat", call.inputs, call.output, axis=int(call.node.attrs["axis"]))


def _stack(b: GraphBuilder, call: OpCall) -> None:
    """Unsqueeze each input at the new axis, then Concat."""
    axis = int(call.node.attrs["axis"])
    axes = b.ints([axis], "axes")
    pieces = [b.node("Unsqueeze", [name, axes]) for name in call.inputs]
    b.node("Concat", pieces, call.output, axis=axis)


def _conv2d(b: GraphBuilder, call: OpCall) -> None:
    """Conv (NCHW, weight (O, C, kh, kw), optional bias) with the op's stride and padding."""
    (sh, sw), (ph, pw) = call.node.attrs["stride"], call.node.attrs["padding"]
    kernel = list(call.input_array(1).shape[2:])
    b.node(
        "Conv",
        call.inputs,
        call.output,
        kernel_shape=kernel,
        strides=[sh, sw],
        pads=[ph, pw, ph, pw],
    )


def _pool(op_type: str) -> Rule:
    """MaxPool or AveragePool with the op's kernel and stride (no padding, floor mode)."""

    def rule(b: GraphBuilder, call: OpCall) -> None:
        attrs = call.node.attrs
        b.node(
            op_type,
            call.inputs,
            call.output,
            kernel_shape=list(attrs["kernel_size"]),
            strides=list(attrs["stride"]),
        )

    rule.__doc__ = f"Written as ONNX {op_type}."
    return rule


def _softmax(op_type: str) -> Rule:
    """Softmax or LogSoftmax along the op's axis (opset >= 13: one axis, as here).

    A 0-d input (recorded with ``axis=None``) is reshaped to one element and back.
    """

    def rule(b: GraphBuilder, call: OpCall) -> None:
        axis = call.node.attrs["axis"]
        if axis is not None:
            b.node(op_type, call.inputs, call.output, axis=int(axis))
            return
        one = b.node("Reshape", [call.inputs[0], b.ints([1], "one")])
        normalised = b.node(op_type, [one], axis=0)
        b.node("Reshape", [normalised, b.ints([], "scalar")], call.output)

    rule.__doc__ = f"Written as ONNX {op_type}."
    return rule


def _identity(b: GraphBuilder, call: OpCall) -> None:
    """Identity (a copy is a new value in ONNX anyway)."""
    b.node("Identity", call.inputs, call.output)


def _sign(b: GraphBuilder, call: OpCall) -> None:
    """Sign; 0 where the input is NaN (as the op); a bool tensor is its own sign (Identity)."""
    x = call.input_array(0)
    if x.dtype == np.bool_:
        b.node("Identity", call.inputs, call.output)
        return
    if x.dtype.kind != "f":
        b.node("Sign", call.inputs, call.output)
        return
    sign = b.node("Sign", call.inputs)
    zero = b.op_constant(0, "zero", dtype=x.dtype)
    b.node("Where", [b.node("IsNaN", call.inputs), zero, sign], call.output)


def _round(b: GraphBuilder, call: OpCall) -> None:
    """Round (halves to even, as the op); ``decimals`` scales by 10**decimals around it."""
    x = call.input_array(0)
    decimals = call.node.attrs.get("decimals", 0)
    if x.dtype.kind != "f":  # an integer tensor rounds to itself
        b.node("Identity", call.inputs, call.output)
        return
    if decimals == 0:
        b.node("Round", call.inputs, call.output)
        return
    scale = b.op_constant(10.0**decimals, "scale", dtype=x.dtype)
    rounded = b.node("Round", [b.node("Mul", [call.inputs[0], scale])])
    b.node("Div", [rounded, scale], call.output)


def _clamp(b: GraphBuilder, call: OpCall) -> None:
    """Min(Max(x, low), high): tensor bounds broadcast (``high`` wins where low > high)."""
    x, low, high = call.inputs
    b.node("Min", [b.node("Max", [x, low]), high], call.output)


def _gather(b: GraphBuilder, call: OpCall) -> None:
    """GatherElements along the op's dim (torch.gather's meaning)."""
    b.node("GatherElements", call.inputs, call.output, axis=int(call.node.attrs["dim"]))


def _in_place(op_type: str) -> Rule:
    """An in-place ``add_ sub_ mul_ div_``: the out-of-place op on the old value (ONNX is SSA).

    As the op: the operand in the dtype the op computes in, times ``alpha`` (``add_``,
    ``sub_``), then the result cast to ``self``'s dtype.
    """

    def rule(b: GraphBuilder, call: OpCall) -> None:
        a_array, b_array = call.input_array(0), call.input_array(1)
        dtype = np.result_type(a_array, _compute_operand(a_array, b_array))
        a, other = (_cast_to(b, name, array.dtype, dtype) for name, array in
                    ((call.inputs[0], a_array), (call.inputs[1], b_array)))  # fmt: skip
        alpha = call.node.attrs.get("alpha", 1)
        if alpha != 1:
            other = b.node("Mul", [other, b.op_constant(alpha, "alpha", dtype=dtype)])
        if dtype == a_array.dtype:
            b.node(op_type, [a, other], call.output)
        else:
            result = b.node(op_type, [a, other])
            b.node("Cast", [result], call.output, to=onnx_dtype(a_array.dtype))

    rule.__doc__ = f"Written as ONNX {op_type} (out of place)."
    return rule


def _compute_operand(a: np.ndarray, other: np.ndarray) -> np.ndarray:
    """An empty array of the dtype the in-place op brings its operand to (as ops.inplace)."""
    if other.dtype == a.dtype or not (other.ndim and other.dtype.kind == a.dtype.kind):
        return np.empty(0, a.dtype)
    return np.empty(0, np.promote_types(a.dtype, other.dtype))


def _cast_to(b: GraphBuilder, name: str, have: np.dtype, want: np.dtype) -> str:
    """``name`` cast to ``want`` (unchanged when it already has that dtype)."""
    return name if have == want else b.node("Cast", [name], to=onnx_dtype(want))


def _copy_in_place(b: GraphBuilder, call: OpCall) -> None:
    """copy_: the source cast to self's dtype, Expand-ed to self's (run-time) shape."""
    target, source = call.input_array(0), call.input_array(1)
    value = _cast_to(b, call.inputs[1], source.dtype, target.dtype)
    b.node("Expand", [value, b.node("Shape", call.inputs[:1])], call.output)


def _clamp_in_place(b: GraphBuilder, call: OpCall) -> None:
    """clamp_: Clip with the op's number bounds as constants of the tensor's dtype."""
    dtype = call.input_array(0).dtype
    bounds = [
        "" if bound is None else b.op_constant(bound, name, dtype=dtype)
        for name, bound in (
            ("min", call.node.attrs.get("min")),
            ("max", call.node.attrs.get("max")),
        )
    ]
    b.node("Clip", [call.inputs[0], *bounds], call.output)


def _cross_entropy(b: GraphBuilder, call: OpCall) -> None:
    """SoftmaxCrossEntropyLoss of (N, K) logits and int64 labels, with the op's reduction."""
    logits, labels = call.inputs
    if call.input_array(1).dtype != np.int64:
        labels = b.node("Cast", [labels], to=onnx_dtype(np.int64))
    reduction = call.node.attrs["reduction"]
    b.node("SoftmaxCrossEntropyLoss", [logits, labels], call.output, reduction=reduction)


EXPORT_RULES: dict[str, Rule] = {
    # elementwise
    "add": _same("Add"),
    "sub": _same("Sub"),
    "mul": _same("Mul"),
    "div": _same("Div"),
    "pow": _same("Pow"),
    "pow_scalar": _pow_scalar,
    "maximum": _same("Max"),
    "minimum": _same("Min"),
    "neg": _same("Neg"),
    "exp": _same("Exp"),
    "log": _same("Log"),
    "sqrt": _same("Sqrt"),
    "relu": _relu,
    "tanh": _same("Tanh"),
    "erf": _same("Erf"),
    "sigmoid": _same("Sigmoid"),
    "abs": _same("Abs"),
    "cast": _cast,
    "sign": _sign,
    "round": _round,
    # in place (recorded ops are values: written out of place)
    "add_": _in_place("Add"),
    "sub_": _in_place("Sub"),
    "mul_": _in_place("Mul"),
    "div_": _in_place("Div"),
    "copy_": _copy_in_place,
    "clamp_": _clamp_in_place,
    # selection
    "where": _same("Where"),
    "clamp": _clamp,
    "gather": _gather,
    # reductions
    "sum": _reduction("ReduceSum"),
    "mean": _reduction("ReduceMean"),
    "max": _reduction("ReduceMax"),
    "min": _reduction("ReduceMin"),
    # movement
    "reshape": _reshape,
    "permute": _permute,
    "broadcast_to": _broadcast_to,
    "getitem": _getitem,
    "pad": _pad,
    "concatenate": _concatenate,
    "stack": _stack,
    "clone": _identity,
    # networks
    "matmul": _same("MatMul"),
    "conv2d": _conv2d,
    "max_pool2d": _pool("MaxPool"),
    "avg_pool2d": _pool("AveragePool"),
    "softmax": _softmax("Softmax"),
    "log_softmax": _softmax("LogSoftmax"),
    "cross_entropy": _cross_entropy,
}
