"""step() on a few threads for big models: the same numbers as one thread, only where safe."""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest

from tinygrad_cnn import Tensor, optim
from tinygrad_cnn.optim import parallel

OPTIMIZERS = [
    (optim.SGD, {"lr": 0.1, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01}),
    (optim.Adam, {"lr": 0.01, "amsgrad": True, "weight_decay": 0.1}),
    (optim.AdamW, {"lr": 0.01}),
    (optim.RMSprop, {"lr": 0.01, "momentum": 0.9, "centered": True}),
]
SHAPES = [(40, 30), (30,), (50, 40), (7,), (1, 1)]


def _params(seed: int = 0) -> list[Tensor]:
    rng = np.random.default_rng(seed)
    return [Tensor(rng.standard_normal(s), requires_grad=True) for s in SHAPES]


def _train(cls, kwargs, steps: int = 4) -> tuple[list[np.ndarray], optim.Optimizer]:
    params = _params()
    opt = cls(params, **kwargs)
    rng = np.random.default_rng(1)
    for step in range(steps):
        for i, p in enumerate(params):
            # one parameter without a gradient at one step: skipped alike
            p.grad = None if (step, i) == (1, 2) else Tensor(rng.standard_normal(p.shape))
        opt.step()
    return [p.data.copy() for p in params], opt


@pytest.fixture
def threads_for_everything(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parallel, "PARALLEL_MIN_ELEMENTS", 0)
    monkeypatch.setattr(parallel, "usable_cores", lambda: 2)


@pytest.mark.parametrize(("cls", "kwargs"), OPTIMIZERS)
def test_threaded_steps_give_exactly_the_one_thread_result(
    cls, kwargs, monkeypatch: pytest.MonkeyPatch
) -> None:
    one_thread, opt = _train(cls, kwargs)
    assert opt._pool._executor is None  # 2,000 elements: far below the threshold
    monkeypatch.setattr(parallel, "PARALLEL_MIN_ELEMENTS", 0)
    monkeypatch.setattr(parallel, "usable_cores", lambda: 2)
    threaded, opt = _train(cls, kwargs)
    assert opt._pool._executor is not None
    for a, b in zip(one_thread, threaded, strict=True):
        np.testing.assert_array_equal(a, b)


def test_the_threshold_counts_every_parameter_element(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parallel, "usable_cores", lambda: 2)
    total = sum(int(np.prod(s)) for s in SHAPES)
    monkeypatch.setattr(parallel, "PARALLEL_MIN_ELEMENTS", total + 1)
    assert _train(optim.SGD, {"lr": 0.1})[1]._pool._executor is None
    monkeypatch.setattr(parallel, "PARALLEL_MIN_ELEMENTS", total)
    assert _train(optim.SGD, {"lr": 0.1})[1]._pool._executor is not None


def test_one_core_means_one_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parallel, "PARALLEL_MIN_ELEMENTS", 0)
    monkeypatch.setattr(parallel, "usable_cores", lambda: 1)
    assert _train(optim.Adam, {"lr": 0.1})[1]._pool._executor is None


@pytest.mark.usefixtures("threads_for_everything")
@pytest.mark.parametrize(("count", "threaded"), [(1, False), (2, True)])
def test_two_updates_are_enough_to_share_out_one_is_not(count: int, threaded: bool) -> None:
    params = _params()[:count]
    before = [p.data.copy() for p in params]
    opt = optim.SGD(params, lr=0.5)
    for p in params:
        p.grad = Tensor(np.ones(p.shape))
    opt.step()
    assert (opt._pool._executor is not None) is threaded
    for p, old in zip(params, before, strict=True):
        np.testing.assert_array_equal(p.data, old - 0.5)


@pytest.mark.usefixtures("threads_for_everything")
def test_parameters_sharing_memory_are_updated_one_after_the_other() -> None:
    base = np.arange(12.0)
    a, b = Tensor(base[:8], requires_grad=True), Tensor(base[4:], requires_grad=True)
    opt = optim.SGD([a, b], lr=1.0)
    a.grad, b.grad = Tensor(np.ones(8)), Tensor(np.ones(8))
    opt.step()
    assert opt._pool._executor is None
    np.testing.assert_array_equal(base, np.arange(12.0) - np.array([1] * 4 + [2] * 4 + [1] * 4))


@pytest.mark.usefixtures("threads_for_everything")
def test_an_error_in_one_update_is_raised_after_the_others_ran() -> None:
    class Failing(optim.SGD):
        def _update(self, param, grad, group, state):
            if param.shape == (7,):
                raise RuntimeError("boom in one parameter")
            super()._update(param, grad, group, state)

    params = _params()
    before = [p.data.copy() for p in params]
    opt = Failing(params, lr=0.5)
    for p in params:
        p.grad = Tensor(np.ones(p.shape))
    with pytest.raises(RuntimeError, match="boom in one parameter"):
        opt.step()
    for p, old in zip(params, before, strict=True):
        expected = old if p.shape == (7,) else old - 0.5
        np.testing.assert_array_equal(p.data, expected)


@pytest.mark.usefixtures("threads_for_everything")
def test_copies_and_pickles_of_an_optimizer_get_a_pool_of_their_own() -> None:
    _, opt = _train(optim.Adam, {"lr": 0.01})
    assert opt._pool._executor is not None
    twin = copy.deepcopy(opt)
    assert twin._pool is not opt._pool and twin._pool._executor is None
    revived = pickle.loads(pickle.dumps(opt))
    assert revived._pool._executor is None
    opt._pool.close()
    assert opt._pool._executor is None
