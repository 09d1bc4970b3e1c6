"""Hypothesis fuzzing of every public op with invalid arguments.

Each strategy below draws one invalid call of one op (wrong ranks, mismatched shapes, zero or
negative sizes, wrong dtypes, non-integer labels and axes, None, strings, other junk). Every
call must raise a plain ``ValueError`` or ``TypeError`` (not a numpy subclass such as
``AxisError``) whose message starts with the op's name; ``IndexError`` is accepted only from
``getitem`` for an index out of range (as numpy). A call that returns is a silently wrong
result and fails the test.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from tinygrad_cnn import Tensor, ops
from tinygrad_cnn.testing import shapes


@dataclass(frozen=True)
class Call:
    """One invalid call: what it is, the call itself, and the op names its error may start with."""

    label: str
    run: Callable[[], Any]
    ops: tuple[str, ...]
    index_error: bool = False

    def __repr__(self) -> str:
        return f"Call({self.label!r})"


def assert_rejected(call: Call) -> None:
    """The call raises ValueError/TypeError (IndexError when allowed) naming one of its ops."""
    allowed: tuple[type[Exception], ...] = (ValueError, TypeError)
    if call.index_error:
        allowed += (IndexError,)
    try:
        with np.errstate(all="ignore"):
            result = call.run()
    except allowed as error:
        kind = type(error)
        assert kind in allowed, f"{call.label}: {kind.__module__}.{kind.__name__}: {error}"
        message = str(error)
        assert message.startswith(tuple(f"{op}:" for op in call.ops)), (
            f"{call.label}: message does not name {call.ops}: {kind.__name__}: {message}"
        )
    except Exception as error:  # any other exception type is a failure
        raise AssertionError(f"{call.label}: raised {type(error).__name__}: {error}") from error
    else:
        raise AssertionError(f"{call.label}: returned {result!r} instead of raising")


def tensor(shape: tuple[int, ...], dtype: Any = np.float32) -> Tensor:
    return Tensor(np.ones(shape, dtype=dtype))


# ---------------------------------------------------------------------- junk values
NOT_ARRAYS = st.sampled_from(
    [None, "a", "1.5", b"x", object(), {}, 2j, [[1.0], [1.0, 2.0]], np.array(["a", "b"])]
)
NOT_INTS = st.one_of(
    st.none(),
    st.booleans(),
    st.floats(),  # 2.0 too: sizes and axes must be ints, never truncated floats
    st.text(max_size=2),
    st.sampled_from([object(), {}, 1j, [1], b"1"]),
)
SMALL_SHAPES = shapes(min_dims=0, max_dims=4, max_side=3)
WRONG_DTYPES = st.sampled_from([np.int64, np.int32, np.uint8, np.bool_])


def one_of_calls(*strategies: st.SearchStrategy[Call]) -> st.SearchStrategy[Call]:
    return st.one_of(*strategies)


# ---------------------------------------------------------------------- conv and pooling
@st.composite
def conv_calls(draw: st.DrawFn) -> Call:
    n, c, h, w = draw(st.tuples(*[st.integers(1, 3)] * 2, *[st.integers(3, 6)] * 2))
    o, k = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    x, weight = tensor((n, c, h, w)), tensor((o, c, k, k))
    kwargs: dict[str, Any] = {}
    kind = draw(
        st.sampled_from(
            [
                "x rank", "weight rank", "channels", "kernel too big", "zero kernel",
                "stride", "padding", "bias", "x dtype", "mixed dtypes", "x junk", "weight junk",
            ]
        )
    )  # fmt: skip
    if kind == "x rank":
        x = tensor(draw(SMALL_SHAPES.filter(lambda s: len(s) != 4)))
    elif kind == "weight rank":
        weight = tensor(draw(SMALL_SHAPES.filter(lambda s: len(s) != 4)))
    elif kind == "channels":
        weight = tensor((o, c + draw(st.integers(1, 3)), k, k))
    elif kind == "kernel too big":
        weight = tensor((o, c, h + draw(st.integers(1, 3)), k))
    elif kind == "zero kernel":
        weight = tensor(draw(st.sampled_from([(o, c, 0, k), (o, c, k, 0), (o, c, 0, 0)])))
    elif kind == "stride":
        kwargs["stride"] = draw(st.one_of(st.integers(-3, 0), NOT_INTS, st.just((1, 1, 1))))
    elif kind == "padding":
        kwargs["padding"] = draw(st.one_of(st.integers(-3, -1), NOT_INTS, st.just((0, -1))))
    elif kind == "bias":
        kwargs["bias"] = draw(
            st.one_of(NOT_ARRAYS.filter(lambda v: v is not None), st.just(tensor((o + 1,))))
        )
    elif kind == "x dtype":
        x = tensor((n, c, h, w), draw(WRONG_DTYPES))
    elif kind == "mixed dtypes":
        weight = tensor((o, c, k, k), np.float64)
    elif kind == "x junk":
        x = draw(NOT_ARRAYS)
    else:
        weight = draw(NOT_ARRAYS)
    if draw(st.booleans()) or not isinstance(x, Tensor):
        return Call(f"conv2d {kind}", lambda: ops.conv2d(x, weight, **kwargs), ("conv2d",))
    return Call(f"Tensor.conv2d {kind}", lambda: x.conv2d(weight, **kwargs), ("conv2d",))


@st.composite
def pool_calls(draw: st.DrawFn) -> Call:
    name = draw(st.sampled_from(["max_pool2d", "avg_pool2d"]))
    shape = draw(st.tuples(st.integers(1, 2), st.integers(1, 2), *[st.integers(2, 5)] * 2))
    x, kernel, stride = tensor(shape), 2, None
    kind = draw(st.sampled_from(["rank", "kernel", "too big", "stride", "dtype", "junk"]))
    if kind == "rank":
        x = tensor(draw(SMALL_SHAPES.filter(lambda s: len(s) != 4)))
    elif kind == "kernel":
        kernel = draw(st.one_of(st.integers(-3, 0), NOT_INTS, st.just((2, 0))))
    elif kind == "too big":
        kernel = (shape[2] + draw(st.integers(1, 3)), 1)
    elif kind == "stride":
        stride = draw(st.one_of(st.integers(-3, 0), NOT_INTS.filter(lambda v: v is not None)))
    elif kind == "dtype":
        x = tensor(shape, draw(WRONG_DTYPES))
    else:
        x = draw(NOT_ARRAYS)
    function = getattr(ops, name)
    if draw(st.booleans()) or not isinstance(x, Tensor):
        return Call(f"{name} {kind}", lambda: function(x, kernel, stride), (name,))
    method = getattr(x, name)
    return Call(f"Tensor.{name} {kind}", lambda: method(kernel, stride), (name,))


# ---------------------------------------------------------------------- matmul and losses
@st.composite
def matmul_calls(draw: st.DrawFn) -> Call:
    n, k, m = (draw(st.integers(1, 4)) for _ in range(3))
    a, b = tensor((n, k)), tensor((k, m))
    kind = draw(st.sampled_from(["0-d", "inner", "batch", "dtype", "junk a", "junk b"]))
    if kind == "0-d":
        a = tensor(())
    elif kind == "inner":
        b = tensor((k + draw(st.integers(1, 3)), m))
    elif kind == "batch":
        a, b = tensor((2, n, k)), tensor((3, k, m))
    elif kind == "dtype":
        b = tensor((k, m), np.float64)
        return Call("matmul dtype", lambda: ops.matmul(a, b), ("matmul",))
    elif kind == "junk a":
        a = draw(NOT_ARRAYS)
        return Call("matmul junk a", lambda: ops.matmul(a, b), ("matmul",))
    else:
        b = draw(NOT_ARRAYS)
    form = draw(st.sampled_from(["function", "operator", "method"]))
    if form == "function":
        return Call(f"matmul {kind}", lambda: ops.matmul(a, b), ("matmul",))
    if form == "operator":
        return Call(f"@ {kind}", lambda: a @ b, ("matmul",))
    return Call(f"Tensor.matmul {kind}", lambda: a.matmul(b), ("matmul",))


@st.composite
def cross_entropy_calls(draw: st.DrawFn) -> Call:
    n, k = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    logits: Any = tensor((n, k))
    labels: Any = np.zeros(n, dtype=np.int64)
    reduction = "mean"
    kind = draw(
        st.sampled_from(
            [
                "rank", "label shape", "float labels", "label dtype", "label junk",
                "label range", "reduction", "logits dtype", "logits junk", "empty batch",
            ]
        )
    )  # fmt: skip
    if kind == "rank":
        logits = tensor(draw(SMALL_SHAPES.filter(lambda s: len(s) != 2)))
        labels = np.zeros(logits.shape[:1], dtype=np.int64)
    elif kind == "label shape":
        labels = np.zeros(draw(SMALL_SHAPES.filter(lambda s: s != (n,))), dtype=np.int64)
    elif kind == "float labels":
        labels = draw(st.sampled_from([np.zeros(n), [0.0] * n, Tensor(np.zeros(n))]))
    elif kind == "label dtype":
        labels = np.zeros(n, dtype=draw(st.sampled_from([np.bool_, np.float32, np.str_])))
    elif kind == "label junk":
        labels = draw(NOT_ARRAYS)
    elif kind == "label range":
        bad = draw(st.one_of(st.integers(-10, -1), st.integers(k, k + 10)))
        labels = np.full(n, bad, dtype=np.int64)
    elif kind == "reduction":
        reduction = draw(NOT_INTS | st.sampled_from(["avg", "MEAN", ""]))
    elif kind == "logits dtype":
        logits = tensor((n, k), draw(WRONG_DTYPES))
    elif kind == "logits junk":
        logits = draw(NOT_ARRAYS)
    else:
        logits, labels = tensor((0, k)), np.zeros(0, dtype=np.int64)
    if draw(st.booleans()) or not isinstance(logits, Tensor):
        run = lambda: ops.cross_entropy(logits, labels, reduction)  # noqa: E731
    else:
        run = lambda: logits.cross_entropy(labels, reduction)  # noqa: E731
    return Call(f"cross_entropy {kind}", run, ("cross_entropy",))


@st.composite
def softmax_calls(draw: st.DrawFn) -> Call:
    name = draw(st.sampled_from(["softmax", "log_softmax"]))
    shape = draw(SMALL_SHAPES)
    x: Any = tensor(shape)
    axis: Any = -1
    kind = draw(st.sampled_from(["axis range", "axis junk", "dtype", "junk"]))
    if kind == "axis range":
        ndim = max(len(shape), 1)  # a 0-d tensor accepts dim 0 and -1, as in PyTorch
        axis = draw(st.integers(ndim, ndim + 3) | st.integers(-ndim - 3, -ndim - 1))
    elif kind == "axis junk":  # None is the default dim (-1 up to 2 dimensions)
        axis = draw(NOT_INTS.filter(lambda v: v is not None))
    elif kind == "dtype":
        x = tensor(shape if shape else (2,), draw(WRONG_DTYPES))
    else:
        x = draw(NOT_ARRAYS)
    function = getattr(ops, name)
    if draw(st.booleans()) or not isinstance(x, Tensor):
        return Call(f"{name} {kind}", lambda: function(x, axis), (name,))
    method = getattr(x, name)
    return Call(f"Tensor.{name} {kind}", lambda: method(axis), (name,))


# ---------------------------------------------------------------------- movement
@st.composite
def reshape_calls(draw: st.DrawFn) -> Call:
    shape = draw(SMALL_SHAPES)
    x = tensor(shape)
    size = int(np.prod(shape))
    kind = draw(st.sampled_from(["size", "two -1", "negative", "junk entry", "junk", "x junk"]))
    if kind == "size":
        target: Any = draw(SMALL_SHAPES.filter(lambda s: int(np.prod(s)) != size))
    elif kind == "two -1":
        target = (-1, -1, *draw(SMALL_SHAPES))
    elif kind == "negative":
        target = (draw(st.integers(-10, -2)), *draw(SMALL_SHAPES))
    elif kind == "junk entry":  # never alone: x.reshape([1]) is a valid shape list
        target = (draw(NOT_INTS), 1, *draw(SMALL_SHAPES))
    elif kind == "junk":
        target = draw(st.sampled_from([None, object(), 1.5, {}]))
    else:
        return Call("reshape x junk", lambda: ops.reshape(draw(NOT_ARRAYS), (1,)), ("reshape",))
    if draw(st.booleans()):
        return Call(f"reshape {kind}", lambda: ops.reshape(x, target), ("reshape",))
    if isinstance(target, tuple):
        return Call(f"Tensor.reshape {kind}", lambda: x.reshape(*target), ("reshape",))
    return Call(f"Tensor.reshape {kind}", lambda: x.reshape(target), ("reshape",))


@st.composite
def permute_calls(draw: st.DrawFn) -> Call:
    shape = draw(shapes(min_dims=1, max_dims=4, max_side=3))
    ndim = len(shape)
    x = tensor(shape)
    kind = draw(st.sampled_from(["length", "repeat", "range", "junk", "x junk"]))
    if kind == "length":
        axes: Any = tuple(range(ndim + draw(st.integers(1, 2))))
    elif kind == "repeat":
        axes = (0,) * ndim if ndim > 1 else (0, 0)
    elif kind == "range":
        axes = (*range(ndim - 1), draw(st.integers(ndim, ndim + 3) | st.integers(-9, -ndim - 1)))
    elif kind == "junk":
        axes = (draw(NOT_INTS), *range(1, ndim))
    else:
        return Call("permute x junk", lambda: ops.permute(draw(NOT_ARRAYS), (0,)), ("permute",))
    if draw(st.booleans()):
        return Call(f"permute {kind}", lambda: ops.permute(x, axes), ("permute",))
    return Call(f"Tensor.permute {kind}", lambda: x.permute(*axes), ("permute",))


@st.composite
def transpose_calls(draw: st.DrawFn) -> Call:
    """transpose with dims out of range or not ints, or numpy's one-permutation form."""
    shape = draw(shapes(min_dims=0, max_dims=4, max_side=3))
    limit = max(len(shape), 1)
    x = tensor(shape)
    kind = draw(st.sampled_from(["range", "junk", "numpy form", "x junk"]))
    dims: Any = [0, 0]
    if kind == "range":
        dims[draw(st.integers(0, 1))] = draw(
            st.integers(limit, limit + 3) | st.integers(-limit - 4, -limit - 1)
        )
    elif kind == "junk":
        dims[draw(st.integers(0, 1))] = draw(NOT_INTS.filter(lambda v: v is not None))
    elif kind == "numpy form":
        dims = draw(st.sampled_from([[], [0], [0, 0, 0], list(range(len(shape) + 2))]))
    else:
        junk = draw(NOT_ARRAYS)
        return Call("transpose x junk", lambda: ops.transpose(junk, 0, 0), ("transpose",))
    return Call(f"Tensor.transpose {kind}", lambda: x.transpose(*dims), ("transpose",))


