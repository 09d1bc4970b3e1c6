"""Tiny stand-ins for MNIST's files and mirrors, for the data tests (never the network).

- :func:`fake_mnist` / :func:`write_fake_mnist`: small random MNIST-shaped arrays written as IDX
  files in torchvision's layout (``<root>/MNIST/raw``), plain or gzip-compressed.
- :func:`fake_archives`: the four ``.gz`` files a mirror serves, with their MD5 checksums.
- :class:`FileServer`: an ``http.server`` on 127.0.0.1 in a thread, serving those bytes, with
  switches for the failures a real mirror can have (404, a connection closed midway).
"""

from __future__ import annotations

import gzip
import hashlib
import http.server
import threading
from pathlib import Path

import numpy as np

from tinygrad_cnn.data import write_idx

SPLIT_SIZES = {"train": 12, "t10k": 7}


def fake_mnist(split: str, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Random uint8 images (N, 28, 28) and labels (N,) for ``split`` ("train" or "t10k")."""
    rng = np.random.default_rng([seed, len(split)])
    n = SPLIT_SIZES[split]
    return rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), rng.integers(0, 10, n, np.uint8)


def write_fake_mnist(root: Path, compressed: bool = False, seed: int = 0) -> dict:
    """Write both splits under ``root/MNIST/raw``; return ``{split: (images, labels)}``."""
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    suffix = ".gz" if compressed else ""
    written = {}
    for split in SPLIT_SIZES:
        images, labels = fake_mnist(split, seed)
        write_idx(raw / f"{split}-images-idx3-ubyte{suffix}", images)
        write_idx(raw / f"{split}-labels-idx1-ubyte{suffix}", labels)
        written[split] = (images, labels)
    return written


def idx_bytes(array: np.ndarray) -> bytes:
    """The IDX encoding of a uint8 array, built by hand (independent of ``write_idx``)."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(d.to_bytes(4, "big") for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


def fake_archives(seed: int = 0) -> dict[str, bytes]:
    """The four compressed files of a fake MNIST mirror, by name."""
    archives = {}
    for split in SPLIT_SIZES:
        images, labels = fake_mnist(split, seed)
        for kind, array in (("images-idx3", images), ("labels-idx1", labels)):
            archives[f"{split}-{kind}-ubyte.gz"] = gzip.compress(idx_bytes(array), mtime=0)
    return archives


def md5s(files: dict[str, bytes]) -> dict[str, str]:
    """MD5 hex digest of each file's bytes."""
    return {name: hashlib.md5(data).hexdigest() for name, data in files.items()}


class FileServer:
    """Serve ``files`` at ``http://127.0.0.1:<port>/<prefix>/<name>`` from a thread.

    ``broken`` names files whose transfer stops halfway (after announcing the full
    ``Content-Length``, or with no ``Content-Length`` when ``announce_length`` is False).
    Paths not in ``files`` get 404. ``requests`` lists every path asked for. Use as a context
    manager: the server is shut down and its thread joined on exit.
    """

    def __init__(
        self, files: dict[str, bytes], broken: frozenset[str] = frozenset(), announce_length=True
    ) -> None:
        self.files, self.broken, self.announce_length = files, broken, announce_length
        self.requests: list[str] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.requests.append(self.path)
                name = self.path.rsplit("/", 1)[-1]
                if not self.path.startswith("/mirror/") or name not in server.files:
                    self.send_error(404)
                    return
                data = server.files[name]
                self.send_response(200)
                if server.announce_length:
                    self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                # A broken transfer: half the bytes, then the connection closes (HTTP/1.0).
                self.wfile.write(data[: len(data) // 2] if name in server.broken else data)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def url(self, prefix: str = "mirror") -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/{prefix}/"

    def __enter__(self) -> FileServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=10)
