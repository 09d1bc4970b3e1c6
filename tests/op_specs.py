"""An OpInfo-like table: for every registered op, how to draw valid inputs and apply it.

``SPECS[name]`` (``name`` as in ``Function.registry``) is an :class:`OpSpec`:

- ``draw``: a Hypothesis strategy of :class:`Case` (float64 input arrays, integer ones such as
  labels flagged non-differentiable, and keyword arguments), with shapes that include
  broadcast pairs and size-1 axes, attributes such as stride and padding, and values kept away
  from kinks (``relu``, ``abs`` at 0) and ties (``max``, ``max_pool2d``, ``maximum``);
- ``call(*tensors, **case.kwargs)``: applies the op through the public API;
- ``torch(*torch_tensors, **case.kwargs)``: the same computation in PyTorch, for parity tests
  (inputs converted one to one: float arrays to float64 tensors, integer arrays to int64
  tensors; keyword arguments passed exactly as drawn). ``None`` where torch has no equivalent.

``tests/test_op_gradients.py`` fails when a registered op has no spec here, and checks that each
spec's ``call`` really records the op it is named after. torch is imported only inside the
``torch`` callables, so this module loads without it.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from hypothesis import strategies as st

import tinygrad_cnn as tc
from tinygrad_cnn import Tensor
from tinygrad_cnn.ops import Cast, CrossEntropyBackward, ThresholdBackward
from tinygrad_cnn.testing import (
    arrays,
    broadcastable_shapes,
    conv_geometries,
    distinct_arrays,
    kink_free_arrays,
    pool_geometries,
    positive_arrays,
    reduction_axes,
    separated_arrays,
    shapes,
)

Shape = tuple[int, ...]


@dataclass(frozen=True)
class Case:
    """One drawn input of an op.

    Attributes
    ----------
    inputs : tuple of ndarray
        The op's tensor inputs as arrays: float64 for differentiable ones.
    kwargs : dict
        Keyword arguments of ``OpSpec.call`` (and ``OpSpec.torch``): axes, strides, indices.
    differentiable : tuple of bool
        Whether each input gets a gradient; by default the floating-point ones (integer
        labels are not differentiable).
    """

    inputs: tuple[np.ndarray, ...]
    kwargs: dict[str, Any] = field(default_factory=dict)
    differentiable: tuple[bool, ...] = ()

    def __post_init__(self) -> None:
        if not self.differentiable:
            flags = tuple(np.issubdtype(a.dtype, np.floating) for a in self.inputs)
            object.__setattr__(self, "differentiable", flags)
        if len(self.differentiable) != len(self.inputs):
            raise ValueError(
                f"Case: {len(self.differentiable)} differentiable flags for "
                f"{len(self.inputs)} inputs"
            )
        for position, (array, flag) in enumerate(
            zip(self.inputs, self.differentiable, strict=True)
        ):
            if flag and not np.issubdtype(array.dtype, np.floating):
                raise ValueError(
                    f"Case: input {position} of dtype {array.dtype} cannot be differentiable"
                )

    @property
    def wrt(self) -> list[int]:
        """Positions of the differentiable inputs."""
        return [i for i, flag in enumerate(self.differentiable) if flag]

    def requiring_grad(self, positions: Collection[int]) -> Case:
        """This case with only the differentiable inputs at ``positions`` requiring grad.

        The others become constants, as a frozen weight or an input image that needs no
        gradient (the op's backward sees them in ``needs_input_grad``).

        Raises
        ------
        ValueError
            When ``positions`` is empty or names an input that is not differentiable.
        """
        chosen = set(positions)
        if not chosen or not chosen <= set(self.wrt):
            raise ValueError(
                f"Case.requiring_grad: {sorted(chosen)} is not a non-empty subset of the "
                f"differentiable inputs {self.wrt}"
            )
        flags = tuple(i in chosen for i in range(len(self.inputs)))
        return Case(self.inputs, self.kwargs, flags)


@st.composite
def some_requiring_grad(draw: st.DrawFn, case: Case) -> Case:
    """``case`` with a drawn non-empty subset of its differentiable inputs requiring grad.

    Each differentiable input requires grad or not (a fair coin); when none does, all do, so
    "all of them" is drawn most often and is what a failing case shrinks to, unless a subset
    is what fails. An op's backward often skips work for inputs that need no gradient (and
    shares work between those that do), so each subset is a different code path.
    """
    flags = [draw(st.booleans()) for _ in case.wrt]
    if not any(flags):
        return case
    return case.requiring_grad([p for p, flag in zip(case.wrt, flags, strict=True) if flag])


@dataclass(frozen=True)
class OpSpec:
    """How to test one registered op.

    Attributes
    ----------
    name : str
        The op's name in ``Function.registry``.
    draw : SearchStrategy of Case
        Valid inputs and attributes.
    call : callable
        ``call(*tensors, **case.kwargs) -> Tensor`` through the public API.
    torch : callable or None
        ``torch(*torch_tensors, **case.kwargs) -> torch.Tensor``, the same computation.
    eps : float
        Finite-difference step for the gradient check.
    """

    name: str
    draw: st.SearchStrategy[Case]
    call: Callable[..., Tensor]
    torch: Callable[..., Any] | None = None
    eps: float = 1e-6


def _torch() -> Any:
    import torch  # optional: only the parity tests need torch

    return torch


def _functional() -> Any:
    import torch.nn.functional  # optional: only the parity tests need torch

    return torch.nn.functional


def _unary(x: st.SearchStrategy[np.ndarray]) -> st.SearchStrategy[Case]:
    return x.map(lambda a: Case((a,)))


def _broadcast_pair(
    first: Callable[[Shape], st.SearchStrategy[np.ndarray]],
    second: Callable[[Shape], st.SearchStrategy[np.ndarray]],
) -> st.SearchStrategy[Case]:
    """Two arrays of broadcast-compatible shapes (different ranks, size-1 axes)."""
    return broadcastable_shapes().flatmap(
        lambda pair: st.tuples(first(pair[0]), second(pair[1])).map(Case)
    )


def _separated_pair() -> st.SearchStrategy[Case]:
    """Broadcast-compatible operands with no value of one within 0.01 of any of the other."""
    return broadcastable_shapes().flatmap(lambda pair: separated_arrays(pair).map(Case))


# ---------------------------------------------------------------------- reductions
def _reduction(values: Callable[[Shape], st.SearchStrategy[np.ndarray]]) -> st.SearchStrategy:
    @st.composite
    def draw(draw_from: st.DrawFn) -> Case:
        shape = draw_from(shapes(max_dims=3))
        x = draw_from(values(shape))
        dim = draw_from(reduction_axes(len(shape)))
        return Case((x,), {"dim": dim, "keepdim": draw_from(st.booleans())})

    return draw()


def _torch_reduction(function: str) -> Callable[..., Any]:
    def reduce(x: Any, *, dim: Any, keepdim: bool) -> Any:
        if x.ndim == 0:  # torch's own 0-d reduction (amax of NaN has gradient NaN, not 1)
            return getattr(_torch(), function)(x)
        dims = tuple(range(x.ndim)) if dim is None else dim
        return getattr(_torch(), function)(x, dim=dims, keepdim=keepdim)

    return reduce


# ---------------------------------------------------------------------- movement
@st.composite
def _reshape_case(draw: st.DrawFn) -> Case:
    """A new shape of the same size: the size's factors regrouped, maybe one -1."""
    shape = draw(shapes(max_dims=3))
    size = int(np.prod(shape))
    factors = [p for p in (2, 3, 5, 7) for _ in range(_multiplicity(size, p))]
    factors = draw(st.permutations(factors + [1] * draw(st.integers(0, 2))))
    cuts = sorted(draw(st.lists(st.integers(0, len(factors)), max_size=3)))
    bounds = [0, *cuts, len(factors)]
    target = [int(np.prod(factors[a:b])) for a, b in itertools.pairwise(bounds)]
    if tuple(target) == shape:
        target.append(1)
    if draw(st.booleans()):
        target[draw(st.integers(0, len(target) - 1))] = -1
    return Case((draw(arrays(shape)),), {"shape": tuple(target)})


