"""tinygrad_cnn: a small, fast, tested reverse-mode autograd library on numpy.

>>> from tinygrad_cnn import Tensor
>>> w = Tensor([[1.0, -2.0]], requires_grad=True)
>>> loss = (w * w).sum()
>>> loss.backward()
>>> w.grad
array([[ 2., -4.]], dtype=float32)

Subpackages: ``ops`` (every differentiable op), ``nn`` (modules and layers), ``optim``
(SGD, Adam, AdamW), ``data`` (MNIST and synthetic digits), ``models`` (the example CNNs),
``viz`` (graph drawing; graphviz is imported only to render), ``debug`` (gradcheck,
check_graph, detect_anomaly), ``checkpoint`` (atomic, verified ``.npz``).
``tinygrad_cnn.testing`` (the Hypothesis strategies and ``assert_grads``) needs the ``testing``
extra and is not imported here.
"""

from tinygrad_cnn.tensor import Tensor  # noqa: I001  (Tensor first: the ops build on it)
from tinygrad_cnn.function import Function
from tinygrad_cnn.grad_mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
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
from tinygrad_cnn.debug.gradcheck import GradcheckError, gradcheck
from tinygrad_cnn import checkpoint, data, debug, models, nn, optim, viz
from tinygrad_cnn.debug import AnomalyError, GraphReport, check_graph, detect_anomaly
from tinygrad_cnn.viz import draw

__version__ = "0.1.0"

__all__ = [
    "AnomalyError", "Function", "GradcheckError", "GraphReport", "Tensor", "avg_pool2d",
    "check_graph", "checkpoint",
    "concatenate", "conv2d", "cross_entropy", "data", "debug", "detect_anomaly", "draw",
    "enable_grad", "gradcheck", "is_grad_enabled", "log_softmax", "matmul", "max_pool2d",
    "models", "nn", "no_grad", "optim", "set_grad_enabled", "softmax", "stack", "viz",
]  # fmt: skip
