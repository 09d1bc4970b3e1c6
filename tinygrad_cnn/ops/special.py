"""Special functions: the error function ``erf`` (GELU's exact form needs it)."""

from __future__ import annotations

import math

import numpy as np

from tinygrad_cnn.function import Function
from tinygrad_cnn.tensor import Tensor

_ERF = np.frompyfunc(math.erf, 1, 1)
_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


class Erf(Function):
    """out = erf(a) = 2/sqrt(pi) * integral_0^a exp(-t**2) dt; d/da = 2/sqrt(pi) exp(-a**2).

    The forward evaluates the C library's ``erf`` (Python's :func:`math.erf`) element by
    element in float64 and rounds to the input's dtype: correctly rounded in float32, within an
    ulp or two in float64, as PyTorch.
    """

    def forward(self, a: np.ndarray) -> np.ndarray:
        return np.asarray(_ERF(a.astype(np.float64, copy=False)), dtype=a.dtype)

    def backward(self, g: Tensor) -> tuple[Tensor]:
        (a,) = self.inputs
        return (g * ((-(a * a)).exp() * _TWO_OVER_SQRT_PI),)


def erf(x: Tensor) -> Tensor:
    """The error function elementwise, as ``torch.erf``; integer and bool inputs become float32.

    Parameters
    ----------
    x : Tensor
        Any shape.

    Returns
    -------
    Tensor
        Same shape; a floating dtype.
    """
    if not isinstance(x, Tensor):
        raise TypeError(f"erf: expected a Tensor, got {type(x).__name__}")
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float32)
    return Erf.apply(x)