def _multiplicity(n: int, p: int) -> int:
    count = 0
    while n % p == 0:
        n, count = n // p, count + 1
    return count


@st.composite
def _permute_case(draw: st.DrawFn) -> Case:
    shape = draw(shapes(min_dims=2, max_dims=4, max_side=3))
    ndim = len(shape)
    axes = list(draw(st.permutations(range(ndim))))
    if axes == list(range(ndim)):
        axes = axes[1:] + axes[:1]
    axes = [a - ndim if draw(st.booleans()) else a for a in axes]
    return Case((draw(arrays(shape)),), {"axes": tuple(axes)})


@st.composite
def _broadcast_to_case(draw: st.DrawFn) -> Case:
    """x's shape is the target's with leading axes dropped and some axes set to 1."""
    target = draw(shapes(min_dims=1, max_dims=4, max_side=3))
    kept = target[draw(st.integers(0, len(target))) :]
    shape = tuple(1 if draw(st.booleans()) else n for n in kept)
    if shape == target:
        target = (2, *target)
    return Case((draw(arrays(shape)),), {"shape": target})


@st.composite
def _basic_index(draw: st.DrawFn, shape: Shape) -> tuple[Any, ...]:
    """Ints and slices (positive steps, negative bounds) for leading axes, maybe None/...."""
    parts: list[Any] = []
    for n in shape[: draw(st.integers(1, len(shape)))]:
        if draw(st.booleans()):
            parts.append(draw(st.integers(-n, n - 1)))
        else:
            bound = st.none() | st.integers(-n - 1, n + 1)
            parts.append(slice(draw(bound), draw(bound), draw(st.none() | st.integers(1, 3))))
    if draw(st.booleans()):
        parts.insert(draw(st.integers(0, len(parts))), None)
    if draw(st.booleans()):
        parts.append(Ellipsis)
    return tuple(parts)


@st.composite
def _getitem_case(draw: st.DrawFn) -> Case:
    """Basic indices, one integer array (with repeats), two broadcast arrays, a mask, or an
    int and an array anywhere (where PyTorch's result differs from numpy's)."""
    shape = draw(shapes(min_dims=1, max_dims=3, max_side=4))
    kind = draw(st.sampled_from(["basic", "array", "two_arrays", "mask", "int_and_array"]))
    if kind == "basic":
        index: Any = draw(_basic_index(shape))
    elif kind == "array":
        axis = draw(st.integers(0, len(shape) - 1))
        n = shape[axis]
        positions = draw(st.lists(st.integers(-n, n - 1), min_size=1, max_size=6).map(np.array))
        if draw(st.booleans()) and positions.size % 2 == 0:
            positions = positions.reshape(2, -1)
        index = (*[slice(None)] * axis, positions)
    elif kind == "int_and_array" and len(shape) >= 2:
        parts: list[Any] = [slice(None)] * len(shape)
        int_axis, array_axis = draw(st.permutations(range(len(shape))))[:2]
        parts[int_axis] = draw(st.integers(-shape[int_axis], shape[int_axis] - 1))
        n = shape[array_axis]
        parts[array_axis] = np.array(draw(st.lists(st.integers(-n, n - 1), min_size=1, max_size=4)))
        index = tuple(parts)
    elif kind == "two_arrays" and len(shape) >= 2:
        length = draw(st.integers(1, 5))
        first = draw(st.lists(st.integers(0, shape[0] - 1), min_size=length, max_size=length))
        size = draw(st.sampled_from([1, length]))  # broadcast against the first, or not
        second = draw(st.lists(st.integers(-shape[1], shape[1] - 1), min_size=size, max_size=size))
        index = (np.array(first), np.array(second))
    else:
        mask = draw(st.lists(st.booleans(), min_size=shape[0], max_size=shape[0]))
        index = np.array(mask, dtype=bool)
    return Case((draw(arrays(shape)),), {"index": index})


