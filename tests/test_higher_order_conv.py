"""Second order through conv2d (its three memory layouts), max_pool2d and avg_pool2d, against
PyTorch's ``torch.autograd.grad(..., create_graph=True)``, in float64 (issue 14).

Each case squares the op's output, so the upstream gradient reaching the op depends on the
inputs too: the vector-Hessian product then runs through every backward kernel op and through
each of their backwards (conv2d_input_grad, conv2d_weight_grad, conv2d_bias_grad,
max_pool2d_route and its gather, avg_pool2d_spread).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pytest

import tinygrad_cnn as tc
from tinygrad_cnn import Tensor
from tinygrad_cnn.function import topological_order

torch = pytest.importorskip("torch")
F = torch.nn.functional


def _vhp_matches_torch(
    ours: Callable[..., Tensor],
    theirs: Callable[..., object],
    arrays: Sequence[np.ndarray],
    seed: int,
) -> Tensor:
    """Check first derivatives and d/dx <w, d<v, f(x)>/dx> against torch; return f's output."""
    rng = np.random.default_rng(seed)
    xs = [Tensor(a.copy(), requires_grad=True) for a in arrays]
    out = ours(*xs)
    v = rng.standard_normal(out.shape)
    firsts = tc.grad(out, xs, grad_outputs=Tensor(v), create_graph=True)
    ws = [rng.standard_normal(x.shape) for x in xs]
    total = sum(((g * Tensor(w)).sum() for g, w in zip(firsts, ws, strict=True)), Tensor(0.0))
    seconds = tc.grad(total, xs)

    txs = [torch.tensor(a.copy(), requires_grad=True) for a in arrays]
    tout = theirs(*txs)
    tfirsts = torch.autograd.grad(tout, txs, grad_outputs=torch.tensor(v), create_graph=True)
    ttotal = sum((g * torch.tensor(w)).sum() for g, w in zip(tfirsts, ws, strict=True))
    tseconds = torch.autograd.grad(ttotal, txs)

    for got, expected in zip(firsts, tfirsts, strict=True):
        np.testing.assert_allclose(got.data, expected.detach().numpy(), rtol=1e-10, atol=1e-12)
    for got, expected in zip(seconds, tseconds, strict=True):
        np.testing.assert_allclose(got.data, expected.numpy(), rtol=1e-10, atol=1e-12)
    return out


# Shapes that make conv2d pick each layout (as tests/test_reference_conv_pool.py does).
LAYOUT_CASES = [
    ("banded", (2, 2, 7, 8), (3, 2, 3, 2), (1, 1), (1, 2)),  # few filters, stride 1
    ("banded", (1, 1, 6, 6), (2, 1, 2, 2), (1, 1), (0, 0)),
    ("columns", (2, 1, 7, 9), (6, 1, 3, 2), (1, 1), (0, 1)),  # one channel, many filters
    ("columns", (1, 2, 6, 11), (5, 2, 2, 2), (2, 1), (1, 0)),  # stride 2 along H only
    ("rows", (2, 5, 7, 8), (6, 5, 3, 3), (2, 1), (1, 0)),  # many channels
    ("rows", (2, 3, 8, 7), (5, 3, 2, 3), (2, 3), (0, 1)),  # strides that skip pixels
]


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize(("layout", "x_shape", "w_shape", "stride", "padding"), LAYOUT_CASES)
def test_conv2d_vector_hessian_products_match_torch(
    layout: str, x_shape: tuple, w_shape: tuple, stride: tuple, padding: tuple, bias: bool
) -> None:
    rng = np.random.default_rng(sum(x_shape) + sum(w_shape))
    arrays = [rng.standard_normal(x_shape), rng.standard_normal(w_shape)]
    if bias:
        arrays.append(rng.standard_normal(w_shape[0]))
    layouts: list[str] = []

    def ours(x: Tensor, w: Tensor, b: Tensor | None = None) -> Tensor:
        y = tc.conv2d(x, w, b, stride=stride, padding=padding)
        layouts.append(y._ctx.layout)
        return y * y

    def theirs(x: object, w: object, b: object = None) -> object:
        y = F.conv2d(x, w, b, stride=stride, padding=padding)
        return y * y

    _vhp_matches_torch(ours, theirs, arrays, seed=1)
    assert layouts == [layout]


