"""tinygrad_cnn: a small, fast, tested reverse-mode autograd library on numpy.

>>> from tinygrad_cnn import Tensor
>>> w = Tensor([[1.0, -2.0]], requires_grad=True)
>>> loss = (w * w).sum()
>>> loss.backward()
>>> w.grad
array([[ 2., -4.]], dtype=float32)

Subpackages: ``ops`` (every differentiable op), ``nn`` (modules and layers), ``optim``
(SGD, Adam, AdamW), ``data`` (MNIST and synthetic digits), ``models`` (the example CNNs),
``viz`` (graph drawing; graphviz is imported only to render), ``debug`` (check_graph,
detect_anomaly), ``checkpoint`` (atomic, verified ``.npz``). ``tinygrad_cnn.testing`` (the
Hypothesis strategies and ``assert_grads``) needs the ``testing`` extra and is not imported
here.

The engine, the ops, the ``nn`` layer (``nn``, ``optim``, ``models``, ``checkpoint``) and
``gradcheck`` are imported with the package. The tool subpackages ``viz``, ``debug`` and
``data``, and the names taken from them (``draw``, ``check_graph`` ...), are imported on first
use, so ``import tinygrad_cnn.nn`` never loads them (``tests/test_layering.py`` pins this).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from tinygrad_cnn import checkpoint, models, nn, optim
from tinygrad_cnn.function import Function
from tinygrad_cnn.grad_mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from tinygrad_cnn.gradcheck import GradcheckError, gradcheck
from tinygrad_cnn.ops import (
    avg_pool2d,
    concatenate,
    conv2d,
    cross_entropy,
    log_softmax,
    matmul,
    max_pool2d,
    softmax,
    stack,
)
from tinygrad_cnn.tensor import Tensor

if TYPE_CHECKING:  # what the lazy names below resolve to, for type checkers and editors
    from tinygrad_cnn import data, debug, viz
    from tinygrad_cnn.debug import AnomalyError, GraphReport, check_graph, detect_anomaly
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
    "AnomalyError", "Function", "GradcheckError", "GraphReport", "Tensor", "avg_pool2d",
    "check_graph", "checkpoint",
    "concatenate", "conv2d", "cross_entropy", "data", "debug", "detect_anomaly", "draw",
    "enable_grad", "gradcheck", "is_grad_enabled", "log_softmax", "matmul", "max_pool2d",
    "models", "nn", "no_grad", "optim", "set_grad_enabled", "softmax", "stack", "viz",
]  # fmt: skip