@st.composite
def broadcast_calls(draw: st.DrawFn) -> Call:
    shape = draw(shapes(min_dims=1, max_dims=3, min_side=2, max_side=3))
    x = tensor(shape)
    kind = draw(st.sampled_from(["mismatch", "fewer dims", "negative", "junk entry", "junk"]))
    if kind == "mismatch":
        target: Any = (*shape[:-1], shape[-1] + draw(st.integers(1, 3)))
    elif kind == "fewer dims":
        target = shape[1:]
    elif kind == "negative":  # -1 keeps a dim in expand, below -1 is invalid in both
        target = (*shape[:-1], draw(st.integers(-5, -2)))
    elif kind == "junk entry":
        target = (*shape[:-1], draw(NOT_INTS))
    else:
        target = draw(st.sampled_from([None, object(), 1.5, "ab"]))
    form = draw(st.sampled_from(["function", "broadcast_to", "expand"]))
    if form == "function":
        return Call(f"broadcast_to {kind}", lambda: ops.broadcast_to(x, target), ("broadcast_to",))
    if form == "expand" and isinstance(target, tuple):
        return Call(f"Tensor.expand {kind}", lambda: x.expand(*target), ("expand",))
    if form == "expand":
        return Call(f"Tensor.expand {kind}", lambda: x.expand(target), ("expand",))
    return Call(f"Tensor.{form} {kind}", lambda: x.broadcast_to(target), ("broadcast_to",))


