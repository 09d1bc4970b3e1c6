"""Convolution and pooling over NCHW images, vectorised with im2col and one BLAS matmul.

``windows`` views every kernel-sized patch of an image through numpy strides (no copy, no
Python loop over pixels). Backward loops only over the kh * kw kernel positions, adding one
strided slice each (col2im), never over pixels.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.lib.stride_tricks import as_strided

from tinygrad_cnn.function import Function
from tinygrad_cnn.tensor import Tensor

Pair = tuple[int, int]


def windows(x: np.ndarray, kernel: Pair, stride: Pair, out_hw: Pair) -> np.ndarray:
    """A strided view of all kernel windows of ``x``.

    Parameters
    ----------
    x : ndarray, shape (N, C, H, W)
    kernel, stride, out_hw : (int, int)
        Kernel size, stride and the output height and width.

    Returns
    -------
    ndarray, shape (N, C, OH, OW, kh, kw)
        A read-only view: ``[n, c, i, j]`` is the window whose corner is ``(i*sh, j*sw)``.
    """
    sn, sc, sh, sw = x.strides
    shape = (*x.shape[:2], *out_hw, *kernel)
    strides = (sn, sc, sh * stride[0], sw * stride[1], sh, sw)
    return as_strided(x, shape=shape, strides=strides, writeable=False)


def _kernel_slice(offset: int, stride: int, count: int) -> slice:
    """The input positions that kernel offset ``offset`` touches over ``count`` outputs."""
    return slice(offset, offset + stride * (count - 1) + 1, stride)


class Conv2d(Function):
    """out[n, o] = sum over c, i, j of x[n, c, s*y + i, s*x + j] * w[o, c, i, j] (+ bias[o]).

    Forward: im2col patches (N*OH*OW, C*kh*kw) @ weight^T (C*kh*kw, O).
    Backward: dW = g^T @ patches, dbias = g summed over N, OH, OW, dX = col2im(g @ W).
    """

    def forward(
        self,
        x: np.ndarray,
        w: np.ndarray,
        b: np.ndarray | None = None,
        *,
        stride: Pair,
        padding: Pair,
    ) -> np.ndarray:
        n, c, _, _ = x.shape
        o, _, kh, kw = w.shape
        (ph, pw), out_hw = padding, conv_output_size(x.shape, (kh, kw), stride, padding)
        if ph or pw:
            x = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
        patches = windows(x, (kh, kw), stride, out_hw).transpose(0, 2, 3, 1, 4, 5)
        self.patches = patches.reshape(n * out_hw[0] * out_hw[1], c * kh * kw)
        self.w, self.padded_shape = w, x.shape
        out = self.patches @ w.reshape(o, -1).T
        if b is not None:
            out += b
        return out.reshape(n, *out_hw, o).transpose(0, 3, 1, 2)

    def backward(self, g: np.ndarray) -> tuple[np.ndarray | None, ...]:
        w = self.w
        o, c, kh, kw = w.shape
        n, _, oh, ow = g.shape
        rows = g.transpose(0, 2, 3, 1).reshape(-1, o)
        grad_x = grad_w = grad_b = None
        if self.needs_input_grad[1]:
            grad_w = (rows.T @ self.patches).reshape(w.shape)
        if len(self.inputs) == 3 and self.needs_input_grad[2]:
            grad_b = g.sum(axis=(0, 2, 3))
        if self.needs_input_grad[0]:
            grad_patches = (rows @ w.reshape(o, -1)).reshape(n, oh, ow, c, kh, kw)
            padded = np.zeros(self.padded_shape, dtype=g.dtype)
            (sh, sw), (ph, pw) = self.attrs["stride"], self.attrs["padding"]
            for i in range(kh):
                for j in range(kw):
                    rows_i, cols_j = _kernel_slice(i, sh, oh), _kernel_slice(j, sw, ow)
                    padded[:, :, rows_i, cols_j] += grad_patches[..., i, j].transpose(0, 3, 1, 2)
            grad_x = padded[:, :, ph : padded.shape[2] - ph, pw : padded.shape[3] - pw]
        return (grad_x, grad_w) if len(self.inputs) == 2 else (grad_x, grad_w, grad_b)


class MaxPool2d(Function):
    """out[n, c, i, j] = max of the window at (i*sh, j*sw).

    Gradient: to the FIRST maximum of each window in row-major order (as PyTorch); other
    tied maxima get zero.
    """

    name = "max_pool2d"

    def forward(self, x: np.ndarray, *, kernel_size: Pair, stride: Pair) -> np.ndarray:
        out_hw = conv_output_size(x.shape, kernel_size, stride, (0, 0))
        patches = windows(x, kernel_size, stride, out_hw).reshape(*x.shape[:2], *out_hw, -1)
        self.argmax = patches.argmax(axis=-1)
        self.input_shape = x.shape
        return np.take_along_axis(patches, self.argmax[..., None], axis=-1)[..., 0]

    def backward(self, g: np.ndarray) -> tuple[np.ndarray]:
        (kh, kw), (sh, sw) = self.attrs["kernel_size"], self.attrs["stride"]
        _, _, oh, ow = g.shape
        grad = np.zeros(self.input_shape, dtype=g.dtype)
        for position in range(kh * kw):
            i, j = divmod(position, kw)
            grad[:, :, _kernel_slice(i, sh, oh), _kernel_slice(j, sw, ow)] += g * (
                self.argmax == position
            )
        return (grad,)


class AvgPool2d(Function):
    """out[n, c, i, j] = mean of the window at (i*sh, j*sw); each element gets g / (kh*kw)."""

    name = "avg_pool2d"

    def forward(self, x: np.ndarray, *, kernel_size: Pair, stride: Pair) -> np.ndarray:
        out_hw = conv_output_size(x.shape, kernel_size, stride, (0, 0))
        self.input_shape = x.shape
        return windows(x, kernel_size, stride, out_hw).mean(axis=(-2, -1), dtype=x.dtype)

    def backward(self, g: np.ndarray) -> tuple[np.ndarray]:
        (kh, kw), (sh, sw) = self.attrs["kernel_size"], self.attrs["stride"]
        _, _, oh, ow = g.shape
        grad = np.zeros(self.input_shape, dtype=g.dtype)
        share = g / (kh * kw)
        for i in range(kh):
            for j in range(kw):
                grad[:, :, _kernel_slice(i, sh, oh), _kernel_slice(j, sw, ow)] += share
        return (grad,)


# ---------------------------------------------------------------------- validation and wrappers
def conv_output_size(shape: tuple[int, ...], kernel: Pair, stride: Pair, padding: Pair) -> Pair:
    """Output height and width: floor((H + 2p - k) / s) + 1, as in PyTorch."""
    return tuple((shape[2 + d] + 2 * padding[d] - kernel[d]) // stride[d] + 1 for d in range(2))


def pair(op: str, name: str, value: Any, minimum: int) -> Pair:
    """Validate an int-or-pair argument such as ``stride=2`` or ``padding=(1, 0)``."""
    values = value if isinstance(value, tuple | list) else (value, value)
    if len(values) != 2 or any(
        isinstance(v, bool) or not isinstance(v, int | np.integer) for v in values
    ):
        raise TypeError(f"{op}: {name} must be an int or a pair of ints, got {value!r}")
    if any(v < minimum for v in values):
        kind = "positive" if minimum == 1 else "non-negative"
        raise ValueError(f"{op}: {name} must be {kind}, got {value!r}")
    return int(values[0]), int(values[1])


def _check_image(op: str, x: Tensor) -> None:
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: input must be a Tensor, got {type(x).__name__}")
    if x.ndim != 4:
        raise ValueError(f"{op}: input must have shape (N, C, H, W), got shape {x.shape}")
    if not np.issubdtype(x.dtype, np.floating):
        raise TypeError(f"{op}: input must be floating point, got {x.dtype}")


def _check_window_fits(op: str, x_shape: tuple[int, ...], kernel: Pair, padding: Pair) -> None:
    padded = (x_shape[2] + 2 * padding[0], x_shape[3] + 2 * padding[1])
    if kernel[0] > padded[0] or kernel[1] > padded[1]:
        raise ValueError(
            f"{op}: kernel size {kernel} is larger than the padded input size {padded} "
            f"(input shape {x_shape}, padding {padding})"
        )


def conv2d(
    x: Tensor, weight: Tensor, bias: Tensor | None = None, stride: Any = 1, padding: Any = 0
) -> Tensor:
    """2-D convolution (cross-correlation, as in PyTorch) of a batch of images.

    Parameters
    ----------
    x : Tensor, shape (N, C, H, W)
    weight : Tensor, shape (O, C, kh, kw)
    bias : Tensor, shape (O,), optional
    stride, padding : int or (int, int)
        Step between windows (positive) and zero padding on each side (non-negative).

    Returns
    -------
    Tensor, shape (N, O, OH, OW) with OH = (H + 2 * padding - kh) // stride + 1.
    """
    _check_image("conv2d", x)
    if not isinstance(weight, Tensor):
        raise TypeError(f"conv2d: weight must be a Tensor, got {type(weight).__name__}")
    if weight.ndim != 4:
        raise ValueError(f"conv2d: weight must have shape (O, C, kh, kw), got shape {weight.shape}")
    if weight.shape[1] != x.shape[1]:
        raise ValueError(
            f"conv2d: input has {x.shape[1]} channels (shape {x.shape}) but weight expects "
            f"{weight.shape[1]} (shape {weight.shape})"
        )
    stride, padding = pair("conv2d", "stride", stride, 1), pair("conv2d", "padding", padding, 0)
    _check_window_fits("conv2d", x.shape, weight.shape[2:], padding)
    inputs = [x, weight]
    if bias is not None:
        if not isinstance(bias, Tensor):
            raise TypeError(f"conv2d: bias must be a Tensor or None, got {type(bias).__name__}")
        if bias.shape != (weight.shape[0],):
            raise ValueError(f"conv2d: bias must have shape ({weight.shape[0]},), got {bias.shape}")
        inputs.append(bias)
    dtypes = {t.dtype for t in inputs}
    if len(dtypes) > 1:
        raise TypeError(
            f"conv2d: input, weight and bias must share one dtype, got {sorted(map(str, dtypes))}"
        )
    return Conv2d.apply(*inputs, stride=stride, padding=padding)


def _pool(op: type[Function], x: Tensor, kernel_size: Any, stride: Any) -> Tensor:
    _check_image(op.name, x)
    kernel = pair(op.name, "kernel_size", kernel_size, 1)
    stride = kernel if stride is None else pair(op.name, "stride", stride, 1)
    _check_window_fits(op.name, x.shape, kernel, (0, 0))
    return op.apply(x, kernel_size=kernel, stride=stride)


def max_pool2d(x: Tensor, kernel_size: Any, stride: Any = None) -> Tensor:
    """2-D max pooling; the gradient goes to the first maximum of each window (row-major).

    Parameters
    ----------
    x : Tensor, shape (N, C, H, W)
    kernel_size : int or (int, int)
    stride : int or (int, int), optional
        Defaults to ``kernel_size``. Windows that do not fit are dropped (floor), as in PyTorch.

    Returns
    -------
    Tensor, shape (N, C, (H - kh) // sh + 1, (W - kw) // sw + 1)
    """
    return _pool(MaxPool2d, x, kernel_size, stride)


def avg_pool2d(x: Tensor, kernel_size: Any, stride: Any = None) -> Tensor:
    """2-D average pooling; same shapes and defaults as :func:`max_pool2d`."""
    return _pool(AvgPool2d, x, kernel_size, stride)
