"""The seed network declared with Tensor ops has the notebook's gradients.

The notebook (``tests/notebook_layers.py``) computes gradients with three hand-written
``backprop`` methods, one image at a time, in HWC layout. Here the same network is declared as
composed ops, ``conv2d(8x8, 3 filters, no bias) -> max_pool2d(2) -> reshape (N, 300) ->
matmul (300, 10) + bias -> cross_entropy``, in NCHW layout, and ``loss.backward()`` must give
the same filter, weight and bias gradients (float64) on inputs whose pooling windows have a
unique maximum (where the two tie rules agree).

Layout: the notebook flattens its pooled maps as (h, w, c), so row ``(h * 10 + w) * 3 + c`` of
its weight matrix multiplies map ``c`` at ``(h, w)``. Two equivalent declarations are checked:

- ``"nchw"``: flatten NCHW directly (row ``c * 100 + h * 10 + w``), with the notebook's weight
  rows permuted into that order (:func:`hwc_rows_to_chw`), and the gradient permuted back;
- ``"nhwc"``: permute the maps to NHWC before flattening and use the notebook's weights as
  they are.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from notebook_layers import NotebookCNN

from tinygrad_cnn import Tensor, cross_entropy, max_pool2d

MAPS, SIDE, CLASSES = 3, 10, 10  # the pooled maps: 3 channels of 10 x 10


def hwc_rows_to_chw(weights: np.ndarray) -> np.ndarray:
    """Reorder the rows of a (300, 10) matrix from HWC-flattened to CHW-flattened order."""
    return weights.reshape(SIDE, SIDE, MAPS, CLASSES).transpose(2, 0, 1, 3).reshape(-1, CLASSES)


def chw_rows_to_hwc(weights: np.ndarray) -> np.ndarray:
    """The inverse of :func:`hwc_rows_to_chw`."""
    return weights.reshape(MAPS, SIDE, SIDE, CLASSES).transpose(1, 2, 0, 3).reshape(-1, CLASSES)


def scaled(images: np.ndarray) -> np.ndarray:
    """The notebook's input scaling, ``image / 255 - 0.5``, as an (N, 1, 28, 28) float64 batch."""
    return ((np.asarray(images, dtype=np.float64) / 255) - 0.5)[:, None]


def seed_network_gradients(
    net: NotebookCNN, images: np.ndarray, labels: np.ndarray, layout: str, reduction: str = "sum"
) -> dict[str, np.ndarray]:
    """Loss, probabilities and gradients of the seed network declared with Tensor ops.

    Parameters
    ----------
    net : NotebookCNN
        Supplies the parameters (copied, in float64).
    images : ndarray, shape (N, 28, 28)
        Pixel values in [0, 255].
    labels : ndarray of int, shape (N,)
    layout : {"nchw", "nhwc"}
        How the pooled maps are flattened (see the module docstring).
    reduction : str
        Passed to ``cross_entropy``.

    Returns
    -------
    dict
        ``loss`` (scalar), ``probs`` (N, 10), and the gradients ``filters`` (3, 8, 8),
        ``weights`` (300, 10, rows in the notebook's HWC order) and ``biases`` (10,).
    """
    filters = Tensor(net.filters[:, None].copy(), requires_grad=True)  # (3, 1, 8, 8)
    hwc_weights = net.weights.copy()
    weights = Tensor(
        hwc_rows_to_chw(hwc_weights) if layout == "nchw" else hwc_weights, requires_grad=True
    )
    biases = Tensor(net.biases.copy(), requires_grad=True)
    x = Tensor(scaled(images))
    maps = max_pool2d(x.conv2d(filters), 2)  # (N, 3, 10, 10)
    if layout == "nhwc":
        maps = maps.permute(0, 2, 3, 1)
    logits = maps.reshape(len(images), -1) @ weights + biases
    loss = cross_entropy(logits, labels, reduction=reduction)
    loss.backward()
    grad_weights = weights.grad.numpy()
    if layout != "nhwc":
        grad_weights = chw_rows_to_hwc(grad_weights)
    return {
        "loss": loss.numpy(),
        "probs": logits.softmax(axis=1).numpy(),
        "filters": filters.grad.numpy()[:, 0],
        "weights": grad_weights,
        "biases": biases.grad.numpy(),
        "conv": x.conv2d(Tensor(net.filters[:, None])).numpy(),
    }


