"""BlasThreadTuner: the thread count it picks from step times (on a simulated machine whose
step time depends on the thread count and on a neighbour), and the real threadpoolctl path."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from tinygrad_cnn.blas_threads import BlasThreadTuner, thread_ladder


class SimulatedMachine:
    """A clock and a BLAS setter: a step takes ``seconds[threads]``, or ``busy[threads]``
    while a neighbour runs."""

    def __init__(self, idle: dict[int, float], busy: dict[int, float]) -> None:
        self.idle, self.busy = idle, busy
        self.neighbour = False
        self.now = 0.0
        self.threads: int | None = None
        self.settings: list[int] = []
        self.threads_per_step: list[int] = []

    def clock(self) -> float:
        return self.now

    def set_threads(self, count: int) -> None:
        self.threads = count
        self.settings.append(count)

    def train(self, tuner: BlasThreadTuner, steps: int) -> None:
        for _ in range(steps):
            with tuner.step():
                self.threads_per_step.append(self.threads)
                self.now += (self.busy if self.neighbour else self.idle)[self.threads]


def tuner_on(machine: SimulatedMachine, **options) -> BlasThreadTuner:
    options.setdefault("settle_seconds", 0.0)  # (these three have their own tests below)
    options.setdefault("warmup_steps", 0)
    options.setdefault("probe_steps", 3)
    return BlasThreadTuner(
        max(machine.idle), set_threads=machine.set_threads, clock=machine.clock, **options
    )


# two threads win when idle; beside a busy neighbour they collapse and one thread wins
IDLE = {2: 0.010, 1: 0.015}
BUSY = {2: 0.050, 1: 0.016}


def test_thread_ladder_halves_down_to_one():
    assert thread_ladder(8) == [8, 4, 2, 1]
    assert thread_ladder(6) == [6, 3, 1]
    assert thread_ladder(1) == [1]
    with pytest.raises(ValueError, match="thread count >= 1, got 0"):
        thread_ladder(0)
    with pytest.raises(TypeError, match=r"expected an int thread count, got 2\.0"):
        thread_ladder(2.0)


def test_first_probe_times_each_count_and_keeps_the_fastest():
    machine = SimulatedMachine(IDLE, BUSY)
    tuner = tuner_on(machine, probe_steps=3)
    machine.train(tuner, 8)  # 2 candidates x (1 uncounted + 3 counted) steps
    assert machine.threads_per_step == [2, 2, 2, 2, 1, 1, 1, 1]
    assert tuner.choices == [(8, 2, pytest.approx(IDLE))]
    assert tuner.threads == machine.threads == 2
    machine.train(tuner, 20)
    assert set(machine.threads_per_step[8:]) == {2}


def test_the_uncounted_step_after_a_switch_is_left_out():
    machine = SimulatedMachine(IDLE, BUSY)
    tuner = tuner_on(machine, probe_steps=2)
    costs = iter([9.0, 0.010, 0.010, 9.0, 0.015, 0.015])  # a slow first step on each count
    for cost in costs:
        with tuner.step():
            machine.now += cost
    assert tuner.choices[0][2] == pytest.approx({2: 0.010, 1: 0.015})


def test_steps_within_settle_seconds_of_a_switch_are_left_out():
    machine = SimulatedMachine(IDLE, BUSY)
    tuner = tuner_on(machine, probe_steps=2, settle_seconds=0.035)
    machine.train(tuner, 40)
    # on 2 threads (already set, no settling): 1 uncounted step, then 2 counted; on 1 thread
    # (0.015 s a step) the steps starting at 0, 0.015 and 0.03 settle, then 2 count
    assert machine.threads_per_step[:8] == [2] * 3 + [1] * 5
    assert tuner.choices[0][0] == 8


def test_settling_applies_only_after_a_change_of_count():
    machine = SimulatedMachine({1: 0.01}, {1: 0.02})
    tuner = tuner_on(machine, settle_seconds=10.0, probe_steps=2)
    machine.train(tuner, 3)  # one candidate, already set: 1 uncounted step, then 2 counted
    assert tuner.choices and tuner.choices[0][0] == 3


def test_the_first_probe_waits_for_the_warmup_steps():
    machine = SimulatedMachine(IDLE, BUSY)
    tuner = tuner_on(machine, warmup_steps=5, probe_steps=3)
    machine.train(tuner, 13)
    assert machine.threads_per_step == [2] * 5 + [2, 2, 2, 2, 1, 1, 1, 1]
    assert tuner.choices[0][0] == 13


@pytest.mark.parametrize(("one_thread", "chosen"), [(0.0097, 2), (0.0090, 1)])
def test_fewer_threads_only_for_a_gain_beyond_the_margin(one_thread, chosen):
    machine = SimulatedMachine({2: 0.010, 1: one_thread}, BUSY)
    tuner = tuner_on(machine, margin=0.05)
    machine.train(tuner, 8)
    assert tuner.choices[0][1] == chosen


def test_a_neighbour_arriving_moves_to_one_thread_within_a_few_steps():
    machine = SimulatedMachine(IDLE, BUSY)
    tuner = tuner_on(machine, probe_steps=3, reprobe_seconds=100.0)
    machine.train(tuner, 30)
    assert tuner.threads == 2
    machine.neighbour = True
    machine.train(tuner, 30)
    arrived = machine.threads_per_step[30:]
    # 5 slow steps fill the window, then a probe of 8 steps, then one thread for good
    assert arrived[:5] == [2] * 5
    assert arrived[13:] == [1] * 17
    assert tuner.choices[-1][1] == 1
    assert tuner.choices[-1][2] == pytest.approx(BUSY)


def test_a_neighbour_leaving_is_found_by_the_timed_reprobe():
    machine = SimulatedMachine(IDLE, BUSY)
    machine.neighbour = True
    tuner = tuner_on(machine, reprobe_seconds=0.5, max_reprobe_seconds=0.5)
    machine.train(tuner, 20)
    assert tuner.threads == 1
    machine.neighbour = False  # one thread is not slower now, so only the timer can tell
    machine.train(tuner, 60)
    assert tuner.threads == 2
    assert [count for _, count, _ in tuner.choices][-1] == 2


def test_the_wait_between_probes_doubles_while_the_count_stays_and_resets_on_a_change():
    machine = SimulatedMachine(IDLE, BUSY)
    tuner = tuner_on(machine, reprobe_seconds=0.1, max_reprobe_seconds=0.4)
    machine.train(tuner, 400)
    ends = [step for step, _, _ in tuner.choices]
    gaps = [b - a for a, b in itertools.pairwise(ends)]
    # between probes: 8 probe steps + the wait (0.1, 0.2, then 0.4 s at 0.010 s a step)
    assert gaps[:4] == [8 + 10, 8 + 20, 8 + 40, 8 + 40]
    assert tuner.wait_seconds == 0.4
    machine.neighbour = True
    while tuner.choices[-1][1] == 2:
        machine.train(tuner, 1)
    assert tuner.choices[-1][1] == 1
    assert tuner.wait_seconds == 0.1


def test_reprobe_starts_a_probe_at_the_next_step():
    machine = SimulatedMachine(IDLE, BUSY)
    tuner = tuner_on(machine, reprobe_seconds=100.0)
    machine.train(tuner, 10)
    tuner.reprobe()
    machine.train(tuner, 8)
    assert len(tuner.choices) == 2
    assert machine.threads_per_step[10:] == [2, 2, 2, 2, 1, 1, 1, 1]


def test_a_step_that_raises_is_not_counted():
    machine = SimulatedMachine(IDLE, BUSY)
    tuner = tuner_on(machine)
    with pytest.raises(KeyError):
        with tuner.step():
            raise KeyError("boom")
    assert tuner.steps == 0


def test_one_thread_only_has_nothing_to_choose_but_still_runs():
    machine = SimulatedMachine({1: 0.01}, {1: 0.02})
    tuner = tuner_on(machine)
    machine.train(tuner, 10)
    assert set(machine.threads_per_step) == {1}
    assert tuner.choices[0][1] == 1


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"probe_steps": 0}, ValueError, "probe_steps must be > 0, got 0"),
        ({"probe_steps": 1.5}, TypeError, "probe_steps must be an int, got 1.5"),
        ({"slowdown": 1.0}, ValueError, "slowdown must be > 1 and finite, got 1.0"),
        ({"slowdown": "2"}, TypeError, "slowdown must be a number"),
        (
            {"reprobe_seconds": float("inf")},
            ValueError,
            "reprobe_seconds must be > 0 and finite, got inf",
        ),
        (
            {"max_reprobe_seconds": -1},
            ValueError,
            "max_reprobe_seconds must be > 0 and finite, got -1",
        ),
        ({"settle_seconds": -0.1}, ValueError, "settle_seconds must be >= 0 and finite"),
        ({"warmup_steps": -1}, ValueError, "warmup_steps must be >= 0, got -1"),
        ({"warmup_steps": 2.0}, TypeError, "warmup_steps must be an int, got 2.0"),
        ({"margin": 1.0}, ValueError, "margin must be >= 0 and < 1, got 1.0"),
        ({"settle_seconds": None}, TypeError, "settle_seconds must be a number, got None"),
    ],
)
def test_bad_options_name_what_was_expected(options, error, message):
    machine = SimulatedMachine(IDLE, BUSY)
    with pytest.raises(error, match=message):
        tuner_on(machine, **options)


def test_set_threads_without_max_threads_is_refused():
    machine = SimulatedMachine(IDLE, BUSY)
    with pytest.raises(TypeError, match="max_threads is required"):
        BlasThreadTuner(set_threads=machine.set_threads)
    with pytest.raises(ValueError, match="max_threads must be > 0, got 0"):
        BlasThreadTuner(0, set_threads=machine.set_threads)


def test_threadpoolctl_path_sets_and_restores_numpy_blas():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    controller = threadpoolctl.ThreadpoolController().select(user_api="blas")
    if not controller.lib_controllers:
        pytest.skip("no BLAS library that threadpoolctl can see")

    def counts() -> set[int]:
        return {lib.num_threads for lib in controller.lib_controllers}

    with threadpoolctl.threadpool_limits(limits=2, user_api="blas"):
        before = counts()
        a = np.ones((64, 64))
        with BlasThreadTuner(probe_steps=1, settle_seconds=0, warmup_steps=0) as tuner:
            assert tuner.candidates == thread_ladder(max(before))
            seen = set()
            for _ in range(2 * len(tuner.candidates)):
                with tuner.step():
                    seen |= counts()
                    a @ a
            assert seen == set(tuner.candidates)
            assert tuner.choices and tuner.threads in tuner.candidates
        assert counts() == before