def _torch_getitem(x: Any, *, index: Any) -> Any:
    """``x[index]`` in torch, arrays as tensors (torch's semantics: ours match them)."""
    parts = index if isinstance(index, tuple) else (index,)
    converted = tuple(_torch().as_tensor(p) if isinstance(p, np.ndarray) else p for p in parts)
    return x[converted if isinstance(index, tuple) else converted[0]]


@st.composite
def _getitem_backward_case(draw: st.DrawFn) -> Case:
    """A gradient of the shape ``x[index]`` has, for an x and index drawn as for getitem."""
    x_case = draw(_getitem_case())
    index, shape = x_case.kwargs["index"], x_case.inputs[0].shape
    out_shape = Tensor(np.zeros(shape))[index].shape  # PyTorch's shape rules, as getitem
    return Case((draw(arrays(out_shape)),), {"index": index, "shape": shape})


def _getitem_backward(g: Tensor, *, index: Any, shape: Shape) -> Tensor:
    from tinygrad_cnn.ops.movement import GetItemBackward, _normalize_index

    return GetItemBackward.apply(g, index=_normalize_index(index), shape=shape)


def _torch_getitem_backward(g: Any, *, index: Any, shape: Shape) -> Any:
    """torch's own backward of ``x[index]`` at ``g``, kept differentiable in ``g``."""
    torch = _torch()
    x = torch.zeros(shape, dtype=g.dtype, requires_grad=True)
    (grad,) = torch.autograd.grad(_torch_getitem(x, index=index), x, g, create_graph=True)
    return grad


@st.composite
def _pad_case(draw: st.DrawFn) -> Case:
    """``pad_width`` as an int, one (before, after) pair, or one pair per axis."""
    shape = draw(shapes(min_dims=1, max_dims=3))
    width = st.integers(0, 2)
    kind = draw(st.sampled_from(["int", "pair", "per_axis"]))
    if kind == "int":
        pad_width: Any = draw(width)
    elif kind == "pair":
        pad_width = (draw(width), draw(width))
    else:
        pad_width = tuple((draw(width), draw(width)) for _ in shape)
    value = draw(st.sampled_from([0.0, 1.5, -2.0]))
    return Case((draw(arrays(shape)),), {"pad_width": pad_width, "value": value})


def _torch_pad(x: Any, *, pad_width: Any, value: float) -> Any:
    pairs = np.broadcast_to(np.asarray(pad_width), (x.ndim, 2))
    flat = [int(v) for pair in pairs[::-1] for v in pair]
    return _functional().pad(x, flat, mode="constant", value=value)


@st.composite
def _concatenate_case(draw: st.DrawFn) -> Case:
    """1 to 4 pieces that differ only along ``axis`` (possibly negative)."""
    shape = draw(shapes(min_dims=1, max_dims=3, max_side=3))
    axis = draw(st.integers(-len(shape), len(shape) - 1))
    pieces = []
    for _ in range(draw(st.integers(1, 4))):
        piece_shape = list(shape)
        piece_shape[axis] = draw(st.integers(1, 3))
        pieces.append(draw(arrays(tuple(piece_shape))))
    return Case(tuple(pieces), {"axis": axis})


@st.composite
def _stack_case(draw: st.DrawFn) -> Case:
    """1 to 4 arrays of one shape, stacked along a new ``axis`` (possibly negative)."""
    shape = draw(shapes(min_dims=0, max_dims=3, max_side=3))
    axis = draw(st.integers(-len(shape) - 1, len(shape)))
    pieces = tuple(draw(arrays(shape)) for _ in range(draw(st.integers(1, 4))))
    return Case(pieces, {"axis": axis})


# ---------------------------------------------------------------------- elementwise extras
_FLOAT_DTYPES = {"float32": np.float32, "float64": np.float64}


def _cast_there_and_back(x: Tensor, *, dtype: str) -> Tensor:
    """Cast to ``dtype`` and, when that changed the dtype, back (so the output is float64)."""
    y = Cast.apply(x, dtype=np.dtype(_FLOAT_DTYPES[dtype]))
    return y if y.dtype == x.dtype else Cast.apply(y, dtype=x.dtype)


def _torch_cast(x: Any, *, dtype: str) -> Any:
    return x.to(getattr(_torch(), dtype)).to(x.dtype)


@st.composite
def _pow_scalar_case(draw: st.DrawFn) -> Case:
    """Integer exponents on bases away from 0 (either sign), fractional ones on positive bases."""
    exponent = draw(st.sampled_from([2, 3, -1, 0, 1, 0.5, 1.5, -0.5, 2.5]))
    shape = draw(shapes())
    if isinstance(exponent, int):
        base = kink_free_arrays(shape, margin=0.2)
    else:
        base = positive_arrays(shape, min_value=0.2)
    return Case((draw(base),), {"exponent": exponent})


