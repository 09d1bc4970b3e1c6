"""tinygrad_cnn: a small, fast, tested reverse-mode autograd library on numpy.

>>> from tinygrad_cnn import Tensor
>>> w = Tensor([[1.0, -2.0]], requires_grad=True)
>>> loss = (w * w).sum()
>>> loss.backward()
>>> w.grad
Tensor([[ 2., -4.]])

Subpackages: ``ops`` (every differentiable op), ``nn`` (modules, layers, losses, gradient
clipping), ``optim`` (SGD, Adam, AdamW, RMSprop, ``lr_scheduler``), ``data`` (MNIST, synthetic
digits, ``DataLoader``, transforms), ``models`` (the example CNNs), ``viz`` (graph drawing;
graphviz is imported only to render), ``debug`` (gradcheck, check_graph, detect_anomaly),
``checkpoint`` (safetensors model files and training checkpoints, atomic and verified),
``onnx`` (export; the ``onnx`` extra, not imported here).
``tinygrad_cnn.testing`` (the Hypothesis strategies and ``assert_grads``) needs the ``testing``
extra and is not imported here.

The engine, the ops and the ``nn`` layer (``nn``, ``optim``, ``models``, ``checkpoint``) are
imported with the package. The tool subpackages ``viz``, ``debug`` and ``data``, and the names
taken from them (``draw``, ``gradcheck``, ``check_graph`` ...), are imported on first use, so
``import tinygrad_cnn.nn`` never loads them (``tests/test_layering.py`` pins this).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from tinygrad_cnn import autograd, checkpoint, dtypes, functional, models, nn, ops, optim
from tinygrad_cnn.autograd import grad

# PyTorch's module-level creation functions, default generator and functional ops.
from tinygrad_cnn.creation import (
    arange,
    empty,
    eye,
    full,
    full_like,
    linspace,
    ones,
    ones_like,
    rand,
    rand_like,
    randint,
    randn,
    randn_like,
    tensor,
    zeros,
    zeros_like,
)
from tinygrad_cnn.dtypes import (
    float32,
    float64,
    int8,
    int16,
    int32,
    int64,
    promote_types,
    uint8,
)
from tinygrad_cnn.function import Function
from tinygrad_cnn.functional import (
    add,
    div,
    exp,
    log,
    maximum,
    minimum,
    mul,
    neg,
    relu,
    sigmoid,
    sqrt,
    sub,
    tanh,
)
from tinygrad_cnn.grad_mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from tinygrad_cnn.ops import (
    ValuesIndices,
    amax,
    amin,
    argmax,
    argmin,
    avg_pool2d,
    cat,
    chunk,
    clamp,
    clip,
    clone,
    concat,
    concatenate,
    conv2d,
    cross_entropy,
    eq,
    flatten,
    flip,
    gather,
    ge,
    gt,
    isfinite,
    isinf,
    isnan,
    le,
    log_softmax,
    lt,
    matmul,
    max_pool2d,
    ne,
    norm,
    permute,
    reshape,
    sign,
    softmax,
    sort,
    split,
    squeeze,
    stack,
    t,
    topk,
    transpose,
    unbind,
    unsqueeze,
    where,
)
from tinygrad_cnn.random import default_generator, manual_seed
from tinygrad_cnn.tensor import Size, Tensor

# Importable as tinygrad_cnn.sum and so on, as in PyTorch, but kept out of __all__: a star
# import must not shadow Python's builtins.
abs, pow = functional.abs, functional.pow
all, any, max, mean, min, sum = ops.all, ops.any, ops.max, ops.mean, ops.min, ops.sum
# PyTorch's dtype aliases (numpy dtypes here): torch.bool, torch.int (int32), torch.float
# (float32), torch.double, torch.long, torch.short. Out of __all__ for the same reason.
bool, int, float = dtypes.BOOL, int32, float32
double, long, short = float64, int64, int16

if TYPE_CHECKING:  # what the lazy names below resolve to, for type checkers and editors
    from tinygrad_cnn import data, debug, viz
    from tinygrad_cnn.debug import (
        AnomalyError,
        GradcheckError,
        GradgradcheckError,
        GraphReport,
        check_graph,
        detect_anomaly,
        gradcheck,
        gradgradcheck,
    )
    from tinygrad_cnn.viz import draw

__version__ = "0.1.0"  # the same as pyproject.toml's version (tests/test_packaging.py)

# Imported on first access (PEP 562): name -> (module, attribute or None for the module itself).
_LAZY: dict[str, tuple[str, str | None]] = {
    "data": ("tinygrad_cnn.data", None),
    "debug": ("tinygrad_cnn.debug", None),
    "viz": ("tinygrad_cnn.viz", None),
    "AnomalyError": ("tinygrad_cnn.debug", "AnomalyError"),
    "GraphReport": ("tinygrad_cnn.debug", "GraphReport"),
    "check_graph": ("tinygrad_cnn.debug", "check_graph"),
    "detect_anomaly": ("tinygrad_cnn.debug", "detect_anomaly"),
    "GradcheckError": ("tinygrad_cnn.debug", "GradcheckError"),
    "gradcheck": ("tinygrad_cnn.debug", "gradcheck"),
    "GradgradcheckError": ("tinygrad_cnn.debug", "GradgradcheckError"),
    "gradgradcheck": ("tinygrad_cnn.debug", "gradgradcheck"),
    "draw": ("tinygrad_cnn.viz", "draw"),
}


def __getattr__(name: str) -> Any:
    """Import a tool subpackage, or a name taken from one, on first access."""
    if name not in _LAZY:
        raise AttributeError(f"module 'tinygrad_cnn' has no attribute {name!r}")
    module_name, attribute = _LAZY[name]
    module = importlib.import_module(module_name)
    value = module if attribute is None else getattr(module, attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


__all__ = [
    "AnomalyError", "Function", "GradcheckError", "GradgradcheckError", "GraphReport", "Size",
    "Tensor", "ValuesIndices", "amax", "amin", "argmax", "argmin", "autograd", "avg_pool2d", "cat",
    "check_graph", "checkpoint", "chunk", "clamp", "clip", "clone", "concat", "concatenate",
    "conv2d", "cross_entropy", "data", "debug", "detect_anomaly", "draw", "enable_grad", "eq",
    "flatten", "flip", "gather", "ge", "grad", "gradcheck", "gradgradcheck", "gt",
    "is_grad_enabled", "isfinite", "isinf", "isnan", "le", "log_softmax", "lt", "matmul",
    "max_pool2d", "models",
    "ne", "nn", "no_grad", "norm", "optim", "permute", "reshape", "set_grad_enabled", "sign",
    "softmax", "sort", "split",
    "squeeze", "stack", "t", "topk", "transpose", "unbind", "unsqueeze", "viz", "where",
]  # fmt: skip
# creation, the default generator, functional ops, type promotion (abs, pow, sum, mean, max,
# min, any and all are importable but kept out of __all__: a star import must not shadow
# Python's builtins)
__all__ += [
    "add", "arange", "default_generator", "div", "empty", "exp", "eye", "float32", "float64",
    "full", "full_like", "int8", "int16", "int32", "int64", "linspace", "log", "manual_seed",
    "maximum", "minimum", "mul", "neg", "ones", "ones_like", "promote_types", "rand",
    "rand_like", "randint", "randn", "randn_like", "relu", "sigmoid", "sqrt", "sub", "tanh",
    "tensor", "uint8", "zeros", "zeros_like",
]  # fmt: skip
