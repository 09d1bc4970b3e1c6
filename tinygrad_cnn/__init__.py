"""tinygrad_cnn: a small, fast, tested reverse-mode autograd library on numpy.

>>> from tinygrad_cnn import Tensor
>>> w = Tensor([[1.0, -2.0]], requires_grad=True)
>>> loss = (w * w).sum()
>>> loss.backward()
>>> w.grad
array([[ 2., -4.]], dtype=float32)
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

__version__ = "0.1.0"

__all__ = [
    "Function", "Tensor", "avg_pool2d", "concatenate", "conv2d", "cross_entropy",
    "enable_grad", "is_grad_enabled", "log_softmax", "matmul", "max_pool2d", "no_grad",
    "set_grad_enabled", "softmax", "stack",
]  # fmt: skip
