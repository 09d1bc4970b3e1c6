"""conv2d's dilation, groups and 'same'/'valid' padding; the pools' padding, ceil_mode,
count_include_pad, divisor_override, max-pool dilation and return_indices (issue 16), against
PyTorch: values, gradients, second order, the modules and their state_dict shapes."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pytest

import tinygrad_cnn as tc
import tinygrad_cnn.nn.functional as F  # noqa: N812  (PyTorch's usual alias)
from tinygrad_cnn import Tensor, nn
from tinygrad_cnn.ops import Conv2d, MaxPool2d

torch = pytest.importorskip("torch")
TF = torch.nn.functional
# torch warns that an asymmetric padding='same' copies the input (as this library does).
pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same'")


def _matches_torch(
    ours: Callable[..., Any],
    theirs: Callable[..., Any],
    arrays: Sequence[np.ndarray],
    seed: int = 0,
    second_order: bool = False,
) -> None:
    """Values and input gradients (and, with ``second_order``, a vector-Hessian product)."""
    rng = np.random.default_rng(seed)
    xs = [Tensor(a.copy(), requires_grad=True) for a in arrays]
    txs = [torch.tensor(a.copy(), requires_grad=True) for a in arrays]
    out, tout = ours(*xs), theirs(*txs)
    assert out.shape == tuple(tout.shape)
    np.testing.assert_allclose(out.data, tout.detach().numpy(), rtol=1e-10, atol=1e-12)
    v = rng.standard_normal(out.shape)
    firsts = tc.grad(out, xs, grad_outputs=Tensor(v), create_graph=second_order)
    tfirsts = torch.autograd.grad(tout, txs, torch.tensor(v), create_graph=second_order)
    for got, expected in zip(firsts, tfirsts, strict=True):
        np.testing.assert_allclose(got.data, expected.detach().numpy(), rtol=1e-10, atol=1e-12)
    if not second_order:
        return
    ws = [rng.standard_normal(x.shape) for x in xs]
    total = sum(((g * Tensor(w)).sum() for g, w in zip(firsts, ws, strict=True)), Tensor(0.0))
    ttotal = sum((g * torch.tensor(w)).sum() for g, w in zip(tfirsts, ws, strict=True))
    seconds, tseconds = tc.grad(total, xs), torch.autograd.grad(ttotal, txs)
    for got, expected in zip(seconds, tseconds, strict=True):
        np.testing.assert_allclose(got.data, expected.numpy(), rtol=1e-10, atol=1e-12)


# ---------------------------------------------------------------------- conv2d
CONV_CASES = [  # input shape, weight shape, kwargs
    ((2, 4, 7, 8), (6, 2, 3, 3), {"groups": 2, "padding": 1}),
    ((2, 4, 7, 8), (4, 1, 3, 3), {"groups": 4, "padding": 1}),  # depthwise
    ((1, 3, 6, 5), (6, 1, 2, 2), {"groups": 3}),  # depthwise, channel multiplier 2
    ((2, 3, 9, 10), (4, 3, 3, 3), {"dilation": 2, "stride": 2}),
    ((2, 3, 9, 10), (4, 3, 3, 2), {"dilation": (2, 3), "stride": (2, 1), "padding": (1, 2)}),
    ((2, 3, 7, 8), (4, 3, 4, 2), {"padding": "same"}),  # even kernels: asymmetric
    ((2, 3, 7, 8), (4, 3, 4, 3), {"padding": "same", "dilation": (1, 2)}),
    ((1, 2, 9, 9), (3, 2, 2, 2), {"padding": "same", "dilation": 3}),  # odd total: asymmetric
    ((2, 3, 7, 8), (4, 3, 3, 3), {"padding": "valid", "stride": 2}),
    ((2, 4, 8, 8), (4, 2, 2, 3), {"padding": "same", "groups": 2, "dilation": 2}),
]


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize(("x_shape", "w_shape", "kwargs"), CONV_CASES)
def test_conv2d_options_match_torch(x_shape, w_shape, kwargs, bias) -> None:
    rng = np.random.default_rng(sum(x_shape) + sum(w_shape))
    arrays = [rng.standard_normal(x_shape), rng.standard_normal(w_shape)]
    if bias:
        arrays.append(rng.standard_normal(w_shape[0]))
    _matches_torch(lambda *t: F.conv2d(*t, **kwargs), lambda *t: TF.conv2d(*t, **kwargs), arrays)


@pytest.mark.parametrize(
    ("x_shape", "w_shape", "kwargs"),
    [CONV_CASES[1], CONV_CASES[0], CONV_CASES[3], CONV_CASES[5], CONV_CASES[9]],
)
def test_conv2d_options_second_order_matches_torch(x_shape, w_shape, kwargs) -> None:
    rng = np.random.default_rng(7)
    arrays = [rng.standard_normal(x_shape), rng.standard_normal(w_shape)]
    arrays.append(rng.standard_normal(w_shape[0]))
    # Squared, so the upstream gradient depends on the inputs: every kernel's backward runs.
    _matches_torch(
        lambda *t: F.conv2d(*t, **kwargs) ** 2,
        lambda *t: TF.conv2d(*t, **kwargs) ** 2,
        arrays,
        second_order=True,
    )


def test_conv2d_default_call_is_one_conv2d_node() -> None:
    x, w = Tensor(np.ones((1, 2, 5, 5))), Tensor(np.ones((3, 2, 3, 3)), requires_grad=True)
    out = tc.conv2d(x, w, stride=1, padding=(1, 1), dilation=1, groups=1)
    assert type(out._ctx) is Conv2d and out._ctx.inputs[0] is x and out._ctx.inputs[1] is w


@pytest.mark.parametrize(
    ("kwargs", "error", "words"),
    [
        ({"groups": 3}, ValueError, ["4 channels", "groups=3"]),
        ({"groups": 0}, ValueError, ["groups must be a positive int"]),
        ({"padding": "full"}, ValueError, ["'same' or 'valid'", "'full'"]),
        ({"padding": "same", "stride": 2}, ValueError, ["not supported for strided"]),
        ({"dilation": 0}, ValueError, ["dilation must be positive"]),
        ({"dilation": 4}, ValueError, ["larger than the padded input"]),
    ],
)
def test_conv2d_option_errors(kwargs, error, words) -> None:
    x, w = Tensor(np.ones((1, 4, 6, 6))), Tensor(np.ones((4, 4, 3, 3)))
    with pytest.raises(error) as info:
        tc.conv2d(x, w, **kwargs)
    assert all(word in str(info.value) for word in words), str(info.value)


def test_grouped_conv2d_checks_out_channels() -> None:
    x, w = Tensor(np.ones((1, 4, 6, 6))), Tensor(np.ones((3, 2, 3, 3)))
    with pytest.raises(ValueError, match="divisible by groups=2"):
        tc.conv2d(x, w, groups=2)


# ---------------------------------------------------------------------- pools
POOL_CASES = [
    {"kernel_size": 3, "stride": 2, "padding": 1},
    {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True},
    {"kernel_size": 2, "ceil_mode": True},
    {"kernel_size": (3, 2), "stride": (2, 3), "padding": (1, 1), "ceil_mode": True},
    {"kernel_size": (2, 4), "stride": 3, "padding": (0, 2), "ceil_mode": True},
    {"kernel_size": 3, "stride": 1, "padding": 1},
]
SHAPES = [(2, 3, 7, 8), (1, 2, 5, 5), (2, 1, 6, 9)]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("kwargs", POOL_CASES)
def test_max_pool2d_options_match_torch(shape, kwargs) -> None:
    x = np.random.default_rng(sum(shape)).standard_normal(shape)
    _matches_torch(lambda t: F.max_pool2d(t, **kwargs), lambda t: TF.max_pool2d(t, **kwargs), [x])


@pytest.mark.parametrize("count_include_pad", [True, False])
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("kwargs", POOL_CASES)
def test_avg_pool2d_options_match_torch(shape, kwargs, count_include_pad) -> None:
    x = np.random.default_rng(sum(shape)).standard_normal(shape)
    kw = {**kwargs, "count_include_pad": count_include_pad}
    _matches_torch(lambda t: F.avg_pool2d(t, **kw), lambda t: TF.avg_pool2d(t, **kw), [x])


@pytest.mark.parametrize("kwargs", [POOL_CASES[1], POOL_CASES[3], {"kernel_size": 2}])
def test_avg_pool2d_divisor_override_matches_torch(kwargs) -> None:
    x = np.random.default_rng(3).standard_normal((2, 2, 7, 6))
    kw = {**kwargs, "divisor_override": 3}
    _matches_torch(lambda t: F.avg_pool2d(t, **kw), lambda t: TF.avg_pool2d(t, **kw), [x])


DILATED = [
    {"kernel_size": 2, "dilation": 2, "stride": 1},
    {"kernel_size": 3, "dilation": 2, "stride": 2},
    {"kernel_size": 3, "dilation": (2, 1), "stride": 2, "padding": 1, "ceil_mode": True},
    {"kernel_size": (2, 3), "dilation": (3, 2), "stride": (1, 2), "padding": (1, 1)},
]


@pytest.mark.parametrize("kwargs", DILATED)
def test_dilated_max_pool2d_matches_torch(kwargs) -> None:
    x = np.random.default_rng(5).standard_normal((2, 3, 9, 10))
    _matches_torch(lambda t: F.max_pool2d(t, **kwargs), lambda t: TF.max_pool2d(t, **kwargs), [x])


@pytest.mark.parametrize(
    "kwargs", [{"kernel_size": 2}, {"kernel_size": 3, "stride": 2}, *POOL_CASES, *DILATED]
)
@pytest.mark.parametrize("ties", [False, True])
def test_return_indices_equal_torch(kwargs, ties) -> None:
    rng = np.random.default_rng(11)
    x = rng.integers(0, 3, (2, 3, 9, 10)) if ties else rng.standard_normal((2, 3, 9, 10))
    x = x.astype(np.float64)
    out, indices = F.max_pool2d(Tensor(x), return_indices=True, **kwargs)
    expected, expected_indices = TF.max_pool2d(torch.tensor(x), return_indices=True, **kwargs)
    assert indices.dtype == np.int64 and not indices.requires_grad
    np.testing.assert_array_equal(indices.data, expected_indices.numpy())
    np.testing.assert_array_equal(out.data, expected.numpy())
    # The indices pick each output out of its input plane.
    flat = x.reshape(2, 3, -1)
    picked = np.take_along_axis(flat, indices.data.reshape(2, 3, -1), axis=2)
    np.testing.assert_array_equal(picked.reshape(out.shape), out.data)


def test_return_indices_of_nan_and_all_minus_inf_windows_equal_torch() -> None:
    x = np.random.default_rng(2).standard_normal((1, 1, 6, 6))
    x[0, 0, 0, 1] = x[0, 0, 1, 0] = np.nan  # two NaN in the first window: torch takes the last
    x[0, 0, 4:, 4:] = -np.inf  # a window of -inf reaching into the padding: its first input cell
    for kwargs in ({"kernel_size": 2}, {"kernel_size": 3, "stride": 2, "padding": 1}):
        _, indices = F.max_pool2d(Tensor(x), return_indices=True, **kwargs)
        _, expected = TF.max_pool2d(torch.tensor(x), return_indices=True, **kwargs)
        np.testing.assert_array_equal(indices.data, expected.numpy())


@pytest.mark.parametrize(
    ("pool", "torch_pool", "kwargs"),
    [
        (F.max_pool2d, TF.max_pool2d, POOL_CASES[1]),
        (F.max_pool2d, TF.max_pool2d, DILATED[2]),
        (F.avg_pool2d, TF.avg_pool2d, {**POOL_CASES[3], "count_include_pad": False}),
        (F.avg_pool2d, TF.avg_pool2d, {**POOL_CASES[1], "count_include_pad": True}),
    ],
)
def test_pool_options_second_order_match_torch(pool, torch_pool, kwargs) -> None:
    x = np.random.default_rng(9).standard_normal((2, 2, 7, 8))
    _matches_torch(
        lambda t: pool(t * t, **kwargs) ** 2,
        lambda t: torch_pool(t * t, **kwargs) ** 2,
        [x],
        second_order=True,
    )


def test_max_pool2d_default_call_is_one_max_pool2d_node() -> None:
    x = Tensor(np.random.default_rng(0).standard_normal((1, 1, 4, 4)), requires_grad=True)
    out = tc.max_pool2d(x, 2)
    assert type(out._ctx) is MaxPool2d and out._ctx.inputs[0] is x


@pytest.mark.parametrize(
    ("call", "words"),
    [
        (lambda x: F.max_pool2d(x, 2, padding=2), ["at most half of kernel size"]),
        (lambda x: F.avg_pool2d(x, 3, padding=(1, 2)), ["at most half of kernel size"]),
        (lambda x: F.max_pool2d(x, 2, ceil_mode=1), ["ceil_mode must be a bool"]),
        (lambda x: F.max_pool2d(x, 2, dilation=0), ["dilation must be positive"]),
        (lambda x: F.max_pool2d(x, 3, dilation=3), ["too small"]),
        (lambda x: F.avg_pool2d(x, 2, divisor_override=0), ["divisor_override"]),
        (lambda x: F.avg_pool2d(x, 2, count_include_pad=None), ["count_include_pad"]),
    ],
)
def test_pool_option_errors(call, words) -> None:
    with pytest.raises((ValueError, TypeError)) as info:
        call(Tensor(np.ones((1, 1, 5, 5))))
    assert all(word in str(info.value) for word in words), str(info.value)


# ---------------------------------------------------------------------- modules
@pytest.mark.parametrize(
    "kwargs",
    [
        {"groups": 2, "padding": 1},
        {"groups": 4, "padding": "same", "kernel_size": 4},
        {"dilation": 2, "stride": 2},
        {"padding": "valid"},
        {"padding": "same", "padding_mode": "reflect", "kernel_size": 4},
        {"padding": 1, "padding_mode": "circular", "groups": 2},
        {"padding": (2, 1), "padding_mode": "replicate", "dilation": 2},
    ],
)
def test_conv2d_module_matches_torch(kwargs) -> None:
    kw = {"kernel_size": 3, **kwargs}
    layer = nn.Conv2d(4, 8, dtype=np.float64, seed=0, **kw)
    reference = torch.nn.Conv2d(4, 8, dtype=torch.float64, **kw)
    theirs = {k: tuple(v.shape) for k, v in reference.state_dict().items()}
    assert {k: tuple(v.shape) for k, v in layer.state_dict().items()} == theirs
    with torch.no_grad():
        reference.weight.copy_(torch.tensor(layer.weight.data))
        reference.bias.copy_(torch.tensor(layer.bias.data))
    x = np.random.default_rng(1).standard_normal((2, 4, 9, 8))
    xt = Tensor(x, requires_grad=True)
    out, expected = layer(xt), reference(torch.tensor(x))
    np.testing.assert_allclose(out.data, expected.detach().numpy(), rtol=1e-10, atol=1e-12)
    out.sum().backward()
    expected.sum().backward()
    np.testing.assert_allclose(layer.weight.grad.data, reference.weight.grad.numpy(), atol=1e-10)


def test_depthwise_conv2d_module_weight_shape_and_init_bounds() -> None:
    layer = nn.Conv2d(6, 12, 3, groups=6, seed=0)
    assert layer.weight.shape == (12, 1, 3, 3)
    bound = 1 / np.sqrt(9)  # fan_in = in_channels / groups * kh * kw, as torch
    assert np.abs(layer.bias.data).max() <= bound
    assert "groups=6" in repr(layer)
    assert "padding=same" in repr(nn.Conv2d(2, 2, 3, padding="same"))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"in_channels": 4, "out_channels": 6, "kernel_size": 3, "groups": 4},
        {"in_channels": 4, "out_channels": 4, "kernel_size": 3, "padding": "same", "stride": 2},
        {"in_channels": 4, "out_channels": 4, "kernel_size": 3, "padding": "full"},
        {"in_channels": 4, "out_channels": 4, "kernel_size": 3, "padding_mode": "mirror"},
    ],
)
def test_conv2d_module_errors_as_torch(kwargs) -> None:
    with pytest.raises(ValueError):
        torch.nn.Conv2d(**kwargs)
    with pytest.raises(ValueError):
        nn.Conv2d(**kwargs)


def test_pool_modules_match_torch() -> None:
    x = np.random.default_rng(4).standard_normal((2, 3, 9, 8))
    pairs = [
        (nn.MaxPool2d(3, 2, 1, ceil_mode=True), torch.nn.MaxPool2d(3, 2, 1, ceil_mode=True)),
        (nn.MaxPool2d(3, 2, 1, dilation=2), torch.nn.MaxPool2d(3, 2, 1, dilation=2)),
        (
            nn.AvgPool2d(3, 2, 1, ceil_mode=True, count_include_pad=False),
            torch.nn.AvgPool2d(3, 2, 1, ceil_mode=True, count_include_pad=False),
        ),
        (nn.AvgPool2d(2, divisor_override=2), torch.nn.AvgPool2d(2, divisor_override=2)),
    ]
    for ours, theirs in pairs:
        np.testing.assert_allclose(ours(Tensor(x)).data, theirs(torch.tensor(x)).numpy())
    out, indices = nn.MaxPool2d(2, return_indices=True)(Tensor(x))
    expected, expected_indices = torch.nn.MaxPool2d(2, return_indices=True)(torch.tensor(x))
    np.testing.assert_array_equal(indices.data, expected_indices.numpy())
    np.testing.assert_array_equal(out.data, expected.numpy())
    assert "ceil_mode=True" in repr(pairs[0][0]) and "dilation=(2, 2)" in repr(pairs[1][0])
