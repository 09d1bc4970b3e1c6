"""Download a file from a list of mirrors with the standard library, verified and atomic.

A download streams into a temporary file next to the destination while computing its MD5;
the file is renamed into place only when the transfer is complete (as many bytes as the
server's ``Content-Length`` announced) and the checksum matches. Any failure, including an
interrupted transfer or ``Ctrl-C``, removes the temporary file, so no half-written file is
ever left behind. Decompression is atomic the same way.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import os
import shutil
import sys
import urllib.error
import urllib.request
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO

from tinygrad_cnn.atomic import write_atomically

CHUNK_SIZE = 1 << 16
"""Bytes read from the network per step."""


class DownloadError(OSError):
    """A file could not be downloaded from any mirror (each mirror's failure is listed)."""


def file_md5(path: str | os.PathLike[str]) -> str:
    """The MD5 hex digest of a file's bytes (an integrity check, not a security one)."""
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def download_file(
    urls: Sequence[str], dest: str | os.PathLike[str], md5: str, timeout: float = 60.0
) -> Path:
    """Download ``dest`` from the first of ``urls`` that delivers the right bytes.

    Parameters
    ----------
    urls : sequence of str
        Where to fetch the file, tried in order; a mirror that fails (HTTP error, connection
        error, short transfer, checksum mismatch) is reported and the next one is tried.
    dest : str or path-like
        The file to create or replace; its folder must exist.
    md5 : str
        The expected MD5 hex digest of the file.
    timeout : float, default 60
        Seconds to wait for each connection and each read before giving up on a mirror.

    Returns
    -------
    Path
        ``dest``, complete and verified.

    Raises
    ------
    DownloadError
        No mirror delivered the file; the message lists what went wrong with each.
    """
    if isinstance(urls, str) or not urls:
        raise ValueError(f"download_file: urls must be a non-empty sequence of str, got {urls!r}")
    dest = Path(dest)
    failures = []
    for url in urls:
        print(f"tinygrad_cnn: downloading {url} -> {dest}", file=sys.stderr)
        try:
            return write_atomically(dest, lambda file, url=url: _fetch(url, file, md5, timeout))
        except (OSError, http.client.HTTPException, ValueError) as error:
            failures.append(f"  {url}: {error}")
    raise DownloadError(f"could not download {dest.name} from any mirror:\n" + "\n".join(failures))


def _fetch(url: str, file: BinaryIO, md5: str, timeout: float) -> None:
    """Stream ``url`` into ``file``; raise when the transfer is short or the checksum differs."""
    digest = hashlib.md5(usedforsecurity=False)
    received = 0
    with urllib.request.urlopen(url, timeout=timeout) as response:
        announced = response.headers.get("Content-Length")
        while chunk := response.read(CHUNK_SIZE):
            file.write(chunk)
            digest.update(chunk)
            received += len(chunk)
    if announced is not None and received != int(announced):
        raise ValueError(
            f"transfer interrupted: received {received} of {announced} announced bytes"
        )
    if digest.hexdigest() != md5:
        raise ValueError(
            f"checksum mismatch: MD5 of the {received} bytes received is {digest.hexdigest()}, "
            f"expected {md5}"
        )


def gunzip_file(src: str | os.PathLike[str], dest: str | os.PathLike[str]) -> Path:
    """Decompress the gzip file ``src`` into ``dest`` atomically.

    Raises
    ------
    ValueError
        ``src`` is not a complete, valid gzip file (``dest`` is then left untouched).
    """
    src = Path(src)

    def write(file: BinaryIO) -> None:
        with gzip.open(src, "rb") as compressed:
            shutil.copyfileobj(compressed, file, 1 << 20)

    try:
        return write_atomically(dest, write)
    except (EOFError, gzip.BadGzipFile, zlib.error) as error:
        raise ValueError(f"gunzip_file: {src} is not a valid gzip file: {error}") from error
