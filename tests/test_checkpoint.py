"""Tests of tinygrad_cnn.checkpoint: round trips, atomic writes, tampering, no pickle."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import pytest

from tinygrad_cnn import Tensor, checkpoint
from tinygrad_cnn.models import lenet, seed_cnn
from tinygrad_cnn.nn import Module

UNPICKLED: list[str] = []


def _record_unpickling() -> str:
    UNPICKLED.append("unpickled")
    return "payload"


class Payload:
    """Unpickling this object would call _record_unpickling."""

    def __reduce__(self):
        return (_record_unpickling, ())


def _snapshot(model: Module) -> dict[str, np.ndarray]:
    return {name: p.data.copy() for name, p in model.named_parameters()}


def _assert_unchanged(model: Module, snapshot: dict[str, np.ndarray]) -> None:
    for name, param in model.named_parameters():
        np.testing.assert_array_equal(param.data, snapshot[name], err_msg=name)


@pytest.fixture
def saved(tmp_path: Path) -> tuple[Module, Path]:
    model = seed_cnn(seed=0)
    path = tmp_path / "seed.npz"
    model.save(path)
    return model, path


def test_round_trip_restores_every_parameter(saved) -> None:
    model, path = saved
    other = seed_cnn(seed=1)
    assert other.load(path) == ([], [])
    _assert_unchanged(other, _snapshot(model))
    x = Tensor(np.random.default_rng(0).standard_normal((2, 1, 28, 28)).astype(np.float32))
    np.testing.assert_array_equal(other(x).data, model(x).data)


def test_function_api_and_plain_mappings(tmp_path: Path) -> None:
    arrays = {"a": np.arange(6, dtype=np.float32).reshape(2, 3), "b": Tensor([1.0, 2.0])}
    path = tmp_path / "state.npz"
    checkpoint.save(arrays, str(path))
    loaded = checkpoint.load_state(path)
    assert sorted(loaded) == ["a", "b"]
    np.testing.assert_array_equal(loaded["a"], arrays["a"])
    np.testing.assert_array_equal(loaded["b"], [1.0, 2.0])
    assert loaded["b"].dtype == np.float32


def test_file_is_a_plain_npz_with_metadata(saved) -> None:
    model, path = saved
    with np.load(path, allow_pickle=False) as npz:
        assert sorted(npz.files) == sorted([*model.state_dict(), checkpoint.METADATA_KEY])
        metadata = json.loads(str(npz[checkpoint.METADATA_KEY]))
    assert metadata["format"] == checkpoint.FORMAT and metadata["version"] == 1
    assert metadata["sha256"] == checkpoint.state_checksum(model.state_dict())


def test_save_leaves_no_temporary_file_and_replaces_atomically(saved) -> None:
    model, path = saved
    assert os.listdir(path.parent) == [path.name]
    for param in model.parameters():
        param.data += 1
    model.save(path)
    assert os.listdir(path.parent) == [path.name]
    fresh = seed_cnn(seed=5)
    fresh.load(path)
    _assert_unchanged(fresh, _snapshot(model))


def test_failed_write_keeps_the_previous_file_and_leaves_nothing_behind(saved, monkeypatch) -> None:
    _, path = saved
    original = path.read_bytes()

    def failing_savez(handle, **arrays):
        handle.write(b"PK\x03\x04 partial")
        raise OSError("No space left on device")

    monkeypatch.setattr(np, "savez", failing_savez)
    with pytest.raises(OSError, match="No space left"):
        seed_cnn(seed=9).save(path)
    assert path.read_bytes() == original
    assert os.listdir(path.parent) == [path.name]


def test_failed_first_write_creates_no_file(tmp_path: Path, monkeypatch) -> None:
    def interrupted(handle, **arrays):
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez", interrupted)
    with pytest.raises(KeyboardInterrupt):
        checkpoint.save(seed_cnn(), tmp_path / "new.npz")
    assert os.listdir(tmp_path) == []


def test_truncated_file_is_rejected_naming_it_and_model_unchanged(saved) -> None:
    _, path = saved
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    target = seed_cnn(seed=3)
    before = _snapshot(target)
    with pytest.raises(ValueError, match=f"{re.escape(str(path))}.*not a readable checkpoint"):
        target.load(path)
    _assert_unchanged(target, before)
    path.write_bytes(b"")
    with pytest.raises(ValueError, match=re.escape(str(path))):
        checkpoint.load(target, path)
    _assert_unchanged(target, before)


def test_flipped_byte_inside_an_array_is_rejected(saved) -> None:
    model, path = saved
    data = bytearray(path.read_bytes())
    weight_bytes = model.fc.weight.data.tobytes()
    start = data.find(weight_bytes[:64])
    assert start > 0, "the array bytes are stored uncompressed"
    data[start + 100] ^= 0x01
    path.write_bytes(bytes(data))
    target = seed_cnn(seed=3)
    before = _snapshot(target)
    with pytest.raises(ValueError, match=re.escape(str(path))):
        target.load(path)
    _assert_unchanged(target, before)


def test_edited_arrays_fail_the_checksum(saved) -> None:
    _, path = saved
    with np.load(path, allow_pickle=False) as npz:
        arrays = {key: npz[key] for key in npz.files}
    arrays["fc.bias"] = arrays["fc.bias"] + 1  # a well-formed file with a stale checksum
    np.savez(path, **arrays)
    target = seed_cnn(seed=3)
    before = _snapshot(target)
    with pytest.raises(ValueError, match=f"{re.escape(str(path))} failed its SHA-256 check"):
        target.load(path)
    _assert_unchanged(target, before)


def test_missing_array_or_metadata_is_reported(tmp_path: Path, saved) -> None:
    _, path = saved
    with np.load(path, allow_pickle=False) as npz:
        arrays = {key: npz[key] for key in npz.files}
    del arrays["fc.bias"]
    np.savez(path, **arrays)
    with pytest.raises(ValueError, match=r"missing: \['fc.bias'\]"):
        checkpoint.load_state(path)
    plain = tmp_path / "plain.npz"
    np.savez(plain, weight=np.zeros(3))
    with pytest.raises(ValueError, match="not a tinygrad_cnn checkpoint"):
        checkpoint.load_state(plain)
    single = tmp_path / "single.npy"
    np.save(single, np.zeros(3))
    with pytest.raises(ValueError, match=r"single \.npy array"):
        checkpoint.load_state(single)
    with pytest.raises(FileNotFoundError):
        checkpoint.load_state(tmp_path / "absent.npz")


def test_wrong_keys_and_shapes_name_the_file_and_leave_the_model_unchanged(saved) -> None:
    _, path = saved
    target = lenet(seed=0)
    before = _snapshot(target)
    with pytest.raises(
        ValueError, match=f"{re.escape(str(path))}.*missing keys: conv1.weight"
    ) as info:
        target.load(path)
    assert "unexpected keys: conv.weight, fc.weight, fc.bias" in str(info.value)
    _assert_unchanged(target, before)
    wrong_shape = path.parent / "shape.npz"
    state = seed_cnn().state_dict()
    state["fc.weight"] = np.zeros((10, 301), np.float32)
    checkpoint.save(state, wrong_shape)
    target = seed_cnn(seed=4)
    before = _snapshot(target)
    with pytest.raises(ValueError, match=r"fc.weight: shape mismatch.*\(10, 301\).*\(10, 300\)"):
        target.load(wrong_shape)
    _assert_unchanged(target, before)
    assert target.load(path, strict=True) == ([], [])


def test_pickled_content_is_never_unpickled(tmp_path: Path) -> None:
    path = tmp_path / "evil.npz"
    np.savez(path, **{"fc.weight": np.array([Payload()], dtype=object)})
    UNPICKLED.clear()
    with pytest.raises(ValueError, match=f"{re.escape(str(path))}.*not a readable checkpoint"):
        checkpoint.load(seed_cnn(), path)
    assert UNPICKLED == []


def test_np_load_is_always_called_without_pickle(saved, monkeypatch) -> None:
    _, path = saved
    calls = []
    real_load = np.load

    def spy(*args, **kwargs):
        calls.append(kwargs.get("allow_pickle"))
        return real_load(*args, **kwargs)

    monkeypatch.setattr(np, "load", spy)
    seed_cnn(seed=2).load(path)
    checkpoint.load_state(path)
    assert calls == [False, False]


def test_save_rejects_what_would_need_pickle_or_clash(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="object array"):
        checkpoint.save({"a": np.array([Payload()], dtype=object)}, tmp_path / "x.npz")
    with pytest.raises(ValueError, match="reserved"):
        checkpoint.save({checkpoint.METADATA_KEY: np.zeros(1)}, tmp_path / "x.npz")
    with pytest.raises(TypeError, match="Module or a mapping"):
        checkpoint.save([np.zeros(1)], tmp_path / "x.npz")
    with pytest.raises(TypeError, match="expected a Module"):
        checkpoint.load({"a": 1}, tmp_path / "x.npz")
    assert os.listdir(tmp_path) == []


def test_saving_into_a_missing_folder_names_the_path_given(tmp_path: Path) -> None:
    path = tmp_path / "missing" / "dir" / "x.npz"
    with pytest.raises(FileNotFoundError) as caught:
        seed_cnn(seed=0).save(path)
    message = str(caught.value)
    assert f"cannot write {path}" in message and ".part" not in message
    assert f"the directory {path.parent} does not exist" in message
    assert caught.value.filename == str(path)
    assert not (tmp_path / "missing").exists()


def test_the_format_knows_modules_only_by_their_methods(tmp_path: Path) -> None:
    optimizer_like = type("NotAModule", (), {"state_dict": dict, "load_state_dict": dict})()
    with pytest.raises(TypeError, match="Module or a mapping"):
        checkpoint.save(optimizer_like, tmp_path / "x.npz")
    with pytest.raises(TypeError, match="expected a Module"):
        checkpoint.load(optimizer_like, tmp_path / "x.npz")
