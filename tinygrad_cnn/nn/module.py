"""The :class:`Module` base class and the :class:`Parameter` tensor.

A module owns parameters and child modules, registered in order when they are assigned as
attributes (``self.fc = Linear(300, 10)``), exactly as in PyTorch.

Parameter names
---------------
Every parameter's :attr:`Tensor.name` is its dotted path (``conv1.weight``,
``layers.0.bias``), so the graph renderer can label it. The rule is deterministic and needs no
call to anything:

* each module remembers the dotted prefix under which it was last attached (``""`` for a module
  that was never attached, ``"layers.0."`` for the first layer of ``model.layers``);
* assigning a parameter to a module names it ``prefix + attribute``;
* assigning a module to a module sets the prefix of the whole attached subtree and renames all
  of its parameters.

Models are built bottom-up (a child is complete before it is attached) or top-down (a child
attached to a parent that is already part of a model): both give every parameter its full path
from the outermost module. A module or parameter shared by two parents carries the name of its
latest attachment.
"""

from __future__ import annotations

import itertools
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from typing import Any, NamedTuple

import numpy as np

from tinygrad_cnn import checkpoint
from tinygrad_cnn.nn.scopes import input_makers, record_module_scope
from tinygrad_cnn.tensor import Tensor

Hook = Callable[..., Any]


class RemovableHandle:
    """Returned by ``register_forward_hook`` and friends; :meth:`remove` unregisters the hook.

    Parameters
    ----------
    hooks : dict
        The registry the hook was added to (a module's ``_forward_hooks`` or
        ``_forward_pre_hooks``), keyed by :attr:`id`.
    """

    _next_id = itertools.count()

    def __init__(self, hooks: dict[int, Hook]) -> None:
        self.hooks = hooks
        self.id = next(RemovableHandle._next_id)

    def remove(self) -> None:
        """Unregister the hook (removing twice does nothing)."""
        self.hooks.pop(self.id, None)

    def __enter__(self) -> RemovableHandle:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.remove()


class Parameter(Tensor):
    """A leaf tensor that a :class:`Module` registers and an optimizer updates.

    Parameters
    ----------
    data : array_like or Tensor
        The initial values. They are always copied into a private, writable, C-contiguous
        array (optimizers update it in place). Python data becomes float32; numpy arrays and
        tensors keep their floating dtype.
    requires_grad : bool, default True
        Whether ``backward()`` computes a gradient for it.

    Examples
    --------
    >>> w = Parameter(np.zeros((2, 3), dtype=np.float32))
    >>> w.requires_grad, w.is_leaf
    (True, True)
    """

    __slots__ = ()

    def __init__(self, data: Any, requires_grad: bool = True) -> None:
        if isinstance(data, Tensor):
            data = data.data
        dtype = None if isinstance(data, np.ndarray | np.generic) else np.float32
        array = np.array(data, dtype=dtype, copy=True, order="C")
        if not np.issubdtype(array.dtype, np.floating):
            raise TypeError(f"Parameter(data): expected floating-point values, got {array.dtype}")
        super().__init__(array, requires_grad=requires_grad)

    def __repr__(self) -> str:
        return f"Parameter containing:\n{super().__repr__()}"


class IncompatibleKeys(NamedTuple):
    """What :meth:`Module.load_state_dict` ignored (only non-empty with ``strict=False``)."""

    missing_keys: list[str]
    unexpected_keys: list[str]


