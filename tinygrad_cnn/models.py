"""Ready-made MNIST models: the seed notebook's CNN, a LeNet-style CNN and a modern small CNN.

All take images of shape ``(N, 1, 28, 28)`` (float32) and return logits of shape ``(N, 10)``;
all are :class:`~tinygrad_cnn.nn.Sequential` with named layers, so their parameters are
called ``conv.weight``, ``fc.bias``, ``conv1.weight``, ``bn1.running_mean`` ... in
``state_dict()`` (the same keys as the same ``torch.nn.Sequential(OrderedDict(...))``) and in
the graph renderer.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from itertools import pairwise

import numpy as np

from tinygrad_cnn.nn import init
from tinygrad_cnn.nn.dropout import Dropout
from tinygrad_cnn.nn.layers import Conv2d, Flatten, Linear, MaxPool2d, ReLU, Sequential
from tinygrad_cnn.nn.module import Module
from tinygrad_cnn.nn.norm_layers import BatchNorm2d


def seed_cnn(seed: int | np.random.Generator | None = 0) -> Sequential:
    """The seed notebook's network: conv 8x8 (3 filters, no bias), 2x2 max pool, linear 300->10.

    Layers: ``conv`` Conv2d(1, 3, 8, bias=False) -> ``pool`` MaxPool2d(2) -> ``flatten`` ->
    ``fc`` Linear(300, 10); 3 * 64 + 300 * 10 + 10 = 3202 parameters. Initialised as in the
    notebook (:func:`tinygrad_cnn.nn.init.notebook_`): filters ``randn / 64``, weights
    ``randn / 300``, biases ``randn``.

    Parameters
    ----------
    seed : int, numpy Generator or None, default 0
        Randomness for the initial weights.

    Returns
    -------
    Sequential
        Maps ``(N, 1, 28, 28)`` images to ``(N, 10)`` logits (softmax is left to the loss).
    """
    rng = np.random.default_rng(seed)
    model = Sequential(
        OrderedDict(
            conv=Conv2d(1, 3, 8, bias=False, seed=rng),
            pool=MaxPool2d(2),
            flatten=Flatten(),
            fc=Linear(3 * 10 * 10, 10, seed=rng),
        )
    )
    for param in model.parameters():
        init.notebook_(param, seed=rng)
    return model


def lenet(seed: int | np.random.Generator | None = 0) -> Sequential:
    """A LeNet-style CNN with PyTorch's default initialisation (225,034 parameters).

    ``conv1`` Conv2d(1, 32, 3) -> ReLU -> MaxPool2d(2) -> ``conv2`` Conv2d(32, 64, 3) -> ReLU
    -> MaxPool2d(2) -> Flatten -> ``fc1`` Linear(1600, 128) -> ReLU -> ``fc2`` Linear(128, 10).
    The ReLUs are in place (``ReLU(inplace=True)``, as in torchvision's models): each
    overwrites the output of the layer before it, which nothing else reads.

    Parameters
    ----------
    seed : int, numpy Generator or None, default 0
        Randomness for the initial weights.

    Returns
    -------
    Sequential
        Maps ``(N, 1, 28, 28)`` images to ``(N, 10)`` logits.
    """
    rng = np.random.default_rng(seed)
    return Sequential(
        OrderedDict(
            conv1=Conv2d(1, 32, 3, seed=rng),
            relu1=ReLU(inplace=True),
            pool1=MaxPool2d(2),
            conv2=Conv2d(32, 64, 3, seed=rng),
            relu2=ReLU(inplace=True),
            pool2=MaxPool2d(2),
            flatten=Flatten(),
            fc1=Linear(64 * 5 * 5, 128, seed=rng),
            relu3=ReLU(inplace=True),
            fc2=Linear(128, 10, seed=rng),
        )
    )


def modern_cnn(seed: int | np.random.Generator | None = 0) -> Sequential:
    """A modern small CNN: three conv-BatchNorm-ReLU-pool blocks, dropout, a linear head.

    Block ``i`` (1, 2, 3) is ``conv{i}`` Conv2d(c, c', 3, padding=1, bias=False) ->
    ``bn{i}`` BatchNorm2d(c') -> ``relu{i}`` ReLU(inplace=True) -> ``pool{i}`` MaxPool2d(2),
    with 16, 32 and 64 channels (28 -> 14 -> 7 -> 3 pixels); then ``flatten`` ->
    ``drop1`` Dropout(0.25) -> ``fc1`` Linear(576, 128) -> ``relu4`` -> ``drop2``
    Dropout(0.25) -> ``fc2`` Linear(128, 10). 98,554 parameters, plus BatchNorm's running
    statistics as buffers. The convolutions have no bias (the BatchNorm after each one has
    its own). PyTorch's default initialisation.

    Train it with ``model.train()`` and evaluate with ``model.eval()`` (BatchNorm's running
    statistics, no dropout); ``examples/mnist.py --model modern`` uses torchvision's MNIST
    normalisation, AdamW and a one-cycle learning rate.

    Parameters
    ----------
    seed : int, numpy Generator or None, default 0
        Randomness for the initial weights (the dropout masks come from the default
        generator, :func:`tinygrad_cnn.manual_seed`).

    Returns
    -------
    Sequential
        Maps ``(N, 1, 28, 28)`` images to ``(N, 10)`` logits.
    """
    rng = np.random.default_rng(seed)
    layers: list[tuple[str, Module]] = []
    channels = (1, 16, 32, 64)
    for i, (c_in, c_out) in enumerate(pairwise(channels), start=1):
        layers += [
            (f"conv{i}", Conv2d(c_in, c_out, 3, padding=1, bias=False, seed=rng)),
            (f"bn{i}", BatchNorm2d(c_out)),
            (f"relu{i}", ReLU(inplace=True)),
            (f"pool{i}", MaxPool2d(2)),
        ]
    layers += [
        ("flatten", Flatten()),
        ("drop1", Dropout(0.25)),
        ("fc1", Linear(64 * 3 * 3, 128, seed=rng)),
        ("relu4", ReLU(inplace=True)),
        ("drop2", Dropout(0.25)),
        ("fc2", Linear(128, 10, seed=rng)),
    ]
    return Sequential(OrderedDict(layers))


MODELS: dict[str, Callable[..., Sequential]] = {
    "seed": seed_cnn,
    "lenet": lenet,
    "modern": modern_cnn,
}


def build_model(name: str, seed: int | np.random.Generator | None = 0) -> Sequential:
    """Build a model by name: ``"seed"`` (:func:`seed_cnn`), ``"lenet"`` (:func:`lenet`) or
    ``"modern"`` (:func:`modern_cnn`).

    Raises
    ------
    ValueError
        For any other name, listing the available ones.
    """
    if not isinstance(name, str) or name not in MODELS:
        raise ValueError(
            f"build_model: unknown model {name!r}; choose one of {', '.join(map(repr, MODELS))}"
        )
    return MODELS[name](seed=seed)


__all__ = ["MODELS", "build_model", "lenet", "modern_cnn", "seed_cnn"]
