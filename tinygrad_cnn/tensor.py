"""The :class:`Tensor`: a numpy array that remembers the op that made it.

A tensor holds ``data`` (an ``ndarray``), ``grad`` (filled by ``backward()``), ``requires_grad``
and ``_ctx``, the :class:`~tinygrad_cnn.function.Function` node that produced it (``None`` for
leaves). Every method below is a thin wrapper that calls an op's ``apply``; the maths of each
op lives in ``tinygrad_cnn/ops/``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from tinygrad_cnn.function import Function

_new_object = object.__new__  # Tensor._from_op makes a tensor without calling __init__

Axis = int | tuple[int, ...] | None
Scalar = int | float | np.number


class Tensor:
    """An n-dimensional array with reverse-mode automatic differentiation.

    Parameters
    ----------
    data : array_like
        The values. Python data takes ``torch.tensor``'s dtype unless ``dtype`` says
        otherwise: bools give bool, ints int64, floats float32 (``[1, 2.5]`` is float32);
        numpy arrays and scalars keep their dtype (float64 stays float64). The array is not
        copied when it already has the right dtype.
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
    Tensor([[2., 4.],
            [6., 8.]])
    """

    # _consumed: an input of a recorded op (then in-place ops refuse to overwrite it).
    __slots__ = (
        "__weakref__", "_consumed", "_ctx", "_grad", "_retains_grad", "data", "name",
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
        if data is None or isinstance(data, str | bytes):  # not numbers (numpy: None -> NaN)
            raise TypeError(f"Tensor(data): expected numbers, got {type(data).__name__}")
        try:
            if dtype is None and not isinstance(data, np.ndarray | np.generic):
                array = dtypes.from_python(data)  # torch.tensor's inference
            else:
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
                f"Tensor(requires_grad=True): only floating-point tensors can require grad "
                f"(as in PyTorch), got dtype {array.dtype}; pass floats, e.g. [1.0, 2.0], or "
                f"dtype=np.float32"
            )
        if name is not None and not isinstance(name, str):
            raise TypeError(f"Tensor(name=...): expected a str, got {type(name).__name__}")
        self.data: np.ndarray = array
        self._grad: Tensor | None = None
        self.requires_grad = bool(requires_grad)
        self.name = name
        self._ctx: Function | None = None
        self._retains_grad = False
        self._consumed = False

    @classmethod
    def _from_op(cls, data: np.ndarray, ctx: Function | None) -> Tensor:
        """Wrap an op's output without re-validating it (the hot path of every op)."""
        out = _new_object(cls)
        out.data = data if type(data) is np.ndarray else np.asarray(data)
        out._grad = None
        out.requires_grad = ctx is not None
        out.name = None
        out._ctx = ctx
        out._retains_grad = False
        out._consumed = False
        return out

    # ----------------------------------------------------------------- constructors
    # Kept for code written before the module-level functions; they delegate to them.
    @classmethod
    def zeros(cls, *size: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
        """A tensor of zeros, see :func:`tinygrad_cnn.zeros`."""
        return creation.zeros(*size, dtype=dtype, requires_grad=requires_grad)

    @classmethod
    def ones(cls, *size: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
        """A tensor of ones, see :func:`tinygrad_cnn.ones`."""
        return creation.ones(*size, dtype=dtype, requires_grad=requires_grad)

    @classmethod
    def randn(
        cls,
        *size: Any,
        seed: int | np.random.Generator | None = None,
        dtype: Any = None,
        requires_grad: bool = False,
    ) -> Tensor:
        """Standard normal samples, see :func:`tinygrad_cnn.randn` (``seed``: an int or a
        Generator for reproducible draws; ``None`` draws from the default generator)."""
        return creation.randn(*size, generator=seed, dtype=dtype, requires_grad=requires_grad)

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
    def grad(self) -> Tensor | None:
        """The accumulated gradient: a Tensor of this tensor's shape and dtype, or None.

        ``backward()`` stores a tensor with no graph (``requires_grad=False``) here and adds
        later gradients into its ``data`` in place, as PyTorch does. Assign a Tensor of the same
        shape and dtype, or None.
        """
        return self._grad

    @grad.setter
    def grad(self, value: Tensor | None) -> None:
        if value is None:
            self._grad = None
            return
        if not isinstance(value, Tensor):
            raise TypeError(
                f"assigned grad expected to be a Tensor or None, got {type(value).__name__}"
            )
        if value.dtype != self.dtype:
            raise TypeError(
                f"assigned grad has data of a different type: expected {self.dtype}, got "
                f"{value.dtype}"
            )
        if value.shape != self.shape:
            raise ValueError(
                f"assigned grad has data of a different size: expected shape {self.shape}, "
                f"got {value.shape}"
            )
        self._grad = value

    @property
    def is_leaf(self) -> bool:
        """True when no recorded op made this tensor (inputs and parameters)."""
        return self._ctx is None

    @property
    def T(self) -> Tensor:  # noqa: N802 - numpy's and PyTorch's name
        """The tensor with its dims reversed (the transpose of a matrix)."""
        return ops.permute(self)

    @property
    def mT(self) -> Tensor:  # noqa: N802 - PyTorch's name
        """A batch of matrices transposed: the last two dims swapped (needs 2 or more dims)."""
        if self.ndim < 2:
            raise ValueError(f"mT: expects a tensor with >= 2 dimensions, got shape {self.shape}")
        return ops.transpose(self, -2, -1)

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
        gradient: Any = None,
        retain_graph: bool | None = None,
        create_graph: bool = False,
        inputs: Any = None,
        retain_grads: bool = False,
    ) -> None:
        """Compute the gradient of this tensor with respect to every tensor that led to it.

        As ``torch.Tensor.backward``.

        Parameters
        ----------
        gradient : Tensor or array_like, optional
            The upstream gradient, shape ``self.shape``. Required unless this tensor is a
            scalar (then it is 1).
        retain_graph : bool, optional
            Keep the arrays ops saved for backward, so ``backward`` can run again. Defaults
            to ``create_graph``.
        create_graph : bool, default False
            Record the backward pass, so each ``.grad`` carries a graph and can be
            differentiated again (Hessian-vector products, gradient penalties;
            docs/higher-order.md).
        inputs : Tensor or sequence of Tensor, optional
            Accumulate only into these tensors' ``.grad`` (leaves or not), and run only the
            ops between them and this tensor. Default: every leaf.
        retain_grads : bool, default False
            Also store ``.grad`` on intermediate tensors (leaves always get one), e.g. to
            draw gradient statistics with ``draw(..., values=True)``.
        """
        if not self.requires_grad:
            raise RuntimeError(
                "backward(): this tensor does not require grad; create its inputs with "
                "requires_grad=True (and outside no_grad())"
            )
        upstream = upstream_gradient("backward()", self, gradient, create_graph)
        targets = None if inputs is None else tensor_sequence("backward()", "inputs", inputs)
        if targets is not None and not targets:
            raise RuntimeError("backward(): inputs= was given an empty sequence")
        backward_pass(
            self,
            upstream,
            retain_graph=create_graph if retain_graph is None else bool(retain_graph),
            retain_grads=retain_grads,
            create_graph=bool(create_graph),
            inputs=targets,
        )

    def retain_grad(self) -> Tensor:
        """Keep this intermediate tensor's ``.grad`` after ``backward()``; returns self."""
        self._retains_grad = True
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the accumulated gradient: ``grad = None``, or zero it in place.

        Parameters
        ----------
        set_to_none : bool, default True
            Set ``grad`` to None (as PyTorch); False fills the existing ``grad`` tensor with
            zeros in place (nothing happens when there is none).
        """
        if set_to_none:
            self._grad = None
        elif self._grad is not None:
            self._grad.data[...] = 0

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
        if self.numel() != 1:
            raise ValueError(f"item(): expected a tensor with one element, got shape {self.shape}")
        return self.data.item()

    def tolist(self) -> Any:
        """The data as nested Python lists."""
        return self.data.tolist()

    def astype(self, dtype: Any) -> Tensor:
        """Cast to ``dtype``; to a float dtype differentiable (the gradient is cast back).

        An integer or bool result has no gradient, as in PyTorch.
        """
        return self._cast("astype", dtype)

    def _cast(self, op: str, dtype: Any) -> Tensor:
        try:
            target = np.dtype(dtype) if dtype is not None else None  # np.dtype(None) is float64
        except TypeError as error:
            raise TypeError(f"{op}: {error}") from None
        if target is None or target.kind not in "biuf":
            raise TypeError(f"{op}: expected a real number dtype, got {dtype!r}")
        if target == self.dtype:
            return self
        if target.kind != "f":  # as in PyTorch, an integer or bool result has no gradient
            return ops.Cast.apply(self.detach(), dtype=target)
        return ops.Cast.apply(self, dtype=target)

    def float(self) -> Tensor:
        """Cast to float32."""
        return self.astype(np.float32)

    def double(self) -> Tensor:
        """Cast to float64."""
        return self.astype(np.float64)

    # ----------------------------------------------------------------- operators
    # ------------------------------------------------- type promotion (tinygrad_cnn.dtypes)
    def _operands(self, other: Any, op: str) -> tuple[Tensor, Tensor]:
        """Turn ``other`` into a tensor and bring both to PyTorch's result dtype.

        ``op`` names errors. A Python or numpy scalar keeps this tensor's dtype within its
        category and otherwise takes its category's default (``int32 * 2`` is int32,
        ``int32 * 2.5`` float32, ``bool + 1`` int64); two tensors meet at
        :func:`tinygrad_cnn.dtypes.result_type`. A tensor that changes dtype goes through a
        recorded ``cast`` (the graph shows it; its gradient comes back in its own dtype).
        """
        if isinstance(other, Tensor):
            if other.data.dtype == self.data.dtype:  # the common case, kept cheap
                return self, other
            common = dtypes.result_type(self.data, other.data)
            return self.astype(common), other.astype(common)
        if dtypes.scalar_category(other) is not None:
            common = dtypes.scalar_result_type(self.data.dtype, other)
            scalar = Tensor._from_op(np.asarray(other, dtype=common), None)
            return (self if common == self.data.dtype else self.astype(common)), scalar
        other = _operand(op, other)
        if other.data.dtype == self.data.dtype:
            return self, other
        common = dtypes.result_type(self.data, other.data)
        return self.astype(common), other.astype(common)

    def _subtraction_operands(self, other: Any) -> tuple[Tensor, Tensor]:
        """As :meth:`_operands`; PyTorch refuses a bool tensor or scalar on either side."""
        if (
            self.data.dtype == np.bool_
            or isinstance(other, bool | np.bool_)
            or (isinstance(other, Tensor) and other.data.dtype == np.bool_)
        ):
            raise TypeError(
                "sub: subtraction with a bool tensor or a bool is not supported (as in "
                "PyTorch); to invert a mask use logical not, or cast first, e.g. "
                ".astype(np.float32)"
            )
        return self._operands(other, "sub")

    def _division_operands(self, other: Any) -> tuple[Tensor, Tensor]:
        """As :meth:`_operands`; integers and bools divide as float32 (true division)."""
        a, b = self._operands(other, "div")
        if a.data.dtype.kind != "f":
            return a.astype(dtypes.DEFAULT_FLOAT), b.astype(dtypes.DEFAULT_FLOAT)
        return a, b

    def __add__(self, other: Any) -> Tensor:
        return ops.Add.apply(*self._operands(other, "add"))

    def __radd__(self, other: Any) -> Tensor:
        a, b = self._operands(other, "add")
        return ops.Add.apply(b, a)

    def __sub__(self, other: Any) -> Tensor:
        return ops.Sub.apply(*self._subtraction_operands(other))

    def __rsub__(self, other: Any) -> Tensor:
        a, b = self._subtraction_operands(other)
        return ops.Sub.apply(b, a)

    def __mul__(self, other: Any) -> Tensor:
        return ops.Mul.apply(*self._operands(other, "mul"))

    def __rmul__(self, other: Any) -> Tensor:
        a, b = self._operands(other, "mul")
        return ops.Mul.apply(b, a)

    def __truediv__(self, other: Any) -> Tensor:
        return ops.Div.apply(*self._division_operands(other))

    def __rtruediv__(self, other: Any) -> Tensor:
        a, b = self._division_operands(other)
        return ops.Div.apply(b, a)

    def __pow__(self, exponent: Any) -> Tensor:
        return self.pow(exponent)

    def __rpow__(self, base: Any) -> Tensor:
        a, b = self._operands(base, "pow")
        if a.data.dtype == np.bool_:
            raise TypeError(_BOOL_POW)
        return ops.Pow.apply(b, a)

    def __matmul__(self, other: Any) -> Tensor:
        return ops.matmul(*self._operands(other, "matmul"))

    def __rmatmul__(self, other: Any) -> Tensor:
        a, b = self._operands(other, "matmul")
        return ops.matmul(b, a)

    def __abs__(self) -> Tensor:
        return ops.Abs.apply(self)

    def __neg__(self) -> Tensor:
        return ops.Neg.apply(self)

    def __getitem__(self, index: Any) -> Tensor:
        return ops.getitem(self, index)

    # ----------------------------------------------------------------- in-place
    # PyTorch's in-place arithmetic (ops/inplace.py): the result is written over this tensor's
    # memory, its shape and dtype never change, and the same tensor is returned. Under
    # no_grad() (the manual SGD step) it keeps its requires_grad; when recorded, the tensor
    # moves behind the op; a leaf that requires grad is refused outside no_grad().
    def __iadd__(self, other: Any) -> Tensor:
        return ops.add_(self, other)

    def __isub__(self, other: Any) -> Tensor:
        return ops.sub_(self, other)

    def __imul__(self, other: Any) -> Tensor:
        return ops.mul_(self, other)

    def __itruediv__(self, other: Any) -> Tensor:
        return ops.div_(self, other)

    def add_(self, other: Any, alpha: Scalar = 1) -> Tensor:
        """``self += alpha * other`` in place; returns ``self`` (see :func:`ops.add_`)."""
        return ops.add_(self, other, alpha)

    def sub_(self, other: Any, alpha: Scalar = 1) -> Tensor:
        """``self -= alpha * other`` in place; returns ``self``."""
        return ops.sub_(self, other, alpha)

    def mul_(self, other: Any) -> Tensor:
        """``self *= other`` in place; returns ``self``."""
        return ops.mul_(self, other)

    def div_(self, other: Any) -> Tensor:
        """``self /= other`` in place (true division; refused for integer tensors)."""
        return ops.div_(self, other)

    def copy_(self, src: Any) -> Tensor:
        """Copy ``src`` into ``self``, broadcast to its shape and cast to its dtype."""
        return ops.copy_(self, src)

    def fill_(self, value: Any) -> Tensor:
        """Set every element to ``value`` (a number or a 0-d tensor); returns ``self``."""
        return ops.fill_(self, value)

    def zero_(self) -> Tensor:
        """Set every element to 0; returns ``self``."""
        return ops.zero_(self)

    def clamp_(self, min: Scalar | None = None, max: Scalar | None = None) -> Tensor:
        """Clamp into ``[min, max]`` in place (numbers; one may be None); returns ``self``."""
        return ops.clamp_(self, min, max)

    # ----------------------------------------------------------------- elementwise
    def pow(self, exponent: Any) -> Tensor:
        """``self ** exponent``: a scalar exponent is an attribute, a tensor one an input."""
        if isinstance(exponent, int | float) and not isinstance(exponent, bool):
            common = dtypes.scalar_result_type(self.data.dtype, exponent)  # int32 ** 2.5: float32
            return ops.PowScalar.apply(self.astype(common), exponent=exponent)
        a, b = self._operands(exponent, "pow")
        if a.data.dtype == np.bool_:
            if not isinstance(exponent, bool | np.bool_):
                raise TypeError(_BOOL_POW)
            # PyTorch's bool ** True is the tensor and bool ** False all True: a or not b.
            return Tensor._from_op(a.data | ~b.data, None)
        return ops.Pow.apply(a, b)

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
        It saves a new activation-sized array and is faster in training, as the result goes
        to memory that is already in cache (docs/performance.md). Raises ``RuntimeError``
        where the old values may still be needed for a gradient (a leaf that requires grad, a
        tensor already used by a recorded op, a view, an op's saved output).
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

    def round(self, decimals: int = 0) -> Tensor:
        """Round to ``decimals`` places, halves to even, as ``torch.Tensor.round``; gradient 0."""
        return ops.round(self, decimals)

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

    def norm(
        self, p: float | str = "fro", dim: Axis = None, keepdim: bool = False, dtype: Any = None
    ) -> Tensor:
        """The vector p-norm over ``dim`` (all when None), as ``torch.Tensor.norm``.

        ``p``: ``"fro"`` or 2 (Euclidean), 1, ``float("inf")`` or a number >= 1; the gradient
        at zero is 0, as in PyTorch. See :func:`tinygrad_cnn.ops.norm.norm`.
        """
        return ops.norm(self, p, dim, keepdim, dtype)

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

    # ----------------------------------------------------------------- shapes
    # PyTorch's signatures and semantics; the ops live in tinygrad_cnn/ops/movement.py.
    def size(self, dim: int | None = None) -> Size | int:
        """The shape as a :class:`Size` (a tuple), or the size of dim ``dim`` as an int.

        Not numpy's ``size`` (the number of elements): that is :meth:`numel`.
        """
        if dim is None:
            return Size(self.data.shape)
        if self.ndim == 0:
            raise ValueError(f"size: a 0-d tensor has no dim {dim!r}")
        return self.data.shape[ops.wrap_dim("size", dim, self.ndim)]

    def numel(self) -> int:
        """The number of elements."""
        return self.data.size

    def dim(self) -> int:
        """The number of dimensions (``ndim``)."""
        return self.data.ndim

    def view(self, *shape: int) -> Tensor:
        """:meth:`reshape` under PyTorch's name: ``x.view(2, -1)``, ``x.view((2, -1))``.

        A superset of PyTorch's: where the memory layout allows no view (``x.t().view(-1)``,
        which PyTorch refuses) this returns a copy. ``view(dtype)`` is not supported.
        """
        if len(shape) == 1 and isinstance(shape[0], type | np.dtype | str):
            raise TypeError(
                f"view: view(dtype), reinterpreting the bytes as another dtype, is not "
                f"supported (got {shape[0]!r}); use .to(dtype) to convert the values"
            )
        return ops.view(self, _shape_arg(shape))

    def view_as(self, other: Tensor) -> Tensor:
        """``self.view(other.shape)``."""
        return self.view(_other("view_as", other).shape)

    def reshape(self, *shape: int) -> Tensor:
        """The same data with another shape, ``x.reshape(2, -1)`` or ``x.reshape((2, -1))``."""
        return ops.reshape(self, _shape_arg(shape))

    def reshape_as(self, other: Tensor) -> Tensor:
        """``self.reshape(other.shape)``."""
        return self.reshape(_other("reshape_as", other).shape)

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> Tensor:
        """Merge the dims ``start_dim..end_dim`` into one (a 0-d tensor becomes ``(1,)``)."""
        return ops.flatten(self, start_dim, end_dim)

    def squeeze(self, dim: int | Sequence[int] | None = None) -> Tensor:
        """Remove every size-1 dim, or those among ``dim`` (an int or a tuple).

        As in PyTorch, a named dim whose size is not 1 is left alone (no error).
        """
        return ops.squeeze(self, dim)

    def unsqueeze(self, dim: int) -> Tensor:
        """Insert a size-1 dim at ``dim`` (negative counts from the end: -1 appends)."""
        return ops.unsqueeze(self, dim)

    def transpose(self, dim0: int | None = None, dim1: int | None = None, *more: int) -> Tensor:
        """Swap the dims ``dim0`` and ``dim1``, as PyTorch's ``transpose``.

        Not ``numpy.transpose``, which takes every axis: reorder all dims with
        :meth:`permute` (``x.permute(2, 0, 1)``), reverse them with ``x.T``.
        """
        if dim0 is None or dim1 is None or more:
            given = tuple(d for d in (dim0, dim1, *more) if d is not None)
            raise TypeError(
                f"transpose: expected two dims (dim0, dim1) to swap, as in PyTorch, got "
                f"{given}; to reorder every dim as numpy.transpose does use "
                f"permute{given if more else '(...)'}"
            )
        return ops.transpose(self, dim0, dim1)

    def t(self) -> Tensor:
        """The transpose of a matrix (a 0-d or 1-d tensor is returned as it is)."""
        return ops.t(self)

    def permute(self, *dims: int) -> Tensor:
        """Reorder the dims: ``x.permute(0, 2, 3, 1)`` or ``x.permute((0, 2, 3, 1))``."""
        return ops.permute(self, _shape_arg(dims))

    def expand(self, *sizes: int) -> Tensor:
        """Broadcast to ``sizes`` (``-1`` keeps a dim); the gradient is summed back."""
        return ops.expand(self, _shape_arg(sizes))

    def expand_as(self, other: Tensor) -> Tensor:
        """``self.expand(other.shape)``."""
        return self.expand(_other("expand_as", other).shape)

    def broadcast_to(self, shape: Sequence[int]) -> Tensor:
        """Broadcast to ``shape`` (the gradient is summed back)."""
        return ops.broadcast_to(self, shape)

    def repeat(self, *sizes: int) -> Tensor:
        """Tile ``sizes[i]`` times along dim ``i`` (PyTorch's ``repeat``, numpy's ``tile``)."""
        return ops.repeat(self, _shape_arg(sizes))

    def flip(self, *dims: int) -> Tensor:
        """Reverse the order of the elements along ``dims``: ``x.flip(0)``, ``x.flip((0, 1))``."""
        if not dims:
            raise TypeError("flip: expected the dims to flip, e.g. x.flip(0), got none")
        return ops.flip(self, _shape_arg(dims))

    def split(self, split_size_or_sections: int | Sequence[int], dim: int = 0) -> tuple:
        """Pieces of ``split_size`` along ``dim`` (the last smaller), or of the given sizes."""
        return ops.split(self, split_size_or_sections, dim)

    def chunk(self, chunks: int, dim: int = 0) -> tuple:
        """``chunks`` pieces along ``dim`` by PyTorch's rule (maybe fewer, see ``ops.chunk``)."""
        return ops.chunk(self, chunks, dim)

    def unbind(self, dim: int = 0) -> tuple:
        """The slices along ``dim``, that dim removed."""
        return ops.unbind(self, dim)

    def clone(self) -> Tensor:
        """A copy in new memory, differentiable (the gradient passes through)."""
        return ops.clone(self)

    def contiguous(self) -> Tensor:
        """``self`` if its memory is C-contiguous, else a differentiable contiguous copy."""
        return self if self.data.flags.c_contiguous else ops.clone(self)

    def is_contiguous(self) -> bool:
        """Whether the memory is C-contiguous (row-major without gaps)."""
        return bool(self.data.flags.c_contiguous)

    def to(
        self,
        *args: Any,
        dtype: Any = None,
        device: Any = None,
        non_blocking: bool = False,
        copy: bool = False,
    ) -> Tensor:
        """Convert to a dtype: ``x.to(np.float64)``, ``x.to(other)`` (other's dtype).

        A device is accepted only when it is the CPU (``"cpu"``, ``device="cpu"``): this
        library has no other device, and any other raises ``ValueError``. ``copy=True``
        always returns a new tensor; ``non_blocking`` is ignored. Converting to an integer
        or bool dtype gives a tensor without gradient, as in PyTorch.
        """
        if len(args) > 2:
            raise TypeError(f"to: expected at most a device and a dtype, got {args!r}")
        for arg in args:
            if isinstance(arg, Tensor):
                dtype = arg.dtype if dtype is None else dtype
            elif _is_device(arg):
                device = arg
            elif dtype is None:
                dtype = arg
            else:
                raise TypeError(f"to: got two dtypes, {dtype!r} and {arg!r}")
        if device is not None and not _is_cpu(device):
            raise ValueError(
                f"to: this library runs on the CPU only, there is no device {device!r}"
            )
        out = self if dtype is None else self._cast("to", dtype)
        return out.clone() if copy and out is self else out

    def cpu(self) -> Tensor:
        """``self``: tensors always live on the CPU here."""
        return self

    def long(self) -> Tensor:
        """Cast to int64 (no gradient)."""
        return self.astype(np.int64)

    def int(self) -> Tensor:
        """Cast to int32 (no gradient)."""
        return self.astype(np.int32)

    def bool(self) -> Tensor:
        """Cast to bool (no gradient)."""
        return self.astype(np.bool_)

    def __float__(self) -> float:
        return float(self._one_value())

    def __int__(self) -> int:
        return int(self._one_value())

    def __bool__(self) -> bool:
        if self.data.size != 1:
            amount = "no values" if self.data.size == 0 else "more than one value"
            raise RuntimeError(f"Boolean value of Tensor with {amount} is ambiguous")
        return bool(self.data.reshape(())[()])

    def __index__(self) -> int:
        if self.data.size != 1 or self.dtype.kind not in "biu":
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self.data.reshape(())[()])

    def __iter__(self) -> Iterator[Tensor]:
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (ops.GetItem.apply(self, index=i) for i in range(self.shape[0]))

    def __setitem__(self, index: Any, value: Any) -> None:
        raise TypeError(
            "Tensor does not support item assignment (x[index] = value): build the result out "
            "of place instead, e.g. with cat, stack or x * mask + value * (1 - mask)"
        )

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        """``np.asarray(tensor)``: the data (copied when ``copy`` or a dtype asks for it)."""
        if copy:
            return np.array(self.data, dtype=dtype, copy=True)
        return np.asarray(self.data, dtype=dtype)

    def _one_value(self) -> Any:
        """The only element, for ``float(t)`` and ``int(t)``."""
        if self.data.size != 1:
            raise ValueError("only one element tensors can be converted to Python scalars")
        return self.data.reshape(())[()]

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


