"""Gradient clipping, as ``torch.nn.utils``: :func:`clip_grad_norm_`, :func:`clip_grad_value_`.

Both work in place on each parameter's ``grad`` (parameters without one are skipped) and
record nothing in the graph.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from tinygrad_cnn.tensor import Tensor


def _grads(function: str, parameters: Tensor | Iterable[Tensor]) -> list[Tensor]:
    params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    for position, param in enumerate(params):
        if not isinstance(param, Tensor):
            raise TypeError(
                f"{function}: expected Tensors, got {type(param).__name__} at position {position}"
            )
    return [p.grad for p in params if p.grad is not None]


def _number(function: str, name: str, value: Any) -> float:
    if isinstance(value, str) and value == "inf":
        return math.inf
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise TypeError(f"{function}: {name} must be a number, got {value!r}")
    return float(value)


def clip_grad_norm_(
    parameters: Tensor | Iterable[Tensor],
    max_norm: float,
    norm_type: float = 2.0,
    error_if_nonfinite: bool = False,
    foreach: bool | None = None,
) -> Tensor:
    """Scale all gradients together so that their joint ``norm_type``-norm is at most
    ``max_norm``, as ``torch.nn.utils.clip_grad_norm_``.

    The total norm is the norm of the vector of per-parameter gradient norms (for
    ``norm_type=inf``, the largest absolute entry). Every gradient is multiplied by
    ``min(1, max_norm / (total_norm + 1e-6))``.

    Parameters
    ----------
    parameters : Tensor or iterable of Tensor
        E.g. ``model.parameters()``; those whose ``grad`` is None are skipped.
    max_norm : float
    norm_type : float, default 2.0
        Any p > 0, or ``inf`` (``float("inf")`` or ``"inf"``).
    error_if_nonfinite : bool, default False
        Raise ``RuntimeError`` when the total norm is nan or inf (gradients unchanged then).
    foreach : bool or None
        Accepted for PyTorch compatibility; has no effect here.

    Returns
    -------
    Tensor
        The total norm before clipping, a 0-d tensor in the gradients' dtype (float32 0.0
        when no parameter has a gradient).
    """
    grads = _grads("clip_grad_norm_", parameters)
    max_norm = _number("clip_grad_norm_", "max_norm", max_norm)
    norm_type = _number("clip_grad_norm_", "norm_type", norm_type)
    if not norm_type > 0:
        raise ValueError(f"clip_grad_norm_: norm_type must be positive, got {norm_type}")
    if not grads:
        return Tensor(np.float32(0.0))
    dtype = np.result_type(*(g.dtype for g in grads))
    if math.isinf(norm_type):
        norms = np.array([np.abs(g.data).max(initial=0) for g in grads], dtype=dtype)
        total = norms.max()
    else:
        norms = np.array(
            [np.linalg.norm(g.data.ravel(), ord=norm_type) for g in grads], dtype=dtype
        )
        total = np.linalg.norm(norms, ord=norm_type)
    total = np.asarray(total, dtype=dtype)
    if error_if_nonfinite and not np.isfinite(total):
        raise RuntimeError(
            f"clip_grad_norm_: the total norm of order {norm_type} of the gradients is "
            f"{float(total)}, so they cannot be clipped; pass error_if_nonfinite=False to "
            f"clip anyway"
        )
    coef = min(np.asarray(max_norm / (total + 1e-6), dtype=dtype), np.asarray(1.0, dtype=dtype))
    for grad in grads:
        grad.data *= grad.data.dtype.type(coef)
    return Tensor(total)


def clip_grad_value_(
    parameters: Tensor | Iterable[Tensor], clip_value: float, foreach: bool | None = None
) -> None:
    """Clamp every gradient entry to ``[-clip_value, clip_value]`` in place, as
    ``torch.nn.utils.clip_grad_value_`` (``foreach`` is accepted and has no effect)."""
    grads = _grads("clip_grad_value_", parameters)
    clip_value = _number("clip_grad_value_", "clip_value", clip_value)
    for grad in grads:
        np.clip(grad.data, -clip_value, clip_value, out=grad.data)


__all__ = ["clip_grad_norm_", "clip_grad_value_"]
