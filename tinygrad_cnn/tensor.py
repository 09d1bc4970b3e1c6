"""The :class:`Tensor`: a numpy array that remembers the op that made it.

A tensor holds ``data`` (an ``ndarray``), ``grad`` (filled by ``backward()``), ``requires_grad``
and ``_ctx``, the :class:`~tinygrad_cnn.function.Function` node that produced it (``None`` for
leaves). Every method below is a thin wrapper that calls an op's ``apply``; the maths of each
op lives in ``tinygrad_cnn/ops/``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from tinygrad_cnn.function import Function

Axis = int | tuple[int, ...] | None
Scalar = int | float | np.number


class Tensor:
    """An n-dimensional array with reverse-mode automatic differentiation.

    Parameters
    ----------
    data : array_like
        The values. Python data (numbers, nested lists) becomes float32 unless ``dtype`` says
        otherwise; numpy arrays keep their dtype (float64 stays float64, integer labels stay
        integers). The array is not copied when it already has the right dtype.
    requires_grad : bool, default False
        Record operations on this tensor so ``backward()`` can compute its gradient.
    dtype : numpy dtype, optional
        Convert the data to this dtype.
    name : str, optional
        A label shown by the graph renderer (``Module`` sets parameter names such as
        ``conv1.weight``).

    Examples
    --------
    >>> x = Tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    >>> (x * x).sum().backward()
    >>> x.grad
    array([[2., 4.],
           [6., 8.]], dtype=float32)
    """

    # _consumed: an input of a recorded op (then in-place ops refuse to overwrite it).
    __slots__ = (
        "__weakref__", "_consumed", "_ctx", "_retains_grad", "data", "grad", "name",
        "requires_grad",
    )  # fmt: skip
    # Make numpy defer to Tensor's reflected operators (``ndarray + Tensor`` gives a Tensor).
    __array_ufunc__ = None
    # ``==`` compares elementwise, yet tensors stay hashable by identity (as in PyTorch), so
    # sets and dicts of tensors work. (A list's ``in`` and ``index`` use ``==``: use ids.)
    __hash__ = object.__hash__

    def __init__(
        self,
        data: Any,
        requires_grad: bool = False,
        dtype: Any = None,
        name: str | None = None,
    ) -> None:
        if isinstance(data, Tensor):
            raise TypeError("Tensor(data): data is already a Tensor; use .detach() or .numpy()")
        if data is None or isinstance(data, str | bytes):  # fuzzing found: None became NaN
            raise TypeError(f"Tensor(data): expected numbers, got {type(data).__name__}")
        if dtype is None and not isinstance(data, np.ndarray | np.generic):
            dtype = np.float32
        try:
            array = np.asarray(data, dtype=dtype)
        except (TypeError, ValueError) as error:  # ragged lists, unknown dtypes, junk
            kind = TypeError if isinstance(error, TypeError) else ValueError
            raise kind(f"Tensor(data): cannot make an array of numbers: {error}") from None
        if array.dtype == object:
            raise TypeError(f"Tensor(data): expected numbers, got an array of {type(data)}")
        if array.dtype.kind not in "biuf":  # strings, complex, dates reached the ops
            raise TypeError(f"Tensor(data): expected real numbers, got dtype {array.dtype}")
        if requires_grad and not np.issubdtype(array.dtype, np.floating):
            raise TypeError(
                f"Tensor(requires_grad=True): only floating-point tensors can require grad, "
                f"got dtype {array.dtype}"
            )
        if name is not None and not isinstance(name, str):
            raise TypeError(f"Tensor(name=...): expected a str, got {type(name).__name__}")
        self.data: np.ndarray = array
        self.grad: np.ndarray | None = None
        self.requires_grad = bool(requires_grad)
        self.name = name
        self._ctx: Function | None = None
        self._retains_grad = False
        self._consumed = False

    @classmethod
    def _from_op(cls, data: np.ndarray, ctx: Function | None) -> Tensor:
        """Wrap an op's output without re-validating it (the hot path of every op)."""
        out = cls.__new__(cls)
        out.data = data if type(data) is np.ndarray else np.asarray(data)
        out.grad = None
        out.requires_grad = ctx is not None
        out.name = None
        out._ctx = ctx
        out._retains_grad = False
        out._consumed = False
        return out

    # ----------------------------------------------------------------- constructors
    @classmethod
    def zeros(cls, *shape: int, dtype: Any = np.float32, requires_grad: bool = False) -> Tensor:
        """A tensor of zeros of the given shape."""
        return cls(np.zeros(_new_shape("zeros", shape), dtype=dtype), requires_grad=requires_grad)

    @classmethod
    def ones(cls, *shape: int, dtype: Any = np.float32, requires_grad: bool = False) -> Tensor:
        """A tensor of ones of the given shape."""
        return cls(np.ones(_new_shape("ones", shape), dtype=dtype), requires_grad=requires_grad)

    @classmethod
    def randn(
        cls,
        *shape: int,
        seed: int | np.random.Generator | None = None,
        dtype: Any = np.float32,
        requires_grad: bool = False,
    ) -> Tensor:
        """Standard normal samples of the given shape (``seed`` makes them reproducible)."""
        rng = np.random.default_rng(seed)
        data = rng.standard_normal(_new_shape("randn", shape)).astype(dtype)
        return cls(data, requires_grad=requires_grad)

    # ----------------------------------------------------------------- properties
    @property
    def shape(self) -> tuple[int, ...]:
        """The shape of ``data``."""
        return self.data.shape

    @property
    def ndim(self) -> int:
        """The number of dimensions."""
        return self.data.ndim

    @property
    def dtype(self) -> np.dtype:
        """The numpy dtype of ``data``."""
        return self.data.dtype

    @property
    def size(self) -> int:
        """The number of elements."""
        return self.data.size

    @property
    def is_leaf(self) -> bool:
        """True when no recorded op made this tensor (inputs and parameters)."""
        return self._ctx is None

    @property
    def T(self) -> Tensor:  # noqa: N802 - numpy's and PyTorch's name
        """The tensor with its axes reversed."""
        return self.transpose()

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def __repr__(self) -> str:
        body = np.array2string(self.data, precision=4, separator=", ", prefix="Tensor(")
        parts = [body]
        if self.dtype != np.float32:
            parts.append(f"dtype={self.dtype}")
        if self._ctx is not None:
            parts.append(f"op={self._ctx.name}")
        elif self.requires_grad:
            parts.append("requires_grad=True")
        if self.name:
            parts.append(f"name={self.name!r}")
        return f"Tensor({', '.join(parts)})"

    # ----------------------------------------------------------------- autograd
    def backward(
        self,
        grad: Any = None,
        retain_graph: bool = False,
        retain_grads: bool = False,
    ) -> None:
        """Compute the gradient of this tensor with respect to every tensor that led to it.

        Parameters
        ----------
        grad : array_like, optional
            The upstream gradient, shape ``self.shape``. Required unless this tensor is a
            scalar (then it is 1).
        retain_graph : bool, default False
            Keep the arrays ops saved for backward, so ``backward`` can run again.
        retain_grads : bool, default False
            Also store ``.grad`` on intermediate tensors (leaves always get one), e.g. to
            draw gradient statistics with ``draw(..., values=True)``.
        """
        if not self.requires_grad:
            raise RuntimeError(
                "backward(): this tensor does not require grad; create its inputs with "
                "requires_grad=True (and outside no_grad())"
            )
        if grad is None:
            if self.size != 1:
                raise RuntimeError(
                    f"backward(): output of shape {self.shape} is not a scalar; pass the "
                    f"upstream gradient, e.g. backward(np.ones({self.shape}))"
                )
            upstream = np.ones(self.shape, dtype=self.dtype)
        else:
            if isinstance(grad, Tensor):
                grad = grad.data
            try:
                upstream = np.asarray(grad, dtype=self.dtype)
            except (TypeError, ValueError):
                raise TypeError(
                    f"backward(): the upstream gradient must be numbers, got {type(grad).__name__}"
                ) from None
            if upstream.shape != self.shape:
                raise ValueError(
                    f"backward(): upstream gradient has shape {upstream.shape}, expected the "
                    f"output's shape {self.shape}"
                )
        backward_pass(self, upstream, retain_graph=retain_graph, retain_grads=retain_grads)

    def retain_grad(self) -> Tensor:
        """Keep this intermediate tensor's ``.grad`` after ``backward()``; returns self."""
        self._retains_grad = True
        return self

    def zero_grad(self) -> None:
        """Forget the accumulated gradient (``grad = None``)."""
        self.grad = None

    def detach(self) -> Tensor:
        """A tensor sharing this data, cut from the graph (requires no grad)."""
        return Tensor._from_op(self.data, None)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Set ``requires_grad`` in place on a leaf; returns self."""
        if not self.is_leaf:
            raise RuntimeError("requires_grad_(): only leaf tensors can change requires_grad")
        if requires_grad and not np.issubdtype(self.dtype, np.floating):
            raise TypeError(f"requires_grad_(): dtype {self.dtype} cannot require grad")
        self.requires_grad = requires_grad
        return self

    # ----------------------------------------------------------------- conversion
    def numpy(self) -> np.ndarray:
        """The underlying array (not a copy)."""
        return self.data

    def item(self) -> float | int:
        """The value of a one-element tensor as a Python number."""
        if self.size != 1:
            raise ValueError(f"item(): expected a tensor with one element, got shape {self.shape}")
        return self.data.item()

    def tolist(self) -> Any:
        """The data as nested Python lists."""
        return self.data.tolist()

    def astype(self, dtype: Any) -> Tensor:
        """Cast to ``dtype`` (differentiable: the gradient is cast back)."""
        try:
            target = np.dtype(dtype) if dtype is not None else None  # np.dtype(None) is float64
        except TypeError as error:
            raise TypeError(f"astype: {error}") from None
        if target is None or target.kind not in "biuf":
            raise TypeError(f"astype: expected a real number dtype, got {dtype!r}")
        if target == self.dtype:
            return self
        return ops.Cast.apply(self, dtype=target)

    def float(self) -> Tensor:
        """Cast to float32."""
        return self.astype(np.float32)

    def double(self) -> Tensor:
        """Cast to float64."""
        return self.astype(np.float64)

    # ----------------------------------------------------------------- operators
    def _operands(self, other: Any, op: str) -> tuple[Tensor, Tensor]:
        """Turn ``other`` into a tensor and bring both to one dtype (``op`` names errors).

        Python and numpy scalars take this tensor's dtype (as in PyTorch, a scalar never
        upcasts). Two tensors of different dtypes meet at the wider float dtype (an integer
        tensor takes the float one's), through a recorded ``cast`` the graph shows.
        """
        if not isinstance(other, Tensor):
            if isinstance(other, int | float | np.number | np.bool_):
                if isinstance(other, float | np.floating) and self.dtype.kind in "iub":
                    # An integer tensor meets a float scalar at float32 (as in PyTorch),
                    # instead of truncating the scalar: int_tensor * 2.5 is not int_tensor * 2.
                    return self.astype(np.float32), Tensor._from_op(np.float32(other), None)
                return self, Tensor._from_op(np.asarray(other, dtype=self.dtype), None)
            other = _operand(op, other)
        if other.dtype == self.dtype:
            return self, other
        floats = [d for d in (self.dtype, other.dtype) if np.issubdtype(d, np.floating)]
        common = np.result_type(*floats) if floats else np.dtype(np.float32)
        return self.astype(common), other.astype(common)

    def __add__(self, other: Any) -> Tensor:
        return ops.Add.apply(*self._operands(other, "add"))

    def __radd__(self, other: Any) -> Tensor:
        a, b = self._operands(other, "add")
        return ops.Add.apply(b, a)

    def __sub__(self, other: Any) -> Tensor:
        return ops.Sub.apply(*self._operands(other, "sub"))

    def __rsub__(self, other: Any) -> Tensor:
        a, b = self._operands(other, "sub")
        return ops.Sub.apply(b, a)

    def __mul__(self, other: Any) -> Tensor:
        return ops.Mul.apply(*self._operands(other, "mul"))

    def __rmul__(self, other: Any) -> Tensor:
        a, b = self._operands(other, "mul")
        return ops.Mul.apply(b, a)

    def __truediv__(self, other: Any) -> Tensor:
        return ops.Div.apply(*self._operands(other, "div"))

    def __rtruediv__(self, other: Any) -> Tensor:
        a, b = self._operands(other, "div")
        return ops.Div.apply(b, a)

    def __pow__(self, exponent: Any) -> Tensor:
        return self.pow(exponent)

    def __rpow__(self, base: Any) -> Tensor:
        a, b = self._operands(base, "pow")
        return ops.Pow.apply(b, a)

    def __matmul__(self, other: Any) -> Tensor:
        return ops.matmul(*self._operands(other, "matmul"))

    def __rmatmul__(self, other: Any) -> Tensor:
        a, b = self._operands(other, "matmul")
        return ops.matmul(b, a)

    def __neg__(self) -> Tensor:
        return ops.Neg.apply(self)

    def __getitem__(self, index: Any) -> Tensor:
        return ops.getitem(self, index)

    # ----------------------------------------------------------------- elementwise
    def pow(self, exponent: Any) -> Tensor:
        """``self ** exponent``: a scalar exponent is an attribute, a tensor one an input."""
        if isinstance(exponent, int | float) and not isinstance(exponent, bool):
            return ops.PowScalar.apply(self, exponent=exponent)
        return ops.Pow.apply(*self._operands(exponent, "pow"))

    def exp(self) -> Tensor:
        """Elementwise ``e ** x``."""
        return ops.Exp.apply(self)

    def log(self) -> Tensor:
        """Elementwise natural logarithm."""
        return ops.Log.apply(self)

    def sqrt(self) -> Tensor:
        """Elementwise square root."""
        return ops.Sqrt.apply(self)

    def relu(self) -> Tensor:
        """Elementwise ``max(x, 0)``; the gradient at 0 is 0."""
        return ops.Relu.apply(self)

    def relu_(self) -> Tensor:
        """``relu`` written over this tensor's memory, as PyTorch's ``relu_``; returns ``self``.

        ``self`` then holds ``max(self, 0)`` and stands for the ReLU's output in the graph.
        It saves a new activation-sized array and, measured in training, is faster: the
        result goes to memory that is already in cache. Raises ``RuntimeError`` where the
        old values may still be needed for a gradient (a leaf that requires grad, a tensor
        already used by a recorded op, a view, an op's saved output).
        """
        return apply_in_place(ops.Relu, self)

    def tanh(self) -> Tensor:
        """Elementwise hyperbolic tangent."""
        return ops.Tanh.apply(self)

    def sigmoid(self) -> Tensor:
        """Elementwise ``1 / (1 + e ** -x)``."""
        return ops.Sigmoid.apply(self)

    def abs(self) -> Tensor:
        """Elementwise absolute value; the gradient at 0 is 0."""
        return ops.Abs.apply(self)

    def maximum(self, other: Any) -> Tensor:
        """Elementwise maximum with broadcasting; ties split the gradient equally."""
        return ops.Maximum.apply(*self._operands(other, "maximum"))

    def minimum(self, other: Any) -> Tensor:
        """Elementwise minimum with broadcasting; ties split the gradient equally."""
        return ops.Minimum.apply(*self._operands(other, "minimum"))

    # ----------------------------------------------------------------- reductions
    def sum(
        self,
        dim: Axis = None,
        keepdim: bool | None = None,
        dtype: Any = None,
        *,
        axis: Axis = None,
        keepdims: bool | None = None,
    ) -> Tensor:
        """Sum over ``dim`` (int, tuple, or None for all); integers and bools sum to int64.

        See :func:`tinygrad_cnn.ops.reduce.sum` (``axis``/``keepdims`` are accepted too).
        """
        return ops.sum(self, dim, keepdim, dtype, axis=axis, keepdims=keepdims)

    def mean(
        self,
        dim: Axis = None,
        keepdim: bool | None = None,
        dtype: Any = None,
        *,
        axis: Axis = None,
        keepdims: bool | None = None,
    ) -> Tensor:
        """Mean over ``dim`` (int, tuple, or None for all) of a floating-point tensor."""
        return ops.mean(self, dim, keepdim, dtype, axis=axis, keepdims=keepdims)

    def max(
        self,
        dim: Any = None,
        keepdim: bool | None = None,
        *,
        axis: Any = None,
        keepdims: bool | None = None,
    ) -> Any:
        """``x.max()`` (0-d), ``x.max(dim, keepdim)`` ``(values, indices)``, ``x.max(other)``.

        See :func:`tinygrad_cnn.ops.select.max`; :meth:`amax` reduces several dimensions.
        """
        return ops.max(self, dim, keepdim, axis=axis, keepdims=keepdims)

    def min(
        self,
        dim: Any = None,
        keepdim: bool | None = None,
        *,
        axis: Any = None,
        keepdims: bool | None = None,
    ) -> Any:
        """``x.min()`` (0-d), ``x.min(dim, keepdim)`` ``(values, indices)``, ``x.min(other)``."""
        return ops.min(self, dim, keepdim, axis=axis, keepdims=keepdims)

    def amax(
        self,
        dim: Axis = None,
        keepdim: bool | None = None,
        *,
        axis: Axis = None,
        keepdims: bool | None = None,
    ) -> Tensor:
        """Maximum over ``dim`` (int, tuple, or None for all); ties share the gradient."""
        return ops.amax(self, dim, keepdim, axis=axis, keepdims=keepdims)

    def amin(
        self,
        dim: Axis = None,
        keepdim: bool | None = None,
        *,
        axis: Axis = None,
        keepdims: bool | None = None,
    ) -> Tensor:
        """Minimum over ``dim`` (int, tuple, or None for all); ties share the gradient."""
        return ops.amin(self, dim, keepdim, axis=axis, keepdims=keepdims)

    def argmax(
        self,
        dim: int | None = None,
        keepdim: bool | None = None,
        *,
        axis: int | None = None,
        keepdims: bool | None = None,
    ) -> Tensor:
        """Index (int64) of the first maximum along ``dim``, of the flattened tensor if None."""
        return ops.argmax(self, dim, keepdim, axis=axis, keepdims=keepdims)

    def argmin(
        self,
        dim: int | None = None,
        keepdim: bool | None = None,
        *,
        axis: int | None = None,
        keepdims: bool | None = None,
    ) -> Tensor:
        """Index (int64) of the first minimum along ``dim``, of the flattened tensor if None."""
        return ops.argmin(self, dim, keepdim, axis=axis, keepdims=keepdims)

    def any(
        self,
        dim: Axis = None,
        keepdim: bool | None = None,
        *,
        axis: Axis = None,
        keepdims: bool | None = None,
    ) -> Tensor:
        """Whether any element over ``dim`` (all when None) is non-zero (bool)."""
        return ops.any(self, dim, keepdim, axis=axis, keepdims=keepdims)

    def all(
        self,
        dim: Axis = None,
        keepdim: bool | None = None,
        *,
        axis: Axis = None,
        keepdims: bool | None = None,
    ) -> Tensor:
        """Whether every element over ``dim`` (all when None) is non-zero (bool)."""
        return ops.all(self, dim, keepdim, axis=axis, keepdims=keepdims)

    # ----------------------------------------------------------------- comparisons, selection
    # Comparisons give bool tensors and are never recorded (see tinygrad_cnn/ops/compare.py).
    # Unsupported operands return NotImplemented: ``x == None`` is False, ``x < None`` raises.
    def __eq__(self, other: Any) -> Any:  # type: ignore[override]
        return ops.compare("eq", self, other) if ops.is_operand(other) else NotImplemented

    def __ne__(self, other: Any) -> Any:  # type: ignore[override]
        return ops.compare("ne", self, other) if ops.is_operand(other) else NotImplemented

    def __lt__(self, other: Any) -> Any:
        return ops.compare("lt", self, other) if ops.is_operand(other) else NotImplemented

    def __le__(self, other: Any) -> Any:
        return ops.compare("le", self, other) if ops.is_operand(other) else NotImplemented

    def __gt__(self, other: Any) -> Any:
        return ops.compare("gt", self, other) if ops.is_operand(other) else NotImplemented

    def __ge__(self, other: Any) -> Any:
        return ops.compare("ge", self, other) if ops.is_operand(other) else NotImplemented

    def eq(self, other: Any) -> Tensor:
        """``self == other`` elementwise (bool)."""
        return ops.compare("eq", self, other)

    def ne(self, other: Any) -> Tensor:
        """``self != other`` elementwise (bool)."""
        return ops.compare("ne", self, other)

    def lt(self, other: Any) -> Tensor:
        """``self < other`` elementwise (bool)."""
        return ops.compare("lt", self, other)

    def le(self, other: Any) -> Tensor:
        """``self <= other`` elementwise (bool)."""
        return ops.compare("le", self, other)

    def gt(self, other: Any) -> Tensor:
        """``self > other`` elementwise (bool)."""
        return ops.compare("gt", self, other)

    def ge(self, other: Any) -> Tensor:
        """``self >= other`` elementwise (bool)."""
        return ops.compare("ge", self, other)

    def __invert__(self) -> Tensor:
        return ops.bitwise_not(self)

    def __and__(self, other: Any) -> Tensor:
        return ops.bitwise("bitwise_and", self, other)

    def __rand__(self, other: Any) -> Tensor:
        return ops.bitwise("bitwise_and", self, other)

    def __or__(self, other: Any) -> Tensor:
        return ops.bitwise("bitwise_or", self, other)

    def __ror__(self, other: Any) -> Tensor:
        return ops.bitwise("bitwise_or", self, other)

    def __xor__(self, other: Any) -> Tensor:
        return ops.bitwise("bitwise_xor", self, other)

    def __rxor__(self, other: Any) -> Tensor:
        return ops.bitwise("bitwise_xor", self, other)

    def isnan(self) -> Tensor:
        """True where NaN (bool)."""
        return ops.isnan(self)

    def isinf(self) -> Tensor:
        """True where +inf or -inf (bool)."""
        return ops.isinf(self)

    def isfinite(self) -> Tensor:
        """True where neither NaN nor infinite (bool)."""
        return ops.isfinite(self)

    def where(self, condition: Tensor, other: Any) -> Tensor:
        """``self`` where ``condition`` else ``other``, as ``torch.Tensor.where``."""
        return ops.where(condition, self, other)

    def clamp(self, min: Any = None, max: Any = None) -> Tensor:
        """Limit to ``[min, max]`` (numbers or tensors); gradient 1 inside, ends included."""
        return ops.clamp(self, min, max)

    def clip(self, min: Any = None, max: Any = None) -> Tensor:
        """Alias of :meth:`clamp`."""
        return ops.clamp(self, min, max)

    def sign(self) -> Tensor:
        """-1, 0 or 1 elementwise (0 at NaN, as PyTorch); the gradient is 0."""
        return ops.Sign.apply(self)

    def gather(self, dim: int, index: Any) -> Tensor:
        """Values along ``dim`` at ``index``, as ``torch.gather``; differentiable in self."""
        return ops.gather(self, dim, index)

    def sort(self, dim: int = -1, descending: bool = False, *, stable: bool = False) -> Any:
        """``(values, indices)`` sorted along ``dim`` (stable; NaN largest)."""
        return ops.sort(self, dim, descending, stable=stable)

    def topk(self, k: int, dim: int = -1, largest: bool = True, sorted: bool = True) -> Any:
        """``(values, indices)`` of the ``k`` largest (or smallest) along ``dim``."""
        return ops.topk(self, k, dim, largest, sorted)

    # ----------------------------------------------------------------- movement
    def reshape(self, *shape: int) -> Tensor:
        """The same data viewed with another shape (one entry may be -1)."""
        return ops.reshape(self, _shape_arg(shape))

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> Tensor:
        """Merge the axes ``start_dim..end_dim`` into one."""
        return ops.flatten(self, start_dim, end_dim)

    def squeeze(self, axis: int) -> Tensor:
        """Remove the size-1 axis ``axis``."""
        return ops.squeeze(self, axis)

    def unsqueeze(self, axis: int) -> Tensor:
        """Insert a size-1 axis at ``axis``."""
        return ops.unsqueeze(self, axis)

    def transpose(self, *axes: int) -> Tensor:
        """Permute the axes (reverse them when none are given), like ``numpy.transpose``."""
        return ops.permute(self, _shape_arg(axes) if axes else None)

    def permute(self, *axes: int) -> Tensor:
        """Reorder the axes: ``x.permute(0, 2, 3, 1)``."""
        return ops.permute(self, _shape_arg(axes))

    def expand(self, *shape: int) -> Tensor:
        """Broadcast to ``shape`` (the gradient is summed back)."""
        return ops.broadcast_to(self, _shape_arg(shape))

    def broadcast_to(self, shape: Sequence[int]) -> Tensor:
        """Broadcast to ``shape`` (the gradient is summed back)."""
        return ops.broadcast_to(self, shape)

    def pad(self, pad_width: Any, value: float = 0.0) -> Tensor:
        """Pad with a constant, ``pad_width`` as in ``numpy.pad``."""
        return ops.pad(self, pad_width, value)

    # ----------------------------------------------------------------- network ops
    def matmul(self, other: Any) -> Tensor:
        """Matrix product with numpy's rules (batched, broadcast, 1-D operands)."""
        return self @ other

    def conv2d(
        self, weight: Tensor, bias: Tensor | None = None, stride: Any = 1, padding: Any = 0
    ) -> Tensor:
        """2-D convolution (cross-correlation), see :func:`tinygrad_cnn.ops.conv2d`."""
        return ops.conv2d(self, weight, bias, stride=stride, padding=padding)

    def max_pool2d(self, kernel_size: Any, stride: Any = None) -> Tensor:
        """2-D max pooling, see :func:`tinygrad_cnn.ops.max_pool2d`."""
        return ops.max_pool2d(self, kernel_size, stride)

    def avg_pool2d(self, kernel_size: Any, stride: Any = None) -> Tensor:
        """2-D average pooling, see :func:`tinygrad_cnn.ops.avg_pool2d`."""
        return ops.avg_pool2d(self, kernel_size, stride)

    def log_softmax(self, dim: int | None = None, dtype: Any = None, *, axis: Any = None) -> Tensor:
        """``log(softmax(x))`` along ``dim``, computed stably (see :func:`ops.log_softmax`)."""
        return ops.log_softmax(self, dim, dtype=dtype, axis=axis)

    def softmax(self, dim: int | None = None, dtype: Any = None, *, axis: Any = None) -> Tensor:
        """Softmax along ``dim``, computed stably (see :func:`ops.softmax`)."""
        return ops.softmax(self, dim, dtype=dtype, axis=axis)

    def cross_entropy(self, labels: Any, reduction: str = "mean") -> Tensor:
        """Softmax cross-entropy of logits ``(N, K)`` against integer labels ``(N,)``."""
        return ops.cross_entropy(self, labels, reduction)


def _operand(op: str, value: Any) -> Tensor:
    """The other operand of a binary op as a Tensor: arrays and nested lists of numbers only."""
    # fuzzing found: x + None gave NaN, x + "1.5" parsed the string, x + "a" numpy's ValueError
    if not isinstance(value, np.ndarray | list | tuple):
        raise TypeError(
            f"{op}: expected a Tensor, a number or an array of numbers, got {type(value).__name__}"
        )
    try:
        return Tensor(value)
    except (TypeError, ValueError) as error:
        raise TypeError(f"{op}: cannot use {type(value).__name__} as an operand: {error}") from None


def _new_shape(op: str, shape: tuple[Any, ...]) -> tuple[int, ...]:
    """The shape of a new tensor: non-negative ints (numpy's errors do not name the op)."""
    dims = _shape_arg(shape)
    if any(isinstance(n, bool) or not isinstance(n, int | np.integer) for n in dims):
        raise TypeError(f"{op}: shape must be integers, got {dims!r}")
    if any(n < 0 for n in dims):
        raise ValueError(f"{op}: shape must be non-negative, got {dims!r}")
    return tuple(int(n) for n in dims)


def _shape_arg(shape: tuple[Any, ...]) -> tuple[int, ...]:
    """Accept both ``f(2, 3)`` and ``f((2, 3))``."""
    if len(shape) == 1 and isinstance(shape[0], Sequence | np.ndarray):
        return tuple(shape[0])
    return tuple(shape)


# Imported last: the ops and the engine build Tensors, so Tensor must exist first.
from tinygrad_cnn import ops  # noqa: E402
from tinygrad_cnn.function import apply_in_place, backward_pass  # noqa: E402