@st.composite
def _softmax_case(draw: st.DrawFn) -> Case:
    """Any rank from 0-d (dim 0 or -1 there, as PyTorch allows), any valid dim."""
    shape = draw(shapes(min_dims=0, max_dims=3))
    dim = draw(st.integers(-max(len(shape), 1), max(len(shape), 1) - 1))
    return Case((draw(arrays(shape, min_value=-5.0, max_value=5.0)),), {"dim": dim})


@st.composite
def _cross_entropy_case(draw: st.DrawFn) -> Case:
    """Logits (N, K) and int64 labels in [0, K) (not differentiable), any reduction."""
    n, k = draw(st.integers(1, 4)), draw(st.integers(1, 5))
    logits = draw(arrays((n, k), min_value=-5.0, max_value=5.0))
    labels = np.array(draw(st.lists(st.integers(0, k - 1), min_size=n, max_size=n)))
    reduction = draw(st.sampled_from(["mean", "sum", "none"]))
    return Case((logits, labels.astype(np.int64)), {"reduction": reduction}, (True, False))


@st.composite
def _cross_entropy_backward_case(draw: st.DrawFn) -> Case:
    """As :func:`_cross_entropy_case`, plus the loss's upstream gradient g (its shape), and
    whether the op also gets the forward's saved log-probabilities (``saved``)."""
    case = draw(_cross_entropy_case())
    logits, labels = case.inputs
    reduction = case.kwargs["reduction"]
    g = draw(arrays((len(labels),) if reduction == "none" else (), min_value=-2.0, max_value=2.0))
    kwargs = {**case.kwargs, "saved": draw(st.booleans())}
    return Case((logits, labels, g), kwargs, (True, False, True))


def _cross_entropy_backward(
    logits: Tensor, labels: Tensor, g: Tensor, *, reduction: str, saved: bool
) -> Tensor:
    """The op, given ``log_softmax(logits)`` as its optional fourth input when ``saved`` (as
    cross_entropy's backward does), recomputed from the logits it gets so that both agree."""
    if not saved:
        return CrossEntropyBackward.apply(logits, labels, g, reduction=reduction)
    shifted = logits.data - logits.data.max(axis=1, keepdims=True)
    log_probs = Tensor(shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True)))
    return CrossEntropyBackward.apply(logits, labels, g, log_probs, reduction=reduction)


def _torch_cross_entropy_backward(
    logits: Any, labels: Any, g: Any, *, reduction: str, saved: bool = False
) -> Any:
    """PyTorch's gradient of cross_entropy with respect to the logits, itself differentiable
    (``saved`` is this library's caching option: nothing in PyTorch). Logits that do not
    require grad are differentiated through a leaf copy that does (torch.autograd.grad needs
    one); the result then depends on g alone, as ours does."""
    if not logits.requires_grad:
        logits = logits.detach().requires_grad_()
    loss = _functional().cross_entropy(logits, labels, reduction=reduction)
    return _torch().autograd.grad(loss, logits, g, create_graph=True)[0]


@st.composite
def _threshold_backward_case(draw: st.DrawFn) -> Case:
    """An upstream gradient and a bool mask of its shape (not differentiable)."""
    shape = draw(shapes())
    mask = draw(st.lists(st.booleans(), min_size=int(np.prod(shape)), max_size=int(np.prod(shape))))
    mask_array = np.array(mask, dtype=bool).reshape(shape)
    return Case((draw(arrays(shape)), mask_array), {}, (True, False))


# ---------------------------------------------------------------------- matmul, conv, pooling
@st.composite
def _matmul_case(draw: st.DrawFn) -> Case:
    """(n,k)@(k,m) with broadcast batch axes, and 1-D operands on either or both sides."""
    n, k, m = (draw(st.integers(1, 4)) for _ in range(3))
    batch_a, batch_b = draw(broadcastable_shapes(max_dims=2, max_side=3))
    shape_a = (k,) if draw(st.integers(0, 3)) == 0 else (*batch_a, n, k)
    shape_b = (k,) if draw(st.integers(0, 3)) == 0 else (*batch_b, k, m)
    return Case((draw(arrays(shape_a)), draw(arrays(shape_b))))


def _int_or_pair(draw: st.DrawFn, pair: tuple[int, int]) -> int | tuple[int, int]:
    """``pair`` as given, or as one int when both sides are equal (half of the time)."""
    if pair[0] == pair[1] and draw(st.booleans()):
        return pair[0]
    return pair


@st.composite
def _conv2d_case(draw: st.DrawFn) -> Case:
    """Images, weights and (half of the time) a bias on a drawn geometry; int or pair args."""
    # Up to 6 filters, so conv2d's three im2col layouts (banded for <= 4) are all drawn.
    g = draw(conv_geometries(max_out_channels=6))
    inputs = [draw(arrays(g.input_shape)), draw(arrays(g.weight_shape))]
    if draw(st.booleans()):
        inputs.append(draw(arrays(g.bias_shape)))
    kwargs = {"stride": _int_or_pair(draw, g.stride), "padding": _int_or_pair(draw, g.padding)}
    return Case(tuple(inputs), kwargs)


def _conv2d(x: Tensor, w: Tensor, b: Tensor | None = None, **kwargs: Any) -> Tensor:
    return tc.conv2d(x, w, b, **kwargs)


