"""Read and write IDX files, the format of MNIST, plain or gzip-compressed.

An IDX file is a header followed by the array's values, row-major, big-endian:

- 2 zero bytes, a type code byte (see :data:`IDX_DTYPES`), the number of dimensions ``ndim``;
- ``ndim`` sizes, each a 4-byte big-endian unsigned integer;
- ``prod(sizes)`` values of the type.

:func:`read_idx` checks every part of that and the exact length: a corrupt or truncated file
raises a ``ValueError`` that names the file and what is wrong with it.
"""

from __future__ import annotations

import gzip
import math
import os
import zlib
from pathlib import Path
from typing import BinaryIO

import numpy as np

from tinygrad_cnn.atomic import write_atomically

IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
"""IDX type code -> big-endian numpy dtype (unsigned byte, signed byte, int16, int32, float32,
float64)."""

_GZIP_MAGIC = b"\x1f\x8b"
# Deflate cannot compress better than about 1032:1, so a gzip file of c bytes holds at most
# this many times c bytes: a header claiming more is corrupt (and is not allocated).
_MAX_DEFLATE_RATIO = 1100
_CHUNK = 1 << 20


def is_gzip(path: str | os.PathLike[str]) -> bool:
    """Whether the file starts with the gzip magic bytes (whatever its name)."""
    with open(path, "rb") as file:
        return file.read(2) == _GZIP_MAGIC


def read_idx(path: str | os.PathLike[str], ndim: int | None = None) -> np.ndarray:
    """Read an IDX file (gzip-compressed or not, detected from its content).

    Parameters
    ----------
    path : str or path-like
        The file, e.g. ``train-images-idx3-ubyte`` or ``train-images-idx3-ubyte.gz``.
    ndim : int, optional
        The number of dimensions the caller expects; another number is an error.

    Returns
    -------
    ndarray, shape given by the header
        A writable array in native byte order with the dtype of the type code
        (``uint8`` for MNIST).

    Raises
    ------
    ValueError
        Naming the file, when the magic number is wrong (non-zero leading bytes, unknown type
        code, unexpected number of dimensions), the file is shorter or longer than its header
        says, or the gzip stream is corrupt.
    """
    path = Path(path)
    if ndim is not None:
        if not isinstance(ndim, int) or isinstance(ndim, bool):
            raise TypeError(f"read_idx: ndim must be an int or None, got {type(ndim).__name__}")
        if not 0 <= ndim <= 255:
            raise ValueError(f"read_idx: ndim must be in 0..255 (one header byte), got {ndim}")
    compressed = is_gzip(path)
    try:
        opener = gzip.open if compressed else open
        with opener(path, "rb") as file:
            shape, dtype = _read_header(file, path, ndim)
            count = math.prod(shape)
            _check_claimed_size(path, compressed, 4 + 4 * len(shape), count * dtype.itemsize)
            values = np.empty(count, dtype=dtype)
            received = _read_fully(file, memoryview(values).cast("B"))
            if received < values.nbytes:
                raise ValueError(
                    f"read_idx: {path} is truncated: its header promises {count} values of "
                    f"{dtype.itemsize} byte(s) ({values.nbytes} bytes) for shape {shape}, "
                    f"but only {received} bytes follow the header"
                )
            if file.read(1):
                raise ValueError(
                    f"read_idx: {path} has trailing bytes after the {values.nbytes} bytes of "
                    f"data its header promises for shape {shape}"
                )
    except (EOFError, gzip.BadGzipFile, zlib.error) as error:
        raise ValueError(f"read_idx: {path} is not a valid gzip file: {error}") from error
    return values.reshape(shape).astype(dtype.newbyteorder("="), copy=False)


