"""Checkpoints: safetensors files (the default) and the older ``.npz`` format, both verified.

Three kinds of file, all written atomically (:func:`~tinygrad_cnn.atomic.write_atomically`:
a temporary file in the same folder, fsynced, then renamed over the destination, so a crash or
Ctrl-C while saving leaves the previous file intact and no partial file behind) and none ever
unpickled:

``.safetensors`` model files (:func:`save`, :func:`load`, ``Module.save``/``Module.load``)
    The `safetensors <https://huggingface.co/docs/safetensors>`_ format that PyTorch and
    Hugging Face load: one tensor per :meth:`~tinygrad_cnn.nn.Module.state_dict` key
    (``conv.weight``, ``fc.bias`` ... the keys PyTorch gives the same architecture), so
    ``torch_model.load_state_dict(safetensors.torch.load_file(path))`` works, and a file
    written by ``safetensors.torch.save_file(torch_model.state_dict(), path)`` loads here. The
    header's metadata (string to string) holds ``tinygrad_cnn.format`` (``"module"``),
    ``tinygrad_cnn.version`` and ``tinygrad_cnn.sha256``, a SHA-256 of every key, dtype, shape
    and tensor byte (:func:`state_checksum`), checked on load. Files without it (written by
    another program) are checked only for structure: the safetensors reader rejects truncated
    or malformed files.

``.npz`` model files (the format before safetensors; still read and, for ``.npz`` paths,
written)
    One array per key plus an entry ``__tinygrad_cnn__``, a unicode string array holding JSON
    ``{"format": "tinygrad_cnn.checkpoint", "version": 1, "keys": [...], "sha256": "..."}``.
    Read with ``np.load(allow_pickle=False)``.

Training checkpoints (:func:`save_training`, :func:`load_training`)
    One ``.safetensors`` file holding everything needed to continue a run exactly: tensors
    ``model.<name>`` (the model's state dict) and ``optimizer.state.<index>.<name>`` (momentum
    buffers, moment estimates), and metadata ``tinygrad_cnn.format`` = ``"training"``,
    ``tinygrad_cnn.version``, ``tinygrad_cnn.training`` (JSON: the optimizer's class,
    hyperparameters per group and scalar state such as Adam's ``step``; ``step``, ``epoch``;
    the data-order generator's ``bit_generator.state``; the library's default generator's
    state (``default_rng``: :func:`~tinygrad_cnn.random.manual_seed`, ``rand``, ``randn``,
    the initialisers' default); the caller's ``extra``) and
    ``tinygrad_cnn.sha256`` over the tensors and that JSON text.

Which reader applies is decided by the file's first bytes (a zip archive or ``.npy`` is the
older format; anything else is read as safetensors), so a model file loads whatever its suffix.
Which writer applies is decided by the suffix: ``.safetensors`` or ``.npz``; any other suffix
is a ``ValueError`` (a file name that says what it holds is what lets others load it).

Layering: this module is the file format, below :mod:`tinygrad_cnn.nn`. It knows a module
only by its ``state_dict()`` and ``load_state_dict()`` methods (and an optimizer by the same
two) and never imports ``nn``; :meth:`Module.save <tinygrad_cnn.nn.Module.save>` and
:meth:`Module.load <tinygrad_cnn.nn.Module.load>` call :func:`save` and :func:`load` here.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from tinygrad_cnn.atomic import write_atomically
from tinygrad_cnn.random import default_generator
from tinygrad_cnn.tensor import Tensor

if TYPE_CHECKING:  # for the annotations only: nn imports this module, not the reverse
    from tinygrad_cnn.nn.module import IncompatibleKeys, Module
    from tinygrad_cnn.optim import Optimizer

# The older .npz format.
FORMAT = "tinygrad_cnn.checkpoint"
VERSION = 1
METADATA_KEY = "__tinygrad_cnn__"

# safetensors metadata keys (the header's "__metadata__", string to string).
FORMAT_KEY = "tinygrad_cnn.format"
VERSION_KEY = "tinygrad_cnn.version"
SHA256_KEY = "tinygrad_cnn.sha256"
TRAINING_KEY = "tinygrad_cnn.training"
SAFETENSORS_VERSION = 1

MODEL_PREFIX = "model."
OPTIMIZER_PREFIX = "optimizer.state."

PathLike = str | os.PathLike

_NPZ_MAGICS = (b"PK\x03\x04", b"PK\x05\x06", b"\x93NUMPY")


def state_checksum(arrays: Mapping[str, np.ndarray], text: str = "") -> str:
    """SHA-256 (hex) of the keys, dtypes, shapes and bytes of ``arrays``, in sorted key order.

    ``text`` (e.g. a training checkpoint's JSON metadata) is hashed after the arrays.
    """
    digest = hashlib.sha256()
    for key in sorted(arrays):
        array = np.ascontiguousarray(arrays[key])
        header = json.dumps([key, array.dtype.str, list(array.shape)])
        digest.update(header.encode("utf-8") + b"\0")
        digest.update(array.tobytes())
    if text:
        digest.update(b"\0text\0" + text.encode("utf-8"))
    return digest.hexdigest()


def _is_module(obj: Any) -> bool:
    """A :class:`~tinygrad_cnn.nn.Module`, recognised by its parameter and state-dict methods."""
    methods = ("named_parameters", "state_dict", "load_state_dict")
    return all(callable(getattr(obj, name, None)) for name in methods)


def _arrays_to_save(obj: Module | Mapping[str, Any]) -> dict[str, np.ndarray]:
    if not isinstance(obj, Mapping) and _is_module(obj):
        obj = obj.state_dict()
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
        arrays[key] = np.ascontiguousarray(array)
    return arrays


def _writer_for(path: PathLike) -> str:
    suffix = Path(path).suffix
    if suffix not in (".safetensors", ".npz"):
        raise ValueError(
            f"save: cannot tell the format from the file name {os.fspath(path)!r}: use the "
            f"suffix .safetensors (or .npz for the older format)"
        )
    return suffix


def save(obj: Module | Mapping[str, Any], path: PathLike) -> None:
    """Write a module's parameters (or a mapping of name -> array) to ``path`` atomically.

    Parameters
    ----------
    obj : Module or mapping of str to ndarray/Tensor
        What to save; a module saves its :meth:`~tinygrad_cnn.nn.Module.state_dict`.
    path : str or path-like
        The destination, written exactly as given. Its suffix picks the format:
        ``.safetensors`` (what PyTorch and Hugging Face load) or ``.npz`` (the older
        format). Its folder must exist. An existing file is replaced only once the new one is
        completely written.

    Raises
    ------
    ValueError
        For another suffix, an empty or reserved key.
    TypeError
        For something that is neither a module nor a mapping, or an object array.

    Examples
    --------
    >>> model = seed_cnn(seed=0)
    >>> save(model, "seed.safetensors")            # or model.save("seed.safetensors")
    >>> load(seed_cnn(seed=1), "seed.safetensors")
    IncompatibleKeys(missing_keys=[], unexpected_keys=[])
    """
    suffix = _writer_for(path)
    arrays = _arrays_to_save(obj)
    if suffix == ".safetensors":
        metadata = {
            FORMAT_KEY: "module",
            VERSION_KEY: str(SAFETENSORS_VERSION),
            SHA256_KEY: state_checksum(arrays),
        }
        _write_safetensors(path, arrays, metadata)
        return
    metadata_npz = {
        "format": FORMAT,
        "version": VERSION,
        "keys": sorted(arrays),
        "sha256": state_checksum(arrays),
    }
    write_atomically(
        path,
        lambda handle: np.savez(
            handle, **arrays, **{METADATA_KEY: np.array(json.dumps(metadata_npz))}
        ),
    )


def _write_safetensors(
    path: PathLike, arrays: Mapping[str, np.ndarray], metadata: dict[str, str]
) -> None:
    from safetensors.numpy import save as serialize  # imported on first use: loads a native lib

    try:
        payload = serialize(dict(arrays), metadata=metadata)
    except Exception as error:  # SafetensorError: an unsupported dtype, names the dtype
        raise TypeError(f"save: cannot write {os.fspath(path)} as safetensors: {error}") from error
    write_atomically(path, lambda handle: handle.write(payload))


def _read_safetensors(where: str, data: bytes) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """The tensors and the header's metadata; ``ValueError`` naming ``where`` if malformed."""
    from safetensors.numpy import load as deserialize

    try:
        tensors = dict(sorted(deserialize(data).items()))  # the file's order is by size
        length = int.from_bytes(data[:8], "little")
        header = json.loads(data[8 : 8 + length])
        metadata = header.get("__metadata__") or {}
    except Exception as error:
        raise ValueError(
            f"load: {where} is not a readable checkpoint (truncated or corrupted?): "
            f"{type(error).__name__}: {error}"
        ) from error
    return tensors, metadata


def _read_npz(where: str, data: bytes) -> dict[str, np.ndarray]:
    try:
        loaded = np.load(io.BytesIO(data), allow_pickle=False)
        if not isinstance(loaded, np.lib.npyio.NpzFile):
            raise ValueError("it holds a single .npy array, not an .npz archive")
        with loaded as npz:
            arrays = {key: npz[key] for key in npz.files}
    except Exception as error:
        raise ValueError(
            f"load: {where} is not a readable checkpoint (truncated or corrupted?): "
            f"{type(error).__name__}: {error}"
        ) from error
    metadata = _read_npz_metadata(where, arrays.pop(METADATA_KEY, None))
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


def _read_npz_metadata(where: str, entry: np.ndarray | None) -> dict[str, Any]:
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


def _read_file(path: PathLike) -> tuple[str, bytes]:
    where = os.fspath(path)
    with open(where, "rb") as handle:  # FileNotFoundError, IsADirectoryError ... as they are
        return where, handle.read()


def _verified_safetensors(
    where: str, data: bytes, kind: str | None
) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Read a safetensors file and check its tinygrad_cnn metadata (when it has any).

    ``kind`` is the format required (``"module"`` or ``"training"``); ``None`` accepts a
    module file, a training checkpoint, or a file without tinygrad_cnn metadata.
    """
    tensors, metadata = _read_safetensors(where, data)
    found = metadata.get(FORMAT_KEY)
    if found is None and kind != "training" and SHA256_KEY not in metadata:
        return tensors, metadata  # written by another program: structure checked only
    if found not in ("module", "training") or (kind is not None and found != kind):
        wanted = "a training checkpoint" if kind == "training" else "a checkpoint"
        raise ValueError(
            f"load: {where} is not {wanted} of tinygrad_cnn ({FORMAT_KEY} is {found!r})"
        )
    if metadata.get(VERSION_KEY) != str(SAFETENSORS_VERSION):
        raise ValueError(
            f"load: {where} has checkpoint version {metadata.get(VERSION_KEY)!r}, this "
            f"library reads version {SAFETENSORS_VERSION}"
        )
    text = metadata.get(TRAINING_KEY, "") if found == "training" else ""
    if state_checksum(tensors, text) != metadata.get(SHA256_KEY):
        raise ValueError(
            f"load: {where} failed its SHA-256 check: the tensors or metadata were modified "
            f"or corrupted"
        )
    return tensors, metadata


def load_state(path: PathLike) -> dict[str, np.ndarray]:
    """Read and verify a model file; returns its arrays by state-dict key.

    Reads ``.safetensors`` files (tinygrad_cnn's, verified by their SHA-256; or any other
    program's, such as ``safetensors.torch.save_file``), the older ``.npz`` checkpoints, and
    the model part of a training checkpoint (:func:`save_training`).

    Raises
    ------
    FileNotFoundError
        When ``path`` does not exist.
    ValueError
        Naming the file, when it is not readable (truncated, corrupted, pickled content),
        lacks the metadata of an ``.npz`` checkpoint, or fails its checksum.
    """
    where, data = _read_file(path)
    if data.startswith(_NPZ_MAGICS):
        return _read_npz(where, data)
    tensors, metadata = _verified_safetensors(where, data, kind=None)
    if metadata.get(FORMAT_KEY) == "training":
        return {
            key[len(MODEL_PREFIX) :]: value
            for key, value in tensors.items()
            if key.startswith(MODEL_PREFIX)
        }
    return tensors


def load(module: Module, path: PathLike, strict: bool = True) -> IncompatibleKeys:
    """Load a model file into ``module`` in place; the module is unchanged on any error.

    Parameters
    ----------
    module : Module
    path : str or path-like
        A ``.safetensors`` file (from :func:`save`, PyTorch's ``safetensors.torch``, or a
        training checkpoint) or an older ``.npz`` checkpoint.
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


# ---------------------------------------------------------------------- training checkpoints
def _json_value(value: Any, where: str, arrays: bool = False) -> Any:
    """``value`` as plain JSON data (numpy scalars become Python numbers), or ``TypeError``.

    Tuples become lists; mapping keys must be strings (JSON would turn ``1`` into ``"1"``).
    With ``arrays`` (for generator states: MT19937's holds its key as an array), numeric
    arrays are encoded as ``{"__ndarray__": [...], "dtype": "<u4"}``.
    """
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, np.generic) and not isinstance(value, np.void):
        value = value.item()
    if isinstance(value, int | float):
        return value
    if arrays and isinstance(value, np.ndarray) and value.dtype.kind in "biuf":
        return {"__ndarray__": value.tolist(), "dtype": value.dtype.str}
    if isinstance(value, list | tuple):
        return [_json_value(item, f"{where}[{i}]", arrays) for i, item in enumerate(value)]
    if isinstance(value, Mapping):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"save_training: {where} has a non-string key {key!r}")
            out[key] = _json_value(item, f"{where}[{key!r}]", arrays)
        return out
    raise TypeError(
        f"save_training: {where} is a {type(value).__name__}, expected JSON data "
        f"(dict with str keys, list, str, int, float, bool or None)"
    )


