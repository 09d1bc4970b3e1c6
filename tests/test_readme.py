"""Every Python block of README.md runs as written."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_python_blocks_run(capsys) -> None:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    assert len(blocks) >= 2
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, str(README), "exec"), namespace)
    printed = capsys.readouterr().out
    assert float(printed.split()[0]) > 0 and "(3, 1, 8, 8)" in printed
    assert namespace["filters"].grad.shape == (3, 1, 8, 8)
    assert namespace["bias"].grad.shape == (10,)
    assert abs(namespace["bias"].grad.sum()) < 1e-6  # softmax minus one-hot sums to zero
    assert namespace["model"].num_parameters() == 3 * 64 + 300 * 10 + 10
