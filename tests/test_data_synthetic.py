"""synthetic_digits: deterministic, MNIST-like in format, and learnable by a small CNN."""

from __future__ import annotations

import numpy as np
import pytest

from tinygrad_cnn import Tensor, conv2d, cross_entropy, max_pool2d, no_grad
from tinygrad_cnn.data import BatchLoader, normalize_images, synthetic_digits


def test_format():
    images, labels = synthetic_digits(50, seed=3)
    assert images.shape == (50, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (50,) and labels.dtype == np.int64
    assert labels.min() >= 0 and labels.max() <= 9


def test_deterministic_for_a_seed_and_different_across_seeds():
    a_images, a_labels = synthetic_digits(40, seed=7)
    b_images, b_labels = synthetic_digits(40, seed=7)
    np.testing.assert_array_equal(a_images, b_images)
    np.testing.assert_array_equal(a_labels, b_labels)
    c_images, c_labels = synthetic_digits(40, seed=8)
    assert not np.array_equal(a_images, c_images)
    assert not np.array_equal(a_labels, c_labels)


def test_labels_are_balanced():
    for n in (10, 95, 1000):
        counts = np.bincount(synthetic_digits(n, seed=1)[1], minlength=10)
        assert counts.min() >= n // 10 and counts.max() <= n // 10 + 1, counts


def test_images_look_like_mnist():
    images, _ = synthetic_digits(200, seed=2)
    ink = images > 128
    # Each image has a stroke (MNIST: about 10-20% ink) on a dark background, and full-ink pixels.
    fraction = ink.mean(axis=(1, 2))
    assert fraction.min() > 0.02 and fraction.max() < 0.4, (fraction.min(), fraction.max())
    assert (images.max(axis=(1, 2)) >= 200).all()
    assert np.median(images) < 20
    # Centred like MNIST: the ink's centre of mass within 3 pixels of (13.5, 13.5).
    rows, cols = np.indices((28, 28))
    weight = images.astype(np.float64)
    total = weight.sum(axis=(1, 2))
    centre_row = (weight * rows).sum(axis=(1, 2)) / total
    centre_col = (weight * cols).sum(axis=(1, 2)) / total
    assert np.abs(centre_row - 13.5).max() < 3 and np.abs(centre_col - 13.5).max() < 3
    # No ink on the border pixels, only faint noise.
    assert images[:, [0, -1], :].max() < 128 and images[:, :, [0, -1]].max() < 128


def test_digits_differ_from_each_other():
    images, labels = synthetic_digits(500, seed=4)
    means = np.stack([images[labels == d].mean(axis=0) for d in range(10)])
    distances = np.linalg.norm((means[:, None] - means[None]).reshape(10, 10, -1), axis=-1)
    off_diagonal = distances[~np.eye(10, dtype=bool)]
    assert off_diagonal.min() > 100, off_diagonal.min()


def test_empty_and_argument_errors():
    images, labels = synthetic_digits(0)
    assert images.shape == (0, 28, 28) and labels.shape == (0,)
    with pytest.raises(ValueError, match="synthetic_digits: n must be 0 or more, got -1"):
        synthetic_digits(-1)
    with pytest.raises(TypeError, match="synthetic_digits: n must be an int"):
        synthetic_digits(2.5)
    with pytest.raises(TypeError, match="synthetic_digits: seed must be an int"):
        synthetic_digits(3, seed="a")


def test_a_small_cnn_learns_them():
    """conv 5x5 (8) -> relu -> max pool 2 -> linear 1152 -> 10, plain SGD: >= 90% held out."""
    train_images, train_labels = synthetic_digits(2000, seed=0)
    test_images, test_labels = synthetic_digits(500, seed=1)
    rng = np.random.default_rng(0)
    weight = Tensor(
        rng.normal(0, np.sqrt(2 / 25), (8, 1, 5, 5)), requires_grad=True, dtype=np.float32
    )
    dense = Tensor(
        rng.normal(0, np.sqrt(1 / 1152), (1152, 10)), requires_grad=True, dtype=np.float32
    )
    bias = Tensor(np.zeros(10), requires_grad=True, dtype=np.float32)
    parameters = (weight, dense, bias)

    def logits(x: Tensor) -> Tensor:
        maps = max_pool2d(conv2d(x, weight).relu(), 2)
        return maps.reshape(len(x), -1) @ dense + bias

    def accuracy() -> float:
        with no_grad():
            predicted = logits(Tensor(normalize_images(test_images))).data.argmax(axis=1)
        return float((predicted == test_labels).mean())

    assert accuracy() < 0.3  # untrained: about chance
    for epoch in range(2):
        for x, y in BatchLoader(train_images, train_labels, batch_size=32, seed=epoch):
            loss = cross_entropy(logits(x), y)
            for p in parameters:
                p.grad = None
            loss.backward()
            for p in parameters:
                p.data -= 0.1 * p.grad.data
    assert accuracy() >= 0.90
