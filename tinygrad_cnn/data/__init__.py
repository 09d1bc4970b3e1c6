"""Datasets and batches: the IDX format, MNIST (load and download), synthetic digits, batching.

>>> from tinygrad_cnn.data import BatchLoader, load_mnist, synthetic_digits
>>> images, labels = synthetic_digits(64, seed=0)        # or: load_mnist(train=True)
>>> for x, y in BatchLoader(images, labels, batch_size=32):
...     print(x.shape, x.dtype, y.shape, y.dtype)
(32, 1, 28, 28) float32 (32,) int64
(32, 1, 28, 28) float32 (32,) int64

Modules, one job each: ``idx`` (read/write IDX files), ``download`` (verified downloads from
mirrors), ``mnist`` (file layout, loading, downloading MNIST), ``synthetic`` (stroke-drawn
digits), ``batches`` (image/label minibatch tensors), ``dataset`` and ``loader``
(PyTorch's ``TensorDataset``, ``DataLoader``, ``default_collate``), ``transforms``
(torchvision's ``ToTensor``, ``ToDtype``, ``Normalize``, ``Compose``, MNIST's mean/std).
Every file is written through :mod:`tinygrad_cnn.atomic` (all or nothing).
torchvision is optional and only imported when a download is needed.
"""

from tinygrad_cnn.data import transforms
from tinygrad_cnn.data.batches import BatchLoader, iterate_batches, normalize_images
from tinygrad_cnn.data.dataset import TensorDataset
from tinygrad_cnn.data.download import DownloadError, download_file, file_md5, gunzip_file
from tinygrad_cnn.data.idx import IDX_DTYPES, read_idx, write_idx
from tinygrad_cnn.data.loader import DataLoader, default_collate
from tinygrad_cnn.data.mnist import (
    DATA_ENV_VAR,
    MNIST_MD5,
    MNIST_MIRRORS,
    default_data_root,
    download_mnist,
    load_mnist,
    mnist_raw_dir,
)
from tinygrad_cnn.data.synthetic import synthetic_digits

__all__ = [
    "DATA_ENV_VAR", "IDX_DTYPES", "MNIST_MD5", "MNIST_MIRRORS", "BatchLoader", "DataLoader",
    "DownloadError", "TensorDataset", "default_collate", "default_data_root", "download_file",
    "download_mnist", "file_md5", "gunzip_file", "iterate_batches", "load_mnist",
    "mnist_raw_dir", "normalize_images", "read_idx", "synthetic_digits", "transforms",
    "write_idx",
]  # fmt: skip