def _torch_conv2d(x: Any, w: Any, b: Any = None, **kwargs: Any) -> Any:
    return _functional().conv2d(x, w, b, **kwargs)


def _pool_case(distinct: bool) -> st.SearchStrategy[Case]:
    @st.composite
    def draw(draw_from: st.DrawFn) -> Case:
        g = draw_from(pool_geometries())
        values = distinct_arrays(g.input_shape) if distinct else arrays(g.input_shape)
        kernel = _int_or_pair(draw_from, g.kernel)
        stride = None if g.stride == g.kernel and draw_from(st.booleans()) else g.stride
        if stride is not None:
            stride = _int_or_pair(draw_from, stride)
        return Case((draw_from(values),), {"kernel_size": kernel, "stride": stride})

    return draw()


# ---------------------------------------------------------------------- backward kernels
@st.composite
def _conv2d_input_grad_case(draw: st.DrawFn) -> Case:
    """An upstream gradient (N, O, OH, OW) and weights, with the convolution's input shape."""
    g = draw(conv_geometries(max_out_channels=6))
    kwargs = {"stride": g.stride, "padding": g.padding, "input_shape": g.input_shape}
    return Case((draw(arrays(g.output_shape)), draw(arrays(g.weight_shape))), kwargs)


@st.composite
def _conv2d_weight_grad_case(draw: st.DrawFn) -> Case:
    """Images and an upstream gradient (N, O, OH, OW), with the weight's shape."""
    g = draw(conv_geometries(max_out_channels=6))
    kwargs = {"stride": g.stride, "padding": g.padding, "weight_shape": g.weight_shape}
    return Case((draw(arrays(g.input_shape)), draw(arrays(g.output_shape))), kwargs)


@st.composite
def _conv2d_bias_grad_case(draw: st.DrawFn) -> Case:
    return Case((draw(arrays(draw(conv_geometries()).output_shape)),))


def _pool_kernel_kwargs(draw: st.DrawFn, g: Any) -> dict[str, Any]:
    """A pool geometry's attributes, and a memory layout of the input: NCHW or channels-last."""
    order = draw(st.sampled_from([(0, 1, 2, 3), (0, 2, 3, 1)]))
    return {
        "kernel_size": g.kernel,
        "stride": g.stride,
        "input_shape": g.input_shape,
        "memory_order": order,
    }


def _window_codes(draw: st.DrawFn, g: Any) -> np.ndarray:
    """For each output, a window position in 0 .. kh*kw - 1 (where the maximum was)."""
    positions = g.kernel[0] * g.kernel[1]
    codes = st.lists(st.integers(0, positions - 1), min_size=int(np.prod(g.output_shape)))
    return np.array(draw(codes)[: int(np.prod(g.output_shape))]).reshape(g.output_shape)


@st.composite
def _max_pool2d_route_case(draw: st.DrawFn) -> Case:
    g = draw(pool_geometries())
    inputs = (draw(arrays(g.output_shape)), _window_codes(draw, g))
    return Case(inputs, _pool_kernel_kwargs(draw, g), (True, False))


@st.composite
def _max_pool2d_gather_case(draw: st.DrawFn) -> Case:
    g = draw(pool_geometries())
    inputs = (draw(arrays(g.input_shape)), _window_codes(draw, g))
    kwargs = {"kernel_size": g.kernel, "stride": g.stride}
    return Case(inputs, kwargs, (True, False))


@st.composite
def _avg_pool2d_spread_case(draw: st.DrawFn) -> Case:
    g = draw(pool_geometries())
    return Case((draw(arrays(g.output_shape)),), _pool_kernel_kwargs(draw, g))


def _flat_window_indices(code: Any, kernel: Any, stride: Any, width: int) -> Any:
    """torch: the flat (H*W) input index of each output's window position ``code``."""
    torch = _torch()
    oh, ow = code.shape[2:]
    rows = torch.arange(oh)[:, None] * stride[0] + code // kernel[1]
    columns = torch.arange(ow)[None, :] * stride[1] + code % kernel[1]
    return (rows * width + columns).flatten(2)


def _torch_max_pool2d_route(
    g: Any, code: Any, *, kernel_size: Any, stride: Any, input_shape: Any, **_: Any
) -> Any:
    """Scatter-add of g to the window positions (max_unpool2d, but summing overlaps)."""
    index = _flat_window_indices(code, kernel_size, stride, input_shape[3])
    out = _torch().zeros((*input_shape[:2], input_shape[2] * input_shape[3]), dtype=g.dtype)
    return out.scatter_add(2, index, g.flatten(2)).reshape(input_shape)


def _torch_max_pool2d_gather(u: Any, code: Any, *, kernel_size: Any, stride: Any) -> Any:
    index = _flat_window_indices(code, kernel_size, stride, u.shape[3])
    return u.flatten(2).gather(2, index).reshape(code.shape)


def _torch_avg_pool2d_spread(
    g: Any, *, kernel_size: Any, stride: Any, input_shape: Any, **_: Any
) -> Any:
    """The vector-Jacobian product of torch's avg_pool2d (create_graph: differentiable in g)."""
    torch = _torch()
    x = torch.zeros(input_shape, dtype=g.dtype, requires_grad=True)
    with torch.enable_grad():
        out = _functional().avg_pool2d(x, kernel_size, stride)
        (grad,) = torch.autograd.grad(out, x, g, create_graph=True)
    return grad


