"""Elementwise ops: arithmetic with numpy broadcasting, and the unary functions.

Each ``backward`` returns gradients in the broadcast (output) shape; the engine sums them back
to each input's shape. ``a`` and ``b`` name the inputs, ``out`` the output, ``g`` the upstream
gradient. Backward is written with Tensor ops on ``g``, the inputs (``self.inputs``) and the
output (``self.output``), so it can be differentiated again (docs/higher-order.md).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_cnn.function import Function
from tinygrad_cnn.ops.movement import inverse_permutation
from tinygrad_cnn.tensor import Tensor


class _Binary(Function, register=False):
    """Shared input check of the two-input elementwise ops."""

    def check(self, a: np.ndarray, b: np.ndarray) -> None:
        """Raise ValueError when ``a`` and ``b`` cannot be broadcast together."""
        if a.shape == b.shape or not a.ndim or not b.ndim:
            return  # the common cases, checked without numpy's slower shape arithmetic
        try:
            np.broadcast_shapes(a.shape, b.shape)
        except ValueError:
            raise ValueError(
                f"{self.name}: shapes {a.shape} and {b.shape} cannot be broadcast together"
            ) from None


class Add(_Binary):
    """out = a + b."""

    def forward(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        self.check(a, b)
        return a + b

    def backward(self, g: Tensor) -> tuple[Tensor, Tensor]:
        return g, g


class Sub(_Binary):
    """out = a - b."""

    def forward(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        self.check(a, b)
        try:
            return a - b
        except TypeError:  # bool - bool: name the op and the fix (numpy's error names neither)
            raise TypeError(
                f"{self.name}: cannot subtract {b.dtype} from {a.dtype} (as in numpy); cast "
                f"the tensors first, e.g. .astype(np.float32)"
            ) from None

    def backward(self, g: Tensor) -> tuple[Tensor, Tensor | None]:
        return g, (-g if self.needs_input_grad[1] else None)


class Mul(_Binary):
    """out = a * b; d/da = b, d/db = a."""

    def forward(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        self.check(a, b)
        return a * b

    def backward(self, g: Tensor) -> tuple[Tensor | None, Tensor | None]:
        need_a, need_b = self.needs_input_grad
        a, b = self.inputs  # (Mul.apply: the operands share a dtype; skips g * b's checks)
        return (Mul.apply(g, b) if need_a else None), (Mul.apply(g, a) if need_b else None)


class Div(_Binary):
    """out = a / b; d/da = 1 / b, d/db = -(a / b) / b (PyTorch's order: b**2 may overflow)."""

    def forward(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        self.check(a, b)
        return a / b

    def backward(self, g: Tensor) -> tuple[Tensor | None, Tensor | None]:
        need_a, need_b = self.needs_input_grad
        a, b = self.inputs
        grad_a = g / b if need_a else None
        grad_b = -g * ((a / b) / b) if need_b else None
        return grad_a, grad_b


class Pow(_Binary):
    """out = a ** b for a tensor exponent; d/da = b a**(b-1), d/db = out log(a).

    At special values as PyTorch: d/da is 0 where b == 0 (even at a == 0, where b a**(b-1)
    is 0 * inf); d/db is 0 where a == 0 and b >= 0 (where out log(a) is 0 * -inf or 1 * -inf).
    """

    uses_output = True

    def forward(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        self.check(a, b)
        return a**b

    def backward(self, g: Tensor) -> tuple[Tensor | None, Tensor | None]:
        need_a, need_b = self.needs_input_grad
        a, b = self.inputs
        grad_a = grad_b = None
        if need_a:
            grad_a = (g * (b * a ** (b - 1))).where(b != 0, 0)
        if need_b:
            grad_b = g * (self.output * a.log()).where(~((a == 0) & (b >= 0)), 0)
        return grad_a, grad_b


class PowScalar(Function):
    """out = a ** exponent for a Python number; d/da = exponent * a**(exponent - 1).

    As PyTorch: the gradient of ``a ** 0`` is 0 everywhere (also at a == 0), and the forward
    of ``a ** 0.5`` is ``sqrt(a)`` (so ``(-0.0) ** 0.5`` is -0.0 and ``(-inf) ** 0.5`` NaN).
    """

    name = "pow_scalar"

    def forward(self, a: np.ndarray, *, exponent: float) -> np.ndarray:
        return _power(a, exponent)

    def backward(self, g: Tensor) -> tuple[Tensor]:
        exponent = self.attrs["exponent"]
        if exponent == 0:
            return (_zeros_like(g),)
        return (g * (exponent * self.inputs[0] ** (exponent - 1)),)


def _zeros_like(g: Tensor) -> Tensor:
    """A constant gradient of zeros (of an op whose derivative is 0 everywhere)."""
    return Tensor._from_op(np.zeros_like(g.data), None)


def _power(a: np.ndarray, exponent: float) -> np.ndarray:
    """``a ** exponent`` as PyTorch computes it: ``sqrt`` for 0.5 and ``1 / sqrt`` for -0.5
    (which differ from C's ``pow`` at -0.0 and -inf)."""
    if exponent == 0.5:
        return np.sqrt(a)
    if exponent == -0.5:
        return 1 / np.sqrt(a)
    return a**exponent


class Maximum(_Binary):
    """out = max(a, b) elementwise (NaN if either is). As PyTorch, where a == b the gradient
    is split equally, and where a or b is NaN both get all of it."""

    def forward(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        self.check(a, b)
        return np.maximum(a, b)

    def backward(self, g: Tensor) -> tuple[Tensor, Tensor]:
        a, b = self.inputs
        return _tie_split(g, a, b, a < b, a > b)


class Minimum(_Binary):
    """out = min(a, b) elementwise (NaN if either is). As PyTorch, where a == b the gradient
    is split equally, and where a or b is NaN both get all of it."""

    def forward(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        self.check(a, b)
        return np.minimum(a, b)

    def backward(self, g: Tensor) -> tuple[Tensor, Tensor]:
        a, b = self.inputs
        return _tie_split(g, a, b, a > b, a < b)


def _tie_split(
    g: Tensor, a: Tensor, b: Tensor, a_loses: Tensor, b_loses: Tensor
) -> tuple[Tensor, Tensor]:
    """PyTorch's maximum/minimum gradients: ``g / 2`` to both at a tie, ``g`` to the winner,
    0 (even where ``g`` is NaN) to the loser; with a NaN neither loses, so both get ``g``."""
    shared = (g / 2).where(a == b, g)
    return shared.where(~a_loses, 0), shared.where(~b_loses, 0)


class Neg(Function):
    """out = -a."""

    def forward(self, a: np.ndarray) -> np.ndarray:
        try:
            return -a
        except TypeError:  # -bool: name the op and the fix (numpy's error names neither)
            raise TypeError(
                f"{self.name}: cannot negate a {a.dtype} tensor (as in numpy); cast it first, "
                f"e.g. .astype(np.float32)"
            ) from None

    def backward(self, g: Tensor) -> tuple[Tensor]:
        return (-g,)


class Exp(Function):
    """out = e**a; d/da = out."""

    uses_output = True

    def forward(self, a: np.ndarray) -> np.ndarray:
        return np.exp(a)

    def backward(self, g: Tensor) -> tuple[Tensor]:
        return (g * self.output,)


class Log(Function):
    """out = ln(a); d/da = 1 / a. Non-positive inputs give NaN/-inf, as in numpy."""

    def forward(self, a: np.ndarray) -> np.ndarray:
        return np.log(a)

    def backward(self, g: Tensor) -> tuple[Tensor]:
        return (g / self.inputs[0],)


class Sqrt(Function):
    """out = sqrt(a); d/da = 1 / (2 out)."""

    uses_output = True

    def forward(self, a: np.ndarray) -> np.ndarray:
        return np.sqrt(a)

    def backward(self, g: Tensor) -> tuple[Tensor]:
        return (g / (2 * self.output),)


class Relu(Function):
    """out = max(a, 0); d/da = 1 where out != 0, else 0 (so the gradient at exactly 0 is 0).

    max(-inf, 0) is 0 and NaN stays NaN with gradient 1, as in PyTorch (whose mask is
    ``out <= 0``); relu(-0.0) is +0.0 (PyTorch: -0.0). With ``inplace=True``
    (:meth:`Tensor.relu_`, through :func:`~tinygrad_cnn.function.apply_in_place`) the result
    is written over ``a``; backward needs only the mask of ``out != 0``.
    """

    new_gradients = True

    def forward(self, a: np.ndarray, *, inplace: bool = False) -> np.ndarray:
        out = _maximum_with_zero(a, in_place=inplace)
        if self.is_recorded:  # only backward reads the mask: none under no_grad()
            self.positive = out != 0  # a > 0, or NaN (as PyTorch); see docs/performance.md
        return out

    def backward(self, g: Tensor) -> tuple[Tensor]:
        mask = Tensor._from_op(self.positive, None)
        # Over g when the engine allows it: g is then usually a pool's fresh gradient, still
        # in cache, where a new array would be written to memory that is not (the gain in
        # training: docs/performance.md).
        if self.upstream_writable:
            return (ThresholdBackward.apply(g, mask, inplace=True),)
        return (ThresholdBackward.apply(g, mask),)


class ThresholdBackward(Function):
    """out = g where ``mask`` else 0: ReLU's gradient routing, an op so that it is recorded.

    ``mask`` (bool, not differentiable) is where the ReLU's output is not 0. The op is linear
    in ``g``, so its own gradient is the same routing of the upstream gradient. With
    ``inplace=True`` (when the engine allows ReLU's backward to write over ``g``) the result
    is written over ``g``.
    """

    name = "threshold_backward"
    new_gradients = True

    def forward(self, g: np.ndarray, mask: np.ndarray, *, inplace: bool = False) -> np.ndarray:
        return np.multiply(g, mask, out=g if inplace else None)

    def backward(self, grad: Tensor) -> tuple[Tensor, None]:
        return ThresholdBackward.apply(grad, self.inputs[1]), None


def _maximum_with_zero(a: np.ndarray, in_place: bool = False) -> np.ndarray:
    """``max(a, 0)`` in ``a``'s memory layout (or written over ``a``), without numpy's slow
    scalar-operand loop.

    ``np.maximum(a, 0)`` runs an unvectorised loop when one operand is a scalar, while two
    contiguous operands take the vectorised one. So ``a``'s memory is seen as a (rows, row
    length) matrix and the zeros come as one contiguous row, broadcast over the rows.
    (``a * (a > 0)``, used before, casts the mask chunk by chunk and made -inf * 0 = NaN.)
    Timings of the three: docs/performance.md. The rows run along the outermost axis of more
    than one element (a batch of one image has a size-1 outermost axis). Arrays that are not
    one block of memory, empty ones and those with only one axis longer than 1 take
    ``np.maximum(a, 0)``.
    """
    memory_order = sorted(range(a.ndim), key=a.strides.__getitem__)[::-1]  # outermost first
    in_memory = a.transpose(memory_order)
    rows = next((n for n in in_memory.shape if n > 1), 1)
    if a.size == 0 or rows in (1, a.size) or not in_memory.flags.c_contiguous:
        return np.maximum(a, a.dtype.type(0), out=a if in_place else None)
    out_in_memory = in_memory if in_place else np.empty_like(in_memory)  # C-contiguous
    zeros = np.zeros(a.size // rows, dtype=a.dtype)
    np.maximum(in_memory.reshape(rows, -1), zeros, out=out_in_memory.reshape(rows, -1))
    return a if in_place else out_in_memory.transpose(inverse_permutation(memory_order))


class Tanh(Function):
    """out = tanh(a); d/da = 1 - out**2."""

    uses_output = True

    def forward(self, a: np.ndarray) -> np.ndarray:
        return np.tanh(a)

    def backward(self, g: Tensor) -> tuple[Tensor]:
        out = self.output
        return (g * (1 - out * out),)


class Sigmoid(Function):
    """out = 1 / (1 + e**-a), computed without overflow; d/da = (1 - out) out."""

    uses_output = True

    def forward(self, a: np.ndarray) -> np.ndarray:
        # exp of a non-positive number never overflows: use e**a / (1 + e**a) for a < 0.
        e = np.exp(-np.abs(a))
        return np.where(a >= 0, 1 / (1 + e), e / (1 + e))

    def backward(self, g: Tensor) -> tuple[Tensor]:
        out = self.output
        return (g * (1 - out) * out,)  # PyTorch's order of the products


class Abs(Function):
    """out = |a|; d/da = sign(a) (0 at a == 0, and at NaN as in PyTorch)."""

    def forward(self, a: np.ndarray) -> np.ndarray:
        return np.abs(a)

    def backward(self, g: Tensor) -> tuple[Tensor]:
        return (g * Sign.apply(self.inputs[0]),)  # sign is 0 at 0 and at NaN


class Cast(Function):
    """out = a converted to ``dtype``; the gradient is converted back to a's dtype."""

    def forward(self, a: np.ndarray, *, dtype: Any) -> np.ndarray:
        return a.astype(dtype)

    def backward(self, g: Tensor) -> tuple[Tensor]:
        return (Cast.apply(g, dtype=self.inputs[0].dtype),)


class Sign(Function):
    """out = -1, 0 or 1 by the sign of a (0 at -0.0 and at NaN, as PyTorch); gradient 0.

    Bool tensors are their own sign.
    """

    def forward(self, a: np.ndarray) -> np.ndarray:
        if a.dtype == np.bool_:
            return a.copy()
        return (a > 0).astype(a.dtype) - (a < 0).astype(a.dtype)

    def backward(self, g: Tensor) -> tuple[Tensor]:
        return (_zeros_like(g),)


class Round(Function):
    """out = a rounded to ``decimals`` places, halves to even (as PyTorch and numpy); gradient 0.

    Integer tensors round to themselves (``decimals=0`` only, as in PyTorch).
    """

    def forward(self, a: np.ndarray, *, decimals: int = 0) -> np.ndarray:
        return np.round(a, decimals)

    def backward(self, g: Tensor) -> tuple[Tensor]:
        return (_zeros_like(g),)


def round(input: Any, decimals: int = 0) -> Any:  # PyTorch's name (shadows the builtin here)
    """Round to ``decimals`` places, halves to even, as ``torch.round`` (see :class:`Round`).

    Raises
    ------
    TypeError
        For a bool tensor, a non-integer ``decimals``, or ``decimals != 0`` on an integer
        tensor (PyTorch refuses these too).
    """
    if isinstance(decimals, bool) or not isinstance(decimals, int | np.integer):
        raise TypeError(f"round: decimals must be an int, got {type(decimals).__name__}")
    if input.dtype == np.bool_:
        raise TypeError("round: not defined for bool tensors (as in PyTorch)")
    if decimals != 0 and input.dtype.kind != "f":
        raise TypeError(
            f"round: decimals={decimals} needs a floating-point tensor, got {input.dtype} (as "
            f"in PyTorch)"
        )
    return Round.apply(input, decimals=int(decimals))


def sign(input: Any) -> Any:
    """-1, 0 or 1 elementwise, as ``torch.sign`` (see :class:`Sign`)."""
    return Sign.apply(input)
