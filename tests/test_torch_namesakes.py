"""Every public name with a PyTorch namesake is compared with PyTorch somewhere, or excused.

A public ``Tensor`` method or attribute whose name ``torch.Tensor`` also has, and a public
top-level ``tinygrad_cnn.<name>`` that ``torch`` or ``torch.nn.functional`` also has, must be
covered in one of three ways:

- by an op spec (``tests/op_specs.py``) with a ``torch`` callable, named as the op: the generic
  parity tests (``tests/test_torch_parity.py``) compare it with PyTorch;
- by another test file that compares it with PyTorch, listed below (the name must appear in
  that file as ``.name`` or ``"name"``: checked here, so a table entry cannot go stale
  silently);
- by a deliberate exclusion below, with its reason (docs/coming-from-pytorch.md lists them).

Adding a public name with a PyTorch namesake without any of these fails this test.
"""

from __future__ import annotations

import re
import types
from pathlib import Path

import pytest
from op_specs import SPECS

import tinygrad_cnn as tc

torch = pytest.importorskip("torch")

TESTS = Path(__file__).parent
SPECS_WITH_TORCH = frozenset(name for name, spec in SPECS.items() if spec.torch is not None)

SHAPES = "test_shapes_torch.py"  # shapes, views, size(), cat/stack/split, conversions
COMPARE = "test_compare_select.py"  # comparisons, where, clamp, reductions with dim, sort/topk
CREATION = "test_creation.py"  # tensor(), factories, *_like, random, functional forms
INPLACE = "test_inplace_arithmetic.py"  # += -= ..., add_ ... zero_ fill_, relu_
PROMOTION = "test_type_promotion.py"  # the dtype table of every binary op
HABITS = "test_pytorch_habits.py"  # idioms run in both libraries
API = "test_tensor_api.py"  # autograd attributes checked against torch's behaviour
GRAD = "test_grad_tensor.py"  # .grad as a Tensor, norm
HIGHER = "test_higher_order.py"  # grad(), create_graph, against torch.autograd.grad

# Tensor methods and attributes compared with PyTorch outside the op specs: name -> file.
METHODS_COVERED: dict[str, str] = {
    "T": SHAPES, "mT": SHAPES, "all": COMPARE, "any": COMPARE, "amax": COMPARE,
    "amin": COMPARE, "argmax": COMPARE, "argmin": COMPARE, "backward": SHAPES, "bool": SHAPES,
    "chunk": SHAPES, "clip": COMPARE, "contiguous": SHAPES, "cpu": SHAPES, "detach": SHAPES,
    "dim": SHAPES, "double": SHAPES, "dtype": SHAPES, "eq": COMPARE, "expand": SHAPES,
    "expand_as": SHAPES, "fill_": INPLACE, "flatten": SHAPES, "flip": SHAPES, "float": SHAPES,
    "ge": COMPARE, "gt": COMPARE, "int": SHAPES, "is_contiguous": SHAPES, "is_leaf": HABITS,
    "isfinite": COMPARE, "isinf": COMPARE, "isnan": COMPARE, "item": SHAPES, "le": COMPARE,
    "long": SHAPES, "lt": COMPARE, "ndim": SHAPES, "ne": COMPARE, "numel": SHAPES,
    "numpy": SHAPES, "relu_": INPLACE, "repeat": SHAPES, "requires_grad": HABITS,
    "requires_grad_": API, "reshape_as": SHAPES, "retain_grad": API, "shape": SHAPES,
    "size": SHAPES, "sort": COMPARE, "split": SHAPES, "squeeze": SHAPES, "t": SHAPES,
    "to": SHAPES, "tolist": SHAPES, "topk": COMPARE, "transpose": SHAPES, "unbind": SHAPES,
    "unsqueeze": SHAPES, "view": SHAPES, "view_as": SHAPES, "zero_": INPLACE,
    # Registered under another op name: amax/amin back the "max"/"min" specs, whose methods
    # max()/min() (values and indices with dim) are compared in test_compare_select.py.
    "max": COMPARE, "min": COMPARE, "maximum": PROMOTION, "minimum": PROMOTION,
    "grad": GRAD, "norm": GRAD,
}  # fmt: skip

