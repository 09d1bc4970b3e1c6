"""The tutorial's code runs as written and prints what the page says it prints."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

TUTORIAL = Path(__file__).resolve().parents[1] / "docs" / "tutorial.md"


def test_tutorial_blocks_run_and_print_what_is_documented() -> None:
    blocks = re.findall(r"```python\n(.*?)```", TUTORIAL.read_text(), re.S)
    runnable = blocks[1:]  # the first block quotes the notebook
    namespace: dict = {}
    outputs = []
    for block in runnable:
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            exec(compile(block, str(TUTORIAL), "exec"), namespace)
        outputs.append(printed.getvalue())
        documented = re.findall(r"^# (.*)$", block, re.M)
        if documented:
            assert printed.getvalue().splitlines() == documented
    accuracy = re.search(r"held-out accuracy: (\d+)%", "".join(outputs))
    assert accuracy and int(accuracy.group(1)) >= 80
    images_dir = TUTORIAL.parent / "images"
    for picture in re.findall(r"\]\((images/[^)]+)\)", TUTORIAL.read_text()):
        assert (TUTORIAL.parent / picture).is_file(), picture
    assert images_dir.is_dir()
