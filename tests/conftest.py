"""Shared test set-up: Hypothesis profiles and the location of the real MNIST data.

Profiles (choose with ``HYPOTHESIS_PROFILE``): ``dev`` (default, quick), ``ci`` (more
examples, no deadline: CI machines are slow and shared).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "dev", deadline=None, max_examples=30, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "ci", deadline=None, max_examples=60, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


def _mnist_root() -> Path | None:
    root = os.environ.get("TINYGRAD_CNN_DATA")
    if root and (Path(root) / "MNIST" / "raw").is_dir():
        return Path(root)
    return None


@pytest.fixture
def mnist_root() -> Path:
    """The folder holding ``MNIST/raw`` (from ``TINYGRAD_CNN_DATA``); skips the test without it."""
    root = _mnist_root()
    if root is None:
        pytest.skip("real MNIST not found: set TINYGRAD_CNN_DATA to the folder holding MNIST/raw")
    return root
