"""Tests of tinygrad_cnn.models: shapes, parameter counts, init, learning, PyTorch parity."""

from __future__ import annotations

import numpy as np
import pytest

from tinygrad_cnn import Tensor, optim
from tinygrad_cnn.models import MODELS, build_model, lenet, seed_cnn

LENET_PARAMETERS = (32 * 9 + 32) + (64 * 32 * 9 + 64) + (1600 * 128 + 128) + (128 * 10 + 10)


def _batch(n: int = 4, seed: int = 0) -> tuple[Tensor, np.ndarray]:
    rng = np.random.default_rng(seed)
    images = rng.random((n, 1, 28, 28), dtype=np.float32) - 0.5
    return Tensor(images), rng.integers(0, 10, n)


@pytest.mark.parametrize("name", ["seed", "lenet"])
def test_models_map_images_to_float32_logits(name) -> None:
    model = build_model(name)
    x, _ = _batch(3)
    logits = model(x)
    assert logits.shape == (3, 10) and logits.dtype == np.float32
    assert np.all(np.isfinite(logits.data))


def test_parameter_counts_and_names() -> None:
    assert seed_cnn().num_parameters() == 3 * 64 + 300 * 10 + 10 == 3202
    assert LENET_PARAMETERS == 225_034
    assert lenet().num_parameters() == LENET_PARAMETERS
    assert [n for n, _ in seed_cnn().named_parameters()] == ["conv.weight", "fc.weight", "fc.bias"]
    names = [p.name for p in lenet().parameters()]
    assert names == [
        "conv1.weight",
        "conv1.bias",
        "conv2.weight",
        "conv2.bias",
        "fc1.weight",
        "fc1.bias",
        "fc2.weight",
        "fc2.bias",
    ]


def test_seed_cnn_uses_the_notebook_initialisation() -> None:
    model = seed_cnn(seed=0)
    assert model.conv.bias is None and model.conv.weight.shape == (3, 1, 8, 8)
    assert model.fc.weight.shape == (10, 300)
    # Standard normal draws scaled by 1/64, 1/300 and 1: check the spread on this fixed seed.
    assert model.conv.weight.data.std() == pytest.approx(1 / 64, rel=0.2)
    assert model.fc.weight.data.std() == pytest.approx(1 / 300, rel=0.1)
    assert np.abs(model.fc.bias.data).max() > 0.5  # unscaled randn, not a 1/sqrt(fan_in) bound


def test_models_are_reproducible_from_their_seed() -> None:
    for name in MODELS:
        a, b, c = build_model(name, seed=7), build_model(name, seed=7), build_model(name, seed=8)
        for (key, pa), pb, pc in zip(
            a.named_parameters(), b.parameters(), c.parameters(), strict=True
        ):
            np.testing.assert_array_equal(pa.data, pb.data, err_msg=key)
            assert not np.array_equal(pa.data, pc.data), key


def test_build_model_rejects_unknown_names() -> None:
    with pytest.raises(ValueError, match="unknown model 'resnet'; choose one of 'seed', 'lenet'"):
        build_model("resnet")


@pytest.mark.parametrize(
    ("name", "make_optimizer"),
    [
        ("seed", lambda p: optim.SGD(p, lr=0.5, momentum=0.9)),
        ("lenet", lambda p: optim.Adam(p, lr=3e-3)),
    ],
)
def test_a_few_steps_on_a_fixed_batch_reduce_the_loss(name, make_optimizer) -> None:
    model = build_model(name, seed=0)
    x, labels = _batch(8)
    opt = make_optimizer(model.parameters())
    losses = []
    for _ in range(10):
        loss = model(x).cross_entropy(labels)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.6 * losses[0], losses


def _torch_twin(torch, name: str):
    """The same architecture in PyTorch (used only to check forward parity)."""
    tnn = torch.nn
    if name == "seed":
        return tnn.Sequential(
            tnn.Conv2d(1, 3, 8, bias=False), tnn.MaxPool2d(2), tnn.Flatten(), tnn.Linear(300, 10)
        )
    return tnn.Sequential(
        tnn.Conv2d(1, 32, 3),
        tnn.ReLU(),
        tnn.MaxPool2d(2),
        tnn.Conv2d(32, 64, 3),
        tnn.ReLU(),
        tnn.MaxPool2d(2),
        tnn.Flatten(),
        tnn.Linear(1600, 128),
        tnn.ReLU(),
        tnn.Linear(128, 10),
    )


@pytest.mark.parametrize("name", ["seed", "lenet"])
def test_models_match_the_same_network_in_torch(name) -> None:
    torch = pytest.importorskip("torch")
    ours = build_model(name, seed=0)
    theirs = _torch_twin(torch, name)
    their_params = list(theirs.parameters())
    assert len(their_params) == len(list(ours.parameters()))
    with torch.no_grad():
        for mine, other in zip(ours.parameters(), their_params, strict=True):
            other.copy_(torch.from_numpy(mine.data))
    x, labels = _batch(3)
    logits = ours(x)
    expected = theirs(torch.from_numpy(x.data))
    np.testing.assert_allclose(logits.data, expected.detach().numpy(), rtol=1e-4, atol=1e-5)
    logits.cross_entropy(labels).backward()
    torch.nn.functional.cross_entropy(expected, torch.from_numpy(labels)).backward()
    for mine, other in zip(ours.parameters(), their_params, strict=True):
        np.testing.assert_allclose(mine.grad, other.grad.numpy(), rtol=1e-3, atol=1e-6)
