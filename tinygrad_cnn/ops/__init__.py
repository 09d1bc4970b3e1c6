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
    "Abs", "Add", "AvgPool2d", "BroadcastTo", "Cast", "Concatenate", "Conv2d", "CrossEntropy",
    "Div", "Exp", "GetItem", "Log", "LogSoftmax", "Matmul", "Max", "MaxPool2d", "Maximum",
    "Mean", "Min", "Minimum", "Mul", "Neg", "Pad", "Permute", "Pow", "PowScalar", "Relu",
    "Reshape", "Sigmoid", "Softmax", "Sqrt", "Stack", "Sub", "Sum", "Tanh",
    "avg_pool2d", "broadcast_to", "concatenate", "conv2d", "cross_entropy", "flatten",
    "getitem", "log_softmax", "matmul", "max_pool2d", "pad", "permute", "reduce_op", "reshape",
    "softmax", "squeeze", "stack", "unsqueeze",
    # comparisons and selection
    "Clamp", "Gather", "Sign", "ValuesIndices", "Where", "all", "amax", "amin", "any", "argmax",
    "argmin", "bitwise", "bitwise_not", "clamp", "clip", "compare", "eq", "gather", "ge", "gt",
    "is_operand", "isfinite", "isinf", "isnan", "le", "lt", "max", "mean", "min", "ne", "sign",
    "sort", "sum", "topk", "where",
]  # fmt: skip
