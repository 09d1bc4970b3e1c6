"""Layers as modules, each a thin wrapper over the public Tensor ops.

Layers with weights take ``seed`` (an ``int``, a ``numpy.random.Generator`` shared across
layers, or ``None`` for the default generator, which :func:`tinygrad_cnn.manual_seed` seeds)
and ``dtype`` (float32 by default; float64 for gradient checks). Their default initialisation
is PyTorch's: ``kaiming_uniform_(weight, a=sqrt(5))`` and a bias drawn from
U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

import numpy as np

from tinygrad_cnn import ops, random
from tinygrad_cnn.nn import init
from tinygrad_cnn.nn.module import Module, Parameter
from tinygrad_cnn.ops.conv_options import PADDING_STRINGS, same_padding_amounts
from tinygrad_cnn.ops.padding import pad as functional_pad
from tinygrad_cnn.ops.window import pair
from tinygrad_cnn.tensor import Tensor


def _positive_int(layer: str, name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise TypeError(f"{layer}: {name} must be an int, got {type(value).__name__} {value!r}")
    if value < 1:
        raise ValueError(f"{layer}: {name} must be positive, got {value}")
    return int(value)


def _float_dtype(layer: str, dtype: Any) -> np.dtype:
    try:
        resolved = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"{layer}: dtype must be a numpy dtype, got {dtype!r}") from None
    if not np.issubdtype(resolved, np.floating):
        raise TypeError(f"{layer}: dtype must be a floating-point dtype, got {resolved}")
    return resolved


def _check_input(layer: Module, x: Any, dtype: np.dtype) -> None:
    if not isinstance(x, Tensor):
        raise TypeError(f"{type(layer).__name__}: input must be a Tensor, got {type(x).__name__}")
    if x.dtype != dtype:
        raise TypeError(
            f"{type(layer).__name__}: input has dtype {x.dtype} but the layer's parameters are "
            f"{dtype}; cast the input or build the layer with dtype={x.dtype}"
        )


def _default_init(weight: Parameter, bias: Parameter | None, rng: np.random.Generator) -> None:
    """PyTorch's default: kaiming_uniform_(a=sqrt(5)) weights, U(+-1/sqrt(fan_in)) biases."""
    init.kaiming_uniform_(weight, a=math.sqrt(5), seed=rng)
    if bias is not None:
        fan_in, _ = init.calculate_fan_in_and_fan_out(weight.shape)
        bound = 1.0 / math.sqrt(fan_in)
        init.uniform_(bias, -bound, bound, seed=rng)


class Linear(Module):
    """Fully connected layer: ``y = x @ weight.T + bias``.

    Parameters
    ----------
    in_features, out_features : int
        Sizes of the last axis of the input and of the output.
    bias : bool, default True
        Learn an additive bias.
    seed : int, numpy Generator or None
        Randomness for the initial weights (``None``: the default generator).
    dtype : floating dtype, default float32

    Attributes
    ----------
    weight : Parameter, shape (out_features, in_features)
    bias : Parameter, shape (out_features,), or None

    Shapes: input ``(..., in_features)``, output ``(..., out_features)``.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        *,
        seed: int | np.random.Generator | None = None,
        dtype: Any = np.float32,
    ) -> None:
        super().__init__()
        self.in_features = _positive_int("Linear", "in_features", in_features)
        self.out_features = _positive_int("Linear", "out_features", out_features)
        self.dtype = _float_dtype("Linear", dtype)
        self.weight = Parameter(np.empty((self.out_features, self.in_features), self.dtype))
        bias_param = Parameter(np.empty(self.out_features, self.dtype)) if bias else None
        self.register_parameter("bias", bias_param)
        self.reset_parameters(seed)

    def reset_parameters(self, seed: int | np.random.Generator | None = None) -> None:
        """Re-draw the weights with PyTorch's default initialisation."""
        _default_init(self.weight, self.bias, random.generator(seed))

    def forward(self, x: Tensor) -> Tensor:
        _check_input(self, x, self.dtype)
        if x.ndim == 0 or x.shape[-1] != self.in_features:
            raise ValueError(
                f"Linear: expected an input whose last axis has {self.in_features} features, "
                f"got shape {x.shape}"
            )
        out = x @ self.weight.T
        return out if self.bias is None else out + self.bias

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"bias={self.bias is not None}"
        )