def _conv_kernel_specs() -> list[OpSpec]:
    """conv2d's and the pools' backward kernels, applied directly (no public wrapper)."""
    from tinygrad_cnn.ops.conv import Conv2dBiasGrad, Conv2dInputGrad, Conv2dWeightGrad
    from tinygrad_cnn.ops.pool import AvgPool2dSpread, MaxPool2dGather, MaxPool2dRoute

    def nn_grad() -> Any:
        import torch.nn.grad  # optional: only the parity tests need torch

        return torch.nn.grad

    return [
        OpSpec(
            "conv2d_input_grad",
            _conv2d_input_grad_case(),
            Conv2dInputGrad.apply,
            lambda g, w, *, stride, padding, input_shape: nn_grad().conv2d_input(
                input_shape, w, g, stride, padding
            ),
        ),
        OpSpec(
            "conv2d_weight_grad",
            _conv2d_weight_grad_case(),
            Conv2dWeightGrad.apply,
            lambda x, g, *, stride, padding, weight_shape: nn_grad().conv2d_weight(
                x, weight_shape, g, stride, padding
            ),
        ),
        OpSpec(
            "conv2d_bias_grad",
            _conv2d_bias_grad_case(),
            Conv2dBiasGrad.apply,
            lambda g: g.sum(dim=(0, 2, 3)),
        ),
        OpSpec(
            "max_pool2d_route",
            _max_pool2d_route_case(),
            MaxPool2dRoute.apply,
            _torch_max_pool2d_route,
        ),
        OpSpec(
            "max_pool2d_gather",
            _max_pool2d_gather_case(),
            MaxPool2dGather.apply,
            _torch_max_pool2d_gather,
        ),
        OpSpec(
            "avg_pool2d_spread",
            _avg_pool2d_spread_case(),
            AvgPool2dSpread.apply,
            _torch_avg_pool2d_spread,
        ),
    ]


# ---------------------------------------------------------------------- in place
@st.composite
def _in_place_pair(
    draw: st.DrawFn,
    second: Callable[[Shape], st.SearchStrategy[np.ndarray]] = arrays,
    alpha: bool = False,
) -> Case:
    """``self`` of any shape and an operand that broadcasts to it (leading axes dropped, some
    set to 1), and half of the time an ``alpha`` (0 among them: no gradient reaches ``other``)."""
    shape = draw(shapes(max_dims=3))
    kept = shape[draw(st.integers(0, len(shape))) :]
    other = tuple(1 if draw(st.booleans()) else n for n in kept)
    kwargs = {"alpha": draw(st.sampled_from([2, -0.5, 0]))} if alpha and draw(st.booleans()) else {}
    return Case((draw(arrays(shape)), draw(second(other))), kwargs)


# ---------------------------------------------------------------------- comparisons, selection
@st.composite
def _where_case(draw: st.DrawFn) -> Case:
    """A bool condition and two float operands, three broadcast shapes; or a scalar ``other``."""
    shape_c, shape_a, shape_b = draw(broadcastable_shapes(num_shapes=3))
    condition = draw(arrays(shape_c, elements=st.booleans(), dtype=np.bool_))
    a = draw(arrays(shape_a))
    if draw(st.booleans()):
        return Case((condition, a), {"other": draw(st.sampled_from([0.0, -1.5, 2.0]))})
    return Case((condition, a, draw(arrays(shape_b))))


def _torch_where(condition: Any, a: Any, b: Any = None, **kwargs: Any) -> Any:
    """torch.where; the condition arrives as int64 (to_torch converts non-float arrays)."""
    rest = (b,) if b is not None else ()
    return _torch().where(condition.bool(), a, *rest, **kwargs)


def _clamp_with(clamp: Callable[..., Any]) -> Callable[..., Any]:
    """``call(x, *bounds, which=names, **scalars)``: tensor bounds named by ``which``."""

    def call(x: Any, *bounds: Any, which: tuple[str, ...] = (), **scalars: float) -> Any:
        return clamp(x, **scalars, **dict(zip(which, bounds, strict=True)))

    return call


@st.composite
def _clamp_case(draw: st.DrawFn) -> Case:
    """Number bounds, or tensor bounds (min, max or both, broadcast), never tied with x.

    Bounds are drawn in any order: where min > max the result is max, as in PyTorch.
    """
    which = draw(st.sampled_from([(), ("min",), ("max",), ("min", "max")]))
    if not which:
        shape = draw(shapes())
        x, low, high = draw(separated_arrays([shape, (), ()]))
        scalars = draw(st.sampled_from([("min",), ("max",), ("min", "max")]))
        bounds = {"min": float(low), "max": float(high)}
        return Case((x,), {name: bounds[name] for name in scalars})
    # x has the broadcast shape (torch's backward fails when a bound broadcasts x itself).
    *bound_shapes, other = draw(broadcastable_shapes(num_shapes=len(which) + 1))
    x_shape = np.broadcast_shapes(*bound_shapes, other)
    values = draw(separated_arrays([x_shape, *bound_shapes]))
    return Case(tuple(values), {"which": which})


@st.composite
def _gather_case(draw: st.DrawFn) -> Case:
    """An index no larger than x except along ``dim``, with repeated positions."""
    shape = draw(shapes(min_dims=1, max_dims=3))
    dim = draw(st.integers(-len(shape), len(shape) - 1))
    index_shape = tuple(
        draw(st.integers(1, 4)) if d == dim % len(shape) else draw(st.integers(1, n))
        for d, n in enumerate(shape)
    )
    n = shape[dim]
    index = draw(arrays(index_shape, elements=st.integers(0, n - 1), dtype=np.int64))
    return Case((draw(arrays(shape)), index), {"dim": dim}, (True, False))


