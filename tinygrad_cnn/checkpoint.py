"""Checkpoints: parameters in a plain ``.npz`` file, written atomically, verified on load.

File format: one array per state-dict key (``conv.weight``, ...) plus a metadata entry
``__tinygrad_cnn__``, a unicode string array holding JSON::

    {"format": "tinygrad_cnn.checkpoint", "version": 1, "keys": [...], "sha256": "..."}

The SHA-256 covers every key, dtype, shape and the raw bytes of every array, so a truncated,
corrupted or edited file is rejected with a ``ValueError`` naming it, before the model is
touched. Nothing is ever unpickled: files are read with ``np.load(allow_pickle=False)`` and
object arrays are refused on save.

Writing goes to a temporary file in the destination's folder, which is flushed, fsynced and
then renamed over the destination (``os.replace``): a crash or error while saving leaves the
previous checkpoint intact and no partial file behind.

Layering: this module is the file format, below :mod:`tinygrad_cnn.nn`. It knows a module only
by its ``state_dict()`` and ``load_state_dict()`` methods and never imports ``nn``;
:meth:`Module.save <tinygrad_cnn.nn.Module.save>` and :meth:`Module.load
<tinygrad_cnn.nn.Module.load>` call :func:`save` and :func:`load` here.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from tinygrad_cnn.atomic import write_atomically
from tinygrad_cnn.tensor import Tensor

if TYPE_CHECKING:  # for the annotations only: nn imports this module, not the reverse
    from tinygrad_cnn.nn.module import IncompatibleKeys, Module

FORMAT = "tinygrad_cnn.checkpoint"
VERSION = 1
METADATA_KEY = "__tinygrad_cnn__"

PathLike = str | os.PathLike


def state_checksum(arrays: Mapping[str, np.ndarray]) -> str:
    """SHA-256 (hex) of the keys, dtypes, shapes and bytes of ``arrays``, in sorted key order."""
    digest = hashlib.sha256()
    for key in sorted(arrays):
        array = np.ascontiguousarray(arrays[key])
        header = json.dumps([key, array.dtype.str, list(array.shape)])
        digest.update(header.encode("utf-8") + b"\0")
        digest.update(array.tobytes())
    return digest.hexdigest()


def _is_module(obj: Any) -> bool:
    """A :class:`~tinygrad_cnn.nn.Module`, recognised by its parameter and state-dict methods."""
    methods = ("named_parameters", "state_dict", "load_state_dict")
    return all(callable(getattr(obj, name, None)) for name in methods)


def _arrays_to_save(obj: Module | Mapping[str, Any]) -> dict[str, np.ndarray]:
    if not isinstance(obj, Mapping) and _is_module(obj):
        return dict(obj.state_dict())
    if not isinstance(obj, Mapping):
        raise TypeError(
            f"save: expected a Module or a mapping of names to arrays, got {type(obj).__name__}"
        )
    arrays = {}
    for key, value in obj.items():
        if not isinstance(key, str) or not key:
            raise ValueError(f"save: keys must be non-empty strings, got {key!r}")
        if key == METADATA_KEY:
            raise ValueError(f"save: the key {METADATA_KEY!r} is reserved for metadata")
        array = value.data if isinstance(value, Tensor) else np.asarray(value)
        if array.dtype.hasobject:
            raise TypeError(f"save: {key!r} is an object array, which would need pickle")
        arrays[key] = array
    return arrays


def save(obj: Module | Mapping[str, Any], path: PathLike) -> None:
    """Write a module's parameters (or a mapping of name -> array) to ``path`` atomically.

    Parameters
    ----------
    obj : Module or mapping of str to ndarray/Tensor
        What to save; a module saves its :meth:`~tinygrad_cnn.nn.Module.state_dict`.
    path : str or path-like
        The destination, written exactly as given (no suffix is added; ``.npz`` is the
        conventional one). Its folder must exist. An existing file is replaced only once the
        new one is completely written.

    Examples
    --------
    >>> model = seed_cnn(seed=0)
    >>> save(model, "seed.npz")            # or model.save("seed.npz")
    >>> load(seed_cnn(seed=1), "seed.npz")
    IncompatibleKeys(missing_keys=[], unexpected_keys=[])
    """
    arrays = _arrays_to_save(obj)
    metadata = {
        "format": FORMAT,
        "version": VERSION,
        "keys": sorted(arrays),
        "sha256": state_checksum(arrays),
    }
    write_atomically(
        path,
        lambda handle: np.savez(handle, **arrays, **{METADATA_KEY: np.array(json.dumps(metadata))}),
    )


def load_state(path: PathLike) -> dict[str, np.ndarray]:
    """Read and verify a checkpoint; returns its arrays by key.

    Raises
    ------
    FileNotFoundError
        When ``path`` does not exist.
    ValueError
        Naming the file, when it is not a readable ``.npz`` (truncated, corrupted, pickled
        content), lacks the metadata, or its checksum or key list does not match.
    """
    where = os.fspath(path)
    try:
        loaded = np.load(where, allow_pickle=False)
        if not isinstance(loaded, np.lib.npyio.NpzFile):
            raise ValueError("it holds a single .npy array, not an .npz archive")
        with loaded as npz:
            arrays = {key: npz[key] for key in npz.files}
    except (FileNotFoundError, IsADirectoryError, PermissionError):
        raise
    except Exception as error:
        raise ValueError(
            f"load: {where} is not a readable checkpoint (truncated or corrupted?): "
            f"{type(error).__name__}: {error}"
        ) from error
    metadata = _read_metadata(where, arrays.pop(METADATA_KEY, None))
    keys = sorted(arrays)
    if metadata["keys"] != keys:
        missing = sorted(set(metadata["keys"]) - set(keys))
        extra = sorted(set(keys) - set(metadata["keys"]))
        raise ValueError(
            f"load: {where} does not hold the arrays its metadata lists "
            f"(missing: {missing}, unlisted: {extra})"
        )
    if state_checksum(arrays) != metadata["sha256"]:
        raise ValueError(
            f"load: {where} failed its SHA-256 check: the arrays were modified or corrupted"
        )
    return arrays


def _read_metadata(where: str, entry: np.ndarray | None) -> dict[str, Any]:
    if entry is None:
        raise ValueError(
            f"load: {where} has no {METADATA_KEY!r} entry: not a tinygrad_cnn checkpoint"
        )
    try:
        metadata = json.loads(str(entry.item()))
    except (ValueError, TypeError) as error:
        raise ValueError(f"load: {where} has unreadable metadata: {error}") from error
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT:
        raise ValueError(f"load: {where} is not a tinygrad_cnn checkpoint (format {metadata!r})")
    if metadata.get("version") != VERSION:
        raise ValueError(
            f"load: {where} has checkpoint version {metadata.get('version')!r}, "
            f"this library reads version {VERSION}"
        )
    if not isinstance(metadata.get("keys"), list) or not isinstance(metadata.get("sha256"), str):
        raise ValueError(f"load: {where} has incomplete metadata (keys and sha256 are required)")
    return metadata


def load(module: Module, path: PathLike, strict: bool = True) -> IncompatibleKeys:
    """Load a checkpoint into ``module`` in place; the module is unchanged on any error.

    Parameters
    ----------
    module : Module
    path : str or path-like
    strict : bool, default True
        As in :meth:`~tinygrad_cnn.nn.Module.load_state_dict`.

    Returns
    -------
    IncompatibleKeys
        The keys ignored with ``strict=False``.

    Raises
    ------
    ValueError
        Naming the file: unreadable or tampered file, missing or unexpected keys, wrong shapes.
    """
    if not _is_module(module):
        raise TypeError(f"load: expected a Module, got {type(module).__name__}")
    state = load_state(path)
    try:
        return module.load_state_dict(state, strict=strict)
    except ValueError as error:
        raise ValueError(f"load: {os.fspath(path)}: {error}") from error


__all__ = ["load", "load_state", "save", "state_checksum"]
