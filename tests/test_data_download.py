"""Downloading MNIST, against a local HTTP server on 127.0.0.1 (never the network).

The server (``data_fakes.FileServer``) serves tiny fake MNIST archives; the tests point the
downloader at it (``base_urls``, or the patched ``MNIST_MIRRORS``) and patch ``MNIST_MD5`` to
the fakes' checksums. Whatever fails, no partial or temporary file may remain.
"""

from __future__ import annotations

import gzip
import hashlib
import sys
import types
from pathlib import Path

import numpy as np
import pytest
from data_fakes import FileServer, fake_archives, fake_mnist, md5s, write_fake_mnist

from tinygrad_cnn.data import DownloadError, download_file, download_mnist, gunzip_file, load_mnist
from tinygrad_cnn.data import download as download_module
from tinygrad_cnn.data import mnist as mnist_module

ARCHIVES = fake_archives()
RAW_NAMES = {name.removesuffix(".gz") for name in ARCHIVES}
TIMEOUT = 10.0


@pytest.fixture(autouse=True)
def fake_checksums(monkeypatch):
    """The downloader checks the fake archives' MD5s instead of the real ones."""
    monkeypatch.setattr(mnist_module, "MNIST_MD5", md5s(ARCHIVES))


@pytest.fixture
def no_torchvision(monkeypatch):
    """Make ``import torchvision`` fail, as on a machine without it."""
    monkeypatch.setitem(sys.modules, "torchvision", None)
    monkeypatch.setitem(sys.modules, "torchvision.datasets", None)


def files_in(folder):
    return {p.name for p in folder.iterdir()} if folder.exists() else set()


def test_success_writes_verified_files(tmp_path, no_torchvision):
    with FileServer(ARCHIVES) as server:
        images, labels = load_mnist(tmp_path, train=False, base_urls=[server.url()])
    expected_images, expected_labels = fake_mnist("t10k")
    np.testing.assert_array_equal(images, expected_images)
    np.testing.assert_array_equal(labels, expected_labels)
    raw = tmp_path / "MNIST" / "raw"
    assert files_in(raw) == set(ARCHIVES) | RAW_NAMES  # all four, no temporary files
    for name, data in ARCHIVES.items():
        assert (raw / name).read_bytes() == data
        assert (raw / name.removesuffix(".gz")).read_bytes() == gzip.decompress(data)
    assert sorted(server.requests) == sorted(f"/mirror/{name}" for name in ARCHIVES)
    # Everything is there now: loading again asks nothing of the server.
    np.testing.assert_array_equal(
        load_mnist(tmp_path, train=True, download=False)[1], fake_mnist("train")[1]
    )


def test_checksum_mismatch_leaves_nothing_behind(tmp_path, no_torchvision):
    served = {**ARCHIVES, "train-labels-idx1-ubyte.gz": gzip.compress(b"not the right file")}
    with FileServer(served) as server, pytest.raises(DownloadError) as info:
        download_mnist(tmp_path, base_urls=[server.url()], timeout=TIMEOUT)
    assert "train-labels-idx1-ubyte.gz" in str(info.value) and "checksum mismatch" in str(
        info.value
    )
    # The file before it (train-images) downloaded fine; the bad one left no trace.
    assert files_in(tmp_path / "MNIST" / "raw") == {
        "train-images-idx3-ubyte.gz",
        "train-images-idx3-ubyte",
    }


@pytest.mark.parametrize("announce_length", [True, False], ids=["content-length", "no-length"])
def test_interrupted_transfer_leaves_nothing_behind(tmp_path, no_torchvision, announce_length):
    broken = frozenset({"train-images-idx3-ubyte.gz"})
    with (
        FileServer(ARCHIVES, broken, announce_length) as server,
        pytest.raises(DownloadError) as info,
    ):
        download_mnist(tmp_path, base_urls=[server.url()], timeout=TIMEOUT)
    # With a Content-Length the short transfer is caught as such; without, by the checksum.
    reason = "transfer interrupted: received" if announce_length else "checksum mismatch"
    assert reason in str(info.value)
    assert files_in(tmp_path / "MNIST" / "raw") == set()