def test_conv2d_gradient_is_a_graph_of_the_backward_kernel_ops() -> None:
    rng = np.random.default_rng(0)
    x = Tensor(rng.standard_normal((1, 2, 5, 5)), requires_grad=True)
    w = Tensor(rng.standard_normal((3, 2, 2, 2)), requires_grad=True)
    b = Tensor(rng.standard_normal(3), requires_grad=True)
    out = tc.conv2d(x, w, b)
    gx, gw, gb = tc.grad((out * out).sum(), [x, w, b], create_graph=True)
    names = {t._ctx.name for g in (gx, gw, gb) for t in topological_order(g) if t._ctx}
    assert {"conv2d_input_grad", "conv2d_weight_grad", "conv2d_bias_grad"} <= names
    # The recorded kernel ops name the layout they ran in but keep none of its arrays.
    kernel = gx._ctx
    assert kernel.name == "conv2d_input_grad" and repr(kernel.attrs["layout"]) == out._ctx.layout
    assert kernel.attrs["layout"].node is None


def test_conv2d_third_derivative_matches_torch() -> None:
    """Third order: the kernel ops' own backwards are recorded and differentiated again."""
    rng = np.random.default_rng(3)
    xa, wa = rng.standard_normal((1, 2, 5, 6)), rng.standard_normal((4, 2, 2, 3))
    x, w = Tensor(xa, requires_grad=True), Tensor(wa, requires_grad=True)
    tx, tw = torch.tensor(xa, requires_grad=True), torch.tensor(wa, requires_grad=True)
    results = []
    for lib_x, lib_w, conv, grad in (
        (x, w, lambda a, b: tc.conv2d(a, b, padding=1), tc.grad),
        (tx, tw, lambda a, b: F.conv2d(a, b, padding=1), torch.autograd.grad),
    ):
        y = conv(lib_x, lib_w)
        (gx,) = grad((y * y * y).sum(), [lib_x], create_graph=True)
        (gxw,) = grad((gx * gx).sum(), [lib_w], create_graph=True)
        (third,) = grad((gxw * gxw).sum(), [lib_x])
        results.append(third.data if isinstance(third, Tensor) else third.numpy())
    np.testing.assert_allclose(results[0], results[1], rtol=1e-10, atol=1e-12)


POOL_CASES = [
    ((2, 3, 6, 8), (2, 2), (2, 2)),  # windows tile the image
    ((1, 2, 7, 7), (3, 3), (2, 2)),  # overlapping windows
    ((2, 2, 7, 9), (2, 2), (3, 4)),  # gaps between windows, uncovered rows and columns
    ((1, 1, 5, 6), (2, 3), (1, 2)),
]


def _distinct(shape: tuple[int, ...], seed: int) -> np.ndarray:
    """Values with no ties (a max pool's gradient is only defined away from them)."""
    rng = np.random.default_rng(seed)
    return rng.permutation(np.arange(np.prod(shape), dtype=np.float64)).reshape(shape) / 7 - 3


@pytest.mark.parametrize("channels_last", [False, True])
@pytest.mark.parametrize(("shape", "kernel", "stride"), POOL_CASES)
def test_max_pool2d_vector_hessian_products_match_torch(
    shape: tuple, kernel: tuple, stride: tuple, channels_last: bool
) -> None:
    x = _distinct(shape, seed=sum(shape))
    if channels_last:  # an NCHW view of NHWC memory, as after a conv: the route keeps it
        x = np.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)

    def ours(t: Tensor) -> Tensor:
        p = tc.max_pool2d(t, kernel, stride)
        return p * p * t.sum()  # the gradient reaching the pool depends on x everywhere

    def theirs(t: object) -> object:
        p = F.max_pool2d(t, kernel, stride)
        return p * p * t.sum()

    _vhp_matches_torch(ours, theirs, [x], seed=1)