@st.composite
def pad_calls(draw: st.DrawFn) -> Call:
    shape = draw(shapes(min_dims=1, max_dims=3, max_side=3))
    x = tensor(shape)
    value: Any = 0.0
    kind = draw(st.sampled_from(["negative", "pairs", "junk width", "junk value", "x junk"]))
    if kind == "negative":
        width: Any = [(0, 0)] * (len(shape) - 1) + [(0, draw(st.integers(-3, -1)))]
    elif kind == "pairs":
        width = [(1, 1)] * (len(shape) + draw(st.integers(1, 2)))
    elif kind == "junk width":
        width = draw(NOT_INTS.filter(lambda v: not isinstance(v, bool | list)))  # [1] is valid
    elif kind == "junk value":
        width, value = 1, draw(NOT_ARRAYS)
    else:
        return Call("pad x junk", lambda: ops.pad(draw(NOT_ARRAYS), 1), ("pad",))
    if draw(st.booleans()):
        return Call(f"pad {kind}", lambda: ops.pad(x, width, value), ("pad",))
    return Call(f"Tensor.pad {kind}", lambda: x.pad(width, value), ("pad",))


@st.composite
def join_calls(draw: st.DrawFn) -> Call:
    name = draw(st.sampled_from(["concatenate", "stack"]))
    shape = draw(shapes(min_dims=1, max_dims=3, max_side=3))
    tensors: Any = [tensor(shape), tensor(shape)]
    axis: Any = 0
    kind = draw(
        st.sampled_from(
            ["empty", "shapes", "axis range", "axis junk", "member junk", "container junk"]
        )
    )  # fmt: skip  (mixed dtypes are promoted, as in PyTorch)
    if kind == "empty":
        tensors = draw(st.sampled_from([[], ()]))
    elif kind == "shapes":
        other = draw(SMALL_SHAPES.filter(lambda s: s != shape and len(s) != len(shape)))
        tensors = [tensor(shape), tensor(other)]
    elif kind == "axis range":
        axis = draw(st.integers(len(shape) + 1, len(shape) + 4))
    elif kind == "axis junk":  # None is the default dim (0)
        axis = draw(NOT_INTS.filter(lambda v: v is not None))
    elif kind == "member junk":
        tensors = [tensor(shape), draw(NOT_ARRAYS)]
    else:
        tensors = draw(st.sampled_from([None, 5, tensor(shape), tensor(())]))
    function = getattr(ops, name)
    return Call(f"{name} {kind}", lambda: function(tensors, axis), (name,))