# Top-level functions, classes and dtype names compared with PyTorch: name -> file.
FUNCTIONS_COVERED: dict[str, str] = {
    "Size": SHAPES, "Tensor": HABITS, "all": COMPARE, "any": COMPARE, "amax": COMPARE,
    "amin": COMPARE, "arange": CREATION, "argmax": COMPARE, "argmin": COMPARE, "cat": SHAPES,
    "chunk": SHAPES, "clip": COMPARE, "concat": SHAPES, "default_generator": CREATION,
    "empty": HABITS, "enable_grad": HABITS, "eq": COMPARE, "eye": CREATION,
    "flatten": SHAPES, "flip": SHAPES, "full": CREATION, "full_like": CREATION, "ge": COMPARE,
    "gt": COMPARE, "is_grad_enabled": HABITS, "isfinite": COMPARE, "isinf": COMPARE,
    "isnan": COMPARE, "le": COMPARE, "linspace": CREATION, "lt": COMPARE,
    "manual_seed": CREATION, "max": COMPARE, "mean": COMPARE, "min": COMPARE, "ne": COMPARE,
    "no_grad": INPLACE, "ones": CREATION, "ones_like": CREATION, "permute": SHAPES,
    "promote_types": PROMOTION, "rand": CREATION, "rand_like": CREATION, "randint": CREATION,
    "randn": CREATION, "randn_like": CREATION, "reshape": SHAPES, "set_grad_enabled": HABITS,
    "sort": COMPARE, "split": SHAPES, "squeeze": SHAPES, "sum": COMPARE, "t": SHAPES,
    "tensor": CREATION, "topk": COMPARE, "transpose": SHAPES, "unbind": SHAPES,
    "unsqueeze": SHAPES, "zeros": CREATION, "zeros_like": CREATION, "norm": GRAD,
    "grad": HIGHER,
    # elementwise functional forms and arithmetic by name (tc.add(a, b) ...)
    "add": CREATION, "div": PROMOTION, "mul": CREATION, "neg": CREATION, "sub": CREATION,
    # dtype names (numpy dtypes here, torch.dtype there): x.to(tc.float64) as x.to(torch...)
    "bool": HABITS, "double": HABITS, "float": HABITS, "float32": HABITS, "float64": HABITS,
    "int": HABITS, "int8": HABITS, "int16": PROMOTION, "int32": HABITS, "int64": HABITS,
    "long": HABITS, "short": HABITS, "uint8": HABITS,
}  # fmt: skip

# Deliberately not compared with PyTorch: name -> reason (docs/coming-from-pytorch.md).
METHODS_EXCLUDED: dict[str, str] = {
    "data": "the numpy array itself (torch: a Tensor sharing storage); documented difference",
    "name": "a label for graph drawings and error messages; torch's is a named-tensor "
    "feature this library does not have",
}
FUNCTIONS_EXCLUDED: dict[str, str] = {}


def _public_methods() -> set[str]:
    return {n for n in dir(tc.Tensor) if not n.startswith("_") and hasattr(torch.Tensor, n)}


def _public_functions() -> set[str]:
    names = set()
    for name in dir(tc):
        if name.startswith("_") or name == "TYPE_CHECKING":
            continue
        if isinstance(getattr(tc, name), types.ModuleType):
            continue  # subpackages (nn, optim, data ...) are namespaces, not functions
        if hasattr(torch, name) or hasattr(torch.nn.functional, name):
            names.add(name)
    return names


def _mentions(file: str, name: str) -> bool:
    """``.name`` or ``"name"`` in the file; a class (``Size``) anywhere as a word."""
    pattern = rf"\b{name}\b" if name[0].isupper() else rf"\.{name}\b|[\"']{name}[\"']"
    return re.search(pattern, (TESTS / file).read_text()) is not None


@pytest.mark.parametrize(
    ("kind", "public", "covered", "excluded"),
    [
        ("Tensor method", _public_methods, METHODS_COVERED, METHODS_EXCLUDED),
        ("top-level name", _public_functions, FUNCTIONS_COVERED, FUNCTIONS_EXCLUDED),
    ],
)
def test_every_torch_namesake_is_covered_or_excluded_with_a_reason(
    kind: str, public: object, covered: dict[str, str], excluded: dict[str, str]
) -> None:
    names = public()  # type: ignore[operator]
    missing = sorted(
        n for n in names if n not in SPECS_WITH_TORCH | covered.keys() | excluded.keys()
    )
    assert not missing, f"{kind}s with a PyTorch namesake and no parity coverage: {missing}"
    stale = sorted((covered.keys() | excluded.keys()) - names)
    assert not stale, f"listed {kind}s that are not public torch namesakes: {stale}"
    assert not covered.keys() & excluded.keys(), "a name both covered and excluded"
    for name, reason in excluded.items():
        assert reason.strip(), f"{kind} {name!r} excluded without a reason"
    for name, file in covered.items():
        assert (TESTS / file).is_file(), f"{kind} {name!r}: no test file {file}"
        assert _mentions(file, name), f"{kind} {name!r}: {file} does not exercise it"
