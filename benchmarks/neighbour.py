"""A CPU-burning neighbour process for the benchmark's contention mode.

``Neighbour()`` starts ``python benchmarks/neighbour.py SECONDS [CORE]`` and waits until it
burns; ``stop()`` (or leaving the ``with`` block, also on an exception or Ctrl-C) kills it.
The process busy-loops in pure Python, pinned to one core with ``os.sched_setaffinity``
where the platform has it, and ends by itself after ``SECONDS`` or as soon as its parent is
gone, so it cannot outlive a benchmark that died without cleaning up.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from typing import Any

LIFETIME_SECONDS = 120.0  # the loop's own bound, far beyond one timed phase


def pinned_core() -> int | None:
    """The core the neighbour is pinned to: the last one this process may use."""
    if not hasattr(os, "sched_getaffinity"):
        return None
    return max(os.sched_getaffinity(0))


class Neighbour:
    """A busy-looping subprocess, running from construction until :meth:`stop`."""

    def __init__(self, seconds: float = LIFETIME_SECONDS, core: int | None = None) -> None:
        if seconds <= 0:
            raise ValueError(f"Neighbour: expected a positive lifetime, got {seconds}")
        self.core = pinned_core() if core is None else core
        command = [sys.executable, __file__, str(seconds)]
        if self.core is not None:
            command.append(str(self.core))
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        try:
            line = self.process.stdout.readline()
            if line.strip() != "burning":
                raise RuntimeError(f"neighbour: expected 'burning', got {line.strip()!r}")
        except BaseException:
            self.stop()
            raise

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        """Kill the process (if it still runs) and reap it."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        self.process.stdout.close()

    def __enter__(self) -> Neighbour:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def burn(seconds: float, core: int | None) -> None:
    """Busy-loop for ``seconds`` (or until the parent process is gone) on ``core``."""
    if core is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {core})
    parent = os.getppid()
    deadline = time.monotonic() + seconds
    print("burning", flush=True)
    count = 0
    while time.monotonic() < deadline and os.getppid() == parent:
        for _ in range(20_000):  # about a millisecond between the checks
            count += 1


if __name__ == "__main__":
    burn(float(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else None)
