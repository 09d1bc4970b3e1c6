"""Weight initialisers that fill a tensor in place, PyTorch style (``kaiming_uniform_(w)``).

Every random initialiser takes ``seed``: an ``int`` (reproducible), a ``numpy.random.Generator``
(draws continue from it, so one generator can initialise a whole model), or ``None``: the
default generator of :mod:`tinygrad_cnn.random`, so that ``tinygrad_cnn.manual_seed(0)`` makes
a model's initialisation reproducible, as ``torch.manual_seed`` does. numpy's global random
state is never read or written.

Fans follow PyTorch: for a weight of shape ``(out, in, *kernel)``,
``fan_in = in * prod(kernel)`` and ``fan_out = out * prod(kernel)``.
"""

from __future__ import annotations

import math

import numpy as np

from tinygrad_cnn import random
from tinygrad_cnn.tensor import Tensor

Seed = random.Seed

_GAINS = {
    "linear": 1.0,
    "conv2d": 1.0,
    "sigmoid": 1.0,
    "tanh": 5.0 / 3.0,
    "relu": math.sqrt(2.0),
}


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The recommended gain for a nonlinearity, as ``torch.nn.init.calculate_gain``.

    Parameters
    ----------
    nonlinearity : {"linear", "conv2d", "sigmoid", "tanh", "relu", "leaky_relu"}
    param : float, optional
        The negative slope of ``leaky_relu`` (default 0.01).

    Returns
    -------
    float
        1 for linear, conv2d and sigmoid; 5/3 for tanh; sqrt(2) for relu;
        sqrt(2 / (1 + slope**2)) for leaky_relu.
    """
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else param
        if isinstance(slope, bool) or not isinstance(slope, int | float):
            raise TypeError(f"calculate_gain: negative slope must be a number, got {slope!r}")
        return math.sqrt(2.0 / (1.0 + slope**2))
    if nonlinearity not in _GAINS:
        choices = ", ".join([*_GAINS, "leaky_relu"])
        raise ValueError(f"calculate_gain: unknown nonlinearity {nonlinearity!r}; use {choices}")
    return _GAINS[nonlinearity]


def calculate_fan_in_and_fan_out(shape: tuple[int, ...]) -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a weight of shape ``(out, in, *kernel)`` (at least 2-D)."""
    if len(shape) < 2:
        raise ValueError(
            f"calculate_fan_in_and_fan_out: needs a weight with at least 2 dimensions, "
            f"got shape {tuple(shape)}"
        )
    receptive = math.prod(shape[2:])
    return shape[1] * receptive, shape[0] * receptive


def _fan(shape: tuple[int, ...], mode: str, op: str) -> int:
    fan_in, fan_out = calculate_fan_in_and_fan_out(shape)
    if mode == "fan_in":
        return fan_in
    if mode == "fan_out":
        return fan_out
    raise ValueError(f"{op}: mode must be 'fan_in' or 'fan_out', got {mode!r}")


def _check_tensor(op: str, tensor: Tensor) -> None:
    if not isinstance(tensor, Tensor):
        raise TypeError(f"{op}: expected a Tensor, got {type(tensor).__name__}")
    if not np.issubdtype(tensor.dtype, np.floating):
        raise TypeError(f"{op}: expected a floating-point tensor, got dtype {tensor.dtype}")
    if tensor.numel() == 0:
        raise ValueError(f"{op}: cannot initialise an empty tensor of shape {tensor.shape}")


def _fill(tensor: Tensor, values: np.ndarray) -> Tensor:
    """Write ``values`` into ``tensor.data`` in place (the array keeps its identity)."""
    tensor.data[...] = values
    return tensor


def uniform_(tensor: Tensor, low: float = 0.0, high: float = 1.0, seed: Seed = None) -> Tensor:
    """Fill with samples of U(low, high); returns ``tensor``."""
    _check_tensor("uniform_", tensor)
    if not low <= high:
        raise ValueError(f"uniform_: expected low <= high, got low={low}, high={high}")
    rng = random.generator(seed, "uniform_")
    return _fill(tensor, rng.uniform(low, high, size=tensor.shape))


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, seed: Seed = None) -> Tensor:
    """Fill with samples of N(mean, std**2); returns ``tensor``."""
    _check_tensor("normal_", tensor)
    if not std >= 0:
        raise ValueError(f"normal_: std must be non-negative, got {std}")
    rng = random.generator(seed, "normal_")
    return _fill(tensor, mean + std * rng.standard_normal(tensor.shape))


