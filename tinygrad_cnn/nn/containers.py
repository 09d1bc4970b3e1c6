"""Containers that register the modules they hold: :class:`ModuleList` and :class:`ModuleDict`.

A plain Python ``list`` or ``dict`` of modules assigned as an attribute would hide their
parameters from :meth:`Module.parameters` (and so from the optimizer); :class:`Module` refuses
it with a ``TypeError`` that names these containers.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import numpy as np

from tinygrad_cnn.nn.module import Module


def _module(container: str, value: Any, where: str) -> Module:
    if not isinstance(value, Module):
        raise TypeError(f"{container}: expected a Module {where}, got {type(value).__name__}")
    return value


class ModuleList(Module):
    """A list of modules, registered under ``"0"``, ``"1"``, ... (PyTorch's keys).

    It has no ``forward``: the owner decides how to call its entries.

    Parameters
    ----------
    modules : iterable of Module, optional

    Examples
    --------
    >>> from tinygrad_cnn.nn import Linear
    >>> layers = ModuleList([Linear(2, 2, seed=i) for i in range(3)])
    >>> len(layers), [name for name, _ in layers.named_parameters()][:2]
    (3, ['0.weight', '0.bias'])
    """

    def __init__(self, modules: Iterable[Module] | None = None) -> None:
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def _items(self) -> list[Module]:
        return list(self._modules.values())  # type: ignore[arg-type]

    def _index(self, index: Any) -> int:
        if isinstance(index, bool) or not isinstance(index, int | np.integer):
            raise TypeError(f"ModuleList: index must be an int or a slice, got {index!r}")
        size = len(self)
        if not -size <= index < size:
            raise IndexError(f"ModuleList: index {index} is out of range for {size} modules")
        return int(index) % size

    def _renumber(self, modules: list[Module]) -> None:
        for key in list(self._modules):
            del self._modules[key]
        for i, module in enumerate(modules):
            setattr(self, str(i), module)

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._items())

    def __getitem__(self, index: int | slice) -> Module | ModuleList:
        if isinstance(index, slice):
            return ModuleList(self._items()[index])
        return self._items()[self._index(index)]

    def __setitem__(self, index: int, module: Module) -> None:
        setattr(self, str(self._index(index)), _module("ModuleList", module, f"at {index}"))

    def __delitem__(self, index: int | slice) -> None:
        items = self._items()
        if isinstance(index, slice):
            del items[index]
        else:
            del items[self._index(index)]
        self._renumber(items)

    def __iadd__(self, modules: Iterable[Module]) -> ModuleList:
        return self.extend(modules)

    def append(self, module: Module) -> ModuleList:
        """Add ``module`` at the end; returns self."""
        setattr(self, str(len(self)), _module("ModuleList.append", module, "to append"))
        return self

    def extend(self, modules: Iterable[Module]) -> ModuleList:
        """Append each module of ``modules``; returns self."""
        if isinstance(modules, Module) or not isinstance(modules, Iterable):
            raise TypeError(
                f"ModuleList.extend: expected an iterable of Modules, got {type(modules).__name__}"
            )
        for i, module in enumerate(list(modules)):
            self.append(_module("ModuleList", module, f"at position {i}"))
        return self

    def insert(self, index: int, module: Module) -> None:
        """Insert ``module`` before position ``index`` (later entries are renumbered)."""
        items = self._items()
        items.insert(index, _module("ModuleList.insert", module, "to insert"))
        self._renumber(items)


class ModuleDict(Module):
    """An ordered dict of modules, registered under their keys (PyTorch's state-dict keys).

    Parameters
    ----------
    modules : mapping of str to Module, or iterable of (str, Module) pairs, optional

    Examples
    --------
    >>> from tinygrad_cnn.nn import Linear, ReLU
    >>> blocks = ModuleDict({"fc": Linear(2, 3, seed=0), "act": ReLU()})
    >>> list(blocks.keys()), [name for name, _ in blocks.named_parameters()]
    (['fc', 'act'], ['fc.weight', 'fc.bias'])
    """

    def __init__(
        self, modules: Mapping[str, Module] | Iterable[tuple[str, Module]] | None = None
    ) -> None:
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[str]:
        return iter(self._modules)

    def __contains__(self, key: object) -> bool:
        return key in self._modules

    def __getitem__(self, key: str) -> Module:
        if key not in self._modules:
            raise KeyError(key)
        return self._modules[key]  # type: ignore[return-value]

    def __setitem__(self, key: str, module: Module) -> None:
        self.add_module(key, _module("ModuleDict", module, f"for key {key!r}"))

    def __delitem__(self, key: str) -> None:
        del self._modules[key]

    def keys(self) -> list[str]:
        """The keys, in insertion order."""
        return list(self._modules)

    def values(self) -> list[Module]:
        """The modules, in insertion order."""
        return list(self._modules.values())  # type: ignore[arg-type]

    def items(self) -> list[tuple[str, Module]]:
        """``(key, module)`` pairs, in insertion order."""
        return list(self._modules.items())  # type: ignore[arg-type]

    def pop(self, key: str) -> Module:
        """Remove ``key`` and return its module."""
        module = self[key]
        del self[key]
        return module

    def clear(self) -> None:
        """Remove every module."""
        self._modules.clear()

    def update(self, modules: Mapping[str, Module] | Iterable[tuple[str, Module]]) -> None:
        """Add or replace entries from a mapping or from ``(key, module)`` pairs."""
        pairs = modules.items() if isinstance(modules, Mapping) else modules
        for entry in pairs:
            if not isinstance(entry, tuple | list) or len(entry) != 2:
                raise TypeError(f"ModuleDict.update: expected (key, Module) pairs, got {entry!r}")
            key, module = entry
            if key in self._modules:
                setattr(self, key, _module("ModuleDict", module, f"for key {key!r}"))
            else:
                self[key] = module
