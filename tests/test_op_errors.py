"""Every op validates its arguments: the exception type and a message that names the op and
what it received (the shape or value), so the user can see at once which call was wrong."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from tinygrad_cnn import (
    Function,
    Tensor,
    avg_pool2d,
    cat,
    concatenate,
    conv2d,
    cross_entropy,
    log_softmax,
    matmul,
    max_pool2d,
    softmax,
    stack,
)


def zeros(*shape: int, dtype: Any = np.float64) -> Tensor:
    return Tensor(np.zeros(shape, dtype=dtype))


def image(*shape: int) -> Tensor:
    return zeros(*shape)


# (id, the failing call, exception type, op name that must start the message,
#  fragments that must appear in the message: the received shapes and values)
CASES: list[tuple[str, Callable[[], Any], type[Exception], str, list[str]]] = [
    # ---------------------------------------------------------------- matmul
    ("matmul 1-d not aligned", lambda: zeros(3) @ zeros(2), ValueError, "matmul",
     ["(3,)", "(2,)", "3 != 2"]),
    ("matmul batched not aligned", lambda: zeros(4, 2, 3) @ zeros(2, 5), ValueError, "matmul",
     ["(4, 2, 3)", "(2, 5)", "3 != 2"]),
    ("matmul batch not broadcastable", lambda: zeros(2, 3, 4) @ zeros(5, 4, 2), ValueError,
     "matmul", ["(2, 3, 4)", "(5, 4, 2)", "broadcast"]),
    ("matmul 0-d operand", lambda: matmul(zeros(), zeros(2)), ValueError, "matmul",
     ["()", "(2,)", "at least 1 dimension"]),
    # ---------------------------------------------------------------- conv2d
    ("conv channel mismatch", lambda: conv2d(image(1, 3, 5, 5), zeros(2, 2, 3, 3)), ValueError,
     "conv2d", ["3 channels", "(1, 3, 5, 5)", "expects 2", "(2, 2, 3, 3)"]),
    ("conv kernel larger than input", lambda: conv2d(image(1, 1, 3, 4), zeros(1, 1, 4, 2)),
     ValueError, "conv2d", ["kernel size (4, 2)", "padded input size (3, 4)", "(1, 1, 3, 4)"]),
    ("conv kernel larger than padded input",
     lambda: conv2d(image(1, 1, 3, 3), zeros(1, 1, 6, 6), padding=1), ValueError, "conv2d",
     ["kernel size (6, 6)", "padded input size (5, 5)", "padding (1, 1)"]),
    ("conv zero stride", lambda: conv2d(image(1, 1, 5, 5), zeros(1, 1, 3, 3), stride=0),
     ValueError, "conv2d", ["stride must be positive", "got 0"]),
    ("conv negative stride in a pair",
     lambda: conv2d(image(1, 1, 5, 5), zeros(1, 1, 3, 3), stride=(1, -2)), ValueError, "conv2d",
     ["stride must be positive", "(1, -2)"]),
    ("conv negative padding", lambda: conv2d(image(1, 1, 5, 5), zeros(1, 1, 3, 3), padding=-1),
     ValueError, "conv2d", ["padding must be non-negative", "got -1"]),
    ("conv float stride", lambda: conv2d(image(1, 1, 5, 5), zeros(1, 1, 3, 3), stride=1.5),
     TypeError, "conv2d", ["stride must be an int or a pair of ints", "got 1.5"]),
    ("conv bool stride", lambda: conv2d(image(1, 1, 5, 5), zeros(1, 1, 3, 3), stride=True),
     TypeError, "conv2d", ["stride", "got True"]),
    ("conv stride triple", lambda: conv2d(image(1, 1, 5, 5), zeros(1, 1, 3, 3), stride=(1, 1, 1)),
     TypeError, "conv2d", ["stride", "(1, 1, 1)"]),
    ("conv float padding", lambda: conv2d(image(1, 1, 5, 5), zeros(1, 1, 3, 3), padding=(0, 0.5)),
     TypeError, "conv2d", ["padding", "(0, 0.5)"]),
    ("conv 3-d input", lambda: conv2d(image(1, 5, 5), zeros(1, 1, 3, 3)), ValueError, "conv2d",
     ["(N, C, H, W)", "(1, 5, 5)"]),
    ("conv 3-d weight", lambda: conv2d(image(1, 1, 5, 5), zeros(1, 3, 3)), ValueError, "conv2d",
     ["(O, C, kh, kw)", "(1, 3, 3)"]),
    ("conv bias shape", lambda: conv2d(image(1, 1, 5, 5), zeros(2, 1, 3, 3), zeros(3)),
     ValueError, "conv2d", ["bias must have shape (2,)", "(3,)"]),
    ("conv mixed dtypes",
     lambda: conv2d(image(1, 1, 5, 5), zeros(2, 1, 3, 3, dtype=np.float32)), TypeError,
     "conv2d", ["float32", "float64"]),
    ("conv integer input", lambda: conv2d(zeros(1, 1, 5, 5, dtype=np.int64), zeros(1, 1, 3, 3)),
     TypeError, "conv2d", ["floating point", "int64"]),
    ("conv weight not a tensor", lambda: conv2d(image(1, 1, 5, 5), np.zeros((1, 1, 3, 3))),
     TypeError, "conv2d", ["weight must be a Tensor", "ndarray"]),
    # ---------------------------------------------------------------- pooling
    ("max_pool kernel larger than input", lambda: max_pool2d(image(1, 1, 3, 5), (4, 2)),
     ValueError, "max_pool2d", ["kernel size (4, 2)", "(3, 5)", "(1, 1, 3, 5)"]),
    ("avg_pool kernel larger than input", lambda: avg_pool2d(image(2, 1, 2, 2), 3), ValueError,
     "avg_pool2d", ["kernel size (3, 3)", "(2, 1, 2, 2)"]),
    ("max_pool zero stride", lambda: max_pool2d(image(1, 1, 4, 4), 2, 0), ValueError,
     "max_pool2d", ["stride must be positive", "got 0"]),
    ("avg_pool zero kernel", lambda: avg_pool2d(image(1, 1, 4, 4), 0), ValueError, "avg_pool2d",
     ["kernel_size must be positive", "got 0"]),
    ("max_pool float kernel", lambda: max_pool2d(image(1, 1, 4, 4), 2.0), TypeError,
     "max_pool2d", ["kernel_size", "got 2.0"]),
    ("avg_pool float stride", lambda: avg_pool2d(image(1, 1, 4, 4), 2, (1, 1.5)), TypeError,
     "avg_pool2d", ["stride", "(1, 1.5)"]),
    ("max_pool 3-d input", lambda: max_pool2d(image(1, 4, 4), 2), ValueError, "max_pool2d",
     ["(N, C, H, W)", "(1, 4, 4)"]),
    # ---------------------------------------------------------------- cross_entropy
    ("labels too large", lambda: cross_entropy(zeros(2, 3), [0, 3]), ValueError,
     "cross_entropy", ["[0, 3)", "got 3"]),
    ("labels negative", lambda: cross_entropy(zeros(2, 3), np.array([-1, 0])), ValueError,
     "cross_entropy", ["[0, 3)", "got -1"]),
    ("float labels", lambda: cross_entropy(zeros(2, 3), [0.0, 1.0]), TypeError,
     "cross_entropy", ["integers", "float64"]),
    ("float label tensor", lambda: cross_entropy(zeros(2, 3), Tensor([0.0, 1.0])), TypeError,
     "cross_entropy", ["integers", "float32"]),
    ("labels of the wrong length", lambda: cross_entropy(zeros(2, 3), [0, 1, 2]), ValueError,
     "cross_entropy", ["(2,)", "(2, 3)", "got (3,)"]),
    ("labels of the wrong rank", lambda: cross_entropy(zeros(2, 3), [[0], [1]]), ValueError,
     "cross_entropy", ["(2,)", "got (2, 1)"]),
    ("no labels", lambda: cross_entropy(zeros(2, 3), None), TypeError, "cross_entropy",
     ["got None"]),
    ("bad reduction", lambda: cross_entropy(zeros(2, 3), [0, 1], reduction="avg"), ValueError,
     "cross_entropy", ["'mean', 'sum' or 'none'", "'avg'"]),
    ("1-d logits", lambda: cross_entropy(zeros(3), [0]), ValueError, "cross_entropy",
     ["(N, K)", "(3,)"]),
    ("integer logits", lambda: cross_entropy(zeros(2, 3, dtype=np.int64), [0, 1]), TypeError,
     "cross_entropy", ["floating point", "int64"]),
    # ---------------------------------------------------------------- softmax family
    ("softmax axis out of range", lambda: softmax(zeros(2, 3), axis=2), ValueError, "softmax",
     ["dim 2", "(2, 3)"]),
    ("log_softmax float axis", lambda: log_softmax(zeros(2, 3), axis=1.0), TypeError,
     "log_softmax", ["dim must be an int", "1.0"]),
    # ---------------------------------------------------------------- reshape family
    ("reshape to the wrong size", lambda: zeros(2, 3).reshape(4, 2), ValueError, "reshape",
     ["(2, 3)", "size 6", "(4, 2)"]),
    ("reshape -1 that does not divide", lambda: zeros(2, 3).reshape(4, -1), ValueError,
     "reshape", ["(2, 3)", "(4, -1)"]),
    ("reshape an empty tensor with -1", lambda: zeros(0, 3).reshape(0, -1), ValueError,
     "reshape", ["(0, 3)", "(0, -1)"]),  # -1 could be any size (PyTorch refuses it too)
    ("reshape with two -1", lambda: zeros(2, 3).reshape(-1, -1), ValueError, "reshape",
     ["(-1, -1)"]),
    ("reshape with a float", lambda: zeros(2, 3).reshape(3.0, 2), TypeError, "reshape",
     ["integers", "(3.0, 2)"]),
    ("squeeze dim out of range", lambda: zeros(2, 3).squeeze(2), ValueError, "squeeze",
     ["dim 2", "2 dimensions", "-2..1"]),
    ("squeeze a dim twice", lambda: zeros(2, 1).squeeze((1, -1)), ValueError, "squeeze",
     ["(1, -1)", "more than once"]),
    ("unsqueeze out of range", lambda: zeros(2, 3).unsqueeze(4), ValueError, "unsqueeze",
     ["dim 4", "3 dimensions"]),
    ("flatten reversed dims", lambda: zeros(2, 3, 4).flatten(2, 1), ValueError, "flatten",
     ["start_dim 2", "end_dim 1"]),
    # ---------------------------------------------------------------- reductions
    ("sum axis out of range", lambda: zeros(2, 3).sum(axis=2), ValueError, "sum",
     ["dim 2", "2 dimensions"]),
    ("mean negative axis out of range", lambda: zeros(2, 3).mean(axis=-3), ValueError, "mean",
     ["dim -3", "2 dimensions"]),
    ("sum repeated axis", lambda: zeros(2, 3).sum(axis=(0, 0)), ValueError, "sum",
     ["(0, 0)", "repeats"]),
    ("sum float axis", lambda: zeros(2, 3).sum(axis=1.0), TypeError, "sum",
     ["int or a tuple of ints", "1.0"]),
    ("max axis out of range", lambda: zeros(2, 3).max(axis=5), ValueError, "max",
     ["dim 5", "2 dimensions"]),
    ("min axis in a tuple out of range", lambda: zeros(2, 3).amin(axis=(0, 7)), ValueError,
     "amin", ["dim 7"]),
    ("max over an empty axis", lambda: zeros(0, 3).max(axis=0), ValueError, "max",
     ["empty", "(0, 3)"]),
    # ---------------------------------------------------------------- permute / broadcast
    ("permute repeated axis", lambda: zeros(2, 3).permute(0, 0), ValueError, "permute",
     ["(0, 0)", "(2, 3)"]),
    ("permute too many axes", lambda: zeros(2, 3).permute(0, 1, 2), ValueError, "permute",
     ["(0, 1, 2)", "(2, 3)"]),
    ("permute axis out of range", lambda: zeros(2, 3).permute(0, 2), ValueError, "permute",
     ["(0, 2)", "(2, 3)"]),
    ("permute float axis", lambda: zeros(2, 3).permute(1.0, 0), TypeError, "permute",
     ["integers", "(1.0, 0)"]),
    ("broadcast_to incompatible", lambda: zeros(2, 3).broadcast_to((4, 3)), ValueError,
     "broadcast_to", ["(2, 3)", "(4, 3)"]),
    ("expand to fewer dims", lambda: zeros(2, 3).expand(3), ValueError, "expand",
     ["(2, 3)", "(3,)"]),
    ("expand incompatible", lambda: zeros(2, 3).expand(4, 3), ValueError, "expand",
     ["(2, 3)", "(4, 3)"]),
    ("expand -1 in a new dim", lambda: zeros(2, 3).expand(-1, 2, 3), ValueError, "expand",
     ["-1", "new leading dim"]),
    ("transpose numpy-style", lambda: zeros(2, 3, 4).transpose(2, 0, 1), TypeError,
     "transpose", ["two dims", "(2, 0, 1)", "permute(2, 0, 1)"]),
    ("transpose no dims", lambda: zeros(2, 3).transpose(), TypeError, "transpose",
     ["two dims", "permute"]),
    ("transpose dim out of range", lambda: zeros(2, 3).transpose(0, 2), ValueError,
     "transpose", ["dim1 2", "2 dimensions"]),
    ("t of a 3-d tensor", lambda: zeros(2, 3, 4).t(), ValueError, "t", ["<= 2", "(2, 3, 4)"]),
    ("view as a dtype", lambda: zeros(2, 3).view(np.int64), TypeError, "view",
     ["view(dtype)", ".to(dtype)"]),
    ("view to the wrong size", lambda: zeros(2, 3).view(4, 2), ValueError, "view",
     ["(2, 3)", "(4, 2)"]),
    ("split sections that do not add up", lambda: zeros(7).split([2, 4]), ValueError, "split",
     ["[2, 4]", "add up to 7"]),
    ("split size 0", lambda: zeros(7).split(0), ValueError, "split", ["positive", "got 0"]),
    ("split a 0-d tensor", lambda: zeros().split(1), ValueError, "split", ["0-d"]),
    ("chunk 0 chunks", lambda: zeros(4).chunk(0), ValueError, "chunk", ["positive", "got 0"]),
    ("repeat fewer sizes than dims", lambda: zeros(3, 1).repeat(2), ValueError, "repeat",
     ["(2,)", "(3, 1)"]),
    ("flip a dim twice", lambda: zeros(3, 1).flip(0, 0), ValueError, "flip",
     ["(0, 0)", "more than once"]),
    ("to another device", lambda: zeros(2).to("cuda"), ValueError, "to",
     ["CPU only", "'cuda'"]),
    ("size of a dim out of range", lambda: zeros(2, 3).size(2), ValueError, "size",
     ["dim 2", "2 dimensions"]),
    # ---------------------------------------------------------------- pad, join, index
    ("pad negative width", lambda: zeros(2, 3).pad(((0, -1), (1, 1))), ValueError, "pad",
     ["non-negative", "((0, -1), (1, 1))"]),
    ("pad negative int", lambda: zeros(2, 3).pad(-1), ValueError, "pad",
     ["non-negative", "got -1"]),
    ("pad widths for too many axes", lambda: zeros(2, 3).pad(((0, 1), (1, 1), (1, 1))),
     ValueError, "pad", ["((0, 1), (1, 1), (1, 1))", "2 dimensions"]),
    ("pad float width", lambda: zeros(2, 3).pad(1.5), TypeError, "pad", ["integers", "1.5"]),
    ("concatenate mismatched shapes", lambda: concatenate([zeros(2, 3), zeros(3, 2)], axis=0),
     ValueError, "concatenate", ["(2, 3)", "(3, 2)", "dim 0"]),
    ("concatenate mismatched ranks", lambda: concatenate([zeros(2, 3), zeros(3)]), ValueError,
     "concatenate", ["(2, 3)", "(3,)"]),
    ("concatenate axis out of range", lambda: concatenate([zeros(2, 3), zeros(2, 3)], axis=2),
     ValueError, "concatenate", ["dim 2", "2 dimensions"]),
    ("cat 0-d tensors", lambda: cat([zeros(), zeros()]), ValueError, "cat",
     ["zero-dimensional", "stack"]),
    ("cat dim and axis", lambda: cat([zeros(2)], dim=0, axis=1), TypeError, "cat",
     ["dim=0", "axis=1"]),
    ("concatenate nothing", lambda: concatenate([]), ValueError, "concatenate", ["none"]),
    ("stack mismatched shapes", lambda: stack([zeros(2, 3), zeros(3, 2)]), ValueError, "stack",
     ["(2, 3)", "(3, 2)"]),
    ("stack axis out of range", lambda: stack([zeros(2, 3), zeros(2, 3)], axis=3), ValueError,
     "stack", ["dim 3", "3 dimensions"]),
    ("stack a non-tensor", lambda: stack([zeros(2), np.zeros(2)]), TypeError, "stack",
     ["ndarray"]),
    ("getitem float index", lambda: zeros(2, 3)[1.5], TypeError, "getitem", ["float", "1.5"]),
    ("getitem float in a tuple", lambda: zeros(2, 3)[0, 1.0], TypeError, "getitem",
     ["float", "1.0"]),
    ("getitem float index array", lambda: zeros(2, 3)[np.array([0.5])], TypeError, "getitem",
     ["integers or booleans", "float64"]),
    ("getitem out of bounds", lambda: zeros(2, 3)[5], IndexError, "getitem",
     ["index 5", "(2, 3)"]),
    ("getitem nested list", lambda: zeros(2, 3)[[[0, 1], [1, 2]]], TypeError, "getitem",
     ["list index", "x[tuple(index)]", "np.array(index)"]),
    ("getitem uint8 array", lambda: zeros(2, 3)[np.array([1, 0], dtype=np.uint8)], TypeError,
     "getitem", ["uint8", "bool", "int64"]),
    ("getitem zero step", lambda: zeros(2, 3)[::0], ValueError, "getitem", ["step", "zero"]),
    ("getitem float slice bound", lambda: zeros(2, 3)[:1.5], TypeError, "getitem",
     ["slice bounds", "1.5"]),
    # ---------------------------------------------------------------- the engine
    ("apply on a non-tensor", lambda: Function.registry["add"].apply(zeros(2), np.zeros(2)),
     TypeError, "add", ["input 1", "ndarray"]),
]  # fmt: skip

BINARY_OPS: dict[str, Callable[[Tensor, Tensor], Tensor]] = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
    "pow": lambda a, b: a**b,
    "maximum": lambda a, b: a.maximum(b),
    "minimum": lambda a, b: a.minimum(b),
}


@pytest.mark.parametrize(
    ("call", "error", "op", "fragments"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_invalid_arguments_raise_a_message_naming_the_op_and_the_input(
    call: Callable[[], Any], error: type[Exception], op: str, fragments: list[str]
) -> None:
    with pytest.raises(error) as info:
        call()
    message = str(info.value)
    assert message.startswith(f"{op}: "), message
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"


def test_matmul_not_aligned_message_is_exact() -> None:
    with pytest.raises(ValueError) as info:
        zeros(3, 2) @ zeros(3, 2)
    assert str(info.value) == "matmul: shapes (3, 2) and (3, 2) are not aligned: 2 != 3"


@pytest.mark.parametrize("op", sorted(BINARY_OPS))
def test_binary_ops_reject_shapes_that_do_not_broadcast(op: str) -> None:
    a = Tensor(np.ones((2, 3)), requires_grad=True)
    b = Tensor(np.ones(4), requires_grad=True)
    with pytest.raises(ValueError) as info:
        BINARY_OPS[op](a, b)
    assert str(info.value) == f"{op}: shapes (2, 3) and (4,) cannot be broadcast together"


def test_a_failed_call_records_nothing() -> None:
    """Validation happens before anything is recorded: the inputs stay usable."""
    x = Tensor(np.ones((2, 3)), requires_grad=True)
    with pytest.raises(ValueError):
        x.reshape(4, 2)
    (x * 2).sum().backward()
    np.testing.assert_array_equal(x.grad, np.full((2, 3), 2.0))
