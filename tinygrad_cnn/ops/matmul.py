"""Matrix product with numpy's rules: batched and broadcast operands, 1-D vectors."""

from __future__ import annotations

import numpy as np

from tinygrad_cnn.function import Function
from tinygrad_cnn.grad_mode import is_grad_enabled
from tinygrad_cnn.ops.movement import Permute, Reshape
from tinygrad_cnn.tensor import Tensor


class Matmul(Function):
    """out = a @ b.

    With ``A`` and ``B`` the operands promoted to matrices (a 1-D ``a`` becomes ``(1, k)``, a
    1-D ``b`` becomes ``(k, 1)``): dA = g @ B^T and dB = A^T @ g, then the promoted axis is
    dropped again; the engine sums broadcast batch axes back.

    A transposed matrix operand (F-ordered, such as a Linear layer's ``weight.T``) gets its
    gradient computed transposed, dB = (g^T @ A)^T, so that it arrives in the operand's memory
    layout and the weight's gradient in the weight's own: the optimizer step then runs over
    arrays of one layout (numpy runs an elementwise op over mixed C and F order several
    times slower; timings: docs/performance.md).
    """

    new_gradients = True

    def forward(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        if a.ndim >= 2 and b.ndim >= 2 and a.shape[-1] == b.shape[-2] == 1:
            return _outer_product(a, b)
        return np.asarray(np.matmul(a, b))

    def backward(self, g: Tensor) -> tuple[Tensor | None, Tensor | None]:
        a, b = self.inputs
        need_a, need_b = self.needs_input_grad
        matrix_a = Reshape.apply(a, shape=(1, *a.shape)) if a.ndim == 1 else a
        matrix_b = Reshape.apply(b, shape=(*b.shape, 1)) if b.ndim == 1 else b
        # Restore m's axis first: for vector @ vector g is 0-d and becomes (1, 1).
        if b.ndim == 1:
            g = Reshape.apply(g, shape=(*g.shape, 1))
        if a.ndim == 1:
            g = Reshape.apply(g, shape=(*g.shape[:-1], 1, g.shape[-1]))
        grad_a = grad_b = None
        two_d = g.ndim == matrix_a.ndim == matrix_b.ndim == 2  # no batch axes
        if need_a:
            if two_d and _is_transposed(matrix_a.data):
                grad_a = _swap(Matmul.apply(matrix_b, _swap(g)))
            else:
                grad_a = Matmul.apply(g, _swap(matrix_b))
            if a.ndim == 1:  # drop the promoted m axis
                grad_a = Reshape.apply(grad_a, shape=(*grad_a.shape[:-2], grad_a.shape[-1]))
        if need_b:
            if two_d and _is_transposed(matrix_b.data):
                grad_b = _swap(Matmul.apply(_swap(g), matrix_a))
            else:
                grad_b = Matmul.apply(_swap(matrix_a), g)
            if b.ndim == 1:  # drop the promoted n axis
                grad_b = Reshape.apply(grad_b, shape=grad_b.shape[:-1])
        return grad_a, grad_b


def _outer_product(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a @ b`` for (..., n, 1) @ (..., 1, m): the same products, broadcast. numpy's matmul
    takes twice as long for a weight gradient at batch 1, e.g. (128, 1) @ (1, 1600)
    (docs/performance.md)."""
    return np.multiply(a, b, order="C")


def _swap(x: Tensor) -> Tensor:
    """``x`` with its last two axes swapped (a view, recorded as a permute)."""
    if not is_grad_enabled():  # a first-order backward records nothing: the view alone
        return Tensor._from_op(x.data.swapaxes(-1, -2), None)
    axes = (*range(x.ndim - 2), x.ndim - 1, x.ndim - 2)
    return Permute.apply(x, axes=axes)


def _is_transposed(matrix: np.ndarray) -> bool:
    """Whether a matrix is stored column by column (F-ordered only), e.g. ``w.T``."""
    return matrix.flags.f_contiguous and not matrix.flags.c_contiguous


def matmul(a: Tensor, b: Tensor) -> Tensor:
    """Matrix product ``a @ b`` following ``numpy.matmul``.

    Parameters
    ----------
    a : Tensor, shape (..., n, k) or (k,)
    b : Tensor, shape (..., k, m) or (k,)

    Returns
    -------
    Tensor, shape (..., n, m) with the batch axes broadcast (1-D axes dropped as in numpy).
    """
    for operand in (a, b):  # a non-Tensor operand (None too) is a TypeError naming matmul
        if not isinstance(operand, Tensor):
            raise TypeError(f"matmul: operands must be Tensors, got {type(operand).__name__}")
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(
            f"matmul: operands must have at least 1 dimension, got shapes {a.shape} and {b.shape}"
        )
    inner_a = a.shape[-1]
    inner_b = b.shape[0] if b.ndim == 1 else b.shape[-2]
    if inner_a != inner_b:
        raise ValueError(
            f"matmul: shapes {a.shape} and {b.shape} are not aligned: {inner_a} != {inner_b}"
        )
    try:
        if a.ndim > 2 and b.ndim > 2:  # (matrices and vectors have no batch axes)
            np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    except ValueError:
        raise ValueError(
            f"matmul: batch dimensions of shapes {a.shape} and {b.shape} cannot be broadcast"
        ) from None
    if a.dtype != b.dtype:
        raise TypeError(f"matmul: operands must share one dtype, got {a.dtype} and {b.dtype}")
    return Matmul.apply(a, b)
