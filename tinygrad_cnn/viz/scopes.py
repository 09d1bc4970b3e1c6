"""Which module each op and tensor belongs to, for the module view (``modules=True``).

A module tags the ops its forward recorded by calling :func:`record_module_scope` at the end
of ``Module.__call__``; the renderer then maps each tagged module to its dotted path in the
model (``features.0``) with ``model.named_modules()``. An op with no tag that reads a
module's parameters (directly, or through ``weight.T`` and the like) is placed in that module,
so layers with parameters are still grouped when a model's forward was called directly.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from tinygrad_cnn.tensor import Tensor


def _tensors_in(values: Iterable[Any]) -> Iterator[Tensor]:
    """The tensors among ``values`` and inside lists, tuples and dicts one level down."""
    for value in values:
        if isinstance(value, Tensor):
            yield value
        elif isinstance(value, list | tuple):
            yield from (v for v in value if isinstance(v, Tensor))
        elif isinstance(value, dict):
            yield from (v for v in value.values() if isinstance(v, Tensor))


def input_makers(inputs: Iterable[Any]) -> list[Any]:
    """The op that made each input tensor (None for a leaf), to take before ``forward`` runs.

    An in-place op in the forward (``x.relu_()``) moves its input tensor behind itself, so
    after the forward the input tensor's op is the module's own.
    """
    return [t._ctx for t in _tensors_in(inputs)]


def record_module_scope(
    module: Any, inputs: Iterable[Any], outputs: Any, makers: Iterable[Any] | None = None
) -> int:
    """Tag, with ``module``, every op between ``inputs`` and ``outputs`` that has no tag yet.

    ``Module.__call__`` calls it after ``forward``: submodules called inside that forward
    finish first and tag their own ops, so each op keeps the innermost module that made it.
    The walk goes back from the outputs and stops at the ops that made the call's input
    tensors and at leaves (no recursion).

    Parameters
    ----------
    module : object
        The module whose forward just ran (stored on each op's ``scope``).
    inputs : iterable
        The call's arguments (tensors, or lists/tuples/dicts of tensors; others are ignored).
    outputs : Tensor or list/tuple/dict of Tensor
        What the forward returned.
    makers : iterable, optional
        :func:`input_makers` of the inputs, taken before the forward ran; needed when the
        forward may change an input in place. Default: the inputs' ops now.

    Returns
    -------
    int
        How many ops were tagged.
    """
    boundary = {id(node) for node in (input_makers(inputs) if makers is None else makers)}
    pending = list(_tensors_in([outputs]))
    seen: set[int] = set()
    tagged = 0
    while pending:
        node = pending.pop()._ctx
        if node is None or id(node) in boundary or id(node) in seen:
            continue
        seen.add(id(node))
        if node.scope is None:
            node.scope = module
            tagged += 1
        pending.extend(node.inputs)
    return tagged


@dataclass(frozen=True)
class ModuleInfo:
    """A module of the model as the renderer shows it.

    Attributes
    ----------
    path : str
        Dotted path in the model (``""`` for the model itself).
    type_name : str
        The module's class name (``Conv2d``).
    parameter_count : int
        Number of parameter entries, its submodules' included.
    """

    path: str
    type_name: str
    parameter_count: int

    @property
    def title(self) -> str:
        """``conv1: Conv2d`` (``SeedCNN`` for the model itself)."""
        return f"{self.path}: {self.type_name}" if self.path else self.type_name


def parent_path(path: str) -> str:
    """``features.0`` -> ``features``; a top-level child -> ``""`` (the model)."""
    return path.rpartition(".")[0]


def ancestor_paths(path: str) -> list[str]:
    """The paths enclosing ``path``, outermost first, ``path`` itself last."""
    if not path:
        return [""]
    parts = path.split(".")
    return ["", *(".".join(parts[: i + 1]) for i in range(len(parts)))]


@dataclass(frozen=True)
class ModuleMap:
    """The model's modules, and which module owns each parameter and each recorded op.

    Attributes
    ----------
    modules : dict of str to ModuleInfo
        By dotted path, in ``named_modules()`` order.
    path_of_module : dict of int to str
        ``id(module)`` to its path.
    owner_of_parameter : dict of int to str
        ``id(parameter)`` to the path of the module that holds it directly.
    parameter_names : dict of int to str
        ``id(parameter)`` to its dotted name (``conv1.weight``).
    """

    modules: dict[str, ModuleInfo]
    path_of_module: dict[int, str]
    owner_of_parameter: dict[int, str]
    parameter_names: dict[int, str]

    def op_scopes(self, tensors: list[Tensor]) -> dict[int, str | None]:
        """The module path of the op behind each tensor, ``id(op) -> path`` (or None).

        An op tagged by :func:`record_module_scope` goes to the module that tagged it. An
        untagged op goes to the innermost module among those owning a parameter it reads,
        directly or through tensors computed from that module's parameters alone (as
        ``weight.T`` in a linear layer).

        Parameters
        ----------
        tensors : list of Tensor
            The drawn tensors, every input before the tensors made from it.
        """
        derived: dict[int, str] = dict(self.owner_of_parameter)
        scopes: dict[int, str | None] = {}
        for tensor in tensors:
            node = tensor._ctx
            if node is None:
                continue
            if node.scope is not None and id(node.scope) in self.path_of_module:
                scopes[id(node)] = self.path_of_module[id(node.scope)]
                continue
            owners = {derived[id(t)] for t in node.inputs if id(t) in derived}
            scopes[id(node)] = max(owners, key=_depth) if owners else None
            if len(owners) == 1 and all(id(t) in derived or _is_constant(t) for t in node.inputs):
                derived[id(tensor)] = next(iter(owners))
        return scopes


def _is_constant(tensor: Tensor) -> bool:
    """A one-entry leaf that needs no gradient (``2.0`` in ``x * 2.0``)."""
    return tensor._ctx is None and not tensor.requires_grad and tensor.numel() == 1


def _depth(path: str) -> int:
    """Nesting depth of a module path: ``""`` 0, ``conv`` 1, ``features.0`` 2."""
    return path.count(".") + 1 if path else 0


def _named_modules(model: Any) -> list[tuple[str, Any]]:
    """``model.named_modules()``, or the same built from ``named_children()`` (iteratively)."""
    if hasattr(model, "named_modules"):
        return list(model.named_modules())
    found: list[tuple[str, Any]] = []
    stack: list[tuple[str, Any]] = [("", model)]
    while stack:
        path, module = stack.pop()
        found.append((path, module))
        children = list(module.named_children()) if hasattr(module, "named_children") else []
        for name, child in reversed(children):
            stack.append((f"{path}.{name}" if path else name, child))
    return found


def map_modules(model: Any) -> ModuleMap:
    """Read the module tree and parameter names of ``model``.

    Parameters
    ----------
    model : Module
        Anything with ``named_parameters()`` and ``named_modules()`` (or
        ``named_children()``), as :class:`tinygrad_cnn.nn.Module`.

    Returns
    -------
    ModuleMap
    """
    named = _named_modules(model)
    parameter_names = {id(p): name for name, p in model.named_parameters()}
    owner = {pid: parent_path(name) for pid, name in parameter_names.items()}
    sizes: dict[str, int] = dict.fromkeys((path for path, _ in named), 0)
    for name, p in model.named_parameters():
        for path in ancestor_paths(parent_path(name)):
            if path in sizes:
                sizes[path] += p.numel()
    modules = {path: ModuleInfo(path, type(module).__name__, sizes[path]) for path, module in named}
    return ModuleMap(
        modules=modules,
        path_of_module={id(module): path for path, module in named},
        owner_of_parameter=owner,
        parameter_names=parameter_names,
    )
