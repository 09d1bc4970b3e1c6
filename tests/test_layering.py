"""The package's layering: lower layers never import higher ones.

engine < ops < nn < tools (viz, debug, data, gradcheck ...) < the package facade. Pinned two
ways: a fresh interpreter that imports ``tinygrad_cnn.nn`` loads none of the tools, and every
import statement in the package (inside functions too: importing upward lazily is still an
upward dependency) goes to the same layer or a lower one.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "tinygrad_cnn"

# Where each module sits, lowest layer first. A path (relative to the package) or a folder
# ending in "/"; the first matching entry wins. Entries for files that do not exist are
# simply unused (gradcheck moves from the top level into debug/).
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    # Helpers on numpy and the standard library only: atomic file writes, array summaries,
    # the dtype promotion table, the default random generator, the BLAS thread tuner, the
    # malloc settings.
    (
        "base",
        (
            "atomic.py",
            "array_stats.py",
            "dtypes.py",
            "random.py",
            "blas_threads.py",
            "malloc_tuning.py",
            "blas_vectors.py",
        ),
    ),
    # The autograd engine: Tensor, Function and the backward walk, grad mode.
    ("engine", ("tensor.py", "function.py", "grad_mode.py", "autograd.py")),
    # Every differentiable op (Function subclasses), and the module-level creation functions
    # and functional forms built on Tensor.
    ("ops", ("ops/", "creation.py", "functional.py")),
    # Modules, layers, optimizers, the example models, and the checkpoint format that
    # Module.save/load write (it knows modules only by their state-dict methods).
    ("nn", ("nn/", "optim/", "models.py", "checkpoint.py")),
    # Tools that read the graph or feed it: drawing, ONNX export, debugging, data,
    # gradient checking.
    (
        "tools",
        ("viz/", "debug/", "data/", "onnx/", "gradcheck.py", "debug/gradcheck.py", "testing.py"),
    ),
    # The package's __init__: re-exports every layer.
    ("package", ("__init__.py",)),
]
RANK = {name: rank for rank, (name, _) in enumerate(LAYERS)}

# Upward imports that are part of the design, each with its reason.
ALLOWED_UPWARD = {
    # Tensor's methods apply the ops (x.relu() is ops.Relu.apply(x)); tensor.py imports them at
    # its bottom, after Tensor exists. The ops import Tensor in return: engine and ops are one
    # cycle by design, and no other engine module imports an op.
    ("tensor.py", "tinygrad_cnn.ops"),
    # Tensor.zeros / ones / randn are the classmethod spellings of the module-level creation
    # functions, imported at the bottom of tensor.py like the ops.
    ("tensor.py", "tinygrad_cnn.creation"),
}


def layer_of(relative: str) -> str:
    """The layer of a package file, e.g. ``viz/builder.py`` -> ``tools``."""
    # Exact file entries win over folder entries (debug/gradcheck.py is listed on its own).
    for name, entries in LAYERS:
        if relative in entries:
            return name
    for name, entries in LAYERS:
        for entry in entries:
            if entry.endswith("/") and relative.startswith(entry):
                return name
    raise AssertionError(f"tinygrad_cnn/{relative} is in no layer: add it to LAYERS")


def module_file(module: str) -> str | None:
    """The package file (relative path) of a dotted ``tinygrad_cnn...`` module name."""
    parts = module.split(".")[1:]
    if not parts:
        return "__init__.py"
    base = PACKAGE.joinpath(*parts)
    if (base / "__init__.py").exists():
        return "/".join([*parts, "__init__.py"])
    if base.with_suffix(".py").exists():
        return "/".join(parts) + ".py"
    return None


def imports_of(path: Path) -> list[tuple[int, str]]:
    """Every ``tinygrad_cnn`` module imported anywhere in ``path``: ``(line, module)``.

    ``from tinygrad_cnn import viz`` counts as importing ``tinygrad_cnn.viz``;
    ``from tinygrad_cnn.viz import draw`` as importing ``tinygrad_cnn.viz``.
    """
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, a.name) for a in node.names if _ours(a.name))
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if not _ours(node.module):
                continue
            found.append((node.lineno, node.module))
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                if module_file(submodule) is not None:
                    found.append((node.lineno, submodule))
    return found


def _ours(module: str) -> bool:
    return module == "tinygrad_cnn" or module.startswith("tinygrad_cnn.")


def upward_imports() -> list[str]:
    """``file:line imports module (layer -> higher layer)`` for every forbidden import."""
    problems = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE).as_posix()
        own = layer_of(relative)
        for line, module in imports_of(path):
            target = module_file(module)
            if target is None or module == "tinygrad_cnn" or target == relative:
                continue
            other = layer_of(target)
            if RANK[other] > RANK[own] and (relative, module) not in ALLOWED_UPWARD:
                problems.append(
                    f"tinygrad_cnn/{relative}:{line} imports {module} ({own} -> {other})"
                )
    return problems


def test_no_lower_layer_imports_a_higher_one() -> None:
    assert upward_imports() == []


def test_every_module_has_a_layer() -> None:
    for path in PACKAGE.rglob("*.py"):
        layer_of(path.relative_to(PACKAGE).as_posix())


def test_the_checker_sees_an_upward_import_inside_a_function(tmp_path: Path) -> None:
    source = "def f():\n    from tinygrad_cnn.viz.builder import draw\n    return draw\n"
    path = tmp_path / "lazy.py"
    path.write_text(source, encoding="utf-8")
    assert (2, "tinygrad_cnn.viz.builder") in imports_of(path)
    assert layer_of("viz/builder.py") == "tools" and layer_of("nn/module.py") == "nn"
    assert layer_of("debug/gradcheck.py") == "tools" and layer_of("ops/conv.py") == "ops"


@pytest.mark.parametrize(
    ("statement", "forbidden"),
    [
        ("import tinygrad_cnn.nn", ("viz", "debug", "data")),
        ("import tinygrad_cnn", ("viz", "debug", "data")),
    ],
)
def test_a_fresh_interpreter_loads_no_higher_layer(
    statement: str, forbidden: tuple[str, ...]
) -> None:
    code = (
        f"import sys; {statement}; "
        "print(' '.join(sorted(m for m in sys.modules if m.startswith('tinygrad_cnn'))))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=PACKAGE.parent,
    )
    loaded = result.stdout.split()
    assert "tinygrad_cnn.tensor" in loaded
    for package in forbidden:
        name = f"tinygrad_cnn.{package}"
        assert not [m for m in loaded if m == name or m.startswith(name + ".")], (
            f"{statement} loaded {name}"
        )


def test_tools_still_load_on_first_use() -> None:
    code = (
        "import tinygrad_cnn as t; from tinygrad_cnn import draw, check_graph; "
        "assert t.viz.draw is draw and t.debug.check_graph is check_graph; "
        "assert 'viz' in dir(t) and t.data.synthetic_digits"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=PACKAGE.parent)