@st.composite
def getitem_calls(draw: st.DrawFn) -> Call:
    shape = draw(shapes(min_dims=1, max_dims=3, max_side=3))
    x = tensor(shape)
    kind = draw(
        st.sampled_from(["out of range", "float", "junk", "float array", "nested list", "uint8"])
    )
    if kind == "out of range":
        index: Any = draw(st.integers(shape[0], shape[0] + 5) | st.integers(-9, -shape[0] - 1))
        return Call("getitem out of range", lambda: x[index], ("getitem",), index_error=True)
    if kind == "float":
        index = draw(st.floats())
    elif kind == "junk":
        index = draw(st.sampled_from(["a", {}, object(), 1j, b"0", (0, "a")]))
    elif kind == "nested list":  # PyTorch reads it as a tuple, numpy as one array
        index = draw(st.sampled_from([[[0], [0]], [0, [0]], [Tensor(np.array([0]))], [0, None]]))
    elif kind == "uint8":  # PyTorch reads it as a mask, numpy as positions
        index = np.zeros(shape[0], dtype=np.uint8)
    else:
        index = draw(st.sampled_from([np.array([0.5]), [1.0], Tensor([0.0])]))
    return Call(f"getitem {kind}", lambda: x[index], ("getitem",))


@st.composite
def axis_calls(draw: st.DrawFn) -> Call:
    """squeeze, unsqueeze and flatten with axes out of range or not ints."""
    name = draw(st.sampled_from(["squeeze", "unsqueeze", "flatten"]))
    shape = draw(shapes(min_dims=1, max_dims=3, min_side=2, max_side=3))
    x = tensor(shape)
    ndim = len(shape)
    kind = draw(st.sampled_from(["range", "junk", "x junk"]))
    if kind == "range":
        limit = ndim + 1 if name == "unsqueeze" else ndim
        axis: Any = draw(st.integers(limit, limit + 3) | st.integers(-limit - 4, -limit - 1))
    elif kind == "junk":  # squeeze(None) squeezes every dim, squeeze([1]) a list of dims
        axis = draw(NOT_INTS.filter(lambda v: name != "squeeze" or (v is not None and v != [1])))
    else:
        junk = draw(NOT_ARRAYS)
        return Call(f"{name} x junk", lambda: getattr(ops, name)(junk, 0), (name,))
    method = getattr(x, name)
    return Call(f"Tensor.{name} {kind}", lambda: method(axis), (name,))


