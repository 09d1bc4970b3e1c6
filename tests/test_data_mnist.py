"""load_mnist on fake roots in torchvision's layout, its errors, its default root, real MNIST."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from data_fakes import SPLIT_SIZES, write_fake_mnist

from tinygrad_cnn.data import DATA_ENV_VAR, default_data_root, load_mnist, mnist_raw_dir, write_idx

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("compressed", [False, True], ids=["raw", "gz"])
@pytest.mark.parametrize("train", [True, False], ids=["train", "test"])
def test_reads_a_torchvision_layout(tmp_path, compressed, train):
    written = write_fake_mnist(tmp_path, compressed=compressed)
    images, labels = load_mnist(tmp_path, train=train, download=False)
    expected_images, expected_labels = written["train" if train else "t10k"]
    assert images.dtype == np.uint8 and images.shape == (
        SPLIT_SIZES["train" if train else "t10k"],
        28,
        28,
    )
    assert labels.dtype == np.int64 and labels.shape == (len(images),)
    np.testing.assert_array_equal(images, expected_images)
    np.testing.assert_array_equal(labels, expected_labels)


def test_uncompressed_file_wins_over_gz(tmp_path):
    write_fake_mnist(tmp_path, compressed=True, seed=1)
    written = write_fake_mnist(tmp_path, compressed=False, seed=2)
    images, labels = load_mnist(tmp_path, download=False)
    np.testing.assert_array_equal(images, written["train"][0])
    np.testing.assert_array_equal(labels, written["train"][1])


def test_mixed_raw_and_gz_files(tmp_path):
    written = write_fake_mnist(tmp_path, compressed=True)
    raw = tmp_path / "MNIST" / "raw"
    write_idx(raw / "t10k-images-idx3-ubyte", written["t10k"][0])
    (raw / "t10k-images-idx3-ubyte.gz").unlink()
    images, labels = load_mnist(tmp_path, train=False, download=False)
    np.testing.assert_array_equal(images, written["t10k"][0])
    np.testing.assert_array_equal(labels, written["t10k"][1])


def test_image_and_label_counts_must_match(tmp_path):
    write_fake_mnist(tmp_path)
    raw = tmp_path / "MNIST" / "raw"
    write_idx(raw / "train-labels-idx1-ubyte", np.zeros(SPLIT_SIZES["train"] - 1, np.uint8))
    with pytest.raises(ValueError, match=r"holds 12 images but .*train-labels-idx1-ubyte holds 11"):
        load_mnist(tmp_path, download=False)


@pytest.mark.parametrize(
    ("name", "array", "message"),
    [
        ("train-images-idx3-ubyte", np.zeros((12, 27, 28), np.uint8), r"expected uint8 of shape"),
        ("train-images-idx3-ubyte", np.zeros((12, 28, 28), np.int16), r"int16 images"),
        ("train-images-idx3-ubyte", np.zeros((12, 784), np.uint8), r"2-d array, expected 3-d"),
        ("train-labels-idx1-ubyte", np.full(12, 10, np.uint8), r"a label 10, expected 0..9"),
        ("train-labels-idx1-ubyte", np.zeros((12, 1), np.uint8), r"2-d array, expected 1-d"),
        ("train-labels-idx1-ubyte", np.zeros(12, np.int32), r"int32 labels"),
    ],
)
def test_files_that_are_not_mnist(tmp_path, name, array, message):
    write_fake_mnist(tmp_path)
    write_idx(tmp_path / "MNIST" / "raw" / name, array)
    with pytest.raises(ValueError, match=message) as info:
        load_mnist(tmp_path, download=False)
    assert name in str(info.value)


def test_missing_files_without_download(tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        load_mnist(tmp_path, train=False, download=False)
    message = str(info.value)
    assert str(tmp_path / "MNIST" / "raw") in message
    assert "t10k-images-idx3-ubyte[.gz]" in message and DATA_ENV_VAR in message
    assert not (tmp_path / "MNIST").exists()  # looking does not create folders


def test_one_missing_file_is_missing(tmp_path):
    write_fake_mnist(tmp_path)
    (tmp_path / "MNIST" / "raw" / "train-labels-idx1-ubyte").unlink()
    with pytest.raises(FileNotFoundError, match="train-labels-idx1-ubyte"):
        load_mnist(tmp_path, download=False)
    assert load_mnist(tmp_path, train=False, download=False)[0].shape == (7, 28, 28)


def test_argument_errors(tmp_path):
    with pytest.raises(TypeError, match="load_mnist: root must be a path"):
        load_mnist(3, download=False)
    with pytest.raises(TypeError, match="load_mnist: train and download must be bool"):
        load_mnist(tmp_path, train="yes", download=False)


def test_default_root_from_the_environment(tmp_path, monkeypatch):
    written = write_fake_mnist(tmp_path / "data")
    monkeypatch.setenv(DATA_ENV_VAR, str(tmp_path / "data"))
    assert default_data_root() == tmp_path / "data"
    assert mnist_raw_dir() == tmp_path / "data" / "MNIST" / "raw"
    np.testing.assert_array_equal(load_mnist(download=False)[1], written["train"][1])


def test_default_root_is_a_per_user_cache(tmp_path, monkeypatch):
    monkeypatch.delenv(DATA_ENV_VAR, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_data_root() == tmp_path / "xdg" / "tinygrad_cnn"
    monkeypatch.setenv(DATA_ENV_VAR, "")  # empty means unset
    assert default_data_root() == tmp_path / "xdg" / "tinygrad_cnn"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_data_root() == tmp_path / "home" / ".cache" / "tinygrad_cnn"


def test_importing_the_library_never_imports_torchvision(tmp_path):
    # A torchvision that fails loudly when imported: importing tinygrad_cnn must not touch it.
    fake = tmp_path / "torchvision"
    fake.mkdir()
    (fake / "__init__.py").write_text("raise RuntimeError('torchvision was imported')\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(REPO)])}
    code = (
        "import sys, tinygrad_cnn, tinygrad_cnn.data\n"
        "from tinygrad_cnn.data import load_mnist, synthetic_digits\n"
        "assert 'torchvision' not in sys.modules\n"
        "print('ok')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_real_mnist(mnist_root):
    train_images, train_labels = load_mnist(mnist_root, train=True, download=False)
    test_images, test_labels = load_mnist(mnist_root, train=False, download=False)
    assert train_images.shape == (60000, 28, 28) and test_images.shape == (10000, 28, 28)
    assert train_images.dtype == np.uint8 and train_labels.dtype == np.int64
    assert train_labels.min() == 0 and train_labels.max() == 9
    assert set(np.unique(test_labels)) == set(range(10))
    # Every digit is well represented (MNIST has 5421 to 6742 of each in training).
    assert np.bincount(train_labels).min() > 5000
    # The first test digits everyone who has opened MNIST has seen.
    assert test_labels[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    assert train_images.max() == 255 and train_images[:, 0, 0].max() == 0  # corners are blank