def test_mirror_fallback(tmp_path, no_torchvision):
    with FileServer(ARCHIVES) as server:
        mirrors = [server.url("gone"), server.url("mirror")]
        images, _ = load_mnist(tmp_path, base_urls=mirrors)
    assert images.shape == fake_mnist("train")[0].shape
    name = "train-images-idx3-ubyte.gz"
    assert server.requests[:2] == [f"/gone/{name}", f"/mirror/{name}"]  # 404, then the next
    assert files_in(tmp_path / "MNIST" / "raw") == set(ARCHIVES) | RAW_NAMES


def test_every_mirror_failing_lists_each_failure(tmp_path, no_torchvision):
    with FileServer(ARCHIVES) as server, pytest.raises(DownloadError) as info:
        download_mnist(tmp_path, base_urls=[server.url("a"), server.url("b")], timeout=TIMEOUT)
    message = str(info.value)
    assert "/a/train-images-idx3-ubyte.gz: HTTP Error 404" in message
    assert "/b/train-images-idx3-ubyte.gz: HTTP Error 404" in message
    assert isinstance(info.value, OSError)  # callers can catch "MNIST unavailable" as OSError
    assert files_in(tmp_path / "MNIST" / "raw") == set()


def test_ctrl_c_during_the_transfer_leaves_nothing_behind(tmp_path, no_torchvision, monkeypatch):
    real_md5 = hashlib.md5

    class InterruptedMD5:
        """An MD5 whose third update is a Ctrl-C, i.e. the user interrupts mid-transfer."""

        def __init__(self, **kwargs):
            self.digest, self.updates = real_md5(**kwargs), 0

        def update(self, data):
            self.updates += 1
            if self.updates == 3:
                raise KeyboardInterrupt
            self.digest.update(data)

    monkeypatch.setattr(download_module, "hashlib", types.SimpleNamespace(md5=InterruptedMD5))
    monkeypatch.setattr(download_module, "CHUNK_SIZE", 64)
    assert len(ARCHIVES["train-images-idx3-ubyte.gz"]) > 3 * 64
    with FileServer(ARCHIVES) as server, pytest.raises(KeyboardInterrupt):
        download_mnist(tmp_path, base_urls=[server.url()], timeout=TIMEOUT)
    assert files_in(tmp_path / "MNIST" / "raw") == set()


def test_existing_verified_archive_is_reused_and_a_corrupt_one_replaced(tmp_path, no_torchvision):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    (raw / "train-images-idx3-ubyte.gz").write_bytes(ARCHIVES["train-images-idx3-ubyte.gz"])
    (raw / "train-labels-idx1-ubyte.gz").write_bytes(b"a previous, broken download")
    with FileServer(ARCHIVES) as server:
        download_mnist(tmp_path, base_urls=[server.url()], timeout=TIMEOUT)
    assert "/mirror/train-images-idx3-ubyte.gz" not in server.requests
    assert "/mirror/train-labels-idx1-ubyte.gz" in server.requests
    assert (raw / "train-labels-idx1-ubyte.gz").read_bytes() == ARCHIVES[
        "train-labels-idx1-ubyte.gz"
    ]
    assert files_in(raw) == set(ARCHIVES) | RAW_NAMES


def test_nothing_is_downloaded_when_the_files_exist(tmp_path, monkeypatch):
    write_fake_mnist(tmp_path)
    with FileServer(ARCHIVES) as server:
        monkeypatch.setattr(mnist_module, "MNIST_MIRRORS", (server.url(),))
        load_mnist(tmp_path, train=True)
        load_mnist(tmp_path, train=False)
    assert server.requests == []


