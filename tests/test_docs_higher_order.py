"""The user-facing examples of docs/higher-order.md run as written, and their results hold."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

DOC = Path(__file__).resolve().parents[1] / "docs" / "higher-order.md"

CHECKS = """
t = np.tanh(x.data)
np.testing.assert_allclose(slope.data, (1 - t**2) * w.data)
dot = graph.source
assert all(f"<B>{name}</B>" in dot for name in ("tanh", "mul", "sub", "d loss / dx"))
assert hv.shape == (4, 3) and not hv.requires_grad
assert slopes.shape == (32, 2) and slopes.requires_grad
assert np.isfinite(penalty.item())
"""


def test_the_user_examples_run_and_agree() -> None:
    user_part = DOC.read_text().split("## The contract of an op")[0]
    blocks = re.findall(r"```python\n(.*?)```", user_part, re.S)
    assert len(blocks) == 5
    # A subprocess: the examples run as a reader would run them, in one fresh session.
    script = "\n".join(blocks) + CHECKS
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
