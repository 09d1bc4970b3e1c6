"""numpy's BLAS thread count, chosen from measured step times.

A multi-threaded BLAS is fastest on an idle machine and collapses when another process holds a
core: its threads spin-wait for each other, and the one that shares a core with the other
process waits for time slices. On this project's 2-core machine, beside one busy process, LeNet
trained at 31 % of its idle speed with OpenBLAS's two threads (``make bench-contention``). One
thread would have kept most of it, but on an idle machine one thread is the slower choice. Which
count is right depends on what else runs, and that changes while a model trains, so
:class:`BlasThreadTuner` measures instead of guessing::

    from tinygrad_cnn.blas_threads import BlasThreadTuner

    with BlasThreadTuner() as tuner:          # needs threadpoolctl
        for images, labels in loader:
            with tuner.step():                # times the step, runs it on the chosen count
                loss = cross_entropy(model(images), labels)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()

After a few warm-up steps it *probes*: it runs a few steps on each candidate count (the count
the BLAS had, then halves of it down to 1), keeps the count whose steps were fastest (median;
fewer threads must be clearly faster), and remembers that median.
It probes again when the last few steps run ``slowdown`` times slower than that (a neighbour
arrived), and after ``reprobe_seconds`` of training in any case (a neighbour left); that wait
doubles each time a probe confirms the count, up to ``max_reprobe_seconds``. Leaving the
``with`` block restores the count the BLAS had.

The thread pools are changed through ``threadpoolctl`` (the ``threads`` extra, also in
``examples`` and ``dev``), which works with OpenBLAS, MKL and BLIS alike; it is imported only
when a tuner is built without its own ``set_threads``.
"""

from __future__ import annotations

import math
import statistics
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import Any


def thread_ladder(most: int) -> list[int]:
    """Candidate thread counts: ``most``, then halves of it down to 1 (``8 -> [8, 4, 2, 1]``)."""
    if not isinstance(most, int) or isinstance(most, bool):
        raise TypeError(f"thread_ladder: expected an int thread count, got {most!r}")
    if most < 1:
        raise ValueError(f"thread_ladder: expected a thread count >= 1, got {most!r}")
    counts = [most]
    while counts[-1] > 1:
        counts.append(counts[-1] // 2)
    return counts


def _check_number(
    name: str,
    value: Any,
    *,
    integer: bool,
    low: float = 0.0,
    strict: bool = False,
    high: float = math.inf,
) -> None:
    """``value`` an int (``integer``) or a number, ``low < value`` (``strict``) or
    ``low <= value``, and ``value < high``; else a TypeError or ValueError naming ``name``."""
    kind = int if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kind):
        wanted = "an int" if integer else "a number"
        raise TypeError(f"BlasThreadTuner: {name} must be {wanted}, got {value!r}")
    if not ((value > low) if strict else (value >= low)) or not value < high:
        bound = f" and < {high:g}" if high < math.inf else ("" if integer else " and finite")
        raise ValueError(
            f"BlasThreadTuner: {name} must be {'>' if strict else '>='} {low:g}{bound}, "
            f"got {value!r}"
        )


