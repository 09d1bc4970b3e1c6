"""Ready-made MNIST models: the seed notebook's CNN and a LeNet-style CNN.

Both take images of shape ``(N, 1, 28, 28)`` (float32) and return logits of shape ``(N, 10)``;
both are :class:`~tinygrad_cnn.nn.Sequential` with named layers, so their parameters are
called ``conv.weight``, ``fc.bias``, ``conv1.weight`` ... in ``state_dict()`` and in the
graph renderer.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

import numpy as np

from tinygrad_cnn.nn import init
from tinygrad_cnn.nn.layers import Conv2d, Flatten, Linear, MaxPool2d, ReLU, Sequential


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


MODELS: dict[str, Callable[..., Sequential]] = {"seed": seed_cnn, "lenet": lenet}


def build_model(name: str, seed: int | np.random.Generator | None = 0) -> Sequential:
    """Build a model by name: ``"seed"`` (:func:`seed_cnn`) or ``"lenet"`` (:func:`lenet`).

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


__all__ = ["MODELS", "build_model", "lenet", "seed_cnn"]
