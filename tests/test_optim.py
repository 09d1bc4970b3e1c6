"""Tests of tinygrad_cnn.optim: updates against PyTorch's optimizers, in-place updates, checks."""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest

from tinygrad_cnn import Tensor, nn, optim

SHAPES = [(3, 4), (5,), (2, 1, 3, 3)]
STEPS = 6


def _params(dtype=np.float64, seed: int = 0) -> list[nn.Parameter]:
    rng = np.random.default_rng(seed)
    return [nn.Parameter(rng.standard_normal(shape).astype(dtype)) for shape in SHAPES]


def _gradients(dtype, seed: int = 1) -> list[list[np.ndarray | None]]:
    """Per step, one gradient per parameter; the last parameter has none on step 2."""
    rng = np.random.default_rng(seed)
    steps = [[rng.standard_normal(shape).astype(dtype) for shape in SHAPES] for _ in range(STEPS)]
    steps[2][-1] = None
    return steps


def _as_grad(g: np.ndarray | None) -> Tensor | None:
    """A gradient to assign to ``.grad``: a Tensor of a copy of ``g`` (None stays None)."""
    return None if g is None else Tensor(g.copy())


def _run_both(ours_cls, theirs_name, kwargs, dtype=np.float64):
    """Apply the same gradients with our optimizer and PyTorch's; after each step yield
    both parameter lists (PyTorch's as arrays) and both optimizers."""
    torch = pytest.importorskip("torch")
    ours = _params(dtype)
    theirs = [torch.tensor(p.data.copy(), requires_grad=True) for p in ours]
    our_opt = ours_cls(ours, **kwargs)
    their_opt = getattr(torch.optim, theirs_name)(theirs, **kwargs)
    for grads in _gradients(dtype):
        for p, t, g in zip(ours, theirs, grads, strict=True):
            p.grad = _as_grad(g)
            t.grad = None if g is None else torch.from_numpy(g.copy())
        our_opt.step()
        their_opt.step()
        yield ours, [t.detach().numpy() for t in theirs], (our_opt, their_opt)


SGD_CONFIGS = [
    {"lr": 0.1},
    {"lr": 0.1, "momentum": 0.9},
    {"lr": 0.05, "momentum": 0.9, "dampening": 0.3},
    {"lr": 0.05, "momentum": 0.8, "nesterov": True},
    {"lr": 0.1, "weight_decay": 0.01},
    {"lr": 0.05, "momentum": 0.9, "weight_decay": 0.1, "nesterov": True},
    {"lr": 0.05, "momentum": 0.5, "dampening": 0.5, "weight_decay": 0.2},
    {"lr": 0.0, "momentum": 0.9},
]

ADAM_CONFIGS = [
    {},
    {"lr": 0.01, "betas": (0.8, 0.99), "eps": 1e-6},
    {"lr": 0.01, "weight_decay": 0.1},
    {"lr": 0.01, "amsgrad": True},
    {"lr": 0.01, "betas": (0.0, 0.5), "weight_decay": 0.05, "amsgrad": True},
]


RMSPROP_CONFIGS = [
    {"lr": 0.01},
    {"lr": 0.01, "alpha": 0.9, "eps": 1e-6},
    {"lr": 0.01, "momentum": 0.9},
    {"lr": 0.01, "centered": True},
    {"lr": 0.01, "momentum": 0.5, "centered": True, "weight_decay": 0.1},
    {"lr": 0.02, "alpha": 0.5, "weight_decay": 0.05},
]


