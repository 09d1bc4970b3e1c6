"""keep_freed_memory: glibc's malloc keeps freed arrays for the next step (no page faults)."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import textwrap

import pytest

from tinygrad_cnn import malloc_tuning
from tinygrad_cnn.malloc_tuning import keep_freed_memory

# Four 20 MB arrays made and freed per "step", as a training step does with its activations.
STEPS_SCRIPT = textwrap.dedent(
    """
    import resource, sys
    import numpy as np
    if sys.argv[1] == "keep":
        from tinygrad_cnn.malloc_tuning import keep_freed_memory
        assert keep_freed_memory()
    def step():
        arrays = [np.ones(5_000_000, np.float32) for _ in range(4)]
        del arrays
    for _ in range(3):
        step()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(10):
        step()
    print((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 10)
    """
)


def _faults_per_step(mode: str) -> float:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    done = subprocess.run(
        [sys.executable, "-c", STEPS_SCRIPT, mode],
        env=env, capture_output=True, text=True, check=True, timeout=120,
    )  # fmt: skip
    return float(done.stdout.split()[-1])


@pytest.mark.skipif(
    not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc",
    reason="glibc's malloc only",
)
def test_repeated_steps_stop_faulting_their_arrays_in():
    default = _faults_per_step("default")
    kept = _faults_per_step("keep")
    assert default > 200, f"glibc's defaults were expected to fault each step, got {default}"
    assert kept < 5, f"{kept} page faults per step with keep_freed_memory()"


def test_sets_the_mmap_threshold_then_the_trim_threshold(monkeypatch):
    calls = []
    monkeypatch.setattr(
        malloc_tuning, "_glibc_mallopt", lambda: lambda p, v: calls.append((p, v)) or 1
    )
    assert keep_freed_memory() is True
    assert calls == [
        (malloc_tuning.M_MMAP_THRESHOLD, 32 << 20),
        (malloc_tuning.M_TRIM_THRESHOLD, 1 << 30),
    ]


def test_a_refused_mmap_threshold_leaves_malloc_alone(monkeypatch):
    # A trim threshold set alone would stop glibc raising its mmap threshold: worse than nothing.
    calls = []
    monkeypatch.setattr(malloc_tuning, "_glibc_mallopt", lambda: lambda p, v: calls.append(p) or 0)
    assert keep_freed_memory() is False
    assert calls == [malloc_tuning.M_MMAP_THRESHOLD]


def test_without_glibc_nothing_is_changed(monkeypatch):
    monkeypatch.setattr(malloc_tuning, "_glibc_mallopt", lambda: None)
    assert keep_freed_memory() is False


def test_no_glibc_is_found_on_other_systems(monkeypatch):
    monkeypatch.setattr(sys, "platform", "darwin")
    assert malloc_tuning._glibc_mallopt() is None