def _from_json(value: Any) -> Any:
    """Undo :func:`_json_value`'s array encoding (used for generator states)."""
    if isinstance(value, dict):
        if set(value) == {"__ndarray__", "dtype"}:
            return np.array(value["__ndarray__"], dtype=np.dtype(value["dtype"]))
        return {key: _from_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_from_json(item) for item in value]
    return value


def _check_count(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise TypeError(f"save_training: {name} must be an int, got {value!r}")
    if value < 0:
        raise ValueError(f"save_training: {name} must be >= 0, got {value}")
    return int(value)


def _optimizer_part(optimizer: Optimizer) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """The optimizer's state dict split into tensors and JSON (hyperparameters, scalars)."""
    state_dict = optimizer.state_dict()
    tensors: dict[str, np.ndarray] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for index, entry in state_dict["state"].items():
        for name, value in entry.items():
            where = f"optimizer state {name!r} of parameter {index}"
            if isinstance(value, np.ndarray):
                tensors[f"{OPTIMIZER_PREFIX}{index}.{name}"] = np.ascontiguousarray(value)
            else:
                scalars.setdefault(str(index), {})[name] = _json_value(value, where)
    info = {
        "class": type(optimizer).__name__,
        "param_groups": _json_value(state_dict["param_groups"], "optimizer param_groups"),
        "scalars": scalars,
    }
    return tensors, info


def save_training(
    path: PathLike,
    *,
    model: Module,
    optimizer: Optimizer,
    step: int,
    epoch: int,
    rng: np.random.Generator | None = None,
    extra: Mapping[str, Any] | None = None,
) -> None:
    """Write everything needed to continue a training run exactly, atomically, to one file.

    Besides what is passed, the state of the library's default random generator
    (:func:`~tinygrad_cnn.random.default_generator`, drawn from by ``rand``, ``randn`` and the
    default initialisation) is saved; :func:`load_training` restores it.

    Like PyTorch's ``torch.save({"model": ..., "optimizer": ..., ...}, path)``, but a
    ``.safetensors`` file (no pickle): see the module docstring for the layout.

    Parameters
    ----------
    path : str or path-like
        The destination; its suffix must be ``.safetensors`` and its folder must exist.
    model : Module
        Its :meth:`~tinygrad_cnn.nn.Module.state_dict` is saved.
    optimizer : Optimizer
        Its :meth:`~tinygrad_cnn.optim.Optimizer.state_dict` is saved: per-parameter arrays
        as tensors, hyperparameters (including a scheduled ``lr``) and scalar state as JSON.
    step, epoch : int
        Where the run is (non-negative; their meaning is the caller's, e.g. steps done).
    rng : numpy Generator, optional
        The generator that draws the data order (or anything else); its
        ``bit_generator.state`` is saved and :func:`load_training` puts it back.
    extra : mapping, optional
        Anything else as JSON data (dicts with string keys, lists, numbers, strings, bools,
        None), e.g. the run's settings or loss history. Returned by :func:`load_training`.

    Raises
    ------
    TypeError
        When ``extra`` or the optimizer's scalar state is not JSON data, ``rng`` is not a
        Generator, or ``step``/``epoch`` are not ints.
    ValueError
        For a suffix other than ``.safetensors`` or a negative ``step``/``epoch``.
    """
    if Path(path).suffix != ".safetensors":
        raise ValueError(
            f"save_training: the file name must end in .safetensors, got {os.fspath(path)!r}"
        )
    if not _is_module(model):
        raise TypeError(f"save_training: model must be a Module, got {type(model).__name__}")
    if not callable(getattr(optimizer, "state_dict", None)):
        raise TypeError(
            f"save_training: optimizer must be an Optimizer, got {type(optimizer).__name__}"
        )
    if rng is not None and not isinstance(rng, np.random.Generator):
        raise TypeError(
            f"save_training: rng must be a numpy Generator or None, got {type(rng).__name__}"
        )
    if extra is not None and not isinstance(extra, Mapping):
        raise TypeError(f"save_training: extra must be a mapping, got {type(extra).__name__}")
    tensors = {MODEL_PREFIX + key: value for key, value in _arrays_to_save(model).items()}
    optimizer_tensors, optimizer_info = _optimizer_part(optimizer)
    tensors.update(optimizer_tensors)
    info = {
        "step": _check_count("step", step),
        "epoch": _check_count("epoch", epoch),
        "optimizer": optimizer_info,
        "rng": None
        if rng is None
        else _json_value(rng.bit_generator.state, "rng state", arrays=True),
        "default_rng": _json_value(
            default_generator().bit_generator.state, "default generator state", arrays=True
        ),
        "extra": _json_value(dict(extra or {}), "extra"),
    }
    text = json.dumps(info, allow_nan=True)
    metadata = {
        FORMAT_KEY: "training",
        VERSION_KEY: str(SAFETENSORS_VERSION),
        TRAINING_KEY: text,
        SHA256_KEY: state_checksum(tensors, text),
    }
    _write_safetensors(path, tensors, metadata)


_OPTIMIZER_KEY = re.compile(r"(\d+)\.(.+)")


def _optimizer_state_dict(
    where: str, tensors: Mapping[str, np.ndarray], info: Mapping[str, Any], optimizer: Any
) -> dict[str, Any]:
    """Rebuild ``optimizer.state_dict()``'s shape from the file's tensors and JSON."""
    saved_class, own_class = info["class"], type(optimizer).__name__
    if saved_class != own_class:
        raise ValueError(
            f"load_training: {where} holds the state of a {saved_class} optimizer, "
            f"got a {own_class}"
        )
    state: dict[int, dict[str, Any]] = {}
    for index, scalars in info["scalars"].items():
        state.setdefault(int(index), {}).update(scalars)
    for key, value in tensors.items():
        match = _OPTIMIZER_KEY.fullmatch(key[len(OPTIMIZER_PREFIX) :])
        if match is None:
            raise ValueError(f"load_training: {where} has a malformed optimizer key {key!r}")
        state.setdefault(int(match[1]), {})[match[2]] = value
    groups = []
    for saved, own in zip(info["param_groups"], optimizer.param_groups, strict=False):
        # JSON has no tuples: give back the optimizer's own type (Adam's betas).
        groups.append(
            {
                key: tuple(value) if isinstance(own.get(key), tuple) else value
                for key, value in saved.items()
            }
        )
    groups.extend(info["param_groups"][len(groups) :])
    return {"state": state, "param_groups": groups}


def _restored_generator_state(where: str, saved: Any, rng: Any) -> dict[str, Any] | None:
    """Check ``saved`` (a bit generator's state) against ``rng`` without touching ``rng``."""
    if rng is None:
        return None
    if not isinstance(rng, np.random.Generator):
        raise TypeError(
            f"load_training: rng must be a numpy Generator or None, got {type(rng).__name__}"
        )
    if saved is None:
        raise ValueError(f"load_training: {where} holds no generator state, but rng was given")
    return _checked_generator_state(where, saved, rng, "rng", "generator state")


def _checked_generator_state(
    where: str, saved: Any, rng: np.random.Generator, name: str, what: str
) -> dict[str, Any]:
    """``saved`` decoded, once a scratch bit generator of ``rng``'s type accepted it."""
    state = _from_json(saved)
    kind = type(rng.bit_generator).__name__
    found = state.get("bit_generator") if isinstance(state, dict) else None
    if found != kind:
        raise ValueError(f"load_training: {where} holds a {found} {what}, {name} uses {kind}")
    scratch = type(rng.bit_generator)()
    try:
        scratch.state = state
    except (TypeError, ValueError, KeyError) as error:
        raise ValueError(f"load_training: {where} has an invalid {what}: {error}") from error
    return state


def _default_generator_state(where: str, saved: Any) -> dict[str, Any] | None:
    """The saved state of the default generator, checked; None for a file written before
    checkpoints held it (the default generator is then left as it is)."""
    if saved is None:
        return None
    return _checked_generator_state(
        where, saved, default_generator(), "the default generator", "default generator state"
    )


def _training_info(where: str, text: str) -> dict[str, Any]:
    """The training JSON, checked for the entries :func:`load_training` reads."""
    try:
        info = json.loads(text)
        optimizer = info["optimizer"]
        ok = (
            isinstance(info["step"], int)
            and isinstance(info["epoch"], int)
            and isinstance(info["extra"], dict)
            and isinstance(optimizer["class"], str)
            and isinstance(optimizer["param_groups"], list)
            and all(isinstance(group, dict) for group in optimizer["param_groups"])
            and isinstance(optimizer["scalars"], dict)
            and all(key.isdigit() for key in optimizer["scalars"])
        )
    except (ValueError, TypeError, KeyError) as error:
        raise ValueError(
            f"load_training: {where} has unreadable training metadata: {error}"
        ) from error
    if not ok:
        raise ValueError(f"load_training: {where} has incomplete training metadata")
    return info


def load_training(
    path: PathLike,
    model: Module,
    optimizer: Optimizer,
    rng: np.random.Generator | None = None,
) -> dict[str, Any]:
    """Restore a :func:`save_training` checkpoint into ``model``, ``optimizer`` and ``rng``.

    Everything is read and validated first: on any error (a truncated, tampered or foreign
    file, another architecture, another optimizer class or parameter layout) nothing is
    modified. Continuing from here gives bit-identical results to a run that never stopped
    (see ``tests/test_resume.py``).

    Parameters
    ----------
    path : str or path-like
    model : Module
        Built as when the checkpoint was saved (same architecture); its parameters are set.
    optimizer : Optimizer
        Of the same class, over ``model``'s parameters in the same order; its state and
        hyperparameters are set.
    rng : numpy Generator, optional
        Given the saved ``bit_generator.state`` in place (the same bit generator type, e.g.
        PCG64, as when saved).

    The library's default generator (:func:`~tinygrad_cnn.random.default_generator`) gets its
    saved state back, in place and last, so ``randn`` and friends continue as in a run that
    never stopped (files saved before checkpoints held that state leave it unchanged).

    Returns
    -------
    dict
        ``{"step": int, "epoch": int, "extra": dict}``, as given to :func:`save_training`.

    Raises
    ------
    FileNotFoundError
        When ``path`` does not exist.
    ValueError
        Naming the file, for every problem listed above.
    """
    if not _is_module(model):
        raise TypeError(f"load_training: model must be a Module, got {type(model).__name__}")
    where, data = _read_file(path)
    if data.startswith(_NPZ_MAGICS):
        raise ValueError(
            f"load_training: {where} is an .npz model file, not a training checkpoint "
            f"(it holds no optimizer state); load it with model.load()"
        )
    tensors, metadata = _verified_safetensors(where, data, kind="training")
    info = _training_info(where, metadata[TRAINING_KEY])
    model_arrays = {
        key[len(MODEL_PREFIX) :]: value
        for key, value in tensors.items()
        if key.startswith(MODEL_PREFIX)
    }
    optimizer_tensors = {
        key: value for key, value in tensors.items() if key.startswith(OPTIMIZER_PREFIX)
    }
    stray = sorted(set(tensors) - {MODEL_PREFIX + k for k in model_arrays} - set(optimizer_tensors))
    if stray:
        raise ValueError(f"load_training: {where} has unexpected tensors {stray}")
    optimizer_state = _optimizer_state_dict(where, optimizer_tensors, info["optimizer"], optimizer)
    rng_state = _restored_generator_state(where, info.get("rng"), rng)
    default_state = _default_generator_state(where, info.get("default_rng"))

    before = model.state_dict()
    try:
        model.load_state_dict(model_arrays)
    except ValueError as error:
        raise ValueError(f"load_training: {where}: {error}") from error
    try:
        optimizer.load_state_dict(optimizer_state)
    except (TypeError, ValueError) as error:
        model.load_state_dict(before)
        raise ValueError(f"load_training: {where}: {error}") from error
    if rng is not None:
        rng.bit_generator.state = rng_state
    if default_state is not None:  # in place: code holding the generator sees the restored stream
        default_generator().bit_generator.state = default_state
    return {"step": info["step"], "epoch": info["epoch"], "extra": info["extra"]}


__all__ = ["load", "load_state", "load_training", "save", "save_training", "state_checksum"]
