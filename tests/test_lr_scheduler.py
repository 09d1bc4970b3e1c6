"""Learning-rate schedulers and RMSprop against PyTorch: trajectories over 100 steps, momentum
cycling, state dicts (JSON), and per-group options."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from tinygrad_cnn import Tensor, nn, optim
from tinygrad_cnn.optim import lr_scheduler

torch = pytest.importorskip("torch")

STEPS = 100


def _pair(kind: str, lrs: tuple[float, ...], **options: Any) -> tuple[Any, Any]:
    """The same optimizer here and in torch, with one parameter group per lr."""
    ours_groups = [{"params": [nn.Parameter(np.zeros(2, np.float32))], "lr": lr} for lr in lrs]
    theirs_groups = [{"params": [torch.zeros(2, requires_grad=True)], "lr": lr} for lr in lrs]
    ours = getattr(optim, kind)(ours_groups, **{"lr": lrs[0], **options})
    theirs = getattr(torch.optim, kind)(theirs_groups, **{"lr": lrs[0], **options})
    return ours, theirs


def _trajectory(opt: Any, sched: Any, metrics: list[float] | None = None) -> list[list[float]]:
    out = []
    for step in range(STEPS):
        groups = opt.param_groups
        momentum = [g["betas"][0] if "betas" in g else g.get("momentum", 0.0) for g in groups]
        out.append([*[g["lr"] for g in groups], *sched.get_last_lr(), *momentum])
        opt.step()
        if metrics is None:
            sched.step()
        else:
            sched.step(metrics[step])
    return out


CASES: list[tuple[str, str, dict[str, Any], tuple[float, ...], dict[str, Any]]] = [
    ("StepLR", "SGD", {"step_size": 7}, (0.1,), {}),
    ("StepLR", "Adam", {"step_size": 30, "gamma": 0.5}, (0.1, 0.01), {}),
    ("MultiStepLR", "SGD", {"milestones": [10, 40, 40, 80], "gamma": 0.3}, (0.2, 0.05), {}),
    ("ExponentialLR", "SGD", {"gamma": 0.95}, (0.1,), {}),
    ("ExponentialLR", "RMSprop", {"gamma": 0.99}, (0.01, 0.001), {}),
    ("CosineAnnealingLR", "SGD", {"T_max": 100}, (0.1,), {}),
    ("CosineAnnealingLR", "Adam", {"T_max": 30, "eta_min": 1e-3}, (0.1, 0.02), {}),
    ("OneCycleLR", "SGD", {"max_lr": 0.5, "total_steps": 100}, (0.1,), {"momentum": 0.9}),
    (
        "OneCycleLR",
        "Adam",
        {"max_lr": [0.01, 0.1], "epochs": 4, "steps_per_epoch": 25, "pct_start": 0.25},
        (0.001, 0.002),
        {},
    ),
    (
        "OneCycleLR",
        "SGD",
        {"max_lr": 1.0, "total_steps": 120, "anneal_strategy": "linear", "three_phase": True},
        (0.1, 0.3),
        {"momentum": 0.5},
    ),
    (
        "OneCycleLR",
        "AdamW",
        {"max_lr": 0.1, "total_steps": 100, "cycle_momentum": False},
        (0.1,),
        {},
    ),
]


@pytest.mark.parametrize(("name", "kind", "kwargs", "lrs", "options"), CASES)
def test_scheduler_trajectory_matches_torch(
    name: str, kind: str, kwargs: dict[str, Any], lrs: tuple[float, ...], options: dict[str, Any]
) -> None:
    ours_opt, theirs_opt = _pair(kind, lrs, **options)
    ours = _trajectory(ours_opt, getattr(lr_scheduler, name)(ours_opt, **kwargs))
    theirs = _trajectory(theirs_opt, getattr(torch.optim.lr_scheduler, name)(theirs_opt, **kwargs))
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize(
    "lambdas",
    [
        lambda epoch: 0.95**epoch,
        [lambda epoch: 1.0 / (1 + epoch), lambda epoch: min(1.0, (epoch + 1) / 10)],
    ],
)
def test_lambda_lr_matches_torch(lambdas: Callable | list[Callable]) -> None:
    ours_opt, theirs_opt = _pair("SGD", (0.1, 0.5))
    ours = _trajectory(ours_opt, lr_scheduler.LambdaLR(ours_opt, lambdas))
    theirs = _trajectory(theirs_opt, torch.optim.lr_scheduler.LambdaLR(theirs_opt, lambdas))
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"mode": "max", "factor": 0.5, "patience": 3, "cooldown": 2},
        {"threshold_mode": "abs", "threshold": 0.05, "patience": 2, "min_lr": [0.01, 0.001]},
    ],
)
def test_reduce_lr_on_plateau_matches_torch(kwargs: dict[str, Any]) -> None:
    rng = np.random.default_rng(0)
    metrics = list(np.maximum.accumulate(rng.normal(size=STEPS)) * 0 + rng.normal(size=STEPS))
    metrics = [float(m) + 5 * (i < 20) * (20 - i) / 20 for i, m in enumerate(metrics)]
    ours_opt, theirs_opt = _pair("SGD", (0.1, 0.02))
    ours = _trajectory(ours_opt, lr_scheduler.ReduceLROnPlateau(ours_opt, **kwargs), metrics)
    theirs_sched = torch.optim.lr_scheduler.ReduceLROnPlateau(theirs_opt, **kwargs)
    theirs = _trajectory(theirs_opt, theirs_sched, metrics)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)
    assert ours[0] != ours[-1]  # the schedule did reduce


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [
        ("StepLR", {"step_size": 7}),
        ("MultiStepLR", {"milestones": [5, 20, 20]}),
        ("CosineAnnealingLR", {"T_max": 13}),
        ("OneCycleLR", {"max_lr": 0.4, "total_steps": 100}),
        ("ReduceLROnPlateau", {"patience": 1}),
    ],
)
def test_state_dict_is_json_and_resumes_the_same_trajectory(
    name: str, kwargs: dict[str, Any]
) -> None:
    def run(resume_at: int | None) -> list[list[float]]:
        opt = optim.SGD([nn.Parameter(np.zeros(1, np.float32))], lr=0.1, momentum=0.9)
        sched = getattr(lr_scheduler, name)(opt, **kwargs)
        lrs = []
        for step in range(60):
            if step == resume_at:
                saved = json.loads(json.dumps([sched.state_dict(), opt.state_dict()]))
                opt = optim.SGD([nn.Parameter(np.zeros(1, np.float32))], lr=0.1, momentum=0.9)
                sched = getattr(lr_scheduler, name)(opt, **kwargs)
                opt.load_state_dict({"state": {}, "param_groups": saved[1]["param_groups"]})
                sched.load_state_dict(saved[0])
            lrs.append([opt.param_groups[0]["lr"], opt.param_groups[0]["momentum"]])
            opt.step()
            sched.step(float(np.cos(step))) if name == "ReduceLROnPlateau" else sched.step()
        return lrs

    assert run(resume_at=23) == run(resume_at=None)


def test_lambda_lr_state_dict_skips_functions_and_keeps_callable_objects() -> None:
    class Warmup:
        def __init__(self) -> None:
            self.length = 5

        def __call__(self, epoch: int) -> float:
            return min(1.0, (epoch + 1) / self.length)

    opt = optim.SGD([{"params": [nn.Parameter([0.0])]}, {"params": [nn.Parameter([0.0])]}], lr=1.0)
    warm = Warmup()
    sched = lr_scheduler.LambdaLR(opt, [lambda e: 1.0, warm])
    state = sched.state_dict()
    assert state["lr_lambdas"] == [None, {"length": 5}]
    warm.length = 9
    sched.load_state_dict(state)
    assert warm.length == 5


def test_scheduler_errors() -> None:
    opt = optim.SGD([nn.Parameter([0.0])], lr=0.1)
    with pytest.raises(TypeError, match="Optimizer"):
        lr_scheduler.StepLR(torch.optim.SGD([torch.zeros(1)], lr=0.1), 2)
    with pytest.raises(ValueError, match="step_size"):
        lr_scheduler.StepLR(opt, 0)
    with pytest.raises(ValueError, match="total_steps"):
        lr_scheduler.OneCycleLR(opt, max_lr=0.1)

    class Plain(optim.Optimizer):
        def __init__(self, params: Any) -> None:
            super().__init__(params, {"lr": 0.1})

    with pytest.raises(ValueError, match="momentum or betas"):
        lr_scheduler.OneCycleLR(Plain([nn.Parameter([0.0])]), max_lr=0.1, total_steps=5)
    sched = lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=3)
    for _ in range(3):
        sched.step()
    with pytest.raises(ValueError, match="total_steps=3"):
        sched.step()
    with pytest.raises(ValueError, match="missing keys"):
        lr_scheduler.StepLR(opt, 2).load_state_dict({"last_epoch": 3})
    with pytest.raises(ValueError, match="factor"):
        lr_scheduler.ReduceLROnPlateau(opt, factor=1.5)


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"alpha": 0.9, "eps": 1e-6},
        {"momentum": 0.9},
        {"centered": True, "weight_decay": 0.01},
        {"momentum": 0.5, "centered": True},
    ],
)
def test_rmsprop_matches_torch(options: dict[str, Any]) -> None:
    rng = np.random.default_rng(1)
    start = rng.normal(size=(3, 4))
    ours_p = nn.Parameter(start)
    theirs_p = torch.tensor(start, requires_grad=True)
    ours = optim.RMSprop([ours_p], **options)
    theirs = torch.optim.RMSprop([theirs_p], **options)
    for _ in range(20):
        grad = rng.normal(size=(3, 4))
        ours_p.grad = Tensor(grad)
        theirs_p.grad = torch.from_numpy(grad.copy())
        ours.step()
        theirs.step()
    np.testing.assert_allclose(ours_p.data, theirs_p.detach().numpy(), rtol=1e-10, atol=1e-12)
    assert optim.RMSprop([nn.Parameter([0.0])]).defaults == {
        k: v
        for k, v in torch.optim.RMSprop([torch.zeros(1)]).defaults.items()
        if k in ("lr", "alpha", "eps", "weight_decay", "momentum", "centered")
    }


@pytest.mark.parametrize("kind", ["SGD", "Adam", "RMSprop"])
def test_per_group_options_match_torch(kind: str) -> None:
    rng = np.random.default_rng(2)
    starts = [rng.normal(size=3) for _ in range(2)]
    extra = {
        "SGD": [{"momentum": 0.9, "nesterov": True}, {"momentum": 0.1, "weight_decay": 0.1}],
        "Adam": [{"betas": (0.8, 0.99)}, {"weight_decay": 0.05, "amsgrad": True}],
        "RMSprop": [{"momentum": 0.9}, {"centered": True, "alpha": 0.5}],
    }[kind]
    ours_params = [nn.Parameter(s) for s in starts]
    theirs_params = [torch.tensor(s, requires_grad=True) for s in starts]
    ours = getattr(optim, kind)(
        [
            {"params": [p], "lr": lr, **e}
            for p, lr, e in zip(ours_params, (0.1, 0.01), extra, strict=True)
        ],
        lr=0.05,
    )
    theirs = getattr(torch.optim, kind)(
        [
            {"params": [p], "lr": lr, **e}
            for p, lr, e in zip(theirs_params, (0.1, 0.01), extra, strict=True)
        ],
        lr=0.05,
    )
    for _ in range(10):
        for p, t in zip(ours_params, theirs_params, strict=True):
            grad = rng.normal(size=3)
            p.grad, t.grad = Tensor(grad), torch.from_numpy(grad.copy())
        ours.step()
        theirs.step()
    for p, t in zip(ours_params, theirs_params, strict=True):
        np.testing.assert_allclose(p.data, t.detach().numpy(), rtol=1e-10)