# ---------------------------------------------------------------------- reductions
@st.composite
def reduction_calls(draw: st.DrawFn) -> Call:
    name = draw(st.sampled_from(["sum", "mean", "max", "min"]))
    shape = draw(SMALL_SHAPES)
    ndim = len(shape)
    x = tensor(shape)
    kind = draw(st.sampled_from(["range", "repeat", "junk", "junk in tuple", "empty", "x junk"]))
    limit = max(ndim, 1)
    if kind == "range":
        axis: Any = draw(st.integers(limit, limit + 3) | st.integers(-limit - 4, -limit - 1))
    elif kind == "repeat" and ndim > 0:
        axis = (0, -ndim)
    elif kind == "junk":
        axis = draw(NOT_INTS.filter(lambda v: v is not None and v != [1]) | st.just("0"))
    elif kind == "junk in tuple":
        axis = (0, draw(NOT_INTS))
    elif kind == "empty" and name in ("max", "min"):
        x, axis = tensor((*shape, 0)), draw(st.sampled_from([None, -1]))
    else:
        junk = draw(NOT_ARRAYS)
        op = getattr(ops, name.capitalize())
        return Call(f"{name} x junk", lambda: ops.reduce_op(op, junk, None), (name,))
    method = getattr(x, name)
    return Call(f"Tensor.{name} {kind}", lambda: method(axis), (name,))


