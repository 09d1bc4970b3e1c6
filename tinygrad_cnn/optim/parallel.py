"""The optimizers' per-parameter updates, side by side on a few threads when the model is big.

Each parameter's update touches only its own arrays (the parameter, its gradient, its state),
and numpy releases the GIL inside its ufunc loops, so the updates of different parameters can
run on different cores. PyTorch's elementwise kernels use every core the same way. Measured on
2 cores (``benchmarks``' ``adam_step`` and ``sgd_step``, 4 parameters of 1M floats, alternated
runs in one process): ``Adam.step()`` 110 -> 172 steps/s, ``SGD.step()`` with momentum
297 -> 423 (docs/performance.md, fifth round).

Below :data:`PARALLEL_MIN_ELEMENTS` elements in all, the updates run one after the other, as
before: handing work to a thread costs tens of microseconds, and in training the step comes
right after backward, while the BLAS's worker thread still spin-waits on the other core (see
docs/performance.md). LeNet (225K parameters) and the MLP of the benchmark (670K) stay below.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from typing import Any

import numpy as np

PARALLEL_MIN_ELEMENTS = 1 << 21  # 2M parameters (8 MiB of float32)
MAX_THREADS = 4


def usable_cores() -> int:
    """The cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _independent(arrays: Sequence[np.ndarray]) -> bool:
    """No two of ``arrays`` may share memory (then their updates cannot race)."""
    return not any(np.may_share_memory(a, b) for i, a in enumerate(arrays) for b in arrays[i + 1 :])


class UpdatePool:
    """Runs an optimizer's updates on up to :data:`MAX_THREADS` threads, made on first use.

    An optimizer keeps one; copies and pickles of the optimizer get a fresh, empty one.
    """

    def __init__(self) -> None:
        self._executor: ThreadPoolExecutor | None = None
        self._checked: tuple[int, ...] = ()  # the parameter arrays last found independent

    def run(
        self,
        update: Callable[..., None],
        work: Sequence[tuple[Any, ...]],
        arrays: Sequence[np.ndarray],
    ) -> None:
        """``update(*item)`` for every item of ``work``; ``arrays[i]`` is the parameter array
        item ``i`` writes. Side by side when the arrays are big in all and share no memory;
        the largest first, so that the threads finish together. The first error is raised
        once every update has ended."""
        if not self._side_by_side(arrays):
            for item in work:
                update(*item)
            return
        if self._executor is None:
            self._executor = ThreadPoolExecutor(
                max_workers=min(MAX_THREADS, usable_cores()),
                thread_name_prefix="tinygrad_cnn-optimizer",
            )
        largest_first = sorted(range(len(work)), key=lambda i: -arrays[i].size)
        futures = [self._executor.submit(update, *work[i]) for i in largest_first]
        wait(futures)  # every update ends before an error is raised
        for future in futures:
            future.result()

    def _side_by_side(self, arrays: Sequence[np.ndarray]) -> bool:
        """Two updates or more, big in all (the cheap checks first: every small model stops
        here), two usable cores, and no shared memory (checked once per set of arrays)."""
        if len(arrays) < 2 or sum(a.size for a in arrays) < PARALLEL_MIN_ELEMENTS:
            return False
        if min(MAX_THREADS, usable_cores()) < 2:
            return False
        key = tuple(id(a) for a in arrays)
        if key != self._checked:
            if not _independent(arrays):
                return False
            self._checked = key
        return True

    def close(self) -> None:
        """Stop the threads (a later :meth:`run` makes new ones)."""
        if self._executor is not None:
            self._executor.shutdown(wait=False)
            self._executor = None

    def __del__(self) -> None:
        self.close()

    def __deepcopy__(self, memo: dict[int, Any]) -> UpdatePool:
        return UpdatePool()

    def __getstate__(self) -> dict[str, Any]:
        return {}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._executor, self._checked = None, ()
