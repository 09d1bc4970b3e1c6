"""Keep freed memory in the process between training steps, so that a step does not fault
its arrays in again (glibc's malloc).

A training step allocates and frees the same arrays at every step: activations, patch
matrices, gradients of a few megabytes each. glibc's malloc hands an array above its mmap
threshold (128 KiB at first, raised as such arrays are freed, at most 32 MiB) fresh pages
from the system, and gives the top of its heap back to the system once more than its trim
threshold is free there. Either way the next step writes to pages the process no longer
has, and each first write is a page fault (the kernel maps and zeroes 4 KiB). How many
arrays that hits depends on the order of all earlier allocations, so two runs of one program
can differ: LeNet at batch 8 paid 130-210 faults a step (about 9 % of its time), PyTorch's
LeNet 4,300 a step (its Adam step over 4M parameters 3,900, half of its time). Timings in
docs/performance.md, "Page faults".

:func:`keep_freed_memory` sets two of glibc's tunables for the whole process: arrays up to
32 MiB (the largest mmap threshold glibc accepts) come from the heap, and the heap keeps up
to 1 GiB of freed memory for the next allocations instead of returning it. The peak memory
of a training run does not change (the next step reuses what the last one freed); a
process that frees a lot and then goes on with little keeps it. It is the same as starting
Python with ``MALLOC_MMAP_THRESHOLD_=33554432 MALLOC_TRIM_THRESHOLD_=1073741824``::

    from tinygrad_cnn.malloc_tuning import keep_freed_memory

    keep_freed_memory()   # once, before training; True where glibc took the settings

``examples/mnist.py`` calls it (``--no-keep-freed-memory`` leaves malloc alone), and
``benchmarks/bench.py`` applies the same settings to both frameworks' worker processes.
"""

from __future__ import annotations

import ctypes
import platform
import sys
from collections.abc import Callable

M_TRIM_THRESHOLD = -1  # glibc's <malloc.h> parameter numbers
M_MMAP_THRESHOLD = -3
HEAP_ARRAYS_UP_TO = 32 << 20  # glibc refuses a larger mmap threshold on 64-bit systems
KEEP_FREED_UP_TO = 1 << 30


def keep_freed_memory() -> bool:
    """Make glibc's malloc keep freed memory for the process's next allocations.

    Sets ``M_MMAP_THRESHOLD`` to 32 MiB and ``M_TRIM_THRESHOLD`` to 1 GiB with ``mallopt``
    (see the module docstring for why). Process-wide, and it cannot be undone short of
    restarting the process; calling it again changes nothing.

    Returns
    -------
    bool
        True when glibc took both settings; False where there is no glibc (macOS, Windows,
        Alpine's musl) or it refused the first setting, and then nothing was changed.
    """
    mallopt = _glibc_mallopt()
    if mallopt is None or not mallopt(M_MMAP_THRESHOLD, HEAP_ARRAYS_UP_TO):
        return False
    # (Only after the first succeeded: a fixed trim threshold alone turns off glibc's raising
    # of the mmap threshold, and every array above 128 KiB would then fault in at each step.)
    return bool(mallopt(M_TRIM_THRESHOLD, KEEP_FREED_UP_TO))


def _glibc_mallopt() -> Callable[[int, int], int] | None:
    """glibc's ``int mallopt(int param, int value)``, or None without glibc."""
    if not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc":
        return None
    mallopt = getattr(ctypes.CDLL(None), "mallopt", None)
    if mallopt is None:
        return None
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    return mallopt


__all__ = ["keep_freed_memory"]
