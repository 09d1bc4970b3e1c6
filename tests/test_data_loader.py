"""TensorDataset, DataLoader, default_collate and transforms, against torch.utils.data and
torchvision's definitions (shuffle orders differ from torch's RNG: their properties are tested)."""

from __future__ import annotations

import numpy as np
import pytest

from tinygrad_cnn import Tensor, manual_seed
from tinygrad_cnn.data import (
    BatchLoader,
    DataLoader,
    TensorDataset,
    default_collate,
    synthetic_digits,
    transforms,
)

torch = pytest.importorskip("torch")


def _dataset(n: int = 23) -> tuple[TensorDataset, object]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 3, 2)).astype(np.float32)
    y = np.arange(n, dtype=np.int64)
    mask = rng.random(n) > 0.5
    ours = TensorDataset(Tensor(x), y, mask)
    theirs = torch.utils.data.TensorDataset(
        torch.from_numpy(x), torch.from_numpy(y), torch.from_numpy(mask)
    )
    return ours, theirs


@pytest.mark.parametrize("batch_size", [1, 4, 23, 50])
@pytest.mark.parametrize("drop_last", [False, True])
def test_unshuffled_batches_equal_torch(batch_size: int, drop_last: bool) -> None:
    ours_ds, theirs_ds = _dataset()
    ours = DataLoader(ours_ds, batch_size=batch_size, drop_last=drop_last)
    theirs = torch.utils.data.DataLoader(theirs_ds, batch_size=batch_size, drop_last=drop_last)
    assert len(ours) == len(theirs)
    ours_batches, theirs_batches = list(ours), list(theirs)
    assert len(ours_batches) == len(theirs_batches)
    for mine, expected in zip(ours_batches, theirs_batches, strict=True):
        assert isinstance(mine, list) and len(mine) == 3
        for a, b in zip(mine, expected, strict=True):
            assert isinstance(a, Tensor)
            assert a.dtype == np.dtype(str(b.dtype).removeprefix("torch."))
            np.testing.assert_array_equal(a.data, b.numpy())


def test_shuffle_is_a_seeded_permutation_that_changes_each_epoch() -> None:
    ds = TensorDataset(np.arange(100))
    loader = DataLoader(ds, batch_size=7, shuffle=True, generator=np.random.default_rng(3))
    first = np.concatenate([b[0].data for b in loader])
    second = np.concatenate([b[0].data for b in loader])
    assert sorted(first) == list(range(100)) == sorted(second)
    assert not np.array_equal(first, second) and not np.array_equal(first, np.arange(100))
    again = DataLoader(ds, batch_size=7, shuffle=True, generator=np.random.default_rng(3))
    np.testing.assert_array_equal(np.concatenate([b[0].data for b in again]), first)
    seeded = [np.concatenate([b[0].data for b in DataLoader(ds, 10, True, generator=5)])]
    seeded.append(np.concatenate([b[0].data for b in DataLoader(ds, 10, True, generator=5)]))
    np.testing.assert_array_equal(*seeded)
    manual_seed(1)
    a = np.concatenate([b[0].data for b in DataLoader(ds, 10, shuffle=True)])
    manual_seed(1)
    b = np.concatenate([b[0].data for b in DataLoader(ds, 10, shuffle=True)])
    np.testing.assert_array_equal(a, b)


def test_shuffled_drop_last_sizes_match_torch() -> None:
    ds = TensorDataset(np.arange(10))
    for drop_last in (False, True):
        ours = [len(b[0].data) for b in DataLoader(ds, 3, True, drop_last, generator=0)]
        theirs = torch.utils.data.DataLoader(
            torch.utils.data.TensorDataset(torch.arange(10)), 3, shuffle=True, drop_last=drop_last
        )
        assert ours == [len(b[0]) for b in theirs]


class Pairs:
    """A map-style dataset that is not a TensorDataset: (image, label, weight) tuples."""

    def __len__(self) -> int:
        return 5

    def __getitem__(self, i: int) -> tuple[np.ndarray, int, float]:
        return np.full((2, 2), i, np.uint8), i, i / 2


