"""The work the benchmark times: one training loop per framework, on identical batches.

Every builder here imports its framework lazily, so a process that measures one framework's
peak memory (``benchmarks/peak_memory.py``) loads only numpy and that framework.

A *trainer* is a callable ``train(batches) -> float`` that runs one optimizer step per
``(images, labels)`` batch (float32 NCHW images, int64 labels, both numpy arrays) and returns
the last loss. tinygrad_cnn and PyTorch get the same architecture, the same initial weights
(PyTorch's are copied from the tinygrad_cnn model), the same loss (mean softmax
cross-entropy) and the same optimizer (SGD, lr 0.01, momentum 0.9).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

Batch = tuple[np.ndarray, np.ndarray]
Trainer = Callable[[list[Batch]], float]

LEARNING_RATE = 0.01
MOMENTUM = 0.9
MODEL_NAMES = ("seed", "lenet")
REPO_ROOT = Path(__file__).resolve().parent.parent


def make_batches(batch_size: int, count: int, seed: int = 0) -> list[Batch]:
    """``count`` batches of synthetic digits, normalised as the notebook does.

    Synthetic digits (not MNIST) keep the benchmark free of downloads and of the 47 MB
    dataset in the memory measurement; the arithmetic per step does not depend on the pixels.

    Returns
    -------
    list of (images float32 (batch_size, 1, 28, 28), labels int64 (batch_size,))
    """
    from tinygrad_cnn.data import normalize_images, synthetic_digits

    images, labels = synthetic_digits(batch_size * count, seed=seed)
    pixels = normalize_images(images)
    return [
        (pixels[i : i + batch_size], labels[i : i + batch_size])
        for i in range(0, batch_size * count, batch_size)
    ]


def random_batches(batch_size: int, count: int, seed: int = 0) -> list[Batch]:
    """``count`` batches of uniform noise in [-0.5, 0.5] and random labels, numpy only.

    For the memory measurement, where a PyTorch process should not import tinygrad_cnn: the
    memory a training step needs depends on the shapes, not on the pixels.
    """
    rng = np.random.default_rng(seed)
    return [
        (
            rng.uniform(-0.5, 0.5, (batch_size, 1, 28, 28)).astype(np.float32),
            rng.integers(0, 10, batch_size, dtype=np.int64),
        )
        for _ in range(count)
    ]


def tinygrad_trainer(model_name: str, seed: int = 0) -> tuple[Trainer, Any]:
    """A tinygrad_cnn training loop for ``model_name`` and the model it trains."""
    from tinygrad_cnn import Tensor, cross_entropy
    from tinygrad_cnn.models import build_model
    from tinygrad_cnn.optim import SGD

    model = build_model(model_name, seed=seed)
    optimizer = SGD(model.parameters(), lr=LEARNING_RATE, momentum=MOMENTUM)

    def train(batches: list[Batch]) -> float:
        loss = None
        for images, labels in batches:
            loss = cross_entropy(model(Tensor(images)), labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        return float(loss.item())

    return train, model


def torch_model(model_name: str, seed: int | None = 0) -> Any:
    """The PyTorch twin of ``build_model(model_name, seed)``, with the same initial weights.

    ``seed=None`` keeps PyTorch's own initialisation and does not import tinygrad_cnn.
    """
    import torch
    from torch import nn

    if model_name == "seed":
        layers = [nn.Conv2d(1, 3, 8, bias=False), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(300, 10)]
    elif model_name == "lenet":
        layers = [
            nn.Conv2d(1, 32, 3), nn.ReLU(inplace=True), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3), nn.ReLU(inplace=True), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(1600, 128), nn.ReLU(inplace=True), nn.Linear(128, 10),
        ]  # fmt: skip
    else:
        raise ValueError(f"torch_model: unknown model {model_name!r}; choose seed or lenet")
    model = nn.Sequential(*layers)
    if seed is None:
        return model
    from tinygrad_cnn.models import build_model

    ours = build_model(model_name, seed=seed)
    with torch.no_grad():
        for theirs, mine in zip(model.parameters(), ours.parameters(), strict=True):
            theirs.copy_(torch.from_numpy(mine.numpy()))
    return model


def torch_trainer(model_name: str, seed: int | None = 0) -> tuple[Trainer, Any]:
    """A PyTorch training loop doing the same work as :func:`tinygrad_trainer` (``seed=None``:
    PyTorch's own initial weights, see :func:`torch_model`)."""
    import torch
    import torch.nn.functional as F  # noqa: N812 - PyTorch's usual name

    model = torch_model(model_name, seed)
    optimizer = torch.optim.SGD(model.parameters(), lr=LEARNING_RATE, momentum=MOMENTUM)

    def train(batches: list[Batch]) -> float:
        loss = None
        for images, labels in batches:
            loss = F.cross_entropy(model(torch.from_numpy(images)), torch.from_numpy(labels))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        return float(loss.item())

    return train, model


def notebook_trainer(seed: int = 0) -> Callable[[np.ndarray, np.ndarray], float]:
    """The seed notebook's per-image loop (``tests/notebook_layers.py``): ``train(images,
    labels)`` takes uint8 images (N, 28, 28) and returns the mean loss."""
    tests_dir = str(REPO_ROOT / "tests")
    if tests_dir not in sys.path:
        sys.path.insert(0, tests_dir)
    from notebook_layers import NotebookCNN

    net = NotebookCNN(seed)

    def train(images: np.ndarray, labels: np.ndarray) -> float:
        losses = [
            net.train_step(image, int(label), 0.005)[0]
            for image, label in zip(images, labels, strict=True)
        ]
        return float(np.mean(losses))

    return train


def tinygrad_chain(length: int, size: int = 16) -> Callable[[], float]:
    """Forward and backward of ``length`` small elementwise ops (alternately ``* c`` and
    ``+ c`` on a vector of ``size`` float32): the engine's per-op cost, not numpy's."""
    from tinygrad_cnn import Tensor

    start = np.linspace(-1.0, 1.0, size, dtype=np.float32)

    def run() -> float:
        x = Tensor(start, requires_grad=True)
        y = x
        for i in range(length):
            y = y * 1.0001 if i % 2 == 0 else y + 0.0001
        y.sum().backward()
        return float(x.grad[0])

    return run


def torch_chain(length: int, size: int = 16) -> Callable[[], float]:
    """The same chain as :func:`tinygrad_chain`, in PyTorch."""
    import torch

    start = torch.linspace(-1.0, 1.0, size, dtype=torch.float32)

    def run() -> float:
        x = start.clone().requires_grad_(True)
        y = x
        for i in range(length):
            y = y * 1.0001 if i % 2 == 0 else y + 0.0001
        y.sum().backward()
        return float(x.grad[0])

    return run
