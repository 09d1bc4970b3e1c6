"""Which module call recorded each op: the tags the graph renderer's module view reads.

``Module.__call__`` takes :func:`input_makers` before its forward runs and calls
:func:`record_module_scope` after it: every op between the call's inputs and its outputs that
has no tag yet gets ``op.scope = module`` and ``op.scope_call = call``, a token shared by the
ops of that one call. Submodules called inside a forward finish first and tag their own ops, so
each op keeps the innermost module that made it. Nothing here draws: :mod:`tinygrad_cnn.viz`
only reads ``scope`` and ``scope_call``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
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
    makers = []
    for value in inputs:  # (a plain tensor, the usual argument, without a generator)
        if type(value) is Tensor:
            makers.append(value._ctx)
        else:
            makers.extend(t._ctx for t in _tensors_in((value,)))
    return makers


class ModuleCall:
    """The token shared by the ops of one call of a module (``Function.scope_call``).

    Two calls of one module (a layer applied twice, a shared block) record ops with the same
    ``scope`` but different tokens, so the renderer can draw each call on its own.

    Attributes
    ----------
    module : object
        The module that was called.
    """

    __slots__ = ("module",)

    def __init__(self, module: Any) -> None:
        self.module = module

    def __repr__(self) -> str:
        return f"<call of {type(self.module).__name__}>"


def record_module_scope(
    module: Any, inputs: Iterable[Any], outputs: Any, makers: Iterable[Any] | None = None
) -> int:
    """Tag, with ``module``, every op between ``inputs`` and ``outputs`` that has no tag yet.

    ``Module.__call__`` calls it after ``forward``: submodules called inside that forward
    finish first and tag their own ops, so each op keeps the innermost module that made it.
    The walk goes back from the outputs and stops at the ops that made the call's input
    tensors and at leaves (no recursion). The ops tagged by one call also share one
    :class:`ModuleCall` token (``op.scope_call``).

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
    pending = [outputs] if type(outputs) is Tensor else list(_tensors_in([outputs]))
    seen: set[int] = set()
    call: ModuleCall | None = None
    tagged = 0
    while pending:
        node = pending.pop()._ctx
        if node is None or id(node) in boundary or id(node) in seen:
            continue
        seen.add(id(node))
        if node.scope is None:
            if call is None:
                call = ModuleCall(module)
            node.scope = module
            node.scope_call = call
            tagged += 1
        pending.extend(node.inputs)
    return tagged


__all__ = ["ModuleCall", "input_makers", "record_module_scope"]