class Size(tuple):
    """A tensor's shape, as PyTorch's ``torch.Size``: a tuple of ints with ``numel()``.

    Returned by :meth:`Tensor.size`; compares equal to the plain tuple ``Tensor.shape``.
    """

    __slots__ = ()

    def numel(self) -> int:
        """The number of elements of a tensor of this shape."""
        return int(np.prod(self, dtype=np.int64))

    def __repr__(self) -> str:
        return f"Size({list(self)})"


def _other(op: str, other: Any) -> Tensor:
    """``other`` of ``view_as`` and the like, which must be a Tensor."""
    if not isinstance(other, Tensor):
        raise TypeError(f"{op}: expected a Tensor, got {type(other).__name__}")
    return other


def _is_device(value: Any) -> bool:
    """Whether an argument of ``to`` names a device: a string other than a dtype name."""
    if type(value).__name__ == "device":  # torch.device
        return True
    if not isinstance(value, str):
        return False
    try:
        return np.dtype(value).kind not in "biuf"
    except TypeError:
        return True


def _is_cpu(device: Any) -> bool:
    name = getattr(device, "type", device)
    return isinstance(name, str) and name.split(":")[0] == "cpu"


_BOOL_POW = (
    "pow: not implemented for a bool base with a bool tensor exponent (as in PyTorch); cast "
    "first, e.g. .astype(np.int64)"
)


