"""No graph leak over 2,000 training steps, and grad mode that is safe across threads.

Memory: the seed model trains 2,000 steps on a batch of 2 under ``tracemalloc`` (which sees
numpy's buffers); after 200 warm-up steps the traced memory may not grow by more than 1 MB.
A control run that keeps every loss (and so every graph) alive must blow that bound.

Threads: grad mode is a context variable, so ``no_grad()`` in one thread leaves recording on
in another, and models trained in two threads at once get exactly the gradients they get
when trained alone.
"""

from __future__ import annotations

import gc
import threading
import tracemalloc
from collections.abc import Callable

import numpy as np

from tinygrad_cnn import Tensor, is_grad_enabled, no_grad, optim
from tinygrad_cnn.models import build_model
from tinygrad_cnn.nn import Module

STEPS, WARM_UP, BOUND = 2_000, 200, 1_000_000


def training_step(seed: int = 0) -> tuple[Module, Callable[[], Tensor]]:
    """The seed model, SGD with momentum, and a closure running one step on a batch of 2."""
    model = build_model("seed", seed=seed)
    opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    rng = np.random.default_rng(seed)
    x = Tensor(rng.standard_normal((2, 1, 28, 28)).astype(np.float32))
    labels = rng.integers(0, 10, size=2)

    def step() -> Tensor:
        loss = model(x).cross_entropy(labels)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss

    return model, step


def traced_growth(steps: int, step: Callable[[], Tensor], keep: list[Tensor] | None) -> int:
    """Traced bytes gained over ``steps`` steps after the warm-up (losses kept in ``keep``)."""
    tracemalloc.start()
    try:
        for _ in range(WARM_UP):
            step()
        gc.collect()
        start = tracemalloc.get_traced_memory()[0]
        for _ in range(steps):
            loss = step()
            if keep is not None:
                keep.append(loss)
        gc.collect()
        return tracemalloc.get_traced_memory()[0] - start
    finally:
        tracemalloc.stop()


def test_memory_stays_flat_over_2000_training_steps() -> None:
    _, step = training_step()
    growth = traced_growth(STEPS - WARM_UP, step, keep=None)
    assert growth < BOUND, f"traced memory grew by {growth} bytes"


def test_the_memory_check_sees_graphs_that_are_kept_alive() -> None:
    _, step = training_step()
    kept: list[Tensor] = []
    growth = traced_growth(60, step, keep=kept)  # each graph holds its conv patches alive
    assert growth > BOUND, f"keeping 60 graphs only grew memory by {growth} bytes"


def test_backward_frees_the_saved_arrays_of_a_kept_loss() -> None:
    _, step = training_step()
    loss = step()  # backward ran: every node released its saved arrays, the structure remains
    node = loss._ctx
    assert node is not None and node.released and not vars(node)


def test_no_grad_in_one_thread_leaves_recording_on_in_another() -> None:
    inside, release = threading.Event(), threading.Event()
    seen: dict[str, bool] = {}

    def evaluator() -> None:
        with no_grad():
            seen["evaluator"] = is_grad_enabled()
            inside.set()
            release.wait(timeout=10)
            seen["evaluator_records"] = (Tensor([1.0], requires_grad=True) * 2).requires_grad

    worker = threading.Thread(target=evaluator)
    worker.start()
    assert inside.wait(timeout=10)
    try:
        assert is_grad_enabled()  # the other thread's no_grad() does not reach this one
        y = Tensor([1.0], requires_grad=True) * 2
        assert y.requires_grad and y._ctx is not None
    finally:
        release.set()
        worker.join()
    assert seen == {"evaluator": False, "evaluator_records": False}


def gradients_per_step(seed: int, steps: int, barrier: threading.Barrier | None) -> list:
    """Train ``steps`` steps; the parameters' gradients after each (waiting at ``barrier``)."""
    model, step = training_step(seed)
    history = []
    for _ in range(steps):
        if barrier is not None:
            barrier.wait(timeout=30)
        step()
        history.append([p.grad.numpy().copy() for p in model.parameters()])
    return history


def test_training_in_two_threads_does_not_mix_graphs() -> None:
    steps, seeds = 40, (1, 2)
    alone = {seed: gradients_per_step(seed, steps, None) for seed in seeds}
    barrier = threading.Barrier(len(seeds))  # the trainers take every step together
    together: dict[int, list] = {}
    errors: list[BaseException] = []
    evaluating, stop = threading.Event(), threading.Event()

    def train(seed: int) -> None:
        try:
            assert evaluating.wait(timeout=30)
            together[seed] = gradients_per_step(seed, steps, barrier)
        except BaseException as error:  # reported by the main thread
            errors.append(error)
            barrier.abort()

    def evaluate() -> None:  # a third thread inferring under no_grad the whole time
        model = build_model("seed", seed=3)
        x = Tensor(np.ones((1, 1, 28, 28), dtype=np.float32))
        try:
            while not stop.is_set():
                with no_grad():
                    assert model(x)._ctx is None
                evaluating.set()
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=train, args=(seed,)) for seed in seeds]
    threads.append(threading.Thread(target=evaluate))
    for thread in threads:
        thread.start()
    for thread in threads[:-1]:
        thread.join()
    stop.set()
    threads[-1].join()
    assert not errors, errors
    for seed in seeds:
        for grads_alone, grads_together in zip(alone[seed], together[seed], strict=True):
            for a, b in zip(grads_alone, grads_together, strict=True):
                np.testing.assert_array_equal(a, b)
