"""safetensors model files: PyTorch's keys both ways, atomic, verified, never pickle."""

from __future__ import annotations

import json
import os
import re
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest

from tinygrad_cnn import Tensor, checkpoint
from tinygrad_cnn.models import build_model, lenet, seed_cnn
from tinygrad_cnn.nn import Module

safetensors_numpy = pytest.importorskip("safetensors.numpy")


def _snapshot(model: Module) -> dict[str, np.ndarray]:
    return {name: p.data.copy() for name, p in model.named_parameters()}


def _assert_unchanged(model: Module, snapshot: dict[str, np.ndarray]) -> None:
    for name, param in model.named_parameters():
        np.testing.assert_array_equal(param.data, snapshot[name], err_msg=name)


def _header(path: Path) -> dict:
    data = path.read_bytes()
    return json.loads(data[8 : 8 + int.from_bytes(data[:8], "little")])


def _torch_twin(torch, name: str):
    """The same architecture in PyTorch, with the same submodule names (hence the same keys)."""
    tnn = torch.nn
    if name == "seed":
        layers = OrderedDict(
            conv=tnn.Conv2d(1, 3, 8, bias=False),
            pool=tnn.MaxPool2d(2),
            flatten=tnn.Flatten(),
            fc=tnn.Linear(300, 10),
        )
    else:
        layers = OrderedDict(
            conv1=tnn.Conv2d(1, 32, 3),
            relu1=tnn.ReLU(),
            pool1=tnn.MaxPool2d(2),
            conv2=tnn.Conv2d(32, 64, 3),
            relu2=tnn.ReLU(),
            pool2=tnn.MaxPool2d(2),
            flatten=tnn.Flatten(),
            fc1=tnn.Linear(1600, 128),
            relu3=tnn.ReLU(),
            fc2=tnn.Linear(128, 10),
        )
    return tnn.Sequential(layers)


def _images(n: int = 3) -> np.ndarray:
    return np.random.default_rng(0).standard_normal((n, 1, 28, 28)).astype(np.float32)


