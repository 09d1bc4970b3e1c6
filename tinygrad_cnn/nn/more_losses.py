"""Loss modules over :mod:`tinygrad_cnn.ops.losses_extra`: :class:`NLLLoss`,
:class:`MSELoss`, :class:`L1Loss`, :class:`SmoothL1Loss`, :class:`BCEWithLogitsLoss`.

Each is ``module(input, target)`` with PyTorch's constructor arguments (the deprecated
``size_average`` / ``reduce`` are not accepted); shapes as the functional form."""

from __future__ import annotations

from tinygrad_cnn.nn.module import Module
from tinygrad_cnn.ops import losses_extra
from tinygrad_cnn.tensor import Tensor


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