def windows_have_unique_max(conv_maps: np.ndarray) -> bool:
    """True when every 2 x 2 pooling window of (N, C, H, W) maps has a single maximum."""
    n, c, h, w = conv_maps.shape
    cropped = conv_maps[:, :, : h // 2 * 2, : w // 2 * 2]
    windows = cropped.reshape(n, c, h // 2, 2, w // 2, 2).transpose(0, 1, 2, 4, 3, 5)
    windows = windows.reshape(n, c, h // 2, w // 2, 4)
    return bool(((windows == windows.max(axis=-1, keepdims=True)).sum(axis=-1) == 1).all())


def random_images(seed: int, count: int) -> np.ndarray:
    """Continuous pixel values in [0, 255]: no flat regions, so pooling windows have no ties."""
    return np.random.default_rng(seed).uniform(0.0, 255.0, size=(count, 28, 28))


def assert_close(ours: np.ndarray, reference: np.ndarray) -> None:
    np.testing.assert_allclose(ours, reference, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("layout", ["nchw", "nhwc"])
@given(seed=st.integers(0, 2**32 - 1), label=st.integers(0, 9))
def test_one_image_gradients_equal_the_notebook(layout: str, seed: int, label: int) -> None:
    net = NotebookCNN(seed)
    image = random_images(seed, 1)
    ours = seed_network_gradients(net, image, np.array([label]), layout)
    assume(windows_have_unique_max(ours["conv"]))

    probs, loss, _ = net.forward(image[0], label)
    filters_before = net.filters.copy()
    net.train_step(image[0], label, lr=0.0)

    np.testing.assert_array_equal(net.filters, filters_before)  # lr=0 leaves them unchanged
    assert_close(ours["loss"], loss)
    assert_close(ours["probs"][0], probs)
    assert_close(ours["filters"], net.grad_filters)
    assert_close(ours["weights"], net.grad_weights)
    assert_close(ours["biases"], net.grad_biases)


@given(seed=st.integers(0, 2**32 - 1), labels=st.lists(st.integers(0, 9), min_size=3, max_size=3))
def test_batch_gradient_is_the_sum_of_the_notebook_per_image_gradients(
    seed: int, labels: list[int]
) -> None:
    net = NotebookCNN(seed)
    images = random_images(seed, len(labels))
    ours = seed_network_gradients(net, images, np.array(labels), "nchw", reduction="sum")
    assume(windows_have_unique_max(ours["conv"]))

    totals = {"filters": 0.0, "weights": 0.0, "biases": 0.0}
    for image, label in zip(images, labels, strict=True):
        net.train_step(image, label, lr=0.0)
        totals["filters"] = totals["filters"] + net.grad_filters
        totals["weights"] = totals["weights"] + net.grad_weights
        totals["biases"] = totals["biases"] + net.grad_biases
    for name, total in totals.items():
        assert_close(ours[name], total)


def test_notebook_training_step_is_sgd_with_these_gradients() -> None:
    net = NotebookCNN(7)
    image, label, lr = random_images(7, 1), 4, 0.005
    ours = seed_network_gradients(net, image, np.array([label]), "nhwc")
    assert windows_have_unique_max(ours["conv"])
    before = {"filters": net.filters.copy(), "weights": net.weights.copy()}
    before["biases"] = net.biases.copy()

    loss, _ = net.train_step(image[0], label, lr=lr)

    assert_close(ours["loss"], loss)
    assert_close(net.filters, before["filters"] - lr * ours["filters"])
    assert_close(net.weights, before["weights"] - lr * ours["weights"])
    assert_close(net.biases, before["biases"] - lr * ours["biases"])


def test_uint8_images_are_scaled_like_the_notebook() -> None:
    net = NotebookCNN(3)
    image = np.random.default_rng(3).integers(0, 256, size=(28, 28), dtype=np.uint8)
    probs, loss, correct = net.forward(image, 5)
    ours = seed_network_gradients(net, image[None], np.array([5]), "nchw")
    assert_close(ours["probs"][0], probs)
    assert_close(ours["loss"], loss)
    assert correct == int(np.argmax(probs) == 5)


def test_on_a_flat_image_the_notebook_multiplies_the_filter_gradient_by_the_ties() -> None:
    """A blank image makes every 2 x 2 window a four-way tie: the notebook routes the gradient
    to all four elements, ``max_pool2d`` to the first only, so the notebook's filter gradient
    is exactly 4 times ours while the weight and bias gradients agree."""
    net = NotebookCNN(11)
    blank = np.zeros((1, 28, 28), dtype=np.uint8)
    ours = seed_network_gradients(net, blank, np.array([2]), "nchw")
    net.train_step(blank[0], 2, lr=0.0)

    notebook_maps = net.conv.forward(scaled(blank)[0, 0]).transpose(2, 0, 1)[None]
    assert not windows_have_unique_max(notebook_maps)
    assert np.abs(ours["filters"]).max() > 0
    assert_close(net.grad_filters, 4 * ours["filters"])
    assert_close(ours["weights"], net.grad_weights)
    assert_close(ours["biases"], net.grad_biases)


def test_layout_helpers_are_inverse_permutations() -> None:
    weights = np.arange(300 * 10, dtype=np.float64).reshape(300, 10)
    chw = hwc_rows_to_chw(weights)
    # CHW row c*100 + h*10 + w holds HWC row (h*10 + w)*3 + c.
    np.testing.assert_array_equal(chw[1 * 100 + 2 * 10 + 3], weights[(2 * 10 + 3) * 3 + 1])
    np.testing.assert_array_equal(chw_rows_to_hwc(chw), weights)
