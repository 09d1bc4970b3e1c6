"""MNIST: where it lives, how to read it, and how to get it.

Files live in ``<root>/MNIST/raw/`` under their original names, plain or gzip-compressed,
the layout ``torchvision.datasets.MNIST(root)`` writes, so either tool can use the other's
download::

    <root>/MNIST/raw/train-images-idx3-ubyte[.gz]   60000 x 28 x 28 uint8
    <root>/MNIST/raw/train-labels-idx1-ubyte[.gz]   60000 uint8 in 0..9
    <root>/MNIST/raw/t10k-images-idx3-ubyte[.gz]    10000 x 28 x 28 uint8
    <root>/MNIST/raw/t10k-labels-idx1-ubyte[.gz]    10000 uint8 in 0..9

``root`` defaults to ``$TINYGRAD_CNN_DATA``, else a per-user cache folder
(``$XDG_CACHE_HOME/tinygrad_cnn``, else ``~/.cache/tinygrad_cnn``).
"""

from __future__ import annotations

import importlib
import os
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from tinygrad_cnn.data.download import DownloadError, download_file, file_md5, gunzip_file
from tinygrad_cnn.data.idx import read_idx

DATA_ENV_VAR = "TINYGRAD_CNN_DATA"
"""The environment variable naming the default data root (the folder holding ``MNIST/raw``)."""

MNIST_MIRRORS: tuple[str, ...] = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)
"""Where the built-in downloader fetches MNIST, in order (torchvision's mirrors)."""

MNIST_MD5: dict[str, str] = {
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}
"""MD5 checksums of the four compressed MNIST files (the ones torchvision checks)."""


def default_data_root() -> Path:
    """``$TINYGRAD_CNN_DATA`` if set, else ``$XDG_CACHE_HOME/tinygrad_cnn`` or
    ``~/.cache/tinygrad_cnn``."""
    if os.environ.get(DATA_ENV_VAR):
        return Path(os.environ[DATA_ENV_VAR]).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache).expanduser() / "tinygrad_cnn"


def mnist_raw_dir(root: str | os.PathLike[str] | None = None) -> Path:
    """The folder ``<root>/MNIST/raw`` (``root`` defaults to :func:`default_data_root`)."""
    return _resolve_root("mnist_raw_dir", root) / "MNIST" / "raw"


def mnist_file_names(train: bool) -> tuple[str, str]:
    """The uncompressed names of the (images, labels) files of one split."""
    split = "train" if train else "t10k"
    return f"{split}-images-idx3-ubyte", f"{split}-labels-idx1-ubyte"