@st.composite
def _gather_backward_case(draw: st.DrawFn) -> Case:
    """A gradient of ``index``'s shape, for an x shape and index drawn as for gather."""
    x_case = draw(_gather_case())
    x, index = x_case.inputs
    g = draw(arrays(index.shape))
    return Case((g, index), {"dim": x_case.kwargs["dim"], "shape": x.shape}, (True, False))


def _gather_backward(g: Tensor, index: Tensor, *, dim: int, shape: Shape) -> Tensor:
    from tinygrad_cnn.ops.select import GatherBackward

    return GatherBackward.apply(g, index, dim=dim % len(shape), shape=shape)


def _torch_gather_backward(g: Any, index: Any, *, dim: int, shape: Shape) -> Any:
    torch = _torch()
    return torch.zeros(shape, dtype=g.dtype).scatter_add(dim, index, g)


@st.composite
def _clamp_in_place_case(draw: st.DrawFn) -> Case:
    """Bounds at least 0.5 apart (one may be None), values kept 0.05 away from both."""
    x = draw(arrays(draw(shapes(max_dims=3)), min_value=-3.0, max_value=3.0))
    low = draw(st.sampled_from([None, -1.0, 0.0, 0.5]))
    high = draw(st.sampled_from([1.5, 2.0] if low is None else [None, 1.5, 2.0]))
    for bound in (low, high):
        if bound is not None:
            x = np.where(np.abs(x - bound) < 0.05, x + 0.2, x)
    return Case((x,), {"min": low, "max": high})