@pytest.mark.parametrize(("shape", "kernel", "stride"), POOL_CASES)
def test_avg_pool2d_vector_hessian_products_match_torch(
    shape: tuple, kernel: tuple, stride: tuple
) -> None:
    x = np.random.default_rng(sum(shape)).standard_normal(shape)

    def ours(t: Tensor) -> Tensor:
        p = tc.avg_pool2d(t, kernel, stride)
        return p * p * t.sum()

    def theirs(t: object) -> object:
        p = F.avg_pool2d(t, kernel, stride)
        return p * p * t.sum()

    _vhp_matches_torch(ours, theirs, [x], seed=2)


def test_pool_kernels_are_each_others_transposes_to_third_order() -> None:
    """route's backward is gather and gather's is route: a third derivative runs both."""
    xa = _distinct((1, 2, 6, 6), seed=5)
    results = []
    for lib, pool, grad in (
        (Tensor, tc.max_pool2d, tc.grad),
        (torch.tensor, F.max_pool2d, torch.autograd.grad),
    ):
        x = lib(xa.copy(), requires_grad=True)
        p = pool(x, 3, 2)
        (g1,) = grad((p * p * p).sum(), [x], create_graph=True)
        (g2,) = grad((g1 * g1 * g1).sum(), [x], create_graph=True)
        (g3,) = grad((g2 * g2).sum(), [x])
        results.append(g3.data if isinstance(g3, Tensor) else g3.numpy())
    np.testing.assert_allclose(results[0], results[1], rtol=1e-10, atol=1e-12)


def test_small_cnn_hessian_vector_product_matches_torch() -> None:
    """H v of a small CNN's loss w.r.t. its weights: conv2d, max_pool2d, relu, matmul,
    cross_entropy (the issue's end-to-end case)."""
    rng = np.random.default_rng(11)
    arrays = {
        "w1": rng.standard_normal((4, 1, 3, 3)) / 3,
        "b1": rng.standard_normal(4) / 10,
        "w2": rng.standard_normal((36, 5)) / 6,
        "b2": rng.standard_normal(5) / 10,
    }
    images = rng.standard_normal((3, 1, 8, 8))
    labels = np.array([0, 3, 4])
    vectors = {name: rng.standard_normal(a.shape) for name, a in arrays.items()}

    def loss(conv: Any, pool: Any, cross_entropy: Any, p: dict, x: Any, y: Any) -> Any:
        h = pool(conv(x, p["w1"], p["b1"]).relu(), 2)
        return cross_entropy(h.reshape(3, 36) @ p["w2"] + p["b2"], y)

    ours = {k: Tensor(a.copy(), requires_grad=True) for k, a in arrays.items()}
    out = loss(tc.conv2d, tc.max_pool2d, tc.cross_entropy, ours, Tensor(images), Tensor(labels))
    grads = tc.grad(out, list(ours.values()), create_graph=True)
    dot = sum(
        ((g * Tensor(vectors[k])).sum() for g, k in zip(grads, ours, strict=True)), Tensor(0.0)
    )
    hvp = tc.grad(dot, list(ours.values()))

    theirs = {k: torch.tensor(a.copy(), requires_grad=True) for k, a in arrays.items()}
    tout = loss(
        F.conv2d, F.max_pool2d, F.cross_entropy, theirs, torch.tensor(images), torch.tensor(labels)
    )
    tgrads = torch.autograd.grad(tout, list(theirs.values()), create_graph=True)
    tdot = sum((g * torch.tensor(vectors[k])).sum() for g, k in zip(tgrads, theirs, strict=True))
    thvp = torch.autograd.grad(tdot, list(theirs.values()))

    np.testing.assert_allclose(out.item(), tout.item(), rtol=1e-12)
    for got, expected in zip(hvp, thvp, strict=True):
        assert np.abs(expected.numpy()).max() > 0  # a real second derivative, not all zero
        np.testing.assert_allclose(got.data, expected.numpy(), rtol=1e-9, atol=1e-12)