def test_default_collate_matches_torch_for_tuples_of_arrays_and_numbers() -> None:
    ours = list(DataLoader(Pairs(), batch_size=2))
    theirs = list(torch.utils.data.DataLoader(Pairs(), batch_size=2))
    for mine, expected in zip(ours, theirs, strict=True):
        for a, b in zip(mine, expected, strict=True):
            assert a.dtype == np.dtype(str(b.dtype).removeprefix("torch."))
            np.testing.assert_array_equal(a.data, b.numpy())
    batch = default_collate([{"x": 1.0, "name": "a"}, {"x": 2.0, "name": "b"}])
    assert batch["name"] == ["a", "b"] and batch["x"].dtype == np.float64
    with pytest.raises(ValueError, match="different shapes"):
        default_collate([np.zeros(2), np.zeros(3)])


def test_tensor_dataset_and_loader_errors() -> None:
    with pytest.raises(ValueError, match="same first dimension"):
        TensorDataset(np.zeros(3), np.zeros(4))
    with pytest.raises(ValueError, match="at least one"):
        TensorDataset()
    assert len(TensorDataset(np.zeros((4, 2)))) == 4
    with pytest.raises(ValueError, match="batch_size"):
        DataLoader(TensorDataset(np.zeros(3)), batch_size=0)
    with pytest.raises(TypeError, match="__len__"):
        DataLoader(3)
    custom = DataLoader(TensorDataset(np.arange(4)), 2, collate_fn=lambda b: len(b))
    assert list(custom) == [2, 2]


def test_transforms_match_torchvision_definitions() -> None:
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, size=(5, 4, 3), dtype=np.uint8)
    tensor = transforms.ToTensor()(image)
    expected = torch.from_numpy(image).permute(2, 0, 1).float() / 255
    np.testing.assert_allclose(tensor.data, expected.numpy(), rtol=1e-7)
    assert transforms.ToTensor()(image[:, :, 0]).shape == (1, 5, 4)
    norm = transforms.Normalize((0.5, 0.4, 0.3), (0.2, 0.25, 0.3))
    theirs = (expected - torch.tensor([0.5, 0.4, 0.3])[:, None, None]) / torch.tensor(
        [0.2, 0.25, 0.3]
    )[:, None, None]
    np.testing.assert_allclose(norm(tensor).data, theirs.numpy(), rtol=1e-6)
    np.testing.assert_allclose(norm(tensor.data), theirs.numpy(), rtol=1e-6)
    batch = transforms.mnist_transform()(np.array([[[[0, 255]]]], np.uint8))
    np.testing.assert_allclose(batch, [[[[-0.1307 / 0.3081, 0.8693 / 0.3081]]]], rtol=1e-6)
    assert batch.dtype == np.float32
    with pytest.raises(TypeError, match="ToDtype"):
        norm(image)
    with pytest.raises(ValueError, match="C = 3"):
        norm(np.zeros((2, 5, 5), np.float32))


def test_batch_loader_takes_any_dtype_and_a_transform() -> None:
    images, labels = synthetic_digits(10, seed=0)
    default = next(iter(BatchLoader(images, labels, batch_size=4, shuffle=False)))[0]
    np.testing.assert_allclose(default.data, images[:4, None] / 255 - 0.5, atol=1e-6)
    loader = BatchLoader(images, labels, 4, shuffle=False, transform=transforms.mnist_transform())
    x, y = next(iter(loader))
    expected = (images[:4, None].astype(np.float32) / 255 - 0.1307) / 0.3081
    np.testing.assert_allclose(x.data, expected, rtol=1e-5, atol=1e-6)
    assert x.dtype == np.float32 and y.dtype == np.int64
    floats = images.astype(np.float64) / 255
    x, _ = next(iter(BatchLoader(floats, labels, 4, shuffle=False)))
    assert x.dtype == np.float64 and x.shape == (4, 1, 28, 28)
    np.testing.assert_array_equal(x.data, floats[:4, None])
    with pytest.raises(TypeError, match="numeric"):
        BatchLoader(images.astype(object), labels, 4)