class Module:
    """Base class of every layer and model.

    Subclasses call ``super().__init__()`` first, assign their parameters and submodules as
    attributes, and define ``forward``. Calling the module calls ``forward``.

    Attributes
    ----------
    training : bool
        True after :meth:`train` (the default), False after :meth:`eval`.

    Examples
    --------
    >>> class TwoLayer(Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.hidden = Linear(4, 8, seed=0)
    ...         self.out = Linear(8, 2, seed=1)
    ...     def forward(self, x):
    ...         return self.out(self.hidden(x).relu())
    >>> [name for name, _ in TwoLayer().named_parameters()]
    ['hidden.weight', 'hidden.bias', 'out.weight', 'out.bias']
    """

    _parameters: dict[str, Parameter | None]
    _buffers: dict[str, Tensor | None]
    _non_persistent_buffers: set[str]
    _modules: dict[str, Module | None]
    _forward_hooks: dict[int, Hook]
    _forward_pre_hooks: dict[int, Hook]
    _prefix: str
    training: bool

    def __init__(self) -> None:
        object.__setattr__(self, "_parameters", {})
        object.__setattr__(self, "_buffers", {})
        object.__setattr__(self, "_non_persistent_buffers", set())
        object.__setattr__(self, "_modules", {})
        object.__setattr__(self, "_forward_hooks", {})
        object.__setattr__(self, "_forward_pre_hooks", {})
        object.__setattr__(self, "_prefix", "")
        object.__setattr__(self, "training", True)

    # ----------------------------------------------------------------- registration
    def __setattr__(self, name: str, value: Any) -> None:
        if isinstance(value, Parameter | Module) and "_parameters" not in self.__dict__:
            raise AttributeError(
                f"{type(self).__name__}: cannot assign {name!r} before Module.__init__() was "
                f"called; call super().__init__() first in __init__"
            )
        params, modules = self.__dict__.get("_parameters", {}), self.__dict__.get("_modules", {})
        buffers = self.__dict__.get("_buffers", {})
        _reject_plain_containers(self, name, value)
        if isinstance(value, Parameter):
            self._forget(name, keep=params)
            params[name] = value
            value.name = self._prefix + name
        elif isinstance(value, Module):
            self._forget(name, keep=modules)
            modules[name] = value
            _assign_names(value, f"{self._prefix}{name}.")
        elif name in params:
            if value is not None:
                raise TypeError(
                    f"{type(self).__name__}: cannot assign {type(value).__name__} to parameter "
                    f"{name!r} (expected a Parameter or None)"
                )
            params[name] = None
        elif name in modules:
            if value is not None:
                raise TypeError(
                    f"{type(self).__name__}: cannot assign {type(value).__name__} to submodule "
                    f"{name!r} (expected a Module or None)"
                )
            modules[name] = None
        elif name in buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(
                    f"{type(self).__name__}: cannot assign {type(value).__name__} to buffer "
                    f"{name!r} (expected a Tensor or None)"
                )
            buffers[name] = value
        else:
            object.__setattr__(self, name, value)

    def _forget(self, name: str, keep: dict[str, Any]) -> None:
        """Remove ``name`` from the registries other than ``keep`` (which keeps its position)."""
        for registry in (self.__dict__, self._parameters, self._buffers, self._modules):
            if registry is not keep:
                registry.pop(name, None)
        if keep is not self._buffers:
            self._non_persistent_buffers.discard(name)

    def __getattr__(self, name: str) -> Any:
        # Only called when normal lookup fails: parameters, buffers and submodules live in
        # registries.
        for registry in ("_parameters", "_buffers", "_modules"):
            found = self.__dict__.get(registry, {})
            if name in found:
                return found[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __delattr__(self, name: str) -> None:
        for registry in (self._parameters, self._buffers, self._modules):
            if name in registry:
                del registry[name]
                self._non_persistent_buffers.discard(name)
                return
        object.__delattr__(self, name)

    def add_module(self, name: str, module: Module | None) -> None:
        """Register ``module`` as the submodule ``name`` (as ``setattr``, for computed names).

        Raises
        ------
        TypeError
            When ``module`` is neither a Module nor None.
        ValueError
            For an empty or dotted name, or one that is already a non-module attribute.
        """
        _check_name("add_module", name)
        if module is not None and not isinstance(module, Module):
            raise TypeError(
                f"add_module: expected a Module or None for {name!r}, got {type(module).__name__}"
            )
        if name in self.__dict__ or name in self._parameters or name in self._buffers:
            raise ValueError(f"add_module: attribute {name!r} already exists")
        self._forget(name, keep=self._modules)
        self._modules[name] = None
        setattr(self, name, module)

    def register_module(self, name: str, module: Module | None) -> None:
        """Alias of :meth:`add_module`, as in PyTorch."""
        self.add_module(name, module)

    def register_buffer(self, name: str, tensor: Any, persistent: bool = True) -> None:
        """Register a tensor that is state but not a parameter (e.g. running statistics).

        Buffers are not returned by :meth:`parameters` (optimizers never see them); a
        persistent buffer is in :meth:`state_dict` under its dotted name (PyTorch's key) and
        :meth:`load_state_dict` copies values into it.

        Parameters
        ----------
        name : str
            Non-empty, without dots, not already an attribute other than a buffer.
        tensor : Tensor, array_like or None
            The buffer (arrays are wrapped in a Tensor that does not require grad); None
            declares an absent buffer (skipped by ``state_dict``).
        persistent : bool, default True
            False keeps the buffer out of :meth:`state_dict`.
        """
        _check_name("register_buffer", name)
        if not isinstance(persistent, bool):
            raise TypeError(f"register_buffer: persistent must be a bool, got {persistent!r}")
        if isinstance(tensor, Parameter):
            raise TypeError(
                f"register_buffer: {name!r} is a Parameter; use register_parameter for it"
            )
        if (
            name in self._parameters
            or name in self._modules
            or (name in self.__dict__ and name not in self._buffers)
        ):
            raise ValueError(f"register_buffer: attribute {name!r} already exists")
        if tensor is not None and not isinstance(tensor, Tensor):
            tensor = Tensor(np.array(tensor, copy=True))
        self._forget(name, keep=self._buffers)
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent_buffers.discard(name)
        else:
            self._non_persistent_buffers.add(name)

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Register ``param`` under ``name`` (``None`` declares an absent optional parameter)."""
        _check_name("register_parameter", name)
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(
                f"register_parameter: expected a Parameter or None for {name!r}, "
                f"got {type(param).__name__}"
            )
        self._forget(name, keep=self._parameters)
        self._parameters[name] = None
        setattr(self, name, param)

    # ----------------------------------------------------------------- traversal
    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        """Yield ``(dotted name, module)`` for this module and every descendant, pre-order.

        A module reachable twice is yielded once (under its first name). This module's own
        name is ``prefix`` (``""`` by default).
        """
        seen: set[int] = set()
        stack: list[tuple[str, Module]] = [(prefix, self)]
        while stack:
            name, module = stack.pop()
            if id(module) in seen:
                continue
            seen.add(id(module))
            yield name, module
            children = [(k, m) for k, m in module._modules.items() if m is not None]
            for child_name, child in reversed(children):
                stack.append((f"{name}.{child_name}" if name else child_name, child))

    def modules(self) -> Iterator[Module]:
        """Yield this module and every descendant, pre-order."""
        for _, module in self.named_modules():
            yield module

    def named_children(self) -> Iterator[tuple[str, Module]]:
        """Yield ``(name, module)`` for each direct submodule, in registration order."""
        for name, module in self._modules.items():
            if module is not None:
                yield name, module

    def children(self) -> Iterator[Module]:
        """Yield each direct submodule, in registration order."""
        for _, module in self.named_children():
            yield module

    def named_parameters(
        self, prefix: str = "", recurse: bool = True
    ) -> Iterator[tuple[str, Parameter]]:
        """Yield ``(dotted name, parameter)``: each module's own parameters, modules pre-order.

        Parameters
        ----------
        prefix : str, default ""
            Prepended (with a dot) to every name.
        recurse : bool, default True
            Include the parameters of submodules; otherwise only this module's own.

        A parameter shared by several modules is yielded once. Iterating does not rename
        anything (see the module docstring for how :attr:`Tensor.name` is kept up to date).
        """
        modules = self.named_modules(prefix) if recurse else iter([(prefix, self)])
        seen: set[int] = set()
        for module_name, module in modules:
            for name, param in module._parameters.items():
                if param is None or id(param) in seen:
                    continue
                seen.add(id(param))
                yield (f"{module_name}.{name}" if module_name else name), param

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        """Yield every parameter, in the order of :meth:`named_parameters`."""
        for _, param in self.named_parameters(recurse=recurse):
            yield param

    def named_buffers(self, prefix: str = "", recurse: bool = True) -> Iterator[tuple[str, Tensor]]:
        """Yield ``(dotted name, buffer)`` for every buffer (persistent or not), as
        :meth:`named_parameters` does for parameters."""
        modules = self.named_modules(prefix) if recurse else iter([(prefix, self)])
        seen: set[int] = set()
        for module_name, module in modules:
            for name, buffer in module._buffers.items():
                if buffer is None or id(buffer) in seen:
                    continue
                seen.add(id(buffer))
                yield (f"{module_name}.{name}" if module_name else name), buffer

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        """Yield every buffer, in the order of :meth:`named_buffers`."""
        for _, buffer in self.named_buffers(recurse=recurse):
            yield buffer

    def apply(self, fn: Callable[[Module], Any]) -> Module:
        """Call ``fn(module)`` on every submodule and then on self, in PyTorch's order
        (post-order: each child's subtree before the child's parent).

        Typical use: custom initialisation, ``model.apply(init_weights)``. Returns self.
        """
        if not callable(fn):
            raise TypeError(f"apply: expected a callable, got {type(fn).__name__}")
        stack: list[tuple[Module, bool]] = [(self, False)]
        while stack:
            module, expanded = stack.pop()
            if expanded:
                fn(module)
                continue
            stack.append((module, True))
            stack.extend((child, False) for child in reversed(list(module.children())))
        return self

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        """Set ``requires_grad`` on every parameter (e.g. False to freeze); returns self."""
        if not isinstance(requires_grad, bool):
            raise TypeError(f"requires_grad_: expected a bool, got {type(requires_grad).__name__}")
        for param in self.parameters():
            param.requires_grad = requires_grad
        return self

    def num_parameters(self, trainable_only: bool = False) -> int:
        """The number of scalar values in all parameters (only ``requires_grad`` ones if asked)."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad or not trainable_only)

    # ----------------------------------------------------------------- modes and gradients
    def train(self, mode: bool = True) -> Module:
        """Set ``training`` on this module and every descendant; returns self."""
        if not isinstance(mode, bool):
            raise TypeError(f"train(mode): expected a bool, got {type(mode).__name__}")
        for module in self.modules():
            object.__setattr__(module, "training", mode)
        return self

    def eval(self) -> Module:
        """Switch to evaluation mode (``train(False)``); returns self."""
        return self.train(False)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget every parameter's gradient, as PyTorch's ``Module.zero_grad``.

        Parameters
        ----------
        set_to_none : bool, default True
            Set each ``grad`` to None; False fills each existing ``grad`` tensor with zeros in
            place.
        """
        for param in self.parameters():
            param.zero_grad(set_to_none)

    # ----------------------------------------------------------------- state
    def _state_tensors(self) -> OrderedDict[str, Tensor]:
        """PyTorch's ``state_dict`` order: per module (pre-order), parameters then persistent
        buffers; a tensor shared by several modules appears once."""
        out: OrderedDict[str, Tensor] = OrderedDict()
        seen: set[int] = set()
        for module_name, module in self.named_modules():
            prefix = f"{module_name}." if module_name else ""
            persistent = (
                (name, b)
                for name, b in module._buffers.items()
                if name not in module._non_persistent_buffers
            )
            for name, tensor in (*module._parameters.items(), *persistent):
                if tensor is None or id(tensor) in seen:
                    continue
                seen.add(id(tensor))
                out[prefix + name] = tensor
        return out

    def state_dict(self) -> OrderedDict[str, np.ndarray]:
        """An ordered mapping from each dotted parameter and persistent buffer name to a copy
        of its array (PyTorch's keys and order)."""
        return OrderedDict((name, t.data.copy()) for name, t in self._state_tensors().items())

    def load_state_dict(
        self, state_dict: Mapping[str, Any], strict: bool = True
    ) -> IncompatibleKeys:
        """Copy arrays into the parameters, in place, after validating all of them.

        Parameters
        ----------
        state_dict : mapping of str to ndarray or Tensor
            As returned by :meth:`state_dict` (parameters and persistent buffers). Values of
            another dtype of the same kind (float64 for a float32 parameter) are cast; another
            kind (integers for a floating parameter) is an error.
        strict : bool, default True
            Require the keys to match exactly. With ``False``, missing and unexpected keys
            are ignored and returned; shapes and dtypes are still checked.

        Returns
        -------
        IncompatibleKeys
            ``(missing_keys, unexpected_keys)``.

        Raises
        ------
        TypeError
            When ``state_dict`` is not a mapping.
        ValueError
            Listing every problem: missing and unexpected keys (when strict), wrong shapes
            (with the key and both shapes), dtypes that cannot be cast (integers into a
            floating parameter). Nothing is modified then.
        """
        if not isinstance(state_dict, Mapping):
            raise TypeError(
                f"load_state_dict: expected a mapping of names to arrays, "
                f"got {type(state_dict).__name__}"
            )
        own = self._state_tensors()
        missing = [key for key in own if key not in state_dict]
        unexpected = [key for key in state_dict if key not in own]
        problems = []
        if strict and missing:
            problems.append(f"missing keys: {', '.join(missing)}")
        if strict and unexpected:
            problems.append(f"unexpected keys: {', '.join(map(str, unexpected))}")
        arrays = {}
        for key, param in own.items():
            if key not in state_dict:
                continue
            value = state_dict[key]
            array = value.data if isinstance(value, Tensor) else np.asarray(value)
            if array.dtype.kind != param.dtype.kind:
                kind = "floating-point" if param.dtype.kind == "f" else str(param.dtype)
                problems.append(
                    f"{key}: expected {kind} values for a {param.dtype} tensor, "
                    f"got dtype {array.dtype}"
                )
            elif array.shape != param.shape:
                problems.append(
                    f"{key}: shape mismatch, checkpoint has {array.shape}, model has {param.shape}"
                )
            else:
                arrays[key] = array
        if problems:
            raise ValueError(f"load_state_dict for {type(self).__name__}: " + "; ".join(problems))
        for key, array in arrays.items():
            own[key].data[...] = array
        return IncompatibleKeys(missing, unexpected)

    def save(self, path: Any) -> None:
        """Write the parameters to ``path`` atomically, with a SHA-256 to verify on load.

        ``path`` ending in ``.safetensors`` writes the safetensors format, with the same keys
        as :meth:`state_dict` (and as PyTorch for the same architecture), so
        ``torch_model.load_state_dict(safetensors.torch.load_file(path))`` works; ``.npz``
        writes the older format; any other suffix raises ``ValueError``. See
        :func:`tinygrad_cnn.checkpoint.save`.
        """
        checkpoint.save(self, path)

    def load(self, path: Any, strict: bool = True) -> IncompatibleKeys:
        """Read parameters from a ``.safetensors`` file (ours, PyTorch's ``safetensors.torch``,
        or a training checkpoint) or an older ``.npz`` checkpoint; unchanged on any error.

        See :func:`tinygrad_cnn.checkpoint.load`.
        """
        return checkpoint.load(self, path, strict=strict)

    # ----------------------------------------------------------------- calling and printing
    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """Compute the module's output; every subclass defines it."""
        raise NotImplementedError(f"{type(self).__name__} does not define forward()")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Run ``forward`` and tag the ops it recorded with this module and this call (see
        :mod:`tinygrad_cnn.nn.scopes`; inner modules tag first, so each op keeps the innermost)."""
        if self._forward_pre_hooks:
            for hook in list(self._forward_pre_hooks.values()):
                result = hook(self, args)
                if result is not None:
                    args = result if isinstance(result, tuple) else (result,)
        inputs = (*args, *kwargs.values()) if kwargs else args
        makers = input_makers(inputs)  # before forward, which may change an input in place
        output = self.forward(*args, **kwargs)
        if self._forward_hooks:
            for hook in list(self._forward_hooks.values()):
                result = hook(self, args, output)
                if result is not None:
                    output = result
        record_module_scope(self, inputs, output, makers)
        return output

    def register_forward_pre_hook(self, hook: Hook) -> RemovableHandle:
        """Call ``hook(module, args)`` before each ``forward``; a non-None result replaces the
        positional arguments (a single value is wrapped in a tuple). Returns a handle whose
        ``remove()`` unregisters it."""
        return _add_hook("register_forward_pre_hook", self._forward_pre_hooks, hook)

    def register_forward_hook(self, hook: Hook) -> RemovableHandle:
        """Call ``hook(module, args, output)`` after each ``forward``; a non-None result
        replaces the output. Returns a handle whose ``remove()`` unregisters it."""
        return _add_hook("register_forward_hook", self._forward_hooks, hook)

    def extra_repr(self) -> str:
        """The layer's arguments shown inside its repr, e.g. ``300, 10, bias=True``."""
        return ""

    def __repr__(self) -> str:
        lines = []
        for name, child in self._modules.items():
            child_repr = repr(child).replace("\n", "\n  ")
            lines.append(f"  ({name}): {child_repr}")
        if not lines:
            return f"{type(self).__name__}({self.extra_repr()})"
        extra = self.extra_repr()
        head = f"{type(self).__name__}(" + (f"\n  {extra}" if extra else "")
        return head + "\n" + "\n".join(lines) + "\n)"


def _check_name(method: str, name: Any) -> None:
    if not isinstance(name, str):
        raise TypeError(f"{method}: name must be a str, got {type(name).__name__}")
    if not name or "." in name:
        raise ValueError(f"{method}: invalid name {name!r} (non-empty, no dots)")


def _add_hook(method: str, hooks: dict[int, Hook], hook: Hook) -> RemovableHandle:
    if not callable(hook):
        raise TypeError(f"{method}: expected a callable, got {type(hook).__name__}")
    handle = RemovableHandle(hooks)
    hooks[handle.id] = hook
    return handle


def _reject_plain_containers(module: Module, name: str, value: Any) -> None:
    """A list, tuple or dict holding Modules would hide their parameters: name the fix."""
    if isinstance(value, list | tuple) and any(isinstance(v, Module) for v in value):
        raise TypeError(
            f"{type(module).__name__}: cannot assign a {type(value).__name__} of Modules to "
            f"{name!r}: its parameters would not be registered; use nn.ModuleList instead"
        )
    if isinstance(value, dict) and any(isinstance(v, Module) for v in value.values()):
        raise TypeError(
            f"{type(module).__name__}: cannot assign a dict of Modules to {name!r}: its "
            f"parameters would not be registered; use nn.ModuleDict instead"
        )


def _assign_names(root: Module, prefix: str) -> None:
    """Give ``root`` the dotted ``prefix`` and name every parameter below it by its full path."""
    for relative, module in root.named_modules():
        module_prefix = f"{prefix}{relative}." if relative else prefix
        object.__setattr__(module, "_prefix", module_prefix)
        for name, param in module._parameters.items():
            if param is not None:
                param.name = module_prefix + name
