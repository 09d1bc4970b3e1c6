"""Dropout, batch normalisation and layer normalisation, composed from registered ops.

Statistics are computed with ``mean`` and arithmetic on Tensors, so the gradient through the
batch statistics (and its derivatives) comes from the composition. The random mask of dropout
and the running-statistics update are constants of the graph.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from tinygrad_cnn.grad_mode import no_grad
from tinygrad_cnn.ops.activation import float_tensor
from tinygrad_cnn.random import default_generator
from tinygrad_cnn.tensor import Tensor


def dropout(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero each element with probability ``p`` and scale the rest by ``1 / (1 - p)``.

    The mask is drawn from the default generator (:func:`tinygrad_cnn.random.manual_seed`
    seeds it). ``training=False`` or ``p == 0`` returns ``input`` itself; ``p == 1`` gives
    zeros.

    Parameters
    ----------
    input : Tensor
        Floating point, any shape.
    p : float, default 0.5
        Probability of an element being zeroed, in ``[0, 1]``.
    training : bool, default True
    inplace : bool, default False
        Only False is supported.
    """
    x = float_tensor("dropout", input)
    if isinstance(p, bool) or not isinstance(p, int | float) or not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout: p must be a probability in [0, 1], got {p!r}")
    if inplace is not False:
        raise ValueError(f"dropout: inplace=True is not supported; got inplace={inplace!r}")
    if not training or p == 0:
        return x
    if p == 1:
        return x * Tensor(np.zeros((), dtype=x.dtype))
    keep = default_generator().random(x.shape) >= p
    return x * Tensor((keep / (1.0 - p)).astype(x.dtype))


def batch_norm(
    input: Tensor,
    running_mean: Tensor | None,
    running_var: Tensor | None,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """Normalise each channel (axis 1) of ``input`` by its mean and variance.

    In training the statistics are the batch's: the mean and the biased variance over every
    axis but 1; the running statistics, when given, are updated in place as
    ``(1 - momentum) * running + momentum * batch`` with the batch's unbiased variance (as
    PyTorch). In evaluation the running statistics (then required) normalise.

    Parameters
    ----------
    input : Tensor
        ``(N, C)``, ``(N, C, L)`` or ``(N, C, H, W)`` (any rank >= 2).
    running_mean, running_var : Tensor or None
        ``(C,)``; both or neither.
    weight, bias : Tensor or None
        ``(C,)`` scale and shift.
    training : bool, default False
    momentum : float, default 0.1
    eps : float, default 1e-5

    Returns
    -------
    Tensor
        The shape of ``input``.
    """
    x = float_tensor("batch_norm", input)
    if x.ndim < 2:
        raise ValueError(f"batch_norm: expected an input of shape (N, C, ...), got {x.shape}")
    channels = x.shape[1]
    for name, t in (("running_mean", running_mean), ("running_var", running_var)):
        _check_channels(name, t, channels)
    for name, t in (("weight", weight), ("bias", bias)):
        _check_channels(name, t, channels)
    if (running_mean is None) != (running_var is None):
        raise ValueError("batch_norm: give both running_mean and running_var, or neither")
    if not training and running_mean is None:
        raise ValueError(
            "batch_norm: running_mean and running_var must be given in evaluation mode "
            "(training=False)"
        )
    axes = (0, *range(2, x.ndim))
    shape = (1, channels) + (1,) * (x.ndim - 2)
    if training:
        count = x.numel() // channels
        if count <= 1:
            raise ValueError(
                f"batch_norm: expected more than 1 value per channel when training, got input "
                f"of shape {x.shape}"
            )
        mean = x.mean(axes, keepdim=True)
        centred = x - mean
        var = (centred * centred).mean(axes, keepdim=True)
        if running_mean is not None:
            with no_grad():
                m = float(momentum)
                batch_var = var.data.reshape(channels) * (count / (count - 1))
                running_mean.data[...] = (1 - m) * running_mean.data + m * mean.data.reshape(-1)
                running_var.data[...] = (1 - m) * running_var.data + m * batch_var
    else:
        centred = x - running_mean.detach().reshape(shape)
        var = running_var.detach().reshape(shape)
    out = centred / (var + eps).sqrt()
    if weight is not None:
        out = out * weight.reshape(shape)
    if bias is not None:
        out = out + bias.reshape(shape)
    return out


def layer_norm(
    input: Tensor,
    normalized_shape: int | Sequence[int],
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-5,
) -> Tensor:
    """Normalise over the trailing ``normalized_shape`` axes (mean and biased variance).

    Parameters
    ----------
    input : Tensor
        ``(*, *normalized_shape)``.
    normalized_shape : int or sequence of int
    weight, bias : Tensor or None
        Of shape ``normalized_shape``.
    eps : float, default 1e-5

    Returns
    -------
    Tensor
        The shape of ``input``.
    """
    x = float_tensor("layer_norm", input)
    dims = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    if not dims or any(not isinstance(d, int) or isinstance(d, bool) for d in dims):
        raise TypeError(f"layer_norm: normalized_shape must be ints, got {normalized_shape!r}")
    if tuple(x.shape[x.ndim - len(dims) :]) != dims or len(dims) > x.ndim:
        raise ValueError(
            f"layer_norm: input of shape {x.shape} does not end with normalized_shape {dims}"
        )
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and tuple(t.shape) != dims:
            raise ValueError(f"layer_norm: {name} must have shape {dims}, got {tuple(t.shape)}")
    axes = tuple(range(x.ndim - len(dims), x.ndim))
    centred = x - x.mean(axes, keepdim=True)
    var = (centred * centred).mean(axes, keepdim=True)
    out = centred / (var + eps).sqrt()
    if weight is not None:
        out = out * weight
    if bias is not None:
        out = out + bias
    return out


def _check_channels(name: str, t: Any, channels: int) -> None:
    if t is None:
        return
    if not isinstance(t, Tensor):
        raise TypeError(f"batch_norm: {name} must be a Tensor or None, got {type(t).__name__}")
    if tuple(t.shape) != (channels,):
        raise ValueError(
            f"batch_norm: {name} must have shape ({channels},) for {channels} channels, "
            f"got {tuple(t.shape)}"
        )