class Conv2d(Module):
    """2-D convolution (cross-correlation) over NCHW images, see :func:`tinygrad_cnn.conv2d`.

    ``torch.nn.Conv2d``'s arguments, defaults and semantics.

    Parameters
    ----------
    in_channels, out_channels : int
        Both divisible by ``groups``.
    kernel_size : int or (int, int)
    stride : int or (int, int), default 1
    padding : int, (int, int), 'valid' or 'same', default 0
        Padding on each side; ``'same'`` (stride 1 only) keeps the input's size, with one
        more row/column on the right/bottom when ``dilation * (k - 1)`` is odd.
    dilation : int or (int, int), default 1
        Spacing between kernel elements.
    groups : int, default 1
        Blocks of channels convolved separately (``in_channels``: depthwise).
    bias : bool, default True
    padding_mode : {'zeros', 'reflect', 'replicate', 'circular'}, default 'zeros'
        The padded values (other modes pad with :func:`tinygrad_cnn.nn.functional.pad`).
    seed : int, numpy Generator or None
    dtype : floating dtype, default float32

    Attributes
    ----------
    weight : Parameter, shape (out_channels, in_channels / groups, kh, kw)
    bias : Parameter, shape (out_channels,), or None

    Shapes: input ``(N, in_channels, H, W)``, output ``(N, out_channels, OH, OW)`` with
    ``OH = (H + 2 * padding - dilation * (kh - 1) - 1) // stride + 1``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] = 1,
        padding: int | tuple[int, int] | str = 0,
        dilation: int | tuple[int, int] = 1,
        groups: int = 1,
        bias: bool = True,
        padding_mode: str = "zeros",
        *,
        seed: int | np.random.Generator | None = None,
        dtype: Any = np.float32,
    ) -> None:
        super().__init__()
        self.in_channels = _positive_int("Conv2d", "in_channels", in_channels)
        self.out_channels = _positive_int("Conv2d", "out_channels", out_channels)
        self.kernel_size = pair("Conv2d", "kernel_size", kernel_size, 1)
        self.stride = pair("Conv2d", "stride", stride, 1)
        self.dilation = pair("Conv2d", "dilation", dilation, 1)
        self.groups = _positive_int("Conv2d", "groups", groups)
        if self.in_channels % self.groups or self.out_channels % self.groups:
            raise ValueError(
                f"Conv2d: in_channels ({self.in_channels}) and out_channels "
                f"({self.out_channels}) must be divisible by groups ({self.groups})"
            )
        if isinstance(padding, str):
            if padding not in PADDING_STRINGS:
                raise ValueError(
                    f"Conv2d: padding must be an int, a pair of ints, 'same' or 'valid', "
                    f"got {padding!r}"
                )
            if padding == "same" and self.stride != (1, 1):
                raise ValueError(
                    "Conv2d: padding='same' is not supported for strided convolutions, got "
                    f"stride {self.stride}"
                )
            self.padding: tuple[int, int] | str = padding
        else:
            self.padding = pair("Conv2d", "padding", padding, 0)
        if padding_mode not in _PADDING_MODES:
            raise ValueError(
                f"Conv2d: padding_mode must be one of {_PADDING_MODES}, got {padding_mode!r}"
            )
        self.padding_mode = padding_mode
        self.dtype = _float_dtype("Conv2d", dtype)
        shape = (self.out_channels, self.in_channels // self.groups, *self.kernel_size)
        self.weight = Parameter(np.empty(shape, self.dtype))
        bias_param = Parameter(np.empty(self.out_channels, self.dtype)) if bias else None
        self.register_parameter("bias", bias_param)
        self.reset_parameters(seed)

    def reset_parameters(self, seed: int | np.random.Generator | None = None) -> None:
        """Re-draw the weights with PyTorch's default initialisation."""
        _default_init(self.weight, self.bias, random.generator(seed))

    def forward(self, x: Tensor) -> Tensor:
        _check_input(self, x, self.dtype)
        options = {}
        if self.dilation != (1, 1):
            options["dilation"] = self.dilation
        if self.groups != 1:
            options["groups"] = self.groups
        if self.padding_mode == "zeros":
            return ops.conv2d(
                x, self.weight, self.bias, stride=self.stride, padding=self.padding, **options
            )
        if self.padding == "same":
            amounts = same_padding_amounts(self.kernel_size, self.dilation)
        else:
            (ph, pw) = (0, 0) if self.padding == "valid" else self.padding
            amounts = (pw, pw, ph, ph)
        padded = functional_pad(x, amounts, mode=self.padding_mode)
        return ops.conv2d(padded, self.weight, self.bias, stride=self.stride, **options)

    def extra_repr(self) -> str:
        text = (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"stride={self.stride}"
        )
        if self.padding != (0, 0):
            text += f", padding={self.padding}"
        if self.dilation != (1, 1):
            text += f", dilation={self.dilation}"
        if self.groups != 1:
            text += f", groups={self.groups}"
        if self.bias is None:
            text += ", bias=False"
        if self.padding_mode != "zeros":
            text += f", padding_mode={self.padding_mode}"
        return text


