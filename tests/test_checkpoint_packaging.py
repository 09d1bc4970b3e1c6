"""Packaging facts that checkpoints and users rely on: version, licence, typing marker, deps."""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import tinygrad_cnn

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    tomllib = None

ROOT = Path(__file__).resolve().parents[1]


def _pyproject() -> str:
    return (ROOT / "pyproject.toml").read_text(encoding="utf-8")


def test_version_agrees_with_pyproject() -> None:
    match = re.search(r'^version = "([^"]+)"', _pyproject(), re.M)
    assert match is not None
    assert tinygrad_cnn.__version__ == match[1]


def test_license_file_matches_the_metadata_and_py_typed_is_shipped() -> None:
    assert 'license = { text = "MIT" }' in _pyproject()
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("MIT License") and "tinygrad_cnn contributors" in text
    assert (ROOT / "tinygrad_cnn" / "py.typed").is_file()
    if tomllib is not None:
        config = tomllib.loads(_pyproject())
        assert "py.typed" in config["tool"]["setuptools"]["package-data"]["tinygrad_cnn"]


def test_core_dependencies_are_the_ones_the_package_imports() -> None:
    if tomllib is None:
        return
    config = tomllib.loads(_pyproject())["project"]
    core = {re.split(r"[<>=!~ ]", dep)[0] for dep in config["dependencies"]}
    imported = set()
    for path in (ROOT / "tinygrad_cnn").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                imported |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                imported.add(node.module.split(".")[0])
    assert core <= imported, f"core dependencies the package never imports: {core - imported}"
    assert "tqdm" not in core and "tqdm" in " ".join(config["optional-dependencies"]["examples"])
