"""Write a file so that readers see either the old file, nothing, or the complete new file.

The bytes go to a temporary file next to the destination (same folder, so the same file
system); only when the writer returns without raising is the temporary file flushed to disk
and renamed over the destination with :func:`os.replace`, which is atomic. On any exception,
including ``KeyboardInterrupt``, the temporary file is deleted and the exception propagates.
After the rename the folder itself is synced too (on POSIX), so the new name survives a crash.
Only a hard kill (``SIGKILL``, power loss) can leave a ``.<name>.<random>.part`` file behind;
it is never mistaken for data, since readers look for exact file names. Used for downloads,
IDX files and checkpoints.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO


def temporary_sibling(dest: Path) -> Path:
    """A fresh, unused path in ``dest``'s folder for writing ``dest``'s new content."""
    return dest.with_name(f".{dest.name}.{secrets.token_hex(6)}.part")


def write_atomically(dest: str | os.PathLike[str], write: Callable[[BinaryIO], None]) -> Path:
    """Create or replace ``dest`` with what ``write`` writes, all or nothing.

    Parameters
    ----------
    dest : str or path-like
        The file to create or replace; its folder must exist.
    write : callable
        Called with a binary file object open for writing. Raising any exception aborts: the
        partial file is removed and ``dest`` is left untouched. Use this to reject content
        after writing it (e.g. a checksum mismatch).

    Returns
    -------
    Path
        ``dest`` as a :class:`~pathlib.Path`.

    Raises
    ------
    FileNotFoundError
        When ``dest``'s folder does not exist (the message names ``dest`` and the folder).
    OSError
        When the file cannot be created (e.g. ``PermissionError``), naming ``dest``.
    """
    dest = Path(dest)
    tmp = temporary_sibling(dest)
    # os.open with mode 0o666 lets the umask decide permissions, like a plain open() would
    # (tempfile.mkstemp would make the final file private to this user).
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(tmp, flags, 0o666)
    except OSError as error:  # name the file the caller asked for, not the temporary one
        if isinstance(error, FileNotFoundError) and not dest.parent.is_dir():
            reason = f"cannot write {dest}: the directory {dest.parent} does not exist"
        else:
            reason = f"cannot write {dest}: {error.strerror}"
        raise type(error)(error.errno, reason, str(dest)) from None
    try:
        with os.fdopen(fd, "wb") as file:
            write(file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_folder(dest.parent)
    return dest


def _fsync_folder(folder: Path) -> None:
    """Make the rename durable (POSIX); folders cannot be opened for fsync on Windows."""
    if not hasattr(os, "O_DIRECTORY"):
        return
    descriptor = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
