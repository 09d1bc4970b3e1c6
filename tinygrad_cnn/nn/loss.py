"""Loss modules over the existing loss ops: :class:`CrossEntropyLoss`."""

from __future__ import annotations

from typing import Any

from tinygrad_cnn import ops
from tinygrad_cnn.nn.module import Module
from tinygrad_cnn.tensor import Tensor

_REDUCTIONS = ("mean", "sum", "none")


class CrossEntropyLoss(Module):
    """Softmax cross-entropy between logits ``(N, C)`` and integer labels ``(N,)``.

    PyTorch's ``nn.CrossEntropyLoss`` over :func:`tinygrad_cnn.ops.cross_entropy`. Only the
    arguments that op supports are accepted: ``weight``, ``ignore_index``,
    ``label_smoothing`` and ``size_average``/``reduce`` raise a ``TypeError`` naming the
    argument, rather than giving an answer different from PyTorch's.

    Parameters
    ----------
    reduction : {'mean', 'sum', 'none'}, default 'mean'

    Shapes: ``input (N, C)``, ``target (N,)`` of int; the output is a scalar, or ``(N,)``
    with ``reduction='none'``.
    """

    def __init__(self, weight: Any = None, *, reduction: str = "mean", **unsupported: Any) -> None:
        super().__init__()
        if weight is not None:
            raise TypeError("CrossEntropyLoss: weight (class weights) is not supported yet")
        for name, value in unsupported.items():
            if name in ("size_average", "reduce", "ignore_index", "label_smoothing"):
                default = {"ignore_index": -100, "label_smoothing": 0.0}.get(name)
                if value is None or value == default:
                    continue
                raise TypeError(f"CrossEntropyLoss: {name}={value!r} is not supported yet")
            raise TypeError(f"CrossEntropyLoss: unexpected keyword argument {name!r}")
        if reduction not in _REDUCTIONS:
            raise ValueError(
                f"CrossEntropyLoss: reduction must be 'mean', 'sum' or 'none', got {reduction!r}"
            )
        self.reduction = reduction

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return ops.cross_entropy(input, target, reduction=self.reduction)

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}" if self.reduction != "mean" else ""
