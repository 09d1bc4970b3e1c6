"""Tests of tinygrad_cnn.models: shapes, parameter counts, init, learning, PyTorch parity."""

from __future__ import annotations

from collections import OrderedDict
from itertools import pairwise

import numpy as np
import pytest

from tinygrad_cnn import Tensor, optim
from tinygrad_cnn.models import MODELS, build_model, lenet, modern_cnn, seed_cnn

LENET_PARAMETERS = (32 * 9 + 32) + (64 * 32 * 9 + 64) + (1600 * 128 + 128) + (128 * 10 + 10)
# Three bias-free 3x3 convs, each with a BatchNorm (weight and bias), then 576-128-10.
MODERN_PARAMETERS = (
    (16 * 9 + 2 * 16) + (32 * 16 * 9 + 2 * 32) + (64 * 32 * 9 + 2 * 64)
    + (576 * 128 + 128) + (128 * 10 + 10)
)  # fmt: skip


def _batch(n: int = 4, seed: int = 0) -> tuple[Tensor, np.ndarray]:
    rng = np.random.default_rng(seed)
    images = rng.random((n, 1, 28, 28), dtype=np.float32) - 0.5
    return Tensor(images), rng.integers(0, 10, n)


@pytest.mark.parametrize("name", ["seed", "lenet", "modern"])
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
    assert MODERN_PARAMETERS == 98_554
    assert modern_cnn().num_parameters() == MODERN_PARAMETERS
    keys = list(modern_cnn().state_dict())
    assert keys[:6] == [
        "conv1.weight",
        "bn1.weight",
        "bn1.bias",
        "bn1.running_mean",
        "bn1.running_var",
        "bn1.num_batches_tracked",
    ]
    assert keys[-4:] == ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"]
    assert modern_cnn().conv1.bias is None


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
            if np.ptp(pa.data) > 0:  # not BatchNorm's constant initial weight (1) and bias (0)
                assert not np.array_equal(pa.data, pc.data), key


def test_build_model_rejects_unknown_names() -> None:
    with pytest.raises(ValueError, match="unknown model 'resnet'; choose one of 'seed', 'lenet'"):
        build_model("resnet")


@pytest.mark.parametrize(
    ("name", "make_optimizer"),
    [
        ("seed", lambda p: optim.SGD(p, lr=0.5, momentum=0.9)),
        ("lenet", lambda p: optim.Adam(p, lr=3e-3)),
        ("modern", lambda p: optim.AdamW(p, lr=3e-3)),
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
    if name == "modern":
        layers, channels = [], (1, 16, 32, 64)
        for i, (c_in, c_out) in enumerate(pairwise(channels), start=1):
            layers += [
                (f"conv{i}", tnn.Conv2d(c_in, c_out, 3, padding=1, bias=False)),
                (f"bn{i}", tnn.BatchNorm2d(c_out)),
                (f"relu{i}", tnn.ReLU(inplace=True)),
                (f"pool{i}", tnn.MaxPool2d(2)),
            ]
        layers += [
            ("flatten", tnn.Flatten()),
            ("drop1", tnn.Dropout(0.25)),
            ("fc1", tnn.Linear(576, 128)),
            ("relu4", tnn.ReLU(inplace=True)),
            ("drop2", tnn.Dropout(0.25)),
            ("fc2", tnn.Linear(128, 10)),
        ]
        return tnn.Sequential(OrderedDict(layers))
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


def test_modern_cnn_matches_torch_in_train_and_eval_mode_with_the_same_state_dict() -> None:
    """Keys, shapes and values of the state_dict (buffers included) load into the torch twin;
    train mode (batch statistics, dropout off through p = 0 on both sides) agrees in outputs,
    gradients and updated running statistics, then eval mode (running statistics)."""
    torch = pytest.importorskip("torch")
    ours, theirs = modern_cnn(seed=0), _torch_twin(torch, "modern")
    state = ours.state_dict()
    their_state = theirs.state_dict()
    assert list(state) == list(their_state)
    for key, value in state.items():
        assert value.shape == tuple(their_state[key].shape), key
    theirs.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in state.items()})
    for model in (ours, theirs):
        model.drop1.p = model.drop2.p = 0.0
    x, labels = _batch(6)
    logits = ours(x)
    expected = theirs(torch.from_numpy(x.data))
    np.testing.assert_allclose(logits.data, expected.detach().numpy(), rtol=1e-4, atol=1e-5)
    logits.cross_entropy(labels).backward()
    torch.nn.functional.cross_entropy(expected, torch.from_numpy(labels)).backward()
    for (key, mine), other in zip(ours.named_parameters(), theirs.parameters(), strict=True):
        np.testing.assert_allclose(mine.grad, other.grad.numpy(), rtol=1e-3, atol=1e-5, err_msg=key)
    for key, value in ours.state_dict().items():
        np.testing.assert_allclose(
            value, their_state[key].numpy(), rtol=1e-5, atol=1e-6, err_msg=key
        )
    ours.eval()
    theirs.eval()
    x, _ = _batch(4, seed=1)
    with torch.no_grad():
        expected = theirs(torch.from_numpy(x.data)).numpy()
    np.testing.assert_allclose(ours(x).data, expected, rtol=1e-4, atol=1e-5)