class BlasThreadTuner:
    """Runs each wrapped step on the BLAS thread count that measured fastest lately.

    Parameters
    ----------
    max_threads : int, optional
        The largest count to try; default: the BLAS's count when the tuner is built.
    warmup_steps : int, default 5
        Steps on ``max_threads`` before the first probe (the first steps of a run are slow
        for reasons of their own: cold caches, first allocations).
    probe_steps : int, default 4
        Steps timed per candidate in a probe.
    settle_seconds : float, default 0.15
        After each change of count in a probe, steps that start within this many seconds are
        not counted (nor the first step on each candidate in any case): a BLAS's threads keep
        spin-waiting for a while after their last work (OpenBLAS's for about 0.1 s), so right
        after going from two threads to one, the spinning thread holds the core the one thread
        could have had.
    margin : float, default 0.05
        A probe moves to fewer threads only when their median step is this fraction faster
        (a probe's medians move by a few percent from noise alone).
    slowdown : float, default 1.5
        Probe again when the median of the last ``probe_steps + 2`` steps exceeds the chosen
        count's median by this factor. Must be > 1.
    reprobe_seconds : float, default 5.0
        Seconds of wrapped steps before the next probe; doubled each time a probe keeps the
        same count, back to this value when it changes.
    max_reprobe_seconds : float, default 60.0
        The cap of that doubling.
    set_threads : callable, optional
        ``set_threads(n)`` makes the BLAS use ``n`` threads. Default: threadpoolctl (then
        ``max_threads`` defaults to the BLAS's current count). With it given, ``max_threads``
        is required and nothing is imported.
    clock : callable, default time.perf_counter
        Seconds, for timing the steps.

    Attributes
    ----------
    threads : int
        The count the next step runs on.
    wait_seconds : float
        Seconds of wrapped steps from the last probe to the next (unless steps slow down).
    choices : list of (int, int, dict)
        One entry per finished probe: the step index it ended at, the count chosen, and the
        median step seconds of each candidate.
    """

    def __init__(
        self,
        max_threads: int | None = None,
        *,
        warmup_steps: int = 5,
        probe_steps: int = 4,
        settle_seconds: float = 0.15,
        margin: float = 0.05,
        slowdown: float = 1.5,
        reprobe_seconds: float = 5.0,
        max_reprobe_seconds: float = 60.0,
        set_threads: Callable[[int], None] | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        _check_number("warmup_steps", warmup_steps, integer=True)
        _check_number("probe_steps", probe_steps, integer=True, strict=True)
        _check_number("settle_seconds", settle_seconds, integer=False)
        _check_number("margin", margin, integer=False, high=1.0)
        _check_number("slowdown", slowdown, integer=False, low=1.0, strict=True)
        _check_number("reprobe_seconds", reprobe_seconds, integer=False, strict=True)
        _check_number("max_reprobe_seconds", max_reprobe_seconds, integer=False, strict=True)
        self._restore: Callable[[], None] = lambda: None
        if set_threads is None:
            set_threads, current, self._restore = _threadpoolctl_blas()
            max_threads = current if max_threads is None else max_threads
        elif max_threads is None:
            raise TypeError("BlasThreadTuner: with set_threads given, max_threads is required")
        _check_number("max_threads", max_threads, integer=True, strict=True)
        self.candidates = thread_ladder(max_threads)
        self.probe_steps = probe_steps
        self.settle_seconds = float(settle_seconds)
        self.margin = float(margin)
        self.slowdown = float(slowdown)
        self.base_reprobe_seconds = float(reprobe_seconds)
        self.max_reprobe_seconds = float(max_reprobe_seconds)
        self._set_threads = set_threads
        self._clock = clock
        self.threads = self.candidates[0]
        self._set_threads(self.threads)
        self.choices: list[tuple[int, int, dict[int, float]]] = []
        self.steps = 0
        self._recent: deque[float] = deque(maxlen=probe_steps + 2)
        self._reference = math.inf  # the chosen count's median step seconds
        self.wait_seconds = self.base_reprobe_seconds
        self._seconds_since_probe = 0.0
        self._probing: deque[int] = deque()
        self._warmup_left = warmup_steps
        if not warmup_steps:
            self.reprobe()

    # ------------------------------------------------------------------ the user's side
    @contextmanager
    def step(self) -> Iterator[None]:
        """Time the enclosed training step (a step that raises is not counted)."""
        start = self._clock()
        yield
        self._record(start, self._clock())

    def reprobe(self) -> None:
        """Probe from the next step on, e.g. when the machine's load is known to change."""
        self._probing = deque(self.candidates)
        self._probe_times: dict[int, list[float]] = {count: [] for count in self.candidates}
        self._start_candidate()

    def close(self) -> None:
        """Give the BLAS back the thread count it had when the tuner was built."""
        self._restore()

    def __enter__(self) -> BlasThreadTuner:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"BlasThreadTuner(threads={self.threads}, candidates={self.candidates}, "
            f"steps={self.steps}, probes={len(self.choices)})"
        )

    # ------------------------------------------------------------------ the decisions
    def _record(self, start: float, end: float) -> None:
        seconds = end - start
        self.steps += 1
        if self._probing:
            count = self._probing[0]
            if self._settling_step_seen and start - self._switched_at >= self.settle_seconds:
                self._probe_times[count].append(seconds)
            self._settling_step_seen = True
            if len(self._probe_times[count]) == self.probe_steps:
                self._probing.popleft()
                if self._probing:
                    self._start_candidate()
                else:
                    self._choose()
            return
        if self._warmup_left:  # (first steps: caches and allocations still warming up)
            self._warmup_left -= 1
            if not self._warmup_left:
                self.reprobe()
            return
        self._recent.append(seconds)
        self._seconds_since_probe += seconds
        slowed = (
            len(self._recent) == self._recent.maxlen
            and statistics.median(self._recent) > self.slowdown * self._reference
        )
        if slowed or self._seconds_since_probe >= self.wait_seconds:
            self.reprobe()

    def _start_candidate(self) -> None:
        # The first step on a candidate is not counted (it wakes the pools), nor, after a
        # change of count, those within settle_seconds: the threads of the count before may
        # still spin-wait on the cores.
        changed = self._probing[0] != self.threads
        self._switch(self._probing[0])
        self._switched_at = self._clock() if changed else -math.inf
        self._settling_step_seen = False

    def _switch(self, count: int) -> None:
        if count != self.threads:
            self._set_threads(count)
            self.threads = count

    def _choose(self) -> None:
        medians = {count: statistics.median(times) for count, times in self._probe_times.items()}
        best = self.candidates[0]
        for count in self.candidates[1:]:  # fewer threads only for a clear gain
            if medians[count] < (1.0 - self.margin) * medians[best]:
                best = count
        previous = self.choices[-1][1] if self.choices else None
        self.wait_seconds = (
            min(2 * self.wait_seconds, self.max_reprobe_seconds)
            if best == previous
            else self.base_reprobe_seconds
        )
        self.choices.append((self.steps, best, medians))
        self._reference = medians[best]
        self._recent.clear()
        self._seconds_since_probe = 0.0
        self._switch(best)


def _threadpoolctl_blas() -> tuple[Callable[[int], None], int, Callable[[], None]]:
    """``(set_threads, current count, restore)`` for numpy's BLAS, through threadpoolctl."""
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError as error:
        raise ImportError(
            "BlasThreadTuner needs threadpoolctl: pip install 'tinygrad_cnn[threads]'"
        ) from error
    import numpy as np

    np.dot(np.ones(2), np.ones(2))  # (numpy loads its BLAS on import; this keeps it certain)
    blas = ThreadpoolController().select(user_api="blas")
    if not blas.lib_controllers:
        raise RuntimeError("BlasThreadTuner: threadpoolctl finds no BLAS library loaded")
    original = [(lib, lib.num_threads) for lib in blas.lib_controllers]

    def set_threads(count: int) -> None:
        for lib in blas.lib_controllers:
            lib.set_num_threads(count)

    def restore() -> None:
        for lib, count in original:
            lib.set_num_threads(count)

    return set_threads, max(count for _, count in original), restore