def find_idx_file(folder: Path, name: str) -> Path | None:
    """``folder/name`` if it exists, else ``folder/name.gz`` if that exists, else ``None``."""
    for candidate in (folder / name, folder / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    return None


def load_mnist(
    root: str | os.PathLike[str] | None = None,
    train: bool = True,
    download: bool = True,
    base_urls: Sequence[str] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Load the MNIST training or test set, downloading it first if needed and allowed.

    Parameters
    ----------
    root : str or path-like, optional
        The folder holding ``MNIST/raw`` (see the module docstring); default
        :func:`default_data_root`.
    train : bool, default True
        The 60,000 training images, or the 10,000 test images when False.
    download : bool, default True
        When files are missing, fetch all four (see :func:`download_mnist`). When False,
        missing files raise ``FileNotFoundError``.
    base_urls : sequence of str, optional
        Mirrors for the built-in downloader; giving them skips torchvision.

    Returns
    -------
    images : ndarray of uint8, shape (N, 28, 28)
        Pixel values 0 (background) to 255 (ink).
    labels : ndarray of int64, shape (N,)
        The digits, 0 to 9.

    Raises
    ------
    FileNotFoundError
        Files are missing and ``download`` is False.
    DownloadError
        Files are missing and could not be downloaded (an ``OSError``, like the above).
    ValueError
        A file is corrupt, or the images and labels do not match.
    """
    if not isinstance(train, bool) or not isinstance(download, bool):
        raise TypeError(
            f"load_mnist: train and download must be bool, got {train!r} and {download!r}"
        )
    root = _resolve_root("load_mnist", root)
    raw = root / "MNIST" / "raw"
    names = mnist_file_names(train)
    paths = [find_idx_file(raw, name) for name in names]
    if None in paths:
        if not download:
            raise FileNotFoundError(
                f"load_mnist: MNIST {'training' if train else 'test'} files not found in {raw} "
                f"(looked for {names[0]}[.gz] and {names[1]}[.gz]); pass download=True, or set "
                f"{DATA_ENV_VAR} to the folder that holds MNIST/raw"
            )
        download_mnist(root, base_urls=base_urls)
        paths = [find_idx_file(raw, name) for name in names]
        if None in paths:
            raise DownloadError(f"load_mnist: the download did not produce {names} in {raw}")
    images = read_idx(paths[0], ndim=3)
    labels = read_idx(paths[1], ndim=1)
    _check_mnist(images, labels, paths[0], paths[1])
    return images, labels.astype(np.int64)


def _check_mnist(
    images: np.ndarray, labels: np.ndarray, image_path: Path, label_path: Path
) -> None:
    if images.dtype != np.uint8 or images.shape[1:] != (28, 28):
        raise ValueError(
            f"load_mnist: {image_path} holds {images.dtype} images of shape {images.shape}, "
            f"expected uint8 of shape (N, 28, 28)"
        )
    if labels.dtype != np.uint8:
        raise ValueError(f"load_mnist: {label_path} holds {labels.dtype} labels, expected uint8")
    if len(images) != len(labels):
        raise ValueError(
            f"load_mnist: {image_path} holds {len(images)} images but {label_path} holds "
            f"{len(labels)} labels"
        )
    if labels.size and labels.max() > 9:
        raise ValueError(f"load_mnist: {label_path} has a label {labels.max()}, expected 0..9")


def download_mnist(
    root: str | os.PathLike[str] | None = None,
    base_urls: Sequence[str] | None = None,
    timeout: float = 60.0,
) -> Path:
    """Make sure all four MNIST files exist in ``<root>/MNIST/raw``, downloading what is missing.

    With ``base_urls`` None and torchvision importable, ``torchvision.datasets.MNIST(root,
    download=True)`` does the work. Otherwise the standard library downloads each missing
    ``.gz`` file from the mirrors in turn, checks its MD5 (:data:`MNIST_MD5`), and decompresses
    it; every file is written atomically, so an interrupted download leaves nothing behind.

    Parameters
    ----------
    root : str or path-like, optional
        The data root; default :func:`default_data_root`.
    base_urls : sequence of str, optional
        Mirrors to use instead of :data:`MNIST_MIRRORS` (with the built-in downloader).
    timeout : float, default 60
        Seconds to wait on each connection and read.

    Returns
    -------
    Path
        The folder ``<root>/MNIST/raw``.
    """
    root = _resolve_root("download_mnist", root)
    if isinstance(base_urls, str) or (base_urls is not None and not base_urls):
        raise TypeError(
            f"download_mnist: base_urls must be a non-empty sequence of URLs, got {base_urls!r}"
        )
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    torchvision_mnist = _torchvision_mnist() if base_urls is None else None
    if torchvision_mnist is not None:
        try:
            torchvision_mnist(str(root), train=True, download=True)
        except Exception as error:
            raise DownloadError(
                f"torchvision could not download MNIST to {raw}: {error}"
            ) from error
        return raw
    mirrors = MNIST_MIRRORS if base_urls is None else tuple(base_urls)
    for gz_name, md5 in MNIST_MD5.items():
        name = gz_name.removesuffix(".gz")
        if (raw / name).is_file():
            continue
        archive = raw / gz_name
        if not archive.is_file() or file_md5(archive) != md5:
            download_file([_join(base, gz_name) for base in mirrors], archive, md5, timeout)
        gunzip_file(archive, raw / name)
    return raw


def _torchvision_mnist() -> type | None:
    """``torchvision.datasets.MNIST`` if torchvision imports, else ``None`` (never required)."""
    try:
        datasets = importlib.import_module("torchvision.datasets")
    except ImportError:
        return None
    except Exception as error:  # a broken install, e.g. built for another torch version
        warnings.warn(
            f"torchvision is installed but failed to import ({error!r}); using the built-in "
            f"MNIST downloader",
            RuntimeWarning,
            stacklevel=3,
        )
        return None
    return datasets.MNIST


def _join(base: str, name: str) -> str:
    """``base`` and ``name`` with exactly one slash between them."""
    return base.rstrip("/") + "/" + name


def _resolve_root(caller: str, root: str | os.PathLike[str] | None) -> Path:
    if root is None:
        return default_data_root()
    if not isinstance(root, str | os.PathLike):
        raise TypeError(f"{caller}: root must be a path or None, got {type(root).__name__}")
    return Path(root).expanduser()