def zeros_(tensor: Tensor) -> Tensor:
    """Fill with zeros; returns ``tensor``."""
    _check_tensor("zeros_", tensor)
    return _fill(tensor, 0.0)


def kaiming_uniform_(
    tensor: Tensor,
    a: float = 0.0,
    mode: str = "fan_in",
    nonlinearity: str = "leaky_relu",
    seed: Seed = None,
) -> Tensor:
    """He initialisation: U(-bound, bound) with bound = gain * sqrt(3 / fan).

    ``a`` is the negative slope for ``leaky_relu``; PyTorch's default layer init is
    ``kaiming_uniform_(w, a=math.sqrt(5))``, which gives bound = 1 / sqrt(fan_in).
    """
    _check_tensor("kaiming_uniform_", tensor)
    fan = _fan(tensor.shape, mode, "kaiming_uniform_")
    bound = calculate_gain(nonlinearity, a) * math.sqrt(3.0 / fan)
    return uniform_(tensor, -bound, bound, seed)


def kaiming_normal_(
    tensor: Tensor,
    a: float = 0.0,
    mode: str = "fan_in",
    nonlinearity: str = "leaky_relu",
    seed: Seed = None,
) -> Tensor:
    """He initialisation: N(0, std**2) with std = gain / sqrt(fan)."""
    _check_tensor("kaiming_normal_", tensor)
    fan = _fan(tensor.shape, mode, "kaiming_normal_")
    return normal_(tensor, 0.0, calculate_gain(nonlinearity, a) / math.sqrt(fan), seed)


def xavier_uniform_(tensor: Tensor, gain: float = 1.0, seed: Seed = None) -> Tensor:
    """Glorot initialisation: U(-a, a) with a = gain * sqrt(6 / (fan_in + fan_out))."""
    _check_tensor("xavier_uniform_", tensor)
    fan_in, fan_out = calculate_fan_in_and_fan_out(tensor.shape)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(tensor, -bound, bound, seed)


def xavier_normal_(tensor: Tensor, gain: float = 1.0, seed: Seed = None) -> Tensor:
    """Glorot initialisation: N(0, std**2) with std = gain * sqrt(2 / (fan_in + fan_out))."""
    _check_tensor("xavier_normal_", tensor)
    fan_in, fan_out = calculate_fan_in_and_fan_out(tensor.shape)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)), seed)


def notebook_(tensor: Tensor, seed: Seed = None) -> Tensor:
    """The seed notebook's initialisation: standard normal samples, scaled by tensor rank.

    * 4-D conv filters ``(out, in, kh, kw)``: ``randn / (kh * kw)`` (the notebook's
      ``randn(n, k, k) / k**2``);
    * 2-D linear weights ``(out, in)``: ``randn / in`` (the notebook's ``randn(in, out) / in``,
      stored transposed as in PyTorch);
    * 1-D biases: ``randn``, unscaled.
    """
    _check_tensor("notebook_", tensor)
    shape = tensor.shape
    if len(shape) == 4:
        scale = 1.0 / (shape[2] * shape[3])
    elif len(shape) == 2:
        scale = 1.0 / shape[1]
    elif len(shape) == 1:
        scale = 1.0
    else:
        raise ValueError(
            f"notebook_: expects a 4-D conv weight, a 2-D linear weight or a 1-D bias, "
            f"got shape {shape}"
        )
    return normal_(tensor, 0.0, scale, seed)


__all__ = [
    "calculate_fan_in_and_fan_out", "calculate_gain", "kaiming_normal_", "kaiming_uniform_",
    "normal_", "notebook_", "uniform_", "xavier_normal_", "xavier_uniform_", "zeros_",
]  # fmt: skip