# ---------------------------------------------------------------------- elementwise
BINARY = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
    "pow": lambda a, b: a**b,
    "maximum": lambda a, b: a.maximum(b),
    "minimum": lambda a, b: a.minimum(b),
    "radd": lambda a, b: b + a,
    "rsub": lambda a, b: b - a,
    "rmul": lambda a, b: b * a,
    "rdiv": lambda a, b: b / a,
}


@st.composite
def binary_calls(draw: st.DrawFn) -> Call:
    name = draw(st.sampled_from(sorted(BINARY)))
    op = name[1:] if name.startswith("r") and name[1:] in BINARY else name
    a = tensor(draw(shapes(min_dims=1, max_dims=3, min_side=2, max_side=3)))
    if draw(st.booleans()):
        other: Any = tensor((a.shape[-1] + draw(st.integers(1, 3)),))
        kind = "shapes"
    else:
        other = draw(NOT_ARRAYS)
        kind = "junk operand"
    function = BINARY[name]
    return Call(f"{name} {kind}", lambda: function(a, other), (op,))


@st.composite
def boolean_arithmetic_calls(draw: st.DrawFn) -> Call:
    """Negating or subtracting boolean tensors: numpy refuses, the error must name the op."""
    a = tensor(draw(shapes(min_dims=0, max_dims=2)), np.bool_)
    kind = draw(st.sampled_from(["neg", "sub", "rsub", "sub scalar"]))
    if kind == "neg":
        return Call("neg bool", lambda: -a, ("neg",))
    if kind == "sub":
        return Call("sub bool", lambda: a - tensor(a.shape, np.bool_), ("sub",))
    if kind == "rsub":
        return Call("rsub bool", lambda: True - a, ("sub",))
    return Call("sub bool scalar", lambda: a - draw(st.booleans()), ("sub",))


