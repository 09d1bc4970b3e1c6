"""The functional ops and modules of issue 16 against PyTorch: outputs, first gradients (float32
and float64) and, for the ops composed of converted ops, second derivatives; dropout through
its mask; BatchNorm's running statistics in train and eval mode."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import tinygrad_cnn as tc
import tinygrad_cnn.nn.functional as F  # noqa: N812  (PyTorch's usual alias)
from tinygrad_cnn import Tensor, nn
from tinygrad_cnn.function import topological_order

torch = pytest.importorskip("torch")
TF = torch.nn.functional
RNG = np.random.default_rng(16)
TOL = {np.float64: 1e-10, np.float32: 2e-5}


def _ours(a: Any, grad: bool) -> Any:
    if isinstance(a, np.ndarray):
        return Tensor(a.copy(), requires_grad=grad and a.dtype.kind == "f")
    return a


def _theirs(a: Any, grad: bool) -> Any:
    if isinstance(a, np.ndarray):
        return torch.tensor(a.copy(), requires_grad=grad and a.dtype.kind == "f")
    return a


def compare(ours: Callable, theirs: Callable, arrays: list[Any], kwargs: dict, dtype: Any) -> None:
    """Output and the gradient of every floating input for a random upstream gradient."""
    arrays = [
        a.astype(dtype) if isinstance(a, np.ndarray) and a.dtype.kind == "f" else a for a in arrays
    ]
    kw_ours = {k: _ours(v, False) for k, v in kwargs.items()}
    kw_theirs = {k: _theirs(v, False) for k, v in kwargs.items()}
    xs, txs = [_ours(a, True) for a in arrays], [_theirs(a, True) for a in arrays]
    out, tout = ours(*xs, **kw_ours), theirs(*txs, **kw_theirs)
    assert out.dtype == np.dtype(dtype)
    tol = TOL[dtype]
    np.testing.assert_allclose(out.data, tout.detach().numpy(), rtol=tol, atol=tol)
    v = RNG.standard_normal(out.shape).astype(dtype)
    (out * Tensor(v)).sum().backward()
    (tout * torch.tensor(v)).sum().backward()
    for x, tx in zip(xs, txs, strict=True):
        if isinstance(x, Tensor) and x.requires_grad:
            np.testing.assert_allclose(x.grad.data, tx.grad.numpy(), rtol=tol, atol=tol)


def compare_second_order(ours: Callable, theirs: Callable, arrays: list[np.ndarray]) -> None:
    """d/dx <w, d<v, f(x)>/dx> in float64, as tests/test_higher_order.py."""
    xs = [Tensor(a.copy(), requires_grad=True) for a in arrays]
    txs = [torch.tensor(a.copy(), requires_grad=True) for a in arrays]
    out, tout = ours(*xs), theirs(*txs)
    v = RNG.standard_normal(out.shape)
    firsts = tc.grad(out, xs, grad_outputs=Tensor(v), create_graph=True)
    tfirsts = torch.autograd.grad(tout, txs, grad_outputs=torch.tensor(v), create_graph=True)
    ws = [RNG.standard_normal(x.shape) for x in xs]
    total = sum(((g * Tensor(w)).sum() for g, w in zip(firsts, ws, strict=True)), Tensor(0.0))
    ttotal = sum((g * torch.tensor(w)).sum() for g, w in zip(tfirsts, ws, strict=True))
    seconds = tc.grad(total, xs, allow_unused=True)
    tseconds = torch.autograd.grad(ttotal, txs, allow_unused=True)
    for ours_g, theirs_g in zip(seconds, tseconds, strict=True):
        got = 0.0 if ours_g is None else ours_g.data
        expected = 0.0 if theirs_g is None else theirs_g.numpy()
        np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-10)


DTYPES = [np.float64, np.float32]
X = RNG.standard_normal((3, 4, 5)) * 3
X[0, 0, :3] = [0.0, 21.0 / 2, 25.0]  # a kink, softplus's threshold (beta 2), beyond it
ACTIVATIONS = {
    "leaky_relu": (F.leaky_relu, TF.leaky_relu, {"negative_slope": 0.2}),
    "leaky_relu_default": (F.leaky_relu, TF.leaky_relu, {}),
    "elu": (F.elu, TF.elu, {"alpha": 0.7}),
    "gelu": (F.gelu, TF.gelu, {}),
    "gelu_tanh": (F.gelu, TF.gelu, {"approximate": "tanh"}),
    "silu": (F.silu, TF.silu, {}),
    "softplus": (F.softplus, TF.softplus, {"beta": 2.0, "threshold": 21.0}),
    "softplus_default": (F.softplus, TF.softplus, {}),
    "hardtanh": (F.hardtanh, TF.hardtanh, {"min_val": -2.0, "max_val": 1.0}),
    "tanh": (F.tanh, TF.tanh, {}),
    "sigmoid": (F.sigmoid, TF.sigmoid, {}),
    "relu": (F.relu, TF.relu, {}),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activations_match_torch(name: str, dtype: Any) -> None:
    ours, theirs, kwargs = ACTIVATIONS[name]
    x = X.copy()
    if name == "hardtanh":
        x[0, 1, :2] = [-2.0, 1.0]  # the ends: gradient 0 there, as torch
    compare(ours, theirs, [x], kwargs, dtype)


PIECEWISE_LINEAR = ("relu", "leaky_relu", "leaky_relu_default", "hardtanh")


@pytest.mark.parametrize("name", [n for n in sorted(ACTIVATIONS) if n not in PIECEWISE_LINEAR])
def test_activations_second_order_match_torch(name: str) -> None:
    ours, theirs, kwargs = ACTIVATIONS[name]
    x = RNG.standard_normal((3, 4, 5)) * 3  # no kink: there the second derivative is convention
    compare_second_order(lambda x: ours(x, **kwargs), lambda x: theirs(x, **kwargs), [x])


MODULES = [
    (nn.LeakyReLU(0.3), torch.nn.LeakyReLU(0.3)),
    (nn.ELU(), torch.nn.ELU()),
    (nn.GELU(approximate="tanh"), torch.nn.GELU(approximate="tanh")),
    (nn.GELU(), torch.nn.GELU()),
    (nn.SiLU(), torch.nn.SiLU()),
    (nn.Softplus(beta=0.5, threshold=5.0), torch.nn.Softplus(beta=0.5, threshold=5.0)),
    (nn.Hardtanh(-0.5, 2.0), torch.nn.Hardtanh(-0.5, 2.0)),
    (nn.AdaptiveAvgPool2d((2, 3)), torch.nn.AdaptiveAvgPool2d((2, 3))),
    (nn.AdaptiveAvgPool2d(1), torch.nn.AdaptiveAvgPool2d(1)),
]


@pytest.mark.parametrize("pair", MODULES, ids=lambda p: repr(p[0]))
def test_activation_and_pool_modules_match_torch(pair: tuple) -> None:
    ours, theirs = pair
    compare(ours, theirs, [RNG.standard_normal((2, 3, 5, 7))], {}, np.float64)


def test_erf_matches_torch_to_the_last_bits() -> None:
    x = np.concatenate([np.linspace(-6, 6, 1001), [0.0, -0.0, np.inf, -np.inf, 1e-300]])
    for dtype in DTYPES:
        got = tc.ops.erf(Tensor(x.astype(dtype))).data
        np.testing.assert_allclose(
            got,
            torch.erf(torch.tensor(x.astype(dtype))).numpy(),
            rtol=3e-16 if dtype == np.float64 else 1e-7,
            atol=0,
        )
    assert tc.ops.erf(Tensor(np.array([1, 2]))).dtype == np.float32  # as torch.erf(int)


# ----------------------------------------------------------------------------- dropout
def test_dropout_zeroes_and_scales_through_the_mask_from_the_default_generator() -> None:
    x = Tensor(RNG.standard_normal((50, 40)), requires_grad=True)
    tc.manual_seed(7)
    out = F.dropout(x, p=0.3)
    tc.manual_seed(7)
    keep = tc.random.default_generator().random(x.shape) >= 0.3
    np.testing.assert_array_equal(out.data, x.data * (keep / 0.7))
    assert 0.6 < keep.mean() < 0.8
    out.sum().backward()
    np.testing.assert_array_equal(x.grad.data, keep / 0.7)


def test_dropout_edge_probabilities_and_eval_mode_as_torch() -> None:
    x = Tensor(RNG.standard_normal((4, 5)), requires_grad=True)
    assert F.dropout(x, 0.0) is x
    assert F.dropout(x, 0.5, training=False) is x
    zeros = F.dropout(x, 1.0)
    np.testing.assert_array_equal(zeros.data, TF.dropout(torch.tensor(x.data), 1.0).numpy())
    zeros.sum().backward()
    np.testing.assert_array_equal(x.grad.data, 0.0)
    layer = nn.Dropout(0.25)
    assert layer.training and (layer(x).data == 0).any() | True
    layer.eval()
    assert layer(x) is x
    assert repr(layer) == repr(torch.nn.Dropout(0.25))
    for bad in (-0.1, 1.5, "0.5"):
        with pytest.raises(ValueError, match="probability"):
            F.dropout(x, bad)
        with pytest.raises(ValueError, match="probability"):
            nn.Dropout(bad)


def test_dropout_keeps_float32() -> None:
    x = Tensor(np.ones((3, 3), np.float32))
    assert F.dropout(x, 0.5).dtype == np.float32


# ----------------------------------------------------------------------------- batch norm
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("shape", [(6, 3), (4, 3, 5), (2, 3, 4, 5)])
def test_batch_norm_functional_matches_torch(shape: tuple, training: bool, dtype: Any) -> None:
    x = RNG.standard_normal(shape) * 2 + 1
    w, b = RNG.standard_normal(3), RNG.standard_normal(3)
    rm, rv = RNG.standard_normal(3).astype(dtype), RNG.uniform(0.5, 2, 3).astype(dtype)
    ours_stats = [Tensor(rm.copy()), Tensor(rv.copy())]
    theirs_stats = [torch.tensor(rm.copy()), torch.tensor(rv.copy())]
    compare(
        lambda x, w, b: F.batch_norm(x, *ours_stats, w, b, training, 0.2, 1e-3),
        lambda x, w, b: TF.batch_norm(x, *theirs_stats, w, b, training, 0.2, 1e-3),
        [x, w, b], {}, dtype,
    )  # fmt: skip
    for ours, theirs in zip(ours_stats, theirs_stats, strict=True):
        np.testing.assert_allclose(ours.data, theirs.numpy(), rtol=TOL[dtype], atol=TOL[dtype])


def test_batch_norm_without_running_stats_and_affine() -> None:
    x = RNG.standard_normal((5, 2, 3))
    compare(
        lambda x: F.batch_norm(x, None, None, training=True),
        lambda x: TF.batch_norm(x, None, None, training=True),
        [x],
        {},
        np.float64,
    )


def test_batch_norm_and_layer_norm_second_order_match_torch() -> None:
    x, w, b = RNG.standard_normal((4, 3, 2)), RNG.standard_normal(3), RNG.standard_normal(3)
    compare_second_order(
        lambda x, w, b: F.batch_norm(x, None, None, w, b, True),
        lambda x, w, b: TF.batch_norm(x, None, None, w, b, True),
        [x, w, b],
    )
    w2, b2 = RNG.standard_normal((3, 2)), RNG.standard_normal((3, 2))
    compare_second_order(
        lambda x, w, b: F.layer_norm(x, (3, 2), w, b),
        lambda x, w, b: TF.layer_norm(x, (3, 2), w, b),
        [x, w2, b2],
    )


@pytest.mark.parametrize("momentum", [0.1, 0.5, None])
@pytest.mark.parametrize("kind", ["1d", "1d_seq", "2d"])
def test_batch_norm_modules_track_running_stats_as_torch(kind: str, momentum: Any) -> None:
    ours_cls, theirs_cls, shape = {
        "1d": (nn.BatchNorm1d, torch.nn.BatchNorm1d, (8, 4)),
        "1d_seq": (nn.BatchNorm1d, torch.nn.BatchNorm1d, (3, 4, 5)),
        "2d": (nn.BatchNorm2d, torch.nn.BatchNorm2d, (3, 4, 2, 3)),
    }[kind]
    ours, theirs = (
        ours_cls(4, momentum=momentum, dtype=np.float64),
        theirs_cls(4, momentum=momentum, dtype=torch.float64),
    )
    for p, tp in zip(ours.parameters(), theirs.parameters(), strict=True):
        p.data[...] = RNG.standard_normal(p.shape)
        tp.data[...] = torch.tensor(p.data)
    for _ in range(3):
        compare(ours, theirs, [RNG.standard_normal(shape) * 3 + 2], {}, np.float64)
    for name in ("running_mean", "running_var", "num_batches_tracked"):
        np.testing.assert_allclose(
            getattr(ours, name).data, getattr(theirs, name).numpy(), rtol=1e-12
        )
    ours.eval()
    theirs.eval()
    compare(ours, theirs, [RNG.standard_normal(shape)], {}, np.float64)
    assert int(ours.num_batches_tracked.data) == 3  # eval does not count
    assert repr(ours).startswith("BatchNorm")


def test_batch_norm_options_and_names_match_torch() -> None:
    for kwargs in ({}, {"affine": False}, {"track_running_stats": False}):
        ours, theirs = nn.BatchNorm2d(3, **kwargs), torch.nn.BatchNorm2d(3, **kwargs)
        names = {n: tuple(p.shape) for n, p in ours.named_parameters()}
        assert names == {n: tuple(p.shape) for n, p in theirs.named_parameters()}
        buffers = {n: tuple(b.shape) for n, b in theirs.named_buffers()}
        assert {n: tuple(getattr(ours, n).shape) for n in buffers} == buffers
        assert all(p.dtype == np.float32 for p in ours.parameters())
        for mode in (True, False):
            ours.train(mode)
            theirs.train(mode)
            compare(ours, theirs, [RNG.standard_normal((4, 3, 2, 2))], {}, np.float32)
    layer = nn.BatchNorm2d(2)
    layer(Tensor(RNG.standard_normal((2, 2, 3, 3)).astype(np.float32)))
    layer.reset_running_stats()
    assert layer.running_mean.data.tolist() == [0, 0] and int(layer.num_batches_tracked.data) == 0
    assert not any(p is layer.running_mean for p in layer.parameters())


def test_batch_norm_errors() -> None:
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        nn.BatchNorm1d(3)(Tensor(np.ones((1, 3), np.float32)))
    with pytest.raises(ValueError, match="4 channels on axis 1"):
        nn.BatchNorm2d(4)(Tensor(np.ones((2, 3, 2, 2), np.float32)))
    with pytest.raises(ValueError, match="2 or 3 dimensions"):
        nn.BatchNorm1d(3)(Tensor(np.ones((2, 3, 2, 2), np.float32)))
    with pytest.raises(ValueError, match=r"shape \(3,\)"):
        F.batch_norm(Tensor(np.ones((2, 3))), Tensor(np.zeros(2)), Tensor(np.ones(2)))
    with pytest.raises(ValueError, match="positive int"):
        nn.BatchNorm2d(0)
    with pytest.raises(ValueError, match="must be given in evaluation mode"):
        F.batch_norm(Tensor(np.ones((2, 3))), None, None, training=False)


# ----------------------------------------------------------------------------- layer norm
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("normalized", [5, (4, 5), [3, 4, 5]])
def test_layer_norm_matches_torch(normalized: Any, dtype: Any) -> None:
    x = RNG.standard_normal((2, 3, 4, 5))
    shape = (normalized,) if isinstance(normalized, int) else tuple(normalized)
    w, b = RNG.standard_normal(shape), RNG.standard_normal(shape)
    compare(
        lambda x, w, b: F.layer_norm(x, normalized, w, b, 1e-4),
        lambda x, w, b: TF.layer_norm(x, shape, w, b, 1e-4),
        [x, w, b],
        {},
        dtype,
    )
    ours, theirs = nn.LayerNorm(normalized), torch.nn.LayerNorm(normalized)
    assert {n: tuple(p.shape) for n, p in ours.named_parameters()} == {
        n: tuple(p.shape) for n, p in theirs.named_parameters()
    }
    compare(ours, theirs, [x], {}, np.float32)
    bare, tbare = (
        nn.LayerNorm(5, elementwise_affine=False),
        torch.nn.LayerNorm(5, elementwise_affine=False),
    )
    assert not list(bare.parameters())
    compare(bare, tbare, [x], {}, dtype)
    with pytest.raises(ValueError, match="does not end with"):
        F.layer_norm(Tensor(x), (4,))


# ----------------------------------------------------------------------------- pad
PADS = [
    ("constant", (1, 2), (2, 3, 4)),
    ("constant", (1, 2, -1, 3), (2, 3, 5, 4)),
    ("constant", (0, 1, 2, 0, 1, 1), (2, 3, 4)),
    ("reflect", (1, 3), (2, 5)),
    ("reflect", (3, 2, 1, 4), (2, 3, 5, 6)),
    ("reflect", (1, 1, 2, 2, 1, 0), (1, 2, 3, 4, 5)),
    ("replicate", (2, 5), (3, 2, 4)),
    ("replicate", (2, 3, 1, 5), (2, 3, 5, 4)),
    ("circular", (4, 3, 2, 1), (2, 3, 5, 4)),
    ("circular", (1, 2, 0, 1, 2, 2), (2, 3, 4, 5)),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("mode", "pad", "shape"), PADS)
def test_pad_matches_torch(mode: str, pad: tuple, shape: tuple, dtype: Any) -> None:
    compare(
        lambda x: F.pad(x, pad, mode),
        lambda x: TF.pad(x, pad, mode),
        [RNG.standard_normal(shape)],
        {},
        dtype,
    )


def test_pad_constant_value_and_errors() -> None:
    x = RNG.standard_normal((2, 3))
    compare(
        lambda x: F.pad(x, (1, 1), value=2.5),
        lambda x: TF.pad(x, (1, 1), value=2.5),
        [x],
        {},
        np.float64,
    )
    t = Tensor(x)
    with pytest.raises(ValueError, match="mode must be one of"):
        F.pad(t, (1, 1), "mirror")
    with pytest.raises(ValueError, match="even length"):
        F.pad(t, (1, 1, 1))
    with pytest.raises(ValueError, match="smaller than the axis size 3"):
        F.pad(t, (3, 0), "reflect")
    with pytest.raises(ValueError, match="1 or 2 more"):
        F.pad(t, (1, 1, 1, 1), "replicate")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("size", [(2, 2), 3, (None, 3), (4, 1), (5, 7), (1, 1)])
def test_adaptive_avg_pool2d_matches_torch(size: Any, dtype: Any) -> None:
    for shape in ((2, 3, 5, 7), (3, 6, 7)):
        compare(
            lambda x: F.adaptive_avg_pool2d(x, size),
            lambda x: TF.adaptive_avg_pool2d(x, size),
            [RNG.standard_normal(shape)],
            {},
            dtype,
        )


# ----------------------------------------------------------------------------- losses
REDUCTIONS = ["none", "mean", "sum"]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_regression_losses_match_torch(reduction: str, dtype: Any) -> None:
    a, b = RNG.standard_normal((4, 3)), RNG.standard_normal((4, 3))
    kw = {"reduction": reduction}
    compare(F.mse_loss, TF.mse_loss, [a, b], kw, dtype)
    compare(F.l1_loss, TF.l1_loss, [a, b], kw, dtype)
    for beta in (1.0, 0.5, 0.0):
        compare(F.smooth_l1_loss, TF.smooth_l1_loss, [a, b], {**kw, "beta": beta}, dtype)
    compare(nn.MSELoss(reduction), torch.nn.MSELoss(reduction=reduction), [a, b], {}, dtype)
    compare(nn.L1Loss(reduction), torch.nn.L1Loss(reduction=reduction), [a, b], {}, dtype)
    compare(
        nn.SmoothL1Loss(reduction, 0.3),
        torch.nn.SmoothL1Loss(reduction=reduction, beta=0.3),
        [a, b],
        {},
        dtype,
    )


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_with_logits_matches_torch(reduction: str, dtype: Any) -> None:
    x = RNG.standard_normal((5, 3)) * 20  # large logits: no overflow
    y = RNG.uniform(0, 1, (5, 3))
    compare(
        F.binary_cross_entropy_with_logits,
        TF.binary_cross_entropy_with_logits,
        [x, y],
        {"reduction": reduction},
        dtype,
    )
    opts = {
        "weight": RNG.uniform(0.5, 2, (5, 1)).astype(dtype),
        "pos_weight": RNG.uniform(0.5, 3, 3).astype(dtype),
    }
    compare(
        F.binary_cross_entropy_with_logits,
        TF.binary_cross_entropy_with_logits,
        [x, y],
        {**opts, "reduction": reduction},
        dtype,
    )
    w, pw = Tensor(opts["weight"]), Tensor(opts["pos_weight"])
    tw, tpw = torch.tensor(opts["weight"]), torch.tensor(opts["pos_weight"])
    compare(
        nn.BCEWithLogitsLoss(w, reduction, pw),
        torch.nn.BCEWithLogitsLoss(tw, reduction=reduction, pos_weight=tpw),
        [x, y],
        {},
        dtype,
    )


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_nll_loss_matches_torch(reduction: str, dtype: Any) -> None:
    x = RNG.standard_normal((6, 4))
    t = np.array([0, 3, -100, 1, 2, 3])
    w = RNG.uniform(0.5, 2, 4).astype(dtype)
    compare(F.nll_loss, TF.nll_loss, [x, t], {"reduction": reduction}, dtype)
    compare(F.nll_loss, TF.nll_loss, [x, t], {"reduction": reduction, "weight": w}, dtype)
    x4, t4 = RNG.standard_normal((2, 4, 3, 2)), RNG.integers(0, 4, (2, 3, 2))
    compare(F.nll_loss, TF.nll_loss, [x4, t4], {"reduction": reduction, "ignore_index": 1}, dtype)
    compare(
        nn.NLLLoss(Tensor(w), 2, reduction),
        torch.nn.NLLLoss(torch.tensor(w), ignore_index=2, reduction=reduction),
        [x, np.where(t < 0, 2, t)],
        {},
        dtype,
    )
    compare(F.nll_loss, TF.nll_loss, [x[0], np.array(2)], {"reduction": reduction}, dtype)


CE_CASES = {
    "weight": ((5, 4), "index", {"weight": True}),
    "ignore_index": ((5, 4), "index", {"ignore_index": 2}),
    "smoothing": ((5, 4), "index", {"label_smoothing": 0.2}),
    "all_nd": ((2, 4, 3, 2), "index", {"weight": True, "ignore_index": 0, "label_smoothing": 0.3}),
    "probabilities": ((5, 4), "prob", {}),
    "probabilities_nd_all": ((2, 4, 3), "prob", {"weight": True, "label_smoothing": 0.1}),
    "unbatched": ((4,), "index", {"label_smoothing": 0.1}),
    "plain": ((5, 4), "index", {}),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("case", sorted(CE_CASES))
def test_cross_entropy_options_match_torch(case: str, reduction: str, dtype: Any) -> None:
    shape, kind, options = CE_CASES[case]
    x = RNG.standard_normal(shape) * 2
    classes = shape[0] if len(shape) == 1 else shape[1]
    target_shape = shape[:1] + shape[2:] if len(shape) > 1 else ()
    if kind == "index":
        target = RNG.integers(0, classes, target_shape)
    else:
        target = np.moveaxis(
            RNG.dirichlet(np.ones(classes), target_shape), -1, 1 if len(shape) > 1 else 0
        ).copy()
    kwargs = {**options, "reduction": reduction}
    if options.get("weight"):
        kwargs["weight"] = RNG.uniform(0.5, 2, classes).astype(dtype)
    compare(F.cross_entropy, TF.cross_entropy, [x, target], kwargs, dtype)


def test_cross_entropy_takes_the_fused_op_only_for_the_plain_call() -> None:
    x = Tensor(RNG.standard_normal((4, 3)), requires_grad=True)
    labels = Tensor(np.array([0, 2, 1, 1]))
    names = {t._ctx.name for t in topological_order(F.cross_entropy(x, labels)) if t._ctx}
    assert names == {"cross_entropy"}
    smoothed = F.cross_entropy(x, labels, label_smoothing=0.1)
    names = {t._ctx.name for t in topological_order(smoothed) if t._ctx}
    assert "cross_entropy" not in names and "log_softmax" in names
    ignored = Tensor(np.array([0, -100, 1, 1]))
    compare(F.cross_entropy, TF.cross_entropy, [x.data, ignored.data], {}, np.float64)


def test_loss_second_order_matches_torch() -> None:
    a, b = RNG.standard_normal((4, 3)), RNG.standard_normal((4, 3))
    compare_second_order(F.mse_loss, TF.mse_loss, [a, b])
    compare_second_order(
        lambda a, b: F.smooth_l1_loss(a, b, beta=2.0),
        lambda a, b: TF.smooth_l1_loss(a, b, beta=2.0),
        [a, b],
    )
    y = RNG.uniform(0, 1, (4, 3))
    compare_second_order(
        lambda x: F.binary_cross_entropy_with_logits(x, Tensor(y)),
        lambda x: TF.binary_cross_entropy_with_logits(x, torch.tensor(y)),
        [a],
    )


def test_loss_errors() -> None:
    a = Tensor(np.ones((2, 3)))
    with pytest.raises(ValueError, match="reduction must be one of"):
        F.mse_loss(a, a, reduction="avg")
    with pytest.raises(ValueError, match="same shape"):
        F.l1_loss(a, Tensor(np.ones(3)))
    with pytest.raises(ValueError, match="out of bounds for 3 classes"):
        F.nll_loss(a, Tensor(np.array([0, 3])))
    with pytest.raises(TypeError, match="integer class targets"):
        F.nll_loss(a, Tensor(np.array([0.0, 1.0])))
    with pytest.raises(ValueError, match="label_smoothing"):
        F.cross_entropy(a, Tensor(np.array([0, 1])), label_smoothing=1.5)
    with pytest.raises(ValueError, match="reduction must be one of"):
        nn.NLLLoss(reduction="avg")


def test_functional_module_exposes_pytorch_names() -> None:
    names = """relu conv2d max_pool2d avg_pool2d linear softmax log_softmax cross_entropy dropout
    batch_norm layer_norm pad gelu elu silu softplus hardtanh leaky_relu tanh sigmoid nll_loss
    mse_loss l1_loss smooth_l1_loss binary_cross_entropy_with_logits adaptive_avg_pool2d"""
    for name in names.split():
        assert callable(getattr(F, name)) and callable(getattr(TF, name)), name
    assert nn.functional is F
    x, w, b = RNG.standard_normal((2, 5)), RNG.standard_normal((3, 5)), RNG.standard_normal(3)
    compare(F.linear, TF.linear, [x, w, b], {}, np.float64)