_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


def _flag(layer: str, name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{layer}: {name} must be a bool, got {value!r}")
    return value


class _Pool2d(Module):
    """Shared constructor of the pooling layers: ``stride`` defaults to ``kernel_size``."""

    def __init__(
        self,
        kernel_size: int | tuple[int, int],
        stride: Any = None,
        padding: int | tuple[int, int] = 0,
        ceil_mode: bool = False,
    ) -> None:
        super().__init__()
        layer = type(self).__name__
        self.kernel_size = pair(layer, "kernel_size", kernel_size, 1)
        self.stride = self.kernel_size if stride is None else pair(layer, "stride", stride, 1)
        self.padding = pair(layer, "padding", padding, 0)
        self.ceil_mode = _flag(layer, "ceil_mode", ceil_mode)

    def extra_repr(self) -> str:
        text = f"kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0, 0):
            text += f", padding={self.padding}"
        if self.ceil_mode:
            text += ", ceil_mode=True"
        return text


class MaxPool2d(_Pool2d):
    """2-D max pooling; the gradient goes to the first maximum of each window (row-major).

    ``torch.nn.MaxPool2d(kernel_size, stride=None, padding=0, dilation=1,
    return_indices=False, ceil_mode=False)``, see :func:`tinygrad_cnn.max_pool2d`; with
    ``return_indices`` the call returns ``(output, indices)``.

    Shapes: input ``(N, C, H, W)``, output ``(N, C, OH, OW)`` with
    ``OH = (H + 2 * padding - dilation * (kh - 1) - 1) // sh + 1`` (rounded up in ceil mode).
    """

    def __init__(
        self,
        kernel_size: int | tuple[int, int],
        stride: Any = None,
        padding: int | tuple[int, int] = 0,
        dilation: int | tuple[int, int] = 1,
        return_indices: bool = False,
        ceil_mode: bool = False,
    ) -> None:
        super().__init__(kernel_size, stride, padding, ceil_mode)
        self.dilation = pair("MaxPool2d", "dilation", dilation, 1)
        self.return_indices = _flag("MaxPool2d", "return_indices", return_indices)

    def forward(self, x: Tensor) -> Tensor | tuple[Tensor, Tensor]:
        if self.padding == (0, 0) and self.dilation == (1, 1) and not self.ceil_mode:
            if not self.return_indices:
                return ops.max_pool2d(x, self.kernel_size, self.stride)
        return ops.max_pool2d(
            x,
            self.kernel_size,
            self.stride,
            self.padding,
            self.dilation,
            self.ceil_mode,
            self.return_indices,
        )

    def extra_repr(self) -> str:
        text = super().extra_repr()
        if self.dilation != (1, 1):
            text += f", dilation={self.dilation}"
        if self.return_indices:
            text += ", return_indices=True"
        return text


class AvgPool2d(_Pool2d):
    """2-D average pooling over windows, shapes as :class:`MaxPool2d` with dilation 1.

    ``torch.nn.AvgPool2d(kernel_size, stride=None, padding=0, ceil_mode=False,
    count_include_pad=True, divisor_override=None)``, see :func:`tinygrad_cnn.avg_pool2d`.
    """

    def __init__(
        self,
        kernel_size: int | tuple[int, int],
        stride: Any = None,
        padding: int | tuple[int, int] = 0,
        ceil_mode: bool = False,
        count_include_pad: bool = True,
        divisor_override: int | None = None,
    ) -> None:
        super().__init__(kernel_size, stride, padding, ceil_mode)
        self.count_include_pad = _flag("AvgPool2d", "count_include_pad", count_include_pad)
        self.divisor_override = divisor_override

    def forward(self, x: Tensor) -> Tensor:
        if self.padding == (0, 0) and not self.ceil_mode and self.divisor_override is None:
            return ops.avg_pool2d(x, self.kernel_size, self.stride)
        return ops.avg_pool2d(
            x,
            self.kernel_size,
            self.stride,
            self.padding,
            self.ceil_mode,
            self.count_include_pad,
            self.divisor_override,
        )

    def extra_repr(self) -> str:
        text = super().extra_repr()
        if not self.count_include_pad:
            text += ", count_include_pad=False"
        if self.divisor_override is not None:
            text += f", divisor_override={self.divisor_override}"
        return text


class ReLU(Module):
    """Elementwise ``max(x, 0)``; any shape.

    Parameters
    ----------
    inplace : bool, default False
        Write the result over the input (:meth:`Tensor.relu_`), as PyTorch's
        ``ReLU(inplace=True)``: one activation-sized array less, and faster in training.
        The input must be an op's output that nothing has used yet, e.g. a convolution's.
    """

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        if not isinstance(inplace, bool):
            raise TypeError(f"ReLU: inplace must be a bool, got {type(inplace).__name__}")
        self.inplace = inplace

    def forward(self, x: Tensor) -> Tensor:
        if not isinstance(x, Tensor):
            raise TypeError(f"ReLU: input must be a Tensor, got {type(x).__name__}")
        return x.relu_() if self.inplace else x.relu()

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class Flatten(Module):
    """Merge the axes ``start_dim..end_dim`` into one: ``(N, C, H, W) -> (N, C*H*W)``."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        for name, value in (("start_dim", start_dim), ("end_dim", end_dim)):
            if isinstance(value, bool) or not isinstance(value, int | np.integer):
                raise TypeError(f"Flatten: {name} must be an int, got {value!r}")
        self.start_dim, self.end_dim = int(start_dim), int(end_dim)

    def forward(self, x: Tensor) -> Tensor:
        if not isinstance(x, Tensor):
            raise TypeError(f"Flatten: input must be a Tensor, got {type(x).__name__}")
        for name, dim in (("start_dim", self.start_dim), ("end_dim", self.end_dim)):
            if not -x.ndim <= dim < x.ndim:
                raise ValueError(
                    f"Flatten: {name}={dim} is out of range for an input of shape {x.shape}"
                )
        return ops.flatten(x, self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Sequential(Module):
    """Modules applied one after the other.

    Parameters
    ----------
    *modules : Module
        Registered under ``"0"``, ``"1"``, ...; or a single ``OrderedDict`` (or dict) of
        name -> module to choose the names (``conv.weight`` instead of ``0.weight``).

    Examples
    --------
    >>> net = Sequential(Linear(4, 8, seed=0), ReLU(), Linear(8, 2, seed=1))
    >>> len(net), type(net[-1]).__name__
    (3, 'Linear')
    >>> [name for name, _ in net.named_parameters()]
    ['0.weight', '0.bias', '2.weight', '2.bias']
    """

    def __init__(self, *modules: Module | OrderedDict[str, Module]) -> None:
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], dict):
            named = list(modules[0].items())
        else:
            named = [(str(i), module) for i, module in enumerate(modules)]
        for name, module in named:
            if not isinstance(module, Module):
                raise TypeError(
                    f"Sequential: every entry must be a Module, got {type(module).__name__} "
                    f"for {name!r}"
                )
            if not isinstance(name, str) or not name or "." in name:
                raise ValueError(f"Sequential: invalid module name {name!r} (non-empty, no dots)")
            setattr(self, name, module)

    def _layers(self) -> list[Module]:
        return [module for module in self._modules.values() if module is not None]

    def __len__(self) -> int:
        return len(self._layers())

    def __iter__(self) -> Iterator[Module]:
        return iter(self._layers())

    def __getitem__(self, index: int | slice) -> Module:
        items = [(k, m) for k, m in self._modules.items() if m is not None]
        if isinstance(index, slice):
            return Sequential(OrderedDict(items[index]))
        if isinstance(index, bool) or not isinstance(index, int | np.integer):
            raise TypeError(f"Sequential: index must be an int or a slice, got {index!r}")
        if not -len(items) <= index < len(items):
            raise IndexError(f"Sequential: index {index} is out of range for {len(items)} modules")
        return items[index][1]

    def append(self, module: Module) -> Sequential:
        """Add ``module`` at the end (named by its position); returns self."""
        if not isinstance(module, Module):
            raise TypeError(f"Sequential.append: expected a Module, got {type(module).__name__}")
        setattr(self, str(len(self._modules)), module)
        return self

    def forward(self, x: Any) -> Any:
        for module in self._layers():
            x = module(x)
        return x