# ---------------------------------------------------------------------- the table
def _specs() -> dict[str, OpSpec]:
    F = _functional  # torch.nn.functional, by its usual name
    T = _torch
    any_values = _unary(arrays())
    specs = [
        # elementwise, one input
        OpSpec("abs", _unary(kink_free_arrays()), lambda x: x.abs(), lambda x: T().abs(x)),
        OpSpec("exp", any_values, lambda x: x.exp(), lambda x: T().exp(x)),
        OpSpec("log", _unary(positive_arrays()), lambda x: x.log(), lambda x: T().log(x)),
        OpSpec("neg", any_values, lambda x: -x, lambda x: -x),
        OpSpec("relu", _unary(kink_free_arrays()), lambda x: x.relu(), lambda x: T().relu(x)),
        OpSpec(
            "threshold_backward",
            _threshold_backward_case(),
            ThresholdBackward.apply,
            lambda g, mask: T().ops.aten.threshold_backward(g, mask.to(g.dtype), 0),
        ),
        OpSpec(
            "sigmoid",
            _unary(arrays(min_value=-8.0, max_value=8.0)),
            lambda x: x.sigmoid(),
            lambda x: T().sigmoid(x),
        ),
        OpSpec("sqrt", _unary(positive_arrays()), lambda x: x.sqrt(), lambda x: T().sqrt(x)),
        OpSpec("tanh", any_values, lambda x: x.tanh(), lambda x: T().tanh(x)),
        OpSpec("erf", any_values, lambda x: tc.ops.erf(x), lambda x: T().erf(x)),
        OpSpec(
            "pow_scalar",
            _pow_scalar_case(),
            lambda x, *, exponent: x**exponent,
            lambda x, *, exponent: T().pow(x, exponent),
        ),
        # float32 round trips need a larger step: cast is linear, so any step is exact up to
        # float32 rounding (about 1e-7 / 2e-3 relative, far inside rtol).
        OpSpec(
            "cast",
            _unary(arrays()).flatmap(
                lambda case: st.sampled_from(sorted(_FLOAT_DTYPES)).map(
                    lambda dtype: Case(case.inputs, {"dtype": dtype})
                )
            ),
            _cast_there_and_back,
            _torch_cast,
            eps=1e-3,
        ),
        # elementwise, two broadcast inputs
        OpSpec("add", _broadcast_pair(arrays, arrays), lambda a, b: a + b, lambda a, b: a + b),
        OpSpec("sub", _broadcast_pair(arrays, arrays), lambda a, b: a - b, lambda a, b: a - b),
        OpSpec("mul", _broadcast_pair(arrays, arrays), lambda a, b: a * b, lambda a, b: a * b),
        OpSpec(
            "div",
            _broadcast_pair(arrays, lambda s: kink_free_arrays(s, margin=0.5)),
            lambda a, b: a / b,
            lambda a, b: a / b,
        ),
        OpSpec(
            "pow",
            _broadcast_pair(
                lambda s: positive_arrays(s, min_value=0.2, max_value=2.5),
                lambda s: arrays(s, min_value=-2.0, max_value=2.0),
            ),
            lambda a, b: a**b,
            lambda a, b: T().pow(a, b),
        ),
        OpSpec(
            "maximum",
            _separated_pair(),
            lambda a, b: a.maximum(b),
            lambda a, b: T().maximum(a, b),
        ),
        OpSpec(
            "minimum",
            _separated_pair(),
            lambda a, b: a.minimum(b),
            lambda a, b: T().minimum(a, b),
        ),
        # in place (on a copy of the first input, as self must not be a leaf)
        OpSpec(
            "add_",
            _in_place_pair(alpha=True),
            lambda a, b, **kw: (a * 1).add_(b, **kw),
            lambda a, b, **kw: (a * 1).add_(b, **kw),
        ),
        OpSpec(
            "sub_",
            _in_place_pair(alpha=True),
            lambda a, b, **kw: (a * 1).sub_(b, **kw),
            lambda a, b, **kw: (a * 1).sub_(b, **kw),
        ),
        OpSpec(
            "mul_", _in_place_pair(), lambda a, b: (a * 1).mul_(b), lambda a, b: (a * 1).mul_(b)
        ),
        OpSpec(
            "div_",
            _in_place_pair(lambda s: kink_free_arrays(s, margin=0.5)),
            lambda a, b: (a * 1).div_(b),
            lambda a, b: (a * 1).div_(b),
        ),
        OpSpec(
            "copy_", _in_place_pair(), lambda a, b: (a * 1).copy_(b), lambda a, b: (a * 1).copy_(b)
        ),
        OpSpec(
            "clamp_",
            _clamp_in_place_case(),
            lambda x, **kw: (x * 1).clamp_(**kw),
            lambda x, **kw: (x * 1).clamp_(**kw),
        ),
        # comparisons, selection
        OpSpec("sign", _unary(kink_free_arrays()), lambda x: x.sign(), lambda x: T().sign(x)),
        OpSpec(
            "round",
            _unary(kink_free_arrays(kinks=(-2.5, -1.5, -0.5, 0.5, 1.5, 2.5))),
            lambda x: x.round(),
            lambda x: T().round(x),
        ),
        OpSpec(
            "where",
            _where_case(),
            lambda c, a, *rest, **kw: tc.where(c, a, *rest, **kw),
            _torch_where,
        ),
        OpSpec(
            "clamp",
            _clamp_case(),
            _clamp_with(lambda x, **kw: x.clamp(**kw)),
            _clamp_with(lambda x, **kw: T().clamp(x, **kw)),
        ),
        OpSpec(
            "gather",
            _gather_case(),
            lambda x, index, *, dim: x.gather(dim, index),
            lambda x, index, *, dim: T().gather(x, dim, index),
        ),
        OpSpec(
            "gather_backward", _gather_backward_case(), _gather_backward, _torch_gather_backward
        ),
        # reductions
        OpSpec(
            "sum",
            _reduction(arrays),
            lambda x, **kw: x.sum(**kw),
            _torch_reduction("sum"),
        ),
        OpSpec(
            "mean",
            _reduction(arrays),
            lambda x, **kw: x.mean(**kw),
            _torch_reduction("mean"),
        ),
        OpSpec(
            "max",
            _reduction(distinct_arrays),
            lambda x, **kw: x.amax(**kw),
            _torch_reduction("amax"),
        ),
        OpSpec(
            "min",
            _reduction(distinct_arrays),
            lambda x, **kw: x.amin(**kw),
            _torch_reduction("amin"),
        ),
        # movement
        OpSpec(
            "reshape",
            _reshape_case(),
            lambda x, *, shape: x.reshape(shape),
            lambda x, *, shape: x.reshape(shape),
        ),
        OpSpec(
            "permute",
            _permute_case(),
            lambda x, *, axes: x.permute(*axes),
            lambda x, *, axes: x.permute(axes),
        ),
        OpSpec(
            "broadcast_to",
            _broadcast_to_case(),
            lambda x, *, shape: x.broadcast_to(shape),
            lambda x, *, shape: x.broadcast_to(shape),
        ),
        OpSpec("getitem", _getitem_case(), lambda x, *, index: x[index], _torch_getitem),
        OpSpec(
            "getitem_backward",
            _getitem_backward_case(),
            _getitem_backward,
            _torch_getitem_backward,
        ),
        OpSpec("pad", _pad_case(), lambda x, **kw: x.pad(**kw), _torch_pad),
        OpSpec("clone", any_values, lambda x: x.clone(), lambda x: x.clone()),
        OpSpec(
            "concatenate",
            _concatenate_case(),
            lambda *xs, axis: tc.concatenate(xs, axis=axis),
            lambda *xs, axis: T().cat(xs, dim=axis),
        ),
        OpSpec(
            "stack",
            _stack_case(),
            lambda *xs, axis: tc.stack(xs, axis=axis),
            lambda *xs, axis: T().stack(xs, dim=axis),
        ),
        # networks
        OpSpec("matmul", _matmul_case(), tc.matmul, lambda a, b: T().matmul(a, b)),
        OpSpec("conv2d", _conv2d_case(), _conv2d, _torch_conv2d),
        OpSpec(
            "max_pool2d",
            _pool_case(distinct=True),
            tc.max_pool2d,
            lambda x, **kw: F().max_pool2d(x, **kw),
        ),
        OpSpec(
            "avg_pool2d",
            _pool_case(distinct=False),
            tc.avg_pool2d,
            lambda x, **kw: F().avg_pool2d(x, **kw),
        ),
        *_conv_kernel_specs(),
        OpSpec(
            "log_softmax",
            _softmax_case(),
            lambda x, *, dim: tc.log_softmax(x, dim),
            lambda x, *, dim: F().log_softmax(x, dim=dim),
        ),
        OpSpec(
            "softmax",
            _softmax_case(),
            lambda x, *, dim: tc.softmax(x, dim),
            lambda x, *, dim: F().softmax(x, dim=dim),
        ),
        OpSpec(
            "cross_entropy",
            _cross_entropy_case(),
            lambda logits, labels, *, reduction: tc.cross_entropy(logits, labels, reduction),
            lambda logits, labels, *, reduction: F().cross_entropy(
                logits, labels, reduction=reduction
            ),
        ),
        OpSpec(
            "cross_entropy_backward",
            _cross_entropy_backward_case(),
            _cross_entropy_backward,
            _torch_cross_entropy_backward,
        ),
    ]
    table = {spec.name: spec for spec in specs}
    if len(table) != len(specs):
        raise ValueError("op_specs: two specs share a name")
    return table


SPECS: dict[str, OpSpec] = _specs()
