"""The walk-through in docs/adding-an-op.md runs as written and prints what it says."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[1] / "docs" / "adding-an-op.md"


def test_the_softplus_walkthrough_runs_and_its_gradients_pass_the_property_test() -> None:
    pytest.importorskip("hypothesis")
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)
    class_and_use, property_test = "\n".join(blocks[:2]), blocks[2]
    script = (
        class_and_use
        + property_test
        + "\ntest_softplus_gradients()\n"
        + "import tinygrad_cnn as tc\n"
        + "assert tc.gradcheck(softplus, x.data.astype('float64'))\n"
        + "assert tc.gradgradcheck(softplus, x.data.astype('float64'))\n"
        + "assert 'softplus' in tc.Function.registry\n"
    )
    # A subprocess: registering a demo op must not leak into this test session's registry.
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    printed = result.stdout.splitlines()
    documented = re.findall(r"print\(\w+(?:\.\w+)*(?:\(\))?\)\s+# (.*)", blocks[1])
    assert printed[0] == documented[0]
    assert printed[1] == documented[1].split("  (")[0]
