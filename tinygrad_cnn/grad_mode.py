"""Grad mode: the one piece of global state, kept per thread and per async task.

A :class:`contextvars.ContextVar` (not a module-level flag) holds it, so ``with no_grad():``
in one thread never switches recording off in another.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager

_grad_enabled: contextvars.ContextVar[bool] = contextvars.ContextVar("grad_enabled", default=True)


def is_grad_enabled() -> bool:
    """Return True when operations are being recorded for ``backward()``."""
    return _grad_enabled.get()


@contextmanager
def set_grad_enabled(mode: bool) -> Iterator[None]:
    """Context manager that switches recording on (``True``) or off (``False``) inside it."""
    token = _grad_enabled.set(bool(mode))
    try:
        yield
    finally:
        _grad_enabled.reset(token)


def no_grad() -> AbstractContextManager[None]:
    """Context manager that records nothing: tensors made inside it have no graph.

    Examples
    --------
    >>> with no_grad():
    ...     y = model(x)   # no graph is kept, no memory is held for backward
    """
    return set_grad_enabled(False)


def enable_grad() -> AbstractContextManager[None]:
    """Context manager that turns recording back on inside a ``no_grad`` block."""
    return set_grad_enabled(True)