def _operand(op: str, value: Any) -> Tensor:
    """The other operand of a binary op as a Tensor: arrays and nested lists of numbers only."""
    # Numbers only: numpy would turn None into NaN, parse "1.5" and reject "a" without
    # naming the op.
    if not isinstance(value, np.ndarray | list | tuple):
        raise TypeError(
            f"{op}: expected a Tensor, a number or an array of numbers, got {type(value).__name__}"
        )
    try:
        return Tensor(value)
    except (TypeError, ValueError) as error:
        raise TypeError(f"{op}: cannot use {type(value).__name__} as an operand: {error}") from None


def _shape_arg(shape: tuple[Any, ...]) -> tuple[int, ...]:
    """Accept both ``f(2, 3)`` and ``f((2, 3))``."""
    if len(shape) == 1 and isinstance(shape[0], Sequence | np.ndarray):
        return tuple(shape[0])
    return tuple(shape)


def upstream_gradient(who: str, output: Tensor, gradient: Any, keep_tensor: bool) -> Any:
    """The upstream gradient of ``output`` for a backward pass: ``gradient`` checked.

    None gives ones for a one-element ``output`` (an error otherwise). A Tensor is kept as
    it is (with its graph) when ``keep_tensor`` (``create_graph=True``); anything else
    becomes an array of ``output``'s dtype and shape.

    Raises
    ------
    RuntimeError
        ``gradient`` is None and ``output`` has more than one element.
    TypeError, ValueError
        ``gradient`` is not numbers, or not of ``output``'s shape.
    """
    if gradient is None:
        if output.numel() != 1:
            raise RuntimeError(
                f"{who}: output of shape {output.shape} is not a scalar; pass the upstream "
                f"gradient, e.g. backward(np.ones({output.shape}))"
            )
        return np.ones(output.shape, dtype=output.dtype)
    if isinstance(gradient, Tensor):
        if keep_tensor and gradient.dtype == output.dtype and gradient.shape == output.shape:
            return gradient
        gradient = gradient.data
    try:
        upstream = np.asarray(gradient, dtype=output.dtype)
    except (TypeError, ValueError):
        raise TypeError(
            f"{who}: the upstream gradient must be numbers, got {type(gradient).__name__}"
        ) from None
    if upstream.shape != output.shape:
        raise ValueError(
            f"{who}: upstream gradient has shape {upstream.shape}, expected the output's "
            f"shape {output.shape}"
        )
    return upstream


def tensor_sequence(who: str, what: str, value: Any) -> list[Tensor]:
    """``value`` (a Tensor or a sequence of Tensors) as a list, or a TypeError naming it."""
    items = [value] if isinstance(value, Tensor) else value
    if not isinstance(items, Sequence) or isinstance(items, str | bytes):
        raise TypeError(
            f"{who}: {what} must be a Tensor or a sequence of Tensors, got {type(value).__name__}"
        )
    items = list(items)
    for position, item in enumerate(items):
        if not isinstance(item, Tensor):
            raise TypeError(
                f"{who}: {what}[{position}] must be a Tensor, got {type(item).__name__}"
            )
    return items


# Imported last: the ops and the engine build Tensors, so Tensor must exist first.
from tinygrad_cnn import creation, dtypes, ops  # noqa: E402
from tinygrad_cnn.function import apply_in_place, backward_pass  # noqa: E402