@pytest.mark.parametrize("name", ["seed", "lenet"])
def test_pytorch_loads_our_file_and_we_load_pytorchs(name: str, tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    safetensors_torch = pytest.importorskip("safetensors.torch")
    ours = build_model(name, seed=0)
    twin = _torch_twin(torch, name)
    assert list(ours.state_dict()) == list(twin.state_dict())

    ours_file = tmp_path / "ours.safetensors"
    ours.save(ours_file)
    result = twin.load_state_dict(safetensors_torch.load_file(ours_file))
    assert not result.missing_keys and not result.unexpected_keys
    x = _images()
    with torch.no_grad():
        expected = twin(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(ours(Tensor(x)).data, expected, rtol=1e-4, atol=1e-5)

    with torch.no_grad():  # the reverse: new weights in PyTorch, saved by safetensors.torch
        for param in twin.parameters():
            param.mul_(0.5).add_(0.01)
        expected = twin(torch.from_numpy(x)).numpy()
    theirs_file = tmp_path / "theirs.safetensors"
    safetensors_torch.save_file(twin.state_dict(), theirs_file)
    fresh = build_model(name, seed=7)
    assert fresh.load(theirs_file) == ([], [])
    for key, value in twin.state_dict().items():
        np.testing.assert_array_equal(fresh.state_dict()[key], value.numpy(), err_msg=key)
    np.testing.assert_allclose(fresh(Tensor(x)).data, expected, rtol=1e-4, atol=1e-5)


def test_round_trip_file_layout_and_metadata(tmp_path: Path) -> None:
    model = seed_cnn(seed=0)
    path = tmp_path / "seed.safetensors"
    model.save(path)
    assert os.listdir(tmp_path) == [path.name]
    header = _header(path)
    metadata = header.pop("__metadata__")
    assert metadata == {
        "tinygrad_cnn.format": "module",
        "tinygrad_cnn.version": "1",
        "tinygrad_cnn.sha256": checkpoint.state_checksum(model.state_dict()),
    }
    assert sorted(header) == ["conv.weight", "fc.bias", "fc.weight"]
    assert header["fc.weight"]["dtype"] == "F32" and header["fc.weight"]["shape"] == [10, 300]
    plain = safetensors_numpy.load_file(path)  # any safetensors reader sees the tensors
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(plain[key], value)
    other = seed_cnn(seed=1)
    assert checkpoint.load(other, path) == ([], [])
    _assert_unchanged(other, _snapshot(model))
    loaded = checkpoint.load_state(path)
    assert list(loaded) == sorted(model.state_dict())


def test_mappings_save_too_and_foreign_files_load_without_metadata(tmp_path: Path) -> None:
    path = tmp_path / "state.safetensors"
    checkpoint.save({"a": np.arange(6, dtype=np.float64).reshape(2, 3), "b": Tensor([1.0])}, path)
    loaded = checkpoint.load_state(path)
    assert loaded["a"].dtype == np.float64 and loaded["b"].dtype == np.float32
    foreign = tmp_path / "foreign.safetensors"
    safetensors_numpy.save_file({"weight": np.ones((2, 2), np.float32)}, foreign)
    np.testing.assert_array_equal(checkpoint.load_state(foreign)["weight"], np.ones((2, 2)))


def test_suffix_picks_the_writer_and_others_are_refused(tmp_path: Path) -> None:
    model = seed_cnn(seed=0)
    model.save(tmp_path / "m.npz")
    with np.load(tmp_path / "m.npz", allow_pickle=False) as npz:  # the older format
        assert checkpoint.METADATA_KEY in npz.files
    for name in ("m.pt", "m", "m.safetensor"):
        with pytest.raises(ValueError, match=r"use the suffix \.safetensors \(or \.npz"):
            model.save(tmp_path / name)
    assert sorted(os.listdir(tmp_path)) == ["m.npz"]
    target = seed_cnn(seed=2)
    target.load(tmp_path / "m.npz")  # the reader goes by content, not by name
    _assert_unchanged(target, _snapshot(model))
    renamed = tmp_path / "weights.bin"
    model.save(tmp_path / "m.safetensors")
    os.replace(tmp_path / "m.safetensors", renamed)
    seed_cnn(seed=3).load(renamed)


def test_truncated_file_is_rejected_and_model_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "seed.safetensors"
    seed_cnn(seed=0).save(path)
    data = path.read_bytes()
    target = seed_cnn(seed=3)
    before = _snapshot(target)
    for cut in (len(data) - 1, len(data) // 2, 20, 4, 0):
        path.write_bytes(data[:cut])
        with pytest.raises(ValueError, match=f"{re.escape(str(path))}.*not a readable checkpoint"):
            target.load(path)
        _assert_unchanged(target, before)


def test_tampered_tensor_or_metadata_fails_the_checksum(tmp_path: Path) -> None:
    model = seed_cnn(seed=0)
    path = tmp_path / "seed.safetensors"
    model.save(path)
    data = bytearray(path.read_bytes())
    start = bytes(data).find(model.fc.weight.data.tobytes()[:64])
    assert start > 0
    data[start + 100] ^= 0x01
    path.write_bytes(bytes(data))
    target = seed_cnn(seed=3)
    before = _snapshot(target)
    with pytest.raises(ValueError, match=f"{re.escape(str(path))} failed its SHA-256 check"):
        target.load(path)
    _assert_unchanged(target, before)
    # A well-formed file whose tensors were edited after the hash was computed.
    state = model.state_dict()
    metadata = {
        "tinygrad_cnn.format": "module",
        "tinygrad_cnn.version": "1",
        "tinygrad_cnn.sha256": checkpoint.state_checksum(state),
    }
    state["fc.bias"] = state["fc.bias"] + 1
    safetensors_numpy.save_file(state, path, metadata=metadata)
    with pytest.raises(ValueError, match="failed its SHA-256 check"):
        target.load(path)
    metadata["tinygrad_cnn.version"] = "2"
    safetensors_numpy.save_file(state, path, metadata=metadata)
    with pytest.raises(ValueError, match="checkpoint version '2', this library reads version 1"):
        target.load(path)
    metadata["tinygrad_cnn.format"] = "something"
    safetensors_numpy.save_file(state, path, metadata=metadata)
    with pytest.raises(ValueError, match="not a checkpoint of tinygrad_cnn"):
        target.load(path)
    _assert_unchanged(target, before)


def test_wrong_architecture_names_the_file_and_keys_and_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "seed.safetensors"
    seed_cnn(seed=0).save(path)
    target = lenet(seed=0)
    before = _snapshot(target)
    with pytest.raises(ValueError, match=f"{re.escape(str(path))}.*missing keys: conv1.weight"):
        target.load(path)
    _assert_unchanged(target, before)
    state = seed_cnn().state_dict()
    state["fc.weight"] = np.zeros((10, 301), np.float32)
    checkpoint.save(state, path)
    target = seed_cnn(seed=4)
    before = _snapshot(target)
    with pytest.raises(ValueError, match=r"fc.weight: shape mismatch.*\(10, 301\).*\(10, 300\)"):
        target.load(path)
    _assert_unchanged(target, before)


def test_failed_write_keeps_the_previous_file(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "seed.safetensors"
    seed_cnn(seed=0).save(path)
    original = path.read_bytes()

    def interrupted(handle) -> None:
        handle.write(original[:10])
        raise KeyboardInterrupt

    real = checkpoint.write_atomically
    monkeypatch.setattr(checkpoint, "write_atomically", lambda dest, _: real(dest, interrupted))
    with pytest.raises(KeyboardInterrupt):
        seed_cnn(seed=9).save(path)
    assert path.read_bytes() == original
    assert os.listdir(tmp_path) == [path.name]


def test_unsupported_dtypes_and_object_arrays_are_refused(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="object array"):
        checkpoint.save({"a": np.array([object()], dtype=object)}, tmp_path / "x.safetensors")
    with pytest.raises(TypeError, match=r"cannot write .*x\.safetensors as safetensors"):
        checkpoint.save({"a": np.array(["text"])}, tmp_path / "x.safetensors")
    assert os.listdir(tmp_path) == []


def test_interop_page_runs_as_written(capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("torch")
    pytest.importorskip("safetensors.torch")
    page = Path(__file__).resolve().parents[1] / "docs" / "interop.md"
    # The sections before ONNX's (tests/test_onnx_export.py checks the ONNX section).
    text = page.read_text(encoding="utf-8").split("\n## ONNX", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert len(blocks) >= 3
    exec(compile("\n".join(blocks), str(page), "exec"), {"__name__": "docs_interop"})
    printed = capsys.readouterr().out.split("\n")
    assert printed[:2] == ["True", "True"] and printed[-2] == "True", printed
    assert "[0.5 0.5 0.5]" in printed[2]