@pytest.mark.parametrize("kwargs", SGD_CONFIGS)
def test_sgd_matches_torch(kwargs) -> None:
    for ours, theirs, _ in _run_both(optim.SGD, "SGD", kwargs):
        for p, t in zip(ours, theirs, strict=True):
            np.testing.assert_allclose(p.data, t, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kwargs", ADAM_CONFIGS)
@pytest.mark.parametrize(
    ("ours_cls", "theirs_name"), [(optim.Adam, "Adam"), (optim.AdamW, "AdamW")]
)
def test_adam_and_adamw_match_torch(ours_cls, theirs_name, kwargs) -> None:
    for ours, theirs, _ in _run_both(ours_cls, theirs_name, kwargs):
        for p, t in zip(ours, theirs, strict=True):
            np.testing.assert_allclose(p.data, t, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("kwargs", RMSPROP_CONFIGS)
def test_rmsprop_matches_torch_parameters_and_state(kwargs) -> None:
    for ours, theirs, (our_opt, their_opt) in _run_both(optim.RMSprop, "RMSprop", kwargs):
        for p, t, t_param in zip(ours, theirs, their_opt.param_groups[0]["params"], strict=True):
            np.testing.assert_allclose(p.data, t, rtol=1e-10, atol=1e-12)
            mine, other = our_opt.state[p], their_opt.state[t_param]  # buffers, step counts
            assert set(mine) == set(other)
            for name, value in other.items():
                np.testing.assert_allclose(mine[name], value.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(
    ("ours_cls", "theirs_name", "kwargs"),
    [
        (optim.SGD, "SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 0.1}),
        (optim.Adam, "Adam", {"lr": 0.01, "weight_decay": 0.1}),
        (optim.AdamW, "AdamW", {"lr": 0.01}),
        (optim.RMSprop, "RMSprop", {"lr": 0.01, "momentum": 0.9, "centered": True}),
    ],
)
def test_float32_updates_stay_float32_in_place_and_match_torch(
    ours_cls, theirs_name, kwargs
) -> None:
    arrays = None
    for ours, theirs, _ in _run_both(ours_cls, theirs_name, kwargs, dtype=np.float32):
        if arrays is None:
            arrays = [p.data for p in ours]
        assert all(p.data is a for p, a in zip(ours, arrays, strict=True)), "must update in place"
        for p, t in zip(ours, theirs, strict=True):
            assert p.dtype == np.float32
            np.testing.assert_allclose(p.data, t, rtol=1e-5, atol=1e-6)


def test_parameter_groups_use_their_own_hyperparameters_like_torch() -> None:
    torch = pytest.importorskip("torch")
    ours = _params()
    theirs = [torch.tensor(p.data.copy(), requires_grad=True) for p in ours]
    our_opt = optim.SGD(
        [{"params": ours[:2]}, {"params": ours[2:], "lr": 0.5}], lr=0.1, momentum=0.9
    )
    their_opt = torch.optim.SGD(
        [{"params": theirs[:2]}, {"params": theirs[2:], "lr": 0.5}], lr=0.1, momentum=0.9
    )
    for step, grads in enumerate(_gradients(np.float64)):
        if step == 3:  # a schedule changing the learning rate between steps
            our_opt.param_groups[0]["lr"] = 0.01
            their_opt.param_groups[0]["lr"] = 0.01
        for p, t, g in zip(ours, theirs, grads, strict=True):
            p.grad = _as_grad(g)
            t.grad = None if g is None else torch.from_numpy(g.copy())
        our_opt.step()
        their_opt.step()
    for p, t in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(p.data, t.detach().numpy(), rtol=1e-12)


def test_step_skips_parameters_without_gradients() -> None:
    params = _params()
    before = [p.data.copy() for p in params]
    opt = optim.Adam(params, lr=0.1)
    params[0].grad = Tensor(np.ones(SHAPES[0]))
    opt.step()
    assert not np.array_equal(params[0].data, before[0])
    for p, b in zip(params[1:], before[1:], strict=True):
        np.testing.assert_array_equal(p.data, b)
    assert params[0] in opt.state and params[1] not in opt.state


def test_zero_grad_sets_none_or_zeros() -> None:
    params = _params()
    opt = optim.SGD(params, lr=0.1)
    for p in params:
        p.grad = Tensor(np.ones(p.shape))
    grad = params[0].grad
    opt.zero_grad(set_to_none=False)
    assert params[0].grad is grad and not grad.data.any()
    opt.zero_grad()
    assert all(p.grad is None for p in params)


def test_training_a_linear_model_with_backward() -> None:
    rng = np.random.default_rng(0)
    x = Tensor(rng.standard_normal((64, 3)).astype(np.float32))
    y = Tensor(x.data @ np.array([[1.0], [-2.0], [0.5]], np.float32) + 0.3)
    model = nn.Linear(3, 1, seed=0)
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    for _ in range(300):
        loss = ((model(x) - y) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    np.testing.assert_allclose(model.weight.data, [[1.0, -2.0, 0.5]], atol=1e-3)
    np.testing.assert_allclose(model.bias.data, [0.3], atol=1e-3)


@pytest.mark.parametrize(
    ("make", "error", "match"),
    [
        (lambda p: optim.SGD(p, lr=-0.1), ValueError, r"SGD: lr must be in >= 0"),
        (lambda p: optim.SGD(p, lr=float("nan")), ValueError, "SGD: lr"),
        (lambda p: optim.SGD(p, lr="0.1"), TypeError, "SGD: lr must be a number"),
        (lambda p: optim.SGD(p, lr=0.1, momentum=-1), ValueError, "momentum"),
        (lambda p: optim.SGD(p, lr=0.1, weight_decay=-1), ValueError, "weight_decay"),
        (lambda p: optim.SGD(p, lr=0.1, nesterov=True), ValueError, "nesterov momentum requires"),
        (
            lambda p: optim.SGD(p, lr=0.1, momentum=0.9, dampening=0.1, nesterov=True),
            ValueError,
            "dampening = 0",
        ),
        (
            lambda p: optim.Adam(p, betas=(0.9, 1.0)),
            ValueError,
            r"betas\[1\] must be in \[0.0, 1.0\)",
        ),
        (lambda p: optim.Adam(p, betas=(-0.1, 0.9)), ValueError, r"betas\[0\]"),
        (lambda p: optim.Adam(p, betas=0.9), TypeError, "betas must be a pair"),
        (lambda p: optim.AdamW(p, eps=-1e-8), ValueError, "AdamW: eps"),
        (lambda p: optim.Adam(p, amsgrad=1), TypeError, "amsgrad must be a bool"),
        (lambda p: optim.SGD([], lr=0.1), ValueError, "empty parameter list"),
        (lambda p: optim.SGD(p[0], lr=0.1), TypeError, "single Tensor"),
        (lambda p: optim.SGD([np.zeros(3)], lr=0.1), TypeError, "can only optimise Tensors"),
        (lambda p: optim.SGD([p[0] * 2], lr=0.1), ValueError, "leaf tensors"),
        (lambda p: optim.SGD([p[0], p[0]], lr=0.1), ValueError, "more than once"),
        (
            lambda p: optim.SGD([{"params": p, "momentun": 0.9}], lr=0.1),
            ValueError,
            "unknown hyperparameters",
        ),
    ],
)
def test_hyperparameters_and_params_are_validated(make, error, match) -> None:
    with pytest.raises(error, match=match):
        make(_params())


def test_step_rejects_gradients_of_the_wrong_shape() -> None:
    params = _params()
    opt = optim.SGD(params, lr=0.1)
    with pytest.raises(ValueError, match=r"assigned grad has data of a different size"):
        params[0].grad = Tensor(np.ones(7))
    params[0].grad = Tensor(np.ones(SHAPES[0]))
    params[0].grad.data = np.ones(7)  # behind the setter's back
    with pytest.raises(ValueError, match=r"gradient of shape \(7,\) for a parameter of shape"):
        opt.step()


@pytest.mark.parametrize(
    ("make", "kwargs"),
    [(optim.SGD, {"lr": 0.1, "momentum": 0.9}), (optim.Adam, {"lr": 0.01, "amsgrad": True})],
)
def test_optimizer_state_dict_round_trip_resumes_identically(make, kwargs) -> None:
    grads = _gradients(np.float64)
    first, second = _params(), _params()
    opt_first = make(first, **kwargs)
    for step_grads in grads[:3]:
        for p, g in zip(first, step_grads, strict=True):
            p.grad = _as_grad(g)
        opt_first.step()
    for p, q in zip(first, second, strict=True):
        q.data[...] = p.data
    opt_second = make(second, **kwargs)
    saved = opt_first.state_dict()
    opt_second.load_state_dict(saved)
    for step_grads in grads[3:]:
        for p, q, g in zip(first, second, step_grads, strict=True):
            p.grad, q.grad = _as_grad(g), _as_grad(g)
        opt_first.step()
        opt_second.step()
    for p, q in zip(first, second, strict=True):
        np.testing.assert_array_equal(p.data, q.data)
    assert saved["param_groups"][0]["params"] == [0, 1, 2]


def test_optimizer_load_state_dict_validates_before_changing_anything() -> None:
    params = _params()
    opt = optim.SGD(params, lr=0.1, momentum=0.9)
    for p in params:
        p.grad = Tensor(np.ones(p.shape))
    opt.step()
    saved = opt.state_dict()
    saved["state"][0]["momentum_buffer"] = np.zeros((9, 9))
    saved["param_groups"][0]["lr"] = 5.0
    with pytest.raises(ValueError, match=r"state 'momentum_buffer' of parameter 0 has shape"):
        opt.load_state_dict(saved)
    assert opt.param_groups[0]["lr"] == 0.1
    with pytest.raises(ValueError, match="1 parameter groups given, the optimizer has 2"):
        optim.SGD([{"params": params[:1]}, {"params": params[1:]}], lr=0.1).load_state_dict(
            opt.state_dict()
        )
    with pytest.raises(ValueError, match="keys 'state' and 'param_groups'"):
        opt.load_state_dict({"state": {}})


def test_repr_lists_groups() -> None:
    text = repr(optim.Adam(_params(), lr=0.01))
    assert text.startswith("Adam (\nParameter Group 0\n    lr: 0.01")


@pytest.mark.parametrize("duplicate", ["deepcopy", "pickle"])
@pytest.mark.parametrize(
    ("cls", "kwargs"),
    [(optim.SGD, {"lr": 0.1, "momentum": 0.9}), (optim.Adam, {"lr": 0.1})],
)
def test_a_copied_optimizer_keeps_its_state_with_its_copied_parameters(
    cls, kwargs, duplicate: str
) -> None:
    """The state is keyed by the parameters themselves (as in PyTorch), so a copy of the
    optimizer (made with its parameters, as ``copy.deepcopy`` and pickle do) goes on exactly
    as the original: the momentum is not silently reset."""
    params = _params()
    opt = cls(params, **kwargs)
    for grads in _gradients(np.float64)[:2]:
        for p, g in zip(params, grads, strict=True):
            p.grad = _as_grad(g)
        opt.step()
    if duplicate == "deepcopy":
        twin_params, twin = copy.deepcopy((params, opt))
    else:
        twin_params, twin = pickle.loads(pickle.dumps((params, opt)))
    for ours, theirs in zip(params, twin_params, strict=True):
        for name, buffer in opt.state[ours].items():
            copied = twin.state[theirs][name]
            np.testing.assert_array_equal(copied, buffer)
            assert not isinstance(buffer, np.ndarray) or not np.shares_memory(copied, buffer)
    for tensors, optimizer in ((params, opt), (twin_params, twin)):
        for p, g in zip(tensors, _gradients(np.float64)[3], strict=True):
            p.grad = _as_grad(g)
        optimizer.step()
    for ours, theirs in zip(params, twin_params, strict=True):
        assert ours is not theirs
        np.testing.assert_array_equal(ours.data, theirs.data)


def test_state_is_looked_up_by_the_parameter_like_torch() -> None:
    torch = pytest.importorskip("torch")
    ours = _params()
    theirs = [torch.tensor(p.data.copy(), requires_grad=True) for p in ours]
    our_opt, their_opt = optim.Adam(ours, lr=0.01), torch.optim.Adam(theirs, lr=0.01)
    assert our_opt.state[ours[0]] == {} and their_opt.state[theirs[0]] == {}
    ours[0].grad = Tensor(np.ones(SHAPES[0]))
    theirs[0].grad = torch.ones(SHAPES[0], dtype=torch.float64)
    our_opt.step()
    their_opt.step()
    assert set(our_opt.state[ours[0]]) == set(their_opt.state[theirs[0]])
    np.testing.assert_allclose(
        our_opt.state[ours[0]]["exp_avg_sq"], their_opt.state[theirs[0]]["exp_avg_sq"].numpy()
    )
