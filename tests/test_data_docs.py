"""docs/data.md: its python blocks run as written (no network), and its picture is reproducible."""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pytest
from data_fakes import write_fake_mnist

from tinygrad_cnn.data import DATA_ENV_VAR

DOCS = Path(__file__).resolve().parent.parent / "docs"


def test_docs_examples_run_and_the_picture_matches(tmp_path, monkeypatch, capsys):
    pyplot = pytest.importorskip("matplotlib.pyplot")
    # Real MNIST when available, else tiny fake files: either way the files exist, so nothing
    # is downloaded.
    root = Path(os.environ.get(DATA_ENV_VAR) or tmp_path / "data")
    if not (root / "MNIST" / "raw").is_dir():
        root = tmp_path / "data"
        write_fake_mnist(root)
    monkeypatch.setenv(DATA_ENV_VAR, str(root))
    monkeypatch.chdir(tmp_path)  # the picture script writes docs/images/ here
    text = (DOCS / "data.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert len(blocks) >= 6
    exec(compile("\n".join(blocks), str(DOCS / "data.md"), "exec"), {"__name__": "docs_data"})
    printed = capsys.readouterr().out
    assert "using synthetic digits" not in printed  # the data was found
    assert re.search(r"\(\d+, 1, 28, 28\) float32 \(\d+,\) int64", printed)
    assert "MNIST test files not found in" in printed and DATA_ENV_VAR in printed
    assert "00 00 08 02 00 00 00 02 00 00 00 03 00 01 02 03 04 05" in printed
    assert "is truncated: header (12 bytes) plus data (6 bytes) make 18 bytes" in printed
    assert "3 [4, 4, 2]\nTrue\n2 [4, 4]" in printed
    assert "(2, 1, 28, 28) [[8, 10], [9, 11]]" in printed  # RandomCrop's seeded shifts
    generated = pyplot.imread(tmp_path / "docs" / "images" / "synthetic_digits.png")
    committed = pyplot.imread(DOCS / "images" / "synthetic_digits.png")
    np.testing.assert_array_equal(generated, committed)
