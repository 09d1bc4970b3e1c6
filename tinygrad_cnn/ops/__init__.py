"""Every differentiable op, one module per family; importing this package registers them all.

The classes (``Add``, ``Conv2d``, ...) are the graph nodes; the lower-case functions
(``conv2d``, ``cross_entropy``, ...) validate arguments and apply them.
"""

from tinygrad_cnn.ops.compare import (
    all,
    any,
    bitwise,
    bitwise_not,
    compare,
    eq,
    ge,
    gt,
    is_operand,
    isfinite,
    isinf,
    isnan,
    le,
    lt,
    ne,
)
from tinygrad_cnn.ops.conv import AvgPool2d, Conv2d, MaxPool2d, avg_pool2d, conv2d, max_pool2d
from tinygrad_cnn.ops.elementwise import (
    Abs,
    Add,
    Cast,
    Div,
    Exp,
    Log,
    Maximum,
    Minimum,
    Mul,
    Neg,
    Pow,
    PowScalar,
    Relu,
    Sigmoid,
    Sign,
    Sqrt,
    Sub,
    Tanh,
    sign,
)
from tinygrad_cnn.ops.loss import (
    CrossEntropy,
    LogSoftmax,
    Softmax,
    cross_entropy,
    log_softmax,
    softmax,
)
from tinygrad_cnn.ops.matmul import Matmul, matmul
from tinygrad_cnn.ops.movement import (
    BroadcastTo,
    Concatenate,
    GetItem,
    Pad,
    Permute,
    Reshape,
    Stack,
    broadcast_to,
    concatenate,
    flatten,
    getitem,
    pad,
    permute,
    reshape,
    squeeze,
    stack,
    unsqueeze,
)
from tinygrad_cnn.ops.reduce import Max, Mean, Min, Sum, amax, amin, mean, reduce_op, sum
from tinygrad_cnn.ops.select import (
    Clamp,
    Gather,
    ValuesIndices,
    Where,
    argmax,
    argmin,
    clamp,
    gather,
    max,
    min,
    sort,
    topk,
    where,
)

clip = clamp  # PyTorch's alias

__all__ = [
    "Abs", "Add", "AvgPool2d", "BroadcastTo", "Cast", "Clamp", "Concatenate", "Conv2d",
    "CrossEntropy", "Div", "Exp", "Gather", "GetItem", "Log", "LogSoftmax", "Matmul", "Max",
    "MaxPool2d", "Maximum", "Mean", "Min", "Minimum", "Mul", "Neg", "Pad", "Permute", "Pow",
    "PowScalar", "Relu", "Reshape", "Sigmoid", "Sign", "Softmax", "Sqrt", "Stack", "Sub",
    "Sum", "Tanh", "ValuesIndices", "Where", "all", "amax", "amin", "any", "argmax", "argmin",
    "avg_pool2d", "bitwise", "bitwise_not", "broadcast_to", "clamp", "clip", "compare",
    "concatenate", "conv2d", "cross_entropy", "eq", "flatten", "gather", "ge", "getitem", "gt",
    "is_operand", "isfinite", "isinf", "isnan", "le", "log_softmax", "lt", "matmul", "max",
    "max_pool2d", "mean", "min", "ne", "pad", "permute", "reduce_op", "reshape", "sign",
    "softmax", "sort", "squeeze", "stack", "sum", "topk", "unsqueeze", "where",
]  # fmt: skip
