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
from tinygrad_cnn.ops.conv import Conv2d, conv2d
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
    Round,
    Sigmoid,
    Sign,
    Sqrt,
    Sub,
    Tanh,
    ThresholdBackward,
    round,
    sign,
)
from tinygrad_cnn.ops.inplace import (
    AddInPlace,
    ClampInPlace,
    CopyInPlace,
    DivInPlace,
    MulInPlace,
    SubInPlace,
    add_,
    clamp_,
    copy_,
    div_,
    fill_,
    mul_,
    sub_,
    zero_,
)
from tinygrad_cnn.ops.loss import (
    CrossEntropy,
    CrossEntropyBackward,
    LogSoftmax,
    Softmax,
    cross_entropy,
    log_softmax,
    softmax,
)
from tinygrad_cnn.ops.matmul import Matmul, matmul
from tinygrad_cnn.ops.movement import (
    BroadcastTo,
    Clone,
    Concatenate,
    GetItem,
    Pad,
    Permute,
    Reshape,
    Stack,
    broadcast_to,
    cat,
    chunk,
    clone,
    concat,
    concatenate,
    expand,
    flatten,
    flip,
    getitem,
    pad,
    permute,
    promote_dtypes,
    repeat,
    reshape,
    split,
    squeeze,
    stack,
    t,
    transpose,
    unbind,
    unsqueeze,
    view,
    wrap_dim,
)
from tinygrad_cnn.ops.norm import norm
from tinygrad_cnn.ops.pool import AvgPool2d, MaxPool2d, avg_pool2d, max_pool2d
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
    "Abs", "Add", "AvgPool2d", "BroadcastTo", "Cast", "Clamp", "Clone", "Concatenate", "Conv2d",
    "CrossEntropy", "Div", "Exp", "Gather", "GetItem", "Log", "LogSoftmax", "Matmul", "Max",
    "MaxPool2d", "Maximum", "Mean", "Min", "Minimum", "Mul", "Neg", "Pad", "Permute", "Pow",
    "PowScalar", "Relu", "Reshape", "Round", "Sigmoid", "Sign", "Softmax", "Sqrt", "Stack", "Sub",
    "Sum", "Tanh", "ValuesIndices", "Where", "all", "amax", "amin", "any", "argmax", "argmin",
    "avg_pool2d", "bitwise", "bitwise_not", "broadcast_to", "cat", "chunk", "clamp", "clip",
    "clone", "compare", "concat", "concatenate", "conv2d", "cross_entropy", "eq", "expand",
    "flatten", "flip", "gather", "ge", "getitem", "gt", "is_operand", "isfinite", "isinf",
    "isnan", "le", "log_softmax", "lt", "matmul", "max", "max_pool2d", "mean", "min", "ne",
    "norm", "pad", "permute", "promote_dtypes", "reduce_op", "repeat", "reshape", "round",
    "sign", "softmax", "sort", "split", "squeeze", "stack", "sum", "t", "topk", "transpose",
    "unbind", "unsqueeze", "view", "where", "wrap_dim",
]  # fmt: skip
__all__ += ["CrossEntropyBackward", "ThresholdBackward"]  # kernels of backward passes
__all__ += [  # in place (ops/inplace.py)
    "AddInPlace", "ClampInPlace", "CopyInPlace", "DivInPlace", "MulInPlace", "SubInPlace",
    "add_", "clamp_", "copy_", "div_", "fill_", "mul_", "sub_", "zero_",
]  # fmt: skip

from tinygrad_cnn.ops.special import Erf, erf  # noqa: E402  (issue 16: GELU's exact form)

__all__ += ["Erf", "erf"]
