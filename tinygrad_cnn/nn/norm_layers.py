"""Normalisation modules: :class:`BatchNorm1d`, :class:`BatchNorm2d` and :class:`LayerNorm`,
over :mod:`tinygrad_cnn.ops.normalization`.

The running statistics (``running_mean``, ``running_var``, ``num_batches_tracked``) are
tensors that are not parameters: optimizers never see them. In training the batch's
statistics normalise and the running ones are updated; in evaluation (``model.eval()``) the
running ones normalise, as PyTorch.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from tinygrad_cnn.nn.module import Module, Parameter
from tinygrad_cnn.ops.normalization import batch_norm, layer_norm
from tinygrad_cnn.tensor import Tensor


def _float_dtype(layer: str, dtype: Any) -> np.dtype:
    dt = np.dtype(np.float32 if dtype is None else dtype)
    if not np.issubdtype(dt, np.floating):
        raise TypeError(f"{layer}: dtype must be a floating dtype, got {dt}")
    return dt


class _BatchNorm(Module):
    """Shared by :class:`BatchNorm1d` and :class:`BatchNorm2d` (they differ in input rank).

    Parameters
    ----------
    num_features : int
        ``C``, the channels (axis 1).
    eps : float, default 1e-5
        Added to the variance.
    momentum : float or None, default 0.1
        Weight of the batch in the running update; None for a cumulative average
        (``1 / num_batches_tracked``).
    affine : bool, default True
        Learn ``weight`` (ones) and ``bias`` (zeros), each ``(C,)``.
    track_running_stats : bool, default True
        Keep ``running_mean`` (zeros), ``running_var`` (ones) and ``num_batches_tracked``;
        without them the batch statistics normalise in evaluation too.
    dtype : floating dtype, default float32
    """

    ranks: tuple[int, ...] = ()

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        name = type(self).__name__
        if isinstance(num_features, bool) or not isinstance(num_features, int) or num_features < 1:
            raise ValueError(f"{name}: num_features must be a positive int, got {num_features!r}")
        if momentum is not None and not 0.0 <= momentum <= 1.0:
            raise ValueError(f"{name}: momentum must be in [0, 1] or None, got {momentum!r}")
        dt = _float_dtype(name, dtype)
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        if affine:
            self.weight = Parameter(np.ones(num_features, dtype=dt))
            self.bias = Parameter(np.zeros(num_features, dtype=dt))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        # Buffers, as PyTorch's: in state_dict under the same keys, never seen by optimizers.
        tracked = track_running_stats
        self.register_buffer(
            "running_mean", Tensor(np.zeros(num_features, dtype=dt)) if tracked else None
        )
        self.register_buffer(
            "running_var", Tensor(np.ones(num_features, dtype=dt)) if tracked else None
        )
        self.register_buffer(
            "num_batches_tracked", Tensor(np.zeros((), dtype=np.int64)) if tracked else None
        )

    def reset_running_stats(self) -> None:
        """Running mean 0, variance 1, no batch tracked."""
        if self.track_running_stats:
            self.running_mean.data[...] = 0
            self.running_var.data[...] = 1
            self.num_batches_tracked.data[...] = 0

    def forward(self, x: Tensor) -> Tensor:
        if not isinstance(x, Tensor):
            raise TypeError(
                f"{type(self).__name__}: input must be a Tensor, got {type(x).__name__}"
            )
        if x.ndim not in self.ranks or x.shape[1] != self.num_features:
            raise ValueError(
                f"{type(self).__name__}: expected an input of {' or '.join(map(str, self.ranks))} "
                f"dimensions with {self.num_features} channels on axis 1, got shape {x.shape}"
            )
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            self.num_batches_tracked.data[...] += 1
            if self.momentum is None:
                factor = 1.0 / float(self.num_batches_tracked.data)
        use_batch = self.training or self.running_mean is None
        tracked = not self.training or self.track_running_stats
        return batch_norm(
            x,
            self.running_mean if tracked else None,
            self.running_var if tracked else None,
            self.weight,
            self.bias,
            use_batch,
            factor,
            self.eps,
        )

    def extra_repr(self) -> str:
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
            f"affine={self.affine}, track_running_stats={self.track_running_stats}"
        )


class BatchNorm1d(_BatchNorm):
    """Batch normalisation of ``(N, C)`` or ``(N, C, L)`` inputs over every axis but ``C``."""

    ranks = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Batch normalisation of ``(N, C, H, W)`` images over ``N``, ``H`` and ``W``."""

    ranks = (4,)


class LayerNorm(Module):
    """Normalise over the trailing ``normalized_shape`` axes, then scale and shift.

    Parameters
    ----------
    normalized_shape : int or sequence of int
    eps : float, default 1e-5
    elementwise_affine : bool, default True
        Learn ``weight`` (ones) and ``bias`` (zeros) of shape ``normalized_shape``.
    bias : bool, default True
        Learn ``bias`` (with ``elementwise_affine``).
    dtype : floating dtype, default float32
    """

    def __init__(
        self,
        normalized_shape: int | Sequence[int],
        eps: float = 1e-5,
        elementwise_affine: bool = True,
        bias: bool = True,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        shape = (normalized_shape,) if isinstance(normalized_shape, int) else normalized_shape
        self.normalized_shape = tuple(int(s) for s in shape)
        self.eps, self.elementwise_affine = eps, elementwise_affine
        dt = _float_dtype("LayerNorm", dtype)
        if elementwise_affine:
            self.weight = Parameter(np.ones(self.normalized_shape, dtype=dt))
            if bias:
                self.bias = Parameter(np.zeros(self.normalized_shape, dtype=dt))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    def forward(self, x: Tensor) -> Tensor:
        return layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (
            f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"
        )
