"""Softmax, log-softmax and the fused softmax cross-entropy loss, all numerically stable.

Stability comes from subtracting the row maximum before ``exp`` (log-sum-exp), so logits of
any magnitude give finite results. The softmax ops get ``axis=None`` for a 0-d input (numpy's
reductions over every axis of a 0-d array work where ``axis=0`` does not).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_cnn.function import Function
from tinygrad_cnn.tensor import Tensor


def _log_softmax(x: np.ndarray, axis: int | None) -> np.ndarray:
    shifted = x - x.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


class LogSoftmax(Function):
    """out = x - logsumexp(x); d/dx: g - softmax(x) * sum(g), with softmax(x) = e**out."""

    name = "log_softmax"
    uses_output = True

    def forward(self, x: np.ndarray, *, axis: int | None) -> np.ndarray:
        return _log_softmax(x, axis)

    def backward(self, g: Tensor) -> tuple[Tensor]:
        axis = self.attrs["axis"]
        return (g - self.output.exp() * g.sum(axis, keepdim=True),)


class Softmax(Function):
    """out = exp(x) / sum(exp(x)); d/dx: out * (g - sum(g * out))."""

    uses_output = True

    def forward(self, x: np.ndarray, *, axis: int | None) -> np.ndarray:
        return np.exp(_log_softmax(x, axis))

    def backward(self, g: Tensor) -> tuple[Tensor]:
        out, axis = self.output, self.attrs["axis"]
        return (out * (g - (g * out).sum(axis, keepdim=True)),)


class CrossEntropy(Function):
    """loss[n] = -log softmax(logits[n])[labels[n]], reduced by ``reduction``.

    d loss[n] / d logits[n] = softmax(logits[n]) - onehot(labels[n]) (the op
    :class:`CrossEntropyBackward`); the labels get no gradient.
    """

    name = "cross_entropy"

    def forward(self, logits: np.ndarray, labels: np.ndarray, *, reduction: str) -> np.ndarray:
        log_probs = _log_softmax(logits, axis=1)
        self.log_probs = log_probs
        losses = -log_probs[np.arange(len(labels)), labels]
        if reduction == "mean":  # (sum / n is numpy's mean without its Python wrapper)
            return np.asarray(losses.sum() / len(labels))
        if reduction == "sum":
            return np.asarray(losses.sum())
        return losses

    def backward(self, g: Tensor) -> tuple[Tensor, None]:
        logits, labels = self.inputs
        saved = Tensor._from_op(self.log_probs, None)  # spares the kernel a second log-softmax
        saved.name = "log_probs"
        return CrossEntropyBackward.apply(logits, labels, g, saved, **self.attrs), None


class CrossEntropyBackward(Function):
    """out = (softmax(logits) - onehot(labels)) * w: the gradient of ``cross_entropy``.

    ``w`` is the upstream gradient ``g`` of the loss spread over the rows: ``g / N`` for
    ``reduction="mean"``, ``g`` for ``"sum"``, ``g[n]`` on row ``n`` for ``"none"``. One
    fused numpy kernel forward; its own backward, for higher orders, is made of Tensor ops:
    d/dlogits is softmax's backward applied to ``upstream * w``, d/dg the sum of
    ``(softmax - onehot) * upstream`` (over each row for ``"none"``, divided by N for
    ``"mean"``).

    Inputs: logits (N, K), labels (N,) int64 (no gradient), g (shape of the loss), and
    optionally log_probs (N, K), ``log_softmax(logits, 1)`` as the forward computed it: a
    cache of a function of logits, so it gets no gradient of its own (the derivative through
    it is the one with respect to logits).
    """

    name = "cross_entropy_backward"
    new_gradients = True

    def forward(
        self,
        logits: np.ndarray,
        labels: np.ndarray,
        g: np.ndarray,
        log_probs: np.ndarray | None = None,
        *,
        reduction: str,
    ) -> np.ndarray:
        n = len(labels)
        grad = np.exp(_log_softmax(logits, axis=1) if log_probs is None else log_probs)
        grad[np.arange(n), labels] -= 1
        if reduction == "mean":
            grad *= g / n
        elif reduction == "sum":
            grad *= g
        else:
            grad *= g[:, None]
        return grad

    def backward(self, upstream: Tensor) -> tuple[Tensor | None, ...]:
        logits, labels, g = self.inputs[:3]
        need_logits, _, need_g = self.needs_input_grad[:3]
        reduction = self.attrs["reduction"]
        n = len(labels)
        probs = Softmax.apply(logits, axis=1)
        grad_logits = grad_g = None
        if need_logits:
            if reduction == "mean":
                weights = g / n
            else:
                weights = g if reduction == "sum" else g.reshape(n, 1)
            weighted = upstream * weights
            grad_logits = probs * (weighted - (weighted * probs).sum(1, keepdim=True))
        if need_g:
            onehot = np.eye(logits.shape[1], dtype=logits.dtype)[labels.data]
            per_row = ((probs - Tensor._from_op(onehot, None)) * upstream).sum(1)
            if reduction == "none":
                grad_g = per_row
            else:
                grad_g = per_row.sum() / n if reduction == "mean" else per_row.sum()
        return (grad_logits, None, grad_g, None)[: len(self.inputs)]


def _softmax_dim(op: str, x: Tensor, dim: Any, axis: Any, dtype: Any) -> tuple[Tensor, int | None]:
    """The input (cast to ``dtype``) and the dimension to normalise over (None for 0-d)."""
    if not isinstance(x, Tensor):  # any other input (None too) is a TypeError naming the op
        raise TypeError(f"{op}: input must be a Tensor, got {type(x).__name__}")
    if axis is not None:
        if dim is not None:
            raise TypeError(
                f"{op}: got both dim={dim!r} and axis={axis!r}; pass one (axis is numpy's "
                f"name for dim)"
            )
        dim = axis
    if dim is None:
        if x.ndim > 2:
            raise TypeError(
                f"{op}: pass dim for a tensor with {x.ndim} dimensions (PyTorch's implicit "
                f"choice, deprecated there, is not -1 beyond 2 dimensions)"
            )
        dim = -1
    if isinstance(dim, bool) or not isinstance(dim, int | np.integer):
        raise TypeError(f"{op}: dim must be an int, got {dim!r}")
    size = max(x.ndim, 1)  # a 0-d tensor accepts dim 0 and -1, as in PyTorch
    if not -size <= dim < size:
        raise ValueError(f"{op}: dim {dim} is out of range for a tensor of shape {x.shape}")
    if dtype is not None:
        x = x.astype(dtype)
    if not np.issubdtype(x.dtype, np.floating):
        raise TypeError(f"{op}: input must be floating point, got {x.dtype}")
    return x, (int(dim) % size if x.ndim else None)


def log_softmax(
    x: Tensor, dim: int | None = None, *, dtype: Any = None, axis: Any = None
) -> Tensor:
    """``log(softmax(x))`` along ``dim``, stable for logits of any size.

    Parameters
    ----------
    x : Tensor, floating point
    dim : int
        The dimension whose slices are normalised (``axis`` is accepted too). Optional for
        0-2 dimensions (then -1, PyTorch's implicit choice there); required beyond.
    dtype : numpy dtype, optional
        Cast ``x`` to this dtype first.

    Returns
    -------
    Tensor
        ``x``'s shape; a 0-d input gives 0.
    """
    x, dim = _softmax_dim("log_softmax", x, dim, axis, dtype)
    return LogSoftmax.apply(x, axis=dim)


def softmax(x: Tensor, dim: int | None = None, *, dtype: Any = None, axis: Any = None) -> Tensor:
    """``exp(x) / sum(exp(x))`` along ``dim``; each slice sums to 1 (a 0-d input gives 1).

    Arguments as :func:`log_softmax`.
    """
    x, dim = _softmax_dim("softmax", x, dim, axis, dtype)
    return Softmax.apply(x, axis=dim)


def cross_entropy(logits: Tensor, labels: Any, reduction: str = "mean") -> Tensor:
    """Softmax cross-entropy between logits and integer class labels.

    Parameters
    ----------
    logits : Tensor, shape (N, K)
        Unnormalised class scores.
    labels : Tensor, ndarray or sequence of int, shape (N,)
        The true class of each row, in ``[0, K)``.
    reduction : {'mean', 'sum', 'none'}
        Average or sum the N losses, or return them all.

    Returns
    -------
    Tensor
        A scalar, or shape (N,) when ``reduction='none'``.
    """
    if not isinstance(logits, Tensor):
        raise TypeError(f"cross_entropy: logits must be a Tensor, got {type(logits).__name__}")
    if logits.ndim != 2:
        raise ValueError(f"cross_entropy: logits must have shape (N, K), got shape {logits.shape}")
    if not np.issubdtype(logits.dtype, np.floating):
        raise TypeError(f"cross_entropy: logits must be floating point, got {logits.dtype}")
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(
            f"cross_entropy: reduction must be 'mean', 'sum' or 'none', got {reduction!r}"
        )
    if labels is None:
        raise TypeError("cross_entropy: labels must be integers of shape (N,), got None")
    try:  # labels that make no numpy array (ragged lists ...) are a TypeError naming the op
        label_array = labels.data if isinstance(labels, Tensor) else np.asarray(labels)
    except (TypeError, ValueError):
        raise TypeError(
            f"cross_entropy: labels must be integers of shape (N,), got {type(labels).__name__}"
        ) from None
    if not np.issubdtype(label_array.dtype, np.integer):
        raise TypeError(f"cross_entropy: labels must be integers, got dtype {label_array.dtype}")
    n, k = logits.shape
    if label_array.shape != (n,):
        raise ValueError(
            f"cross_entropy: labels must have shape ({n},) to match logits {logits.shape}, "
            f"got {label_array.shape}"
        )
    if n == 0:
        raise ValueError("cross_entropy: logits must contain at least one row, got shape (0, K)")
    if label_array.size and (label_array.min() < 0 or label_array.max() >= k):
        bad = label_array[(label_array < 0) | (label_array >= k)][0]
        raise ValueError(f"cross_entropy: labels must be in [0, {k}), got {bad}")
    return CrossEntropy.apply(logits, Tensor(label_array), reduction=reduction)
