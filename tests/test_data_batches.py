"""BatchLoader / iterate_batches: shapes, normalisation, shuffling, drop_last, validation."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from tinygrad_cnn import Tensor
from tinygrad_cnn.data import BatchLoader, iterate_batches, normalize_images


def dataset(n: int, shape: tuple[int, ...] = (28, 28), seed: int = 0):
    """Random uint8 images and labels ``0..n-1`` (so a label tells which image it was)."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, *shape), dtype=np.uint8), np.arange(n)


@pytest.mark.parametrize(
    ("n", "batch_size", "drop_last", "sizes"),
    [
        (10, 4, False, [4, 4, 2]),
        (10, 4, True, [4, 4]),
        (12, 4, True, [4, 4, 4]),
        (3, 5, False, [3]),
        (3, 5, True, []),
        (0, 2, False, []),
    ],
)
def test_batch_sizes_and_len(n, batch_size, drop_last, sizes):
    images, labels = dataset(n)
    loader = BatchLoader(images, labels, batch_size, drop_last=drop_last)
    batches = list(loader)
    assert [len(y) for _, y in batches] == sizes
    assert len(loader) == len(sizes)


def test_tensors_are_normalised_nchw_float32_and_int64():
    images, labels = dataset(10)
    x, y = next(iterate_batches(images, labels, batch_size=4, shuffle=False))
    assert isinstance(x, Tensor) and isinstance(y, Tensor)
    assert x.shape == (4, 1, 28, 28) and x.dtype == np.float32
    assert y.shape == (4,) and y.dtype == np.int64
    np.testing.assert_array_equal(x.data[:, 0], images[:4].astype(np.float32) / 255 - 0.5)
    np.testing.assert_array_equal(y.data, labels[:4])
    assert not x.requires_grad


def test_normalisation_range():
    out = normalize_images(np.array([[[0, 255], [51, 128]]], dtype=np.uint8))
    assert out.shape == (1, 1, 2, 2)
    np.testing.assert_allclose(out[0, 0], [[-0.5, 0.5], [0.2 - 0.5, 128 / 255 - 0.5]], atol=1e-7)


def test_channels_are_kept():
    images, labels = dataset(6, shape=(3, 8, 5))
    x, _ = next(iter(BatchLoader(images, labels, batch_size=4, shuffle=False)))
    assert x.shape == (4, 3, 8, 5)
    np.testing.assert_array_equal(x.data, images[:4] / np.float32(255) - np.float32(0.5))


def test_without_shuffle_the_order_is_kept():
    images, labels = dataset(10)
    seen = np.concatenate([y.data for _, y in BatchLoader(images, labels, 3, shuffle=False)])
    np.testing.assert_array_equal(seen, labels)


def test_each_epoch_is_a_new_permutation_reproducible_from_the_seed():
    images, labels = dataset(50)
    loader = BatchLoader(images, labels, batch_size=8, seed=5)
    epochs = [np.concatenate([y.data for _, y in loader]) for _ in range(3)]
    for order in epochs:
        np.testing.assert_array_equal(np.sort(order), labels)  # every image once
    assert not np.array_equal(epochs[0], epochs[1])
    assert not np.array_equal(epochs[0], labels)
    again = BatchLoader(images, labels, batch_size=8, seed=5)
    for order in epochs:
        np.testing.assert_array_equal(np.concatenate([y.data for _, y in again]), order)
    other = np.concatenate([y.data for _, y in BatchLoader(images, labels, 8, seed=6)])
    assert not np.array_equal(other, epochs[0])


def test_images_follow_their_labels_through_the_shuffle():
    images, labels = dataset(30)
    for x, y in iterate_batches(images, labels, batch_size=7, seed=1):
        np.testing.assert_array_equal(
            x.data[:, 0], images[y.data] / np.float32(255) - np.float32(0.5)
        )


def test_iterate_batches_is_the_first_epoch_of_a_loader():
    images, labels = dataset(20)
    a = [y.data for _, y in iterate_batches(images, labels, 6, seed=3, drop_last=True)]
    b = [y.data for _, y in BatchLoader(images, labels, 6, seed=3, drop_last=True)]
    assert len(a) == 3
    for first, second in zip(a, b, strict=True):
        np.testing.assert_array_equal(first, second)


def test_the_dataset_is_neither_modified_nor_copied_whole():
    images, labels = dataset(20000)  # 15.7 MB of uint8; as float32 it would be 63 MB
    before = images.copy()
    tracemalloc.start()
    try:
        for _ in BatchLoader(images, labels, batch_size=100, seed=0):
            pass
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2_000_000, f"peak {peak} bytes during one epoch"
    np.testing.assert_array_equal(images, before)


def test_repr():
    images, labels = dataset(10)
    assert repr(BatchLoader(images, labels, 4)) == (
        "BatchLoader(10 images of shape (28, 28), batch_size=4, shuffle=True, drop_last=False)"
    )


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"batch_size": 0}, ValueError, "batch_size must be positive, got 0"),
        ({"batch_size": -3}, ValueError, "batch_size must be positive"),
        ({"batch_size": 2.5}, TypeError, "batch_size must be an int, got 2.5"),
        ({"batch_size": True}, TypeError, "batch_size must be an int"),
        ({"labels": np.arange(9)}, ValueError, "10 images (shape (10, 28, 28)) but 9 labels"),
        ({"labels": np.zeros((10, 1), int)}, ValueError, "labels must be a 1-d integer array"),
        ({"labels": np.zeros(10)}, ValueError, "labels must be a 1-d integer array, got float64"),
        ({"images": np.zeros((10, 784), np.uint8)}, ValueError, "got shape (10, 784)"),
        ({"images": np.zeros((10, 1, 1, 2, 2), np.uint8)}, ValueError, "(N, H, W) or"),
        ({"images": np.zeros((10, 28, 28), object)}, TypeError, "images must be a numeric"),
        ({"images": [[[0]]] * 10}, TypeError, "got list"),
        ({"seed": 1.5}, TypeError, "seed must be an int"),
    ],
)
def test_argument_errors(kwargs, error, message):
    images, labels = dataset(10)
    arguments = {"images": images, "labels": labels, "batch_size": 4, **kwargs}
    with pytest.raises(error) as info:
        BatchLoader(**arguments)
    assert str(info.value).startswith("BatchLoader: ")
    assert message in str(info.value), str(info.value)
