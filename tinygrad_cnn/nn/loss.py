"""Loss modules, each ``module(input, target)`` with PyTorch's constructor arguments:
:class:`CrossEntropyLoss`, and :class:`NLLLoss`, :class:`MSELoss`, :class:`L1Loss`,
:class:`SmoothL1Loss`, :class:`BCEWithLogitsLoss` over :mod:`tinygrad_cnn.ops.losses_extra`."""

from __future__ import annotations

from typing import Any

from tinygrad_cnn.nn import functional
from tinygrad_cnn.nn.module import Module
from tinygrad_cnn.ops import losses_extra
from tinygrad_cnn.tensor import Tensor

_REDUCTIONS = ("mean", "sum", "none")


class CrossEntropyLoss(Module):
    """Softmax cross-entropy between logits and class labels or probabilities.

    PyTorch's ``nn.CrossEntropyLoss`` over :func:`tinygrad_cnn.nn.functional.cross_entropy`
    (the fused op for the plain call; class ``weight``, ``ignore_index``, ``label_smoothing``,
    probability targets and ``(N, C, d1, ...)`` inputs go through the composed version).

    Parameters
    ----------
    weight : Tensor of shape (C,), optional
        A weight per class.
    ignore_index : int, default -100
        Targets equal to it contribute nothing (class-index targets only).
    reduction : {'mean', 'sum', 'none'}, default 'mean'
    label_smoothing : float in [0, 1], default 0.0

    Shapes: ``input (N, C)`` or ``(N, C, d1, ...)`` or ``(C,)``; ``target`` of class indices
    ``(N, d1, ...)`` or of probabilities shaped like ``input``; the output is a scalar, or the
    target's shape with ``reduction='none'``.
    """

    def __init__(
        self,
        weight: Tensor | None = None,
        size_average: Any = None,
        ignore_index: int = -100,
        reduce: Any = None,
        reduction: str = "mean",
        label_smoothing: float = 0.0,
    ) -> None:
        super().__init__()
        for name, value in (("size_average", size_average), ("reduce", reduce)):
            if value is not None:  # deprecated in PyTorch: one way to say it here
                raise TypeError(f"CrossEntropyLoss: {name} is deprecated; use reduction=")
        if reduction not in _REDUCTIONS:
            raise ValueError(
                f"CrossEntropyLoss: reduction must be 'mean', 'sum' or 'none', got {reduction!r}"
            )
        if weight is not None:
            self.register_buffer("weight", weight if isinstance(weight, Tensor) else Tensor(weight))
        else:
            self.weight = None
        self.ignore_index, self.reduction = ignore_index, reduction
        self.label_smoothing = label_smoothing

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return functional.cross_entropy(
            input,
            target,
            weight=self.weight,
            ignore_index=self.ignore_index,
            reduction=self.reduction,
            label_smoothing=self.label_smoothing,
        )

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}" if self.reduction != "mean" else ""


class _Loss(Module):
    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        if reduction not in losses_extra.REDUCTIONS:
            raise ValueError(
                f"{type(self).__name__}: reduction must be one of {losses_extra.REDUCTIONS}, "
                f"got {reduction!r}"
            )
        self.reduction = reduction

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"


class NLLLoss(_Loss):
    """Negative log-likelihood of log-probabilities ``(N, C, ...)`` at class targets."""

    def __init__(
        self, weight: Tensor | None = None, ignore_index: int = -100, reduction: str = "mean"
    ) -> None:
        super().__init__(reduction)
        self.weight, self.ignore_index = weight, ignore_index

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return losses_extra.nll_loss(input, target, self.weight, self.ignore_index, self.reduction)


class MSELoss(_Loss):
    """Mean squared error ``(input - target) ** 2``."""

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return losses_extra.mse_loss(input, target, self.reduction)


class L1Loss(_Loss):
    """Mean absolute error ``|input - target|``."""

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return losses_extra.l1_loss(input, target, self.reduction)


class SmoothL1Loss(_Loss):
    """Quadratic below ``beta``, linear above (Huber divided by ``beta``)."""

    def __init__(self, reduction: str = "mean", beta: float = 1.0) -> None:
        super().__init__(reduction)
        self.beta = beta

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return losses_extra.smooth_l1_loss(input, target, self.reduction, self.beta)


class BCEWithLogitsLoss(_Loss):
    """Binary cross-entropy of logits against probabilities, computed stably."""

    def __init__(
        self,
        weight: Tensor | None = None,
        reduction: str = "mean",
        pos_weight: Tensor | None = None,
    ) -> None:
        super().__init__(reduction)
        self.weight, self.pos_weight = weight, pos_weight

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return losses_extra.binary_cross_entropy_with_logits(
            input, target, self.weight, self.reduction, self.pos_weight
        )