# ---------------------------------------------------------------------- tensors themselves
@st.composite
def tensor_calls(draw: st.DrawFn) -> Call:
    kind = draw(st.sampled_from(["data", "constructor size", "astype", "argmax", "backward grad"]))
    x = tensor((2, 3))
    if kind == "data":
        data = draw(NOT_ARRAYS)
        return Call("Tensor(junk)", lambda: Tensor(data), ("Tensor(data)",))
    if kind == "constructor size":
        name = draw(st.sampled_from(["zeros", "ones", "randn"]))
        size = draw(st.integers(-5, -1) | NOT_INTS)
        make = getattr(Tensor, name)
        return Call(f"Tensor.{name}", lambda: make(2, size), (name,))
    if kind == "astype":
        dtype = draw(st.sampled_from(["foo", None, object, 3, np.str_, np.complex128]))
        return Call("astype", lambda: x.astype(dtype), ("astype",))
    if kind == "argmax":
        axis = draw(
            st.integers(2, 5) | st.integers(-9, -3) | NOT_INTS.filter(lambda v: v is not None)
        )
        return Call("argmax", lambda: x.argmax(axis), ("argmax",))
    y = Tensor(np.ones((2, 3)), requires_grad=True) * 2
    grad = draw(NOT_ARRAYS.filter(lambda v: v is not None) | st.just(np.ones((3, 2))))
    return Call("backward grad", lambda: y.backward(grad), ("backward()",))


# ---------------------------------------------------------------------- the tests
@given(conv_calls())
def test_conv2d_rejects_invalid_arguments(call: Call) -> None:
    assert_rejected(call)


@given(pool_calls())
def test_pooling_rejects_invalid_arguments(call: Call) -> None:
    assert_rejected(call)


@given(matmul_calls())
def test_matmul_rejects_invalid_arguments(call: Call) -> None:
    assert_rejected(call)


@given(cross_entropy_calls())
def test_cross_entropy_rejects_invalid_arguments(call: Call) -> None:
    assert_rejected(call)


@given(softmax_calls())
def test_softmax_and_log_softmax_reject_invalid_arguments(call: Call) -> None:
    assert_rejected(call)


@given(reshape_calls())
def test_reshape_rejects_invalid_arguments(call: Call) -> None:
    assert_rejected(call)


@given(permute_calls())
def test_permute_and_transpose_reject_invalid_arguments(call: Call) -> None:
    assert_rejected(call)


@given(transpose_calls())
def test_transpose_rejects_invalid_arguments(call: Call) -> None:
    assert_rejected(call)


@given(broadcast_calls())
def test_broadcast_to_and_expand_reject_invalid_arguments(call: Call) -> None:
    assert_rejected(call)


@given(pad_calls())
def test_pad_rejects_invalid_arguments(call: Call) -> None:
    assert_rejected(call)


@given(join_calls())
def test_concatenate_and_stack_reject_invalid_arguments(call: Call) -> None:
    assert_rejected(call)


@given(getitem_calls())
def test_getitem_rejects_invalid_indices(call: Call) -> None:
    assert_rejected(call)


@given(axis_calls())
def test_squeeze_unsqueeze_flatten_reject_invalid_axes(call: Call) -> None:
    assert_rejected(call)


@given(reduction_calls())
def test_reductions_reject_invalid_axes(call: Call) -> None:
    assert_rejected(call)


@given(binary_calls())
def test_elementwise_binary_ops_reject_invalid_operands(call: Call) -> None:
    assert_rejected(call)


@given(boolean_arithmetic_calls())
def test_boolean_negation_and_subtraction_are_rejected(call: Call) -> None:
    assert_rejected(call)


@given(tensor_calls())
def test_tensor_construction_and_conversions_reject_invalid_arguments(call: Call) -> None:
    assert_rejected(call)