def fake_torchvision(calls, fail=False):
    """A stand-in for the ``torchvision`` package whose MNIST writes the fake files."""

    class MNIST:
        def __init__(self, root, train=True, download=False):
            calls.append((root, train, download))
            if fail:
                raise RuntimeError("Error downloading train-images-idx3-ubyte.gz")
            write_fake_mnist(Path(root))

    datasets = types.ModuleType("torchvision.datasets")
    datasets.MNIST = MNIST
    package = types.ModuleType("torchvision")
    package.datasets = datasets
    return package, datasets


def test_torchvision_is_used_when_importable(tmp_path, monkeypatch):
    calls = []
    package, datasets = fake_torchvision(calls)
    monkeypatch.setitem(sys.modules, "torchvision", package)
    monkeypatch.setitem(sys.modules, "torchvision.datasets", datasets)
    with FileServer(ARCHIVES) as server:
        monkeypatch.setattr(mnist_module, "MNIST_MIRRORS", (server.url(),))
        _, labels = load_mnist(tmp_path, train=False)
    assert calls == [(str(tmp_path), True, True)]
    assert server.requests == []  # the built-in downloader stayed idle
    np.testing.assert_array_equal(labels, fake_mnist("t10k")[1])


def test_torchvision_failure_is_a_download_error(tmp_path, monkeypatch):
    package, datasets = fake_torchvision([], fail=True)
    monkeypatch.setitem(sys.modules, "torchvision", package)
    monkeypatch.setitem(sys.modules, "torchvision.datasets", datasets)
    with pytest.raises(DownloadError, match="torchvision could not download MNIST"):
        load_mnist(tmp_path)


def test_without_torchvision_the_standard_library_downloads(tmp_path, monkeypatch, no_torchvision):
    with FileServer(ARCHIVES) as server:
        monkeypatch.setattr(mnist_module, "MNIST_MIRRORS", (server.url("gone"), server.url()))
        images, _ = load_mnist(tmp_path)
    np.testing.assert_array_equal(images, fake_mnist("train")[0])
    assert sum(request.startswith("/mirror/") for request in server.requests) == 4


def test_base_urls_bypass_torchvision(tmp_path, monkeypatch):
    calls = []
    package, datasets = fake_torchvision(calls)
    monkeypatch.setitem(sys.modules, "torchvision", package)
    monkeypatch.setitem(sys.modules, "torchvision.datasets", datasets)
    with FileServer(ARCHIVES) as server:
        load_mnist(tmp_path, base_urls=[server.url()])
    assert calls == [] and len(server.requests) == 4


def test_a_broken_torchvision_install_warns_and_falls_back(tmp_path, monkeypatch):
    fake = tmp_path / "site" / "torchvision"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise RuntimeError('built for another torch')\n")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    monkeypatch.delitem(sys.modules, "torchvision", raising=False)
    with FileServer(ARCHIVES) as server:
        monkeypatch.setattr(mnist_module, "MNIST_MIRRORS", (server.url(),))
        with pytest.warns(RuntimeWarning, match="built for another torch"):
            load_mnist(tmp_path / "data")
    assert len(server.requests) == 4


def test_download_file_argument_errors(tmp_path):
    with pytest.raises(ValueError, match="urls must be a non-empty sequence"):
        download_file("http://127.0.0.1/x", tmp_path / "x", md5="0")
    with pytest.raises(TypeError, match="base_urls must be a non-empty sequence"):
        download_mnist(tmp_path, base_urls="http://127.0.0.1/")


def test_gunzip_of_a_truncated_archive_writes_nothing(tmp_path):
    archive = tmp_path / "a.gz"
    archive.write_bytes(ARCHIVES["train-images-idx3-ubyte.gz"][:100])
    with pytest.raises(ValueError, match=r"a\.gz is not a valid gzip file"):
        gunzip_file(archive, tmp_path / "a")
    assert files_in(tmp_path) == {"a.gz"}