def _read_header(
    file: BinaryIO, path: Path, expected_ndim: int | None
) -> tuple[tuple[int, ...], np.dtype]:
    magic = file.read(4)
    if len(magic) < 4:
        raise ValueError(f"read_idx: {path} is truncated: {len(magic)} bytes, no IDX header")
    if magic[:2] != b"\x00\x00":
        raise ValueError(
            f"read_idx: {path} has a bad magic number 0x{magic.hex()}: an IDX file starts "
            f"with two zero bytes"
        )
    code, ndim = magic[2], magic[3]
    if code not in IDX_DTYPES:
        known = ", ".join(f"0x{c:02x}" for c in IDX_DTYPES)
        raise ValueError(
            f"read_idx: {path} has a bad magic number 0x{magic.hex()}: unknown type code "
            f"0x{code:02x} (known: {known})"
        )
    if expected_ndim is not None and ndim != expected_ndim:
        raise ValueError(
            f"read_idx: {path} has a bad magic number 0x{magic.hex()}: it holds a {ndim}-d "
            f"array, expected {expected_ndim}-d"
        )
    sizes = file.read(4 * ndim)
    if len(sizes) < 4 * ndim:
        raise ValueError(
            f"read_idx: {path} is truncated in its header: {ndim} dimension sizes need "
            f"{4 * ndim} bytes, found {len(sizes)}"
        )
    shape = tuple(int(s) for s in np.frombuffer(sizes, dtype=">u4"))
    return shape, IDX_DTYPES[code]


def _check_claimed_size(path: Path, compressed: bool, header: int, payload: int) -> None:
    """Reject a header whose sizes the file cannot hold, before allocating memory for them."""
    on_disk = path.stat().st_size
    if not compressed and header + payload != on_disk:
        state = "truncated" if header + payload > on_disk else "longer than its header says"
        raise ValueError(
            f"read_idx: {path} is {state}: header ({header} bytes) plus data ({payload} "
            f"bytes) make {header + payload} bytes, the file has {on_disk}"
        )
    if compressed and header + payload > _MAX_DEFLATE_RATIO * on_disk + 1024:
        raise ValueError(
            f"read_idx: {path} is corrupt: its header claims {payload} bytes of data, more "
            f"than a {on_disk}-byte gzip file can hold"
        )


def _read_fully(file: BinaryIO, buffer: memoryview) -> int:
    """Fill ``buffer`` from ``file``; return how many bytes were read (less only at EOF)."""
    filled = 0
    while filled < len(buffer):
        n = file.readinto(buffer[filled : filled + _CHUNK])
        if not n:
            break
        filled += n
    return filled


def _idx_type_code(dtype: np.dtype) -> int:
    """The IDX type code of a numpy dtype (any byte order); ``TypeError`` if it has none."""
    for code, idx_dtype in IDX_DTYPES.items():
        if dtype.newbyteorder(">") == idx_dtype:
            return code
    names = ", ".join(str(d.newbyteorder("=")) for d in IDX_DTYPES.values())
    raise TypeError(f"write_idx: dtype {dtype} cannot be stored in IDX (supported: {names})")


def write_idx(path: str | os.PathLike[str], array: np.ndarray) -> Path:
    """Write an array as an IDX file, atomically; gzip-compressed when the name ends in ``.gz``.

    Parameters
    ----------
    path : str or path-like
        The file to create or replace (its folder must exist).
    array : array_like
        uint8, int8, int16, int32, float32 or float64 values of any shape with at most 255
        dimensions, each smaller than 2**32.

    Returns
    -------
    Path
        The file written.
    """
    array = np.asarray(array)
    code = _idx_type_code(array.dtype)
    if array.ndim > 255 or any(size >= 2**32 for size in array.shape):
        raise ValueError(
            f"write_idx: IDX holds at most 255 dimensions, each < 2**32; got shape {array.shape}"
        )
    header = bytes([0, 0, code, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    payload = np.ascontiguousarray(array, dtype=IDX_DTYPES[code]).tobytes()
    path = Path(path)

    def write(file: BinaryIO) -> None:
        if path.suffix == ".gz":
            # mtime=0 makes the output reproducible, byte for byte.
            with gzip.GzipFile(fileobj=file, mode="wb", mtime=0) as compressed:
                compressed.write(header + payload)
        else:
            file.write(header + payload)

    return write_atomically(path, write)
