"""The :class:`Dropout` and :class:`AdaptiveAvgPool2d` modules (no parameters)."""

from __future__ import annotations

from typing import Any

from tinygrad_cnn.nn.module import Module
from tinygrad_cnn.ops.normalization import dropout
from tinygrad_cnn.ops.padding import adaptive_avg_pool2d
from tinygrad_cnn.tensor import Tensor


class Dropout(Module):
    """Zero each element with probability ``p`` in training, scaling the rest by
    ``1 / (1 - p)``; the identity in evaluation (``model.eval()``). Any shape.

    The masks come from the default generator (:func:`tinygrad_cnn.manual_seed`).
    """

    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        super().__init__()
        if isinstance(p, bool) or not isinstance(p, int | float) or not 0.0 <= p <= 1.0:
            raise ValueError(f"Dropout: p must be a probability in [0, 1], got {p!r}")
        self.p, self.inplace = float(p), inplace

    def forward(self, x: Tensor) -> Tensor:
        return dropout(x, self.p, self.training, self.inplace)

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"


class AdaptiveAvgPool2d(Module):
    """Average pooling to a fixed ``output_size``: ``(N, C, H, W)`` -> ``(N, C, oh, ow)``."""

    def __init__(self, output_size: Any) -> None:
        super().__init__()
        self.output_size = output_size

    def forward(self, x: Tensor) -> Tensor:
        return adaptive_avg_pool2d(x, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"
