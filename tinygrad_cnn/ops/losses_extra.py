"""The losses of ``torch.nn.functional`` composed from registered ops: ``mse_loss``,
``l1_loss``, ``smooth_l1_loss``, ``binary_cross_entropy_with_logits``, ``nll_loss`` and the
general ``cross_entropy`` (class weights, ``ignore_index``, ``label_smoothing``, probability
targets, ``(N, C, d1, ...)`` inputs).

The plain call ``cross_entropy(logits (N, C), labels (N,))`` has a fused op
(:func:`tinygrad_cnn.ops.cross_entropy`); :func:`tinygrad_cnn.nn.functional.cross_entropy`
takes it when none of the options here is used.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_cnn.ops.loss import log_softmax
from tinygrad_cnn.tensor import Tensor

REDUCTIONS = ("none", "mean", "sum")


def _check(op: str, input: Any, target: Any, reduction: str) -> tuple[Tensor, Tensor]:
    if not isinstance(input, Tensor) or not isinstance(target, Tensor):
        raise TypeError(
            f"{op}: input and target must be Tensors, got {type(input).__name__} and "
            f"{type(target).__name__}"
        )
    if not np.issubdtype(input.dtype, np.floating):
        raise TypeError(f"{op}: expected a floating-point input, got dtype {input.dtype}")
    if reduction not in REDUCTIONS:
        raise ValueError(f"{op}: reduction must be one of {REDUCTIONS}, got {reduction!r}")
    return input, target


def _pointwise(op: str, input: Any, target: Any, reduction: str) -> Tensor:
    x, y = _check(op, input, target, reduction)
    if x.shape != y.shape:
        raise ValueError(
            f"{op}: input and target must have the same shape, got {x.shape} and {y.shape}"
        )
    return x - y


def _reduce(losses: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return losses.mean()
    if reduction == "sum":
        return losses.sum()
    return losses


def mse_loss(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    """``(input - target) ** 2`` elementwise, reduced; both of the same shape."""
    d = _pointwise("mse_loss", input, target, reduction)
    return _reduce(d * d, reduction)


def l1_loss(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    """``|input - target|`` elementwise, reduced; both of the same shape."""
    return _reduce(_pointwise("l1_loss", input, target, reduction).abs(), reduction)


def smooth_l1_loss(
    input: Tensor, target: Tensor, reduction: str = "mean", beta: float = 1.0
) -> Tensor:
    """``0.5 d**2 / beta`` where ``|d| < beta`` else ``|d| - 0.5 beta`` (``d = input -
    target``); ``beta = 0`` is the L1 loss."""
    d = _pointwise("smooth_l1_loss", input, target, reduction)
    if isinstance(beta, bool) or not isinstance(beta, int | float) or beta < 0:
        raise ValueError(f"smooth_l1_loss: beta must be a non-negative number, got {beta!r}")
    size = d.abs()
    if beta == 0:
        return _reduce(size, reduction)
    return _reduce((d * d * (0.5 / beta)).where(size < beta, size - 0.5 * beta), reduction)


def binary_cross_entropy_with_logits(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    reduction: str = "mean",
    pos_weight: Tensor | None = None,
) -> Tensor:
    """``-w [p y log sigmoid(x) + (1 - y) log(1 - sigmoid(x))]``, computed stably.

    Parameters
    ----------
    input : Tensor
        Logits, any shape.
    target : Tensor
        Probabilities in ``[0, 1]``, the shape of ``input``.
    weight : Tensor, optional
        Broadcast to ``input``'s shape: a weight per element.
    reduction : {'none', 'mean', 'sum'}
    pos_weight : Tensor, optional
        ``p``, the weight of the positive term, broadcast along the last axis (one per class).
    """
    x, y = _check("binary_cross_entropy_with_logits", input, target, reduction)
    if x.shape != y.shape:
        raise ValueError(
            f"binary_cross_entropy_with_logits: target shape {y.shape} must equal input shape "
            f"{x.shape}"
        )
    # softplus(-x) = log(1 + exp(-|x|)) + max(-x, 0), finite for logits of any size
    softplus_neg = ((-x.abs()).exp() + 1).log() + (-x).maximum(Tensor(np.zeros((), x.dtype)))
    if pos_weight is None:
        losses = (1 - y) * x + softplus_neg
    else:
        losses = (1 - y) * x + ((pos_weight - 1) * y + 1) * softplus_neg
    if weight is not None:
        losses = losses * weight
    return _reduce(losses, reduction)


def nll_loss(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    ignore_index: int = -100,
    reduction: str = "mean",
) -> Tensor:
    """``-weight[t] * input[n, t]`` for class indices ``t = target[n, ...]``.

    Parameters
    ----------
    input : Tensor
        Log-probabilities ``(N, C)``, ``(N, C, d1, ...)`` or ``(C,)``.
    target : Tensor
        Integer classes ``(N,)``, ``(N, d1, ...)`` or ``()``, in ``[0, C)`` or equal to
        ``ignore_index`` (those positions add nothing and do not count).
    weight : Tensor, optional
        ``(C,)`` class weights.
    ignore_index : int, default -100
    reduction : {'none', 'mean', 'sum'}
        ``'mean'`` divides by the sum of the weights of the counted targets.
    """
    x, t = _check("nll_loss", input, target, reduction)
    picked, w = _picked("nll_loss", x, t, weight, ignore_index)
    losses = -(picked * w)
    if reduction == "mean":
        return losses.sum() / w.sum()
    return _reduce(losses, reduction)


def _picked(
    op: str, x: Tensor, t: Tensor, weight: Tensor | None, ignore_index: int
) -> tuple[Tensor, Tensor]:
    """``x`` at each target's class (axis 1) and each target's weight (0 where ignored)."""
    if not np.issubdtype(t.dtype, np.integer):
        raise TypeError(f"{op}: expected integer class targets, got dtype {t.dtype}")
    unbatched = x.ndim == 1
    if unbatched:
        x, t = x.reshape(1, -1), t.reshape(1)
    if x.ndim < 2 or t.shape != (x.shape[0], *x.shape[2:]):
        raise ValueError(
            f"{op}: expected target of shape {(x.shape[0], *x.shape[2:])} for input of shape "
            f"{x.shape}, got {t.shape}"
        )
    classes = x.shape[1]
    labels = t.data
    ignored = labels == ignore_index
    bad = ~ignored & ((labels < 0) | (labels >= classes))
    if bad.any():
        raise ValueError(
            f"{op}: target {int(labels[bad].flat[0])} is out of bounds for {classes} classes"
        )
    safe = np.where(ignored, 0, labels)
    picked = x.gather(1, Tensor(np.expand_dims(safe, 1))).reshape(labels.shape)
    if weight is not None:
        if not isinstance(weight, Tensor) or tuple(weight.shape) != (classes,):
            raise ValueError(f"{op}: weight must be a Tensor of shape ({classes},)")
        w = weight[Tensor(safe)] * Tensor((~ignored).astype(x.dtype))
    else:
        w = Tensor((~ignored).astype(x.dtype))
    if unbatched:
        picked, w = picked.reshape(()), w.reshape(())
    return picked, w


def cross_entropy(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    ignore_index: int = -100,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> Tensor:
    """Softmax cross-entropy over axis 1, with all of ``torch.nn.functional.cross_entropy``'s
    options.

    Parameters
    ----------
    input : Tensor
        Logits ``(N, C)``, ``(N, C, d1, ...)`` or ``(C,)``.
    target : Tensor
        Integer classes (as :func:`nll_loss`), or class probabilities of ``input``'s shape.
    weight : Tensor, optional
        ``(C,)`` class weights.
    ignore_index : int, default -100
        Class-index targets equal to it are skipped.
    reduction : {'none', 'mean', 'sum'}
        With class indices ``'mean'`` divides by the counted targets' total weight; with
        probabilities by the number of positions (``input.numel() / C``).
    label_smoothing : float, default 0
        In ``[0, 1]``: the target becomes ``(1 - s) * target + s / C``.
    """
    x, t = _check("cross_entropy", input, target, reduction)
    if isinstance(label_smoothing, bool) or not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(
            f"cross_entropy: label_smoothing must be in [0, 1], got {label_smoothing!r}"
        )
    class_axis = 0 if x.ndim == 1 else 1
    classes = x.shape[class_axis]
    logp = log_softmax(x, class_axis)
    shape = [1] * x.ndim
    shape[class_axis] = classes
    if np.issubdtype(t.dtype, np.floating):
        if t.shape != x.shape:
            raise ValueError(
                f"cross_entropy: probability targets must have the input's shape {x.shape}, "
                f"got {t.shape}"
            )
        if label_smoothing:
            t = t * (1 - label_smoothing) + label_smoothing / classes
        terms = logp * t if weight is None else logp * t * weight.reshape(tuple(shape))
        losses = -terms.sum(class_axis)
        if reduction == "mean":
            return losses.sum() / (x.numel() // classes)
        return _reduce(losses, reduction)
    nll = nll_loss(logp, t, weight, ignore_index, reduction)
    if not label_smoothing:
        return nll
    _, w = _picked("cross_entropy", logp, t, weight, ignore_index)
    counted = Tensor((t.data != ignore_index).astype(x.dtype))
    per_class = logp if weight is None else logp * weight.reshape(tuple(shape))
    smooth = -per_class.sum(class_axis) * counted
    if reduction == "mean":
        smooth = smooth.sum() / w.sum()
    else:
        smooth = _reduce(smooth, reduction)
    return nll * (1 - label_smoothing) + smooth * (label_smoothing / classes)
