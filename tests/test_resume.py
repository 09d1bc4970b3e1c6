"""Exact resume: N steps, save, load in a new process, M steps == N + M steps, bit for bit.

Also: training checkpoints reject bad files without touching anything, and the example stops
on Ctrl-C with a checkpoint, one line and status 130, then resumes to the same result.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from tinygrad_cnn import Tensor, checkpoint, manual_seed, optim, randn
from tinygrad_cnn.models import lenet, seed_cnn
from tinygrad_cnn.nn import Module
from tinygrad_cnn.random import default_generator

pytest.importorskip("safetensors")

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}

# Trains the seed CNN on synthetic digits; batches are drawn from a seeded generator and the
# learning rate decays multiplicatively (so the saved lr matters). Usage:
#   script OPTIMIZER STEPS OUT [--resume CHECKPOINT] [--save CHECKPOINT]
TRAIN_SCRIPT = textwrap.dedent(
    """
    import sys
    import numpy as np
    from tinygrad_cnn import Tensor, checkpoint, cross_entropy, manual_seed, optim, randn
    from tinygrad_cnn.data import normalize_images, synthetic_digits
    from tinygrad_cnn.models import seed_cnn

    kind, steps, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    options = dict(zip(sys.argv[4::2], sys.argv[5::2]))
    images, labels = synthetic_digits(256, seed=3)
    model = seed_cnn(seed=0)
    if kind == "sgd":
        opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-4)
    else:
        opt = optim.Adam(model.parameters(), lr=1e-3, betas=(0.8, 0.99), amsgrad=True)
    rng = np.random.default_rng(11)
    manual_seed(7)  # the default generator: input noise below; checkpoints restore it too
    done = 0
    if "--resume" in options:
        done = checkpoint.load_training(options["--resume"], model, opt, rng=rng)["step"]
    for step in range(done, done + steps):
        index = rng.choice(len(labels), size=16, replace=False)
        noisy = Tensor(normalize_images(images[index])) + 0.01 * randn(16, 1, 28, 28)
        loss = cross_entropy(model(noisy), labels[index])
        opt.zero_grad()
        loss.backward()
        opt.step()
        for group in opt.param_groups:
            group["lr"] *= 0.97
    if "--save" in options:
        checkpoint.save_training(
            options["--save"], model=model, optimizer=opt, step=done + steps, epoch=0, rng=rng
        )
    model.save(out)
    np.save(out + ".next.npy", rng.integers(0, 2**32, size=4))
    np.save(out + ".randn.npy", randn(4).numpy())
    """
)


def _run(script: Path, *args: str) -> None:
    subprocess.run([sys.executable, str(script), *args], check=True, env=ENV, cwd=ROOT)


@pytest.mark.parametrize("kind", ["sgd", "adam"])
def test_resumed_in_a_new_process_is_bit_identical_to_uninterrupted(
    kind: str, tmp_path: Path
) -> None:
    script = tmp_path / "train.py"
    script.write_text(TRAIN_SCRIPT)
    ckpt = str(tmp_path / "ckpt.safetensors")
    whole, first, resumed = (str(tmp_path / f"{n}.safetensors") for n in ("whole", "a", "b"))
    _run(script, kind, "12", whole)  # N + M steps without stopping
    _run(script, kind, "5", first, "--save", ckpt)  # N steps, save
    _run(script, kind, "7", resumed, "--resume", ckpt)  # a new process: load, M steps
    expected, got = checkpoint.load_state(whole), checkpoint.load_state(resumed)
    assert list(expected) == list(got)
    for key in expected:
        np.testing.assert_array_equal(got[key], expected[key], err_msg=key)  # bit-identical
    assert not np.array_equal(checkpoint.load_state(first)["fc.weight"], expected["fc.weight"])
    # the data-order generator continues where the uninterrupted run's is
    np.testing.assert_array_equal(np.load(resumed + ".next.npy"), np.load(whole + ".next.npy"))
    # and so does the library's default generator (tc.randn after resume)
    np.testing.assert_array_equal(np.load(resumed + ".randn.npy"), np.load(whole + ".randn.npy"))


def _trained(steps: int = 2) -> tuple[Module, optim.Adam, np.random.Generator]:
    model = seed_cnn(seed=0)
    opt = optim.Adam(model.parameters(), lr=0.01)
    rng = np.random.default_rng(5)
    for _ in range(steps):
        for p in model.parameters():
            p.grad = Tensor(rng.standard_normal(p.shape).astype(np.float32))
        opt.step()
    return model, opt, rng


def _everything(model: Module, opt: optim.Optimizer, rng: np.random.Generator) -> str:
    """A fingerprint of the model, optimizer and generator states."""
    state = opt.state_dict()
    arrays = {f"m.{k}": v for k, v in model.state_dict().items()}
    for index, entry in state["state"].items():
        for key, value in entry.items():
            arrays[f"o.{index}.{key}"] = np.asarray(value)
    text = json.dumps([state["param_groups"], rng.bit_generator.state], default=str)
    return checkpoint.state_checksum(arrays, text)


def test_round_trip_restores_optimizer_hyperparameters_extra_and_generator(
    tmp_path: Path,
) -> None:
    model, opt, rng = _trained()
    opt.param_groups[0]["lr"] = 0.005
    path = tmp_path / "run.safetensors"
    extra = {"history": [1.5, 0.25], "note": "x", "nested": {"a": [1, None, True]}}
    checkpoint.save_training(
        path, model=model, optimizer=opt, step=2, epoch=1, rng=rng, extra=extra
    )
    other, other_opt, other_rng = _trained(0)
    assert checkpoint.load_training(path, other, other_opt, rng=other_rng) == {
        "step": 2,
        "epoch": 1,
        "extra": extra,
    }
    assert _everything(other, other_opt, other_rng) == _everything(model, opt, rng)
    assert other_opt.param_groups[0]["betas"] == (0.9, 0.999)  # a tuple again, as given
    assert isinstance(other_opt.state_dict()["state"][0]["step"], int)
    # The model part of a training checkpoint loads like any model file.
    plain = seed_cnn(seed=9)
    plain.load(path)
    np.testing.assert_array_equal(plain.fc.weight.data, model.fc.weight.data)


def test_the_default_generator_is_restored_in_place_and_checked(tmp_path: Path) -> None:
    from safetensors import safe_open
    from safetensors.numpy import save_file

    model, opt, rng = _trained()
    path = tmp_path / "run.safetensors"
    held = default_generator()
    manual_seed(3)
    randn(5)
    checkpoint.save_training(path, model=model, optimizer=opt, step=2, epoch=0, rng=rng)
    expected = randn(4).numpy()
    manual_seed(99)
    checkpoint.load_training(path, *_trained(0))
    assert default_generator() is held  # the same object, its state set
    np.testing.assert_array_equal(randn(4).numpy(), expected)

    # A state another bit generator wrote, or a malformed one, under a valid checksum.
    with safe_open(path, "np") as handle:
        tensors = {key: handle.get_tensor(key) for key in handle.keys()}
        metadata = handle.metadata()
    info = json.loads(metadata[checkpoint.TRAINING_KEY])
    for state, match in [
        ({**info["default_rng"], "bit_generator": "MT19937"}, "MT19937 default generator state"),
        ({**info["default_rng"], "state": "x"}, "invalid default generator state"),
    ]:
        text = json.dumps({**info, "default_rng": state})
        forged = {
            **metadata,
            checkpoint.TRAINING_KEY: text,
            checkpoint.SHA256_KEY: checkpoint.state_checksum(tensors, text),
        }
        save_file(tensors, str(path), metadata=forged)
        target, target_opt, target_rng = _trained(1)
        before = (_everything(target, target_opt, target_rng), held.bit_generator.state)
        with pytest.raises(ValueError, match=match):
            checkpoint.load_training(path, target, target_opt, rng=target_rng)
        after = (_everything(target, target_opt, target_rng), held.bit_generator.state)
        assert json.dumps(after, default=str) == json.dumps(before, default=str)


def test_bad_training_files_change_nothing(tmp_path: Path) -> None:
    model, opt, rng = _trained()
    path = tmp_path / "run.safetensors"
    checkpoint.save_training(path, model=model, optimizer=opt, step=2, epoch=0, rng=rng)
    data = path.read_bytes()

    target, target_opt, target_rng = _trained(1)
    before = _everything(target, target_opt, target_rng)

    def rejected(match: str, **kwargs) -> None:
        with pytest.raises(ValueError, match=match):
            checkpoint.load_training(
                path, kwargs.get("model", target), kwargs.get("opt", target_opt), rng=target_rng
            )
        assert _everything(target, target_opt, target_rng) == before

    path.write_bytes(data[: len(data) // 2])
    rejected("not a readable checkpoint")
    edited = data.replace(b'\\"step\\": 2', b'\\"step\\": 3', 1)  # JSON inside the header
    assert edited != data
    path.write_bytes(edited)
    rejected("failed its SHA-256 check")
    path.write_bytes(data)
    rejected(
        "holds the state of a Adam optimizer, got a SGD", opt=optim.SGD(target.parameters(), lr=1)
    )
    target_lenet = lenet(seed=0)
    lenet_opt = optim.Adam(target_lenet.parameters())
    lenet_before = target_lenet.state_dict()
    with pytest.raises(ValueError, match=r"missing keys: conv1\.weight"):
        checkpoint.load_training(path, target_lenet, lenet_opt)
    for key, value in target_lenet.state_dict().items():
        np.testing.assert_array_equal(value, lenet_before[key])
    # The model fits but the optimizer's layout does not: the model is put back.
    two_groups = optim.Adam(
        [{"params": [target.conv.weight]}, {"params": [target.fc.weight, target.fc.bias]}]
    )
    rejected("1 parameter groups given, the optimizer has 2", opt=two_groups)
    with pytest.raises(ValueError, match="PCG64 generator state, rng uses MT19937"):
        checkpoint.load_training(
            path, target, target_opt, rng=np.random.Generator(np.random.MT19937())
        )
    assert _everything(target, target_opt, target_rng) == before
    model.save(tmp_path / "model.safetensors")
    with pytest.raises(ValueError, match="is not a training checkpoint of tinygrad_cnn"):
        checkpoint.load_training(tmp_path / "model.safetensors", target, target_opt)
    model.save(tmp_path / "model.npz")
    with pytest.raises(ValueError, match=r"an \.npz model file, not a training checkpoint"):
        checkpoint.load_training(tmp_path / "model.npz", target, target_opt)
    assert _everything(target, target_opt, target_rng) == before


def test_save_training_refuses_what_is_not_json_and_writes_nothing(tmp_path: Path) -> None:
    model, opt, _ = _trained()
    path = tmp_path / "run.safetensors"
    cases = [
        ({"extra": {"a": np.zeros(2)}}, TypeError, r"extra\['a'\] is a ndarray"),
        ({"extra": {1: "x"}}, TypeError, "non-string key 1"),
        ({"rng": 5}, TypeError, "rng must be a numpy Generator"),
        ({"step": -1}, ValueError, "step must be >= 0"),
        ({"epoch": 1.5}, TypeError, "epoch must be an int"),
    ]
    for overrides, error, match in cases:
        kwargs = {"model": model, "optimizer": opt, "step": 1, "epoch": 0, **overrides}
        with pytest.raises(error, match=match):
            checkpoint.save_training(path, **kwargs)
    with pytest.raises(ValueError, match=r"must end in \.safetensors"):
        checkpoint.save_training(tmp_path / "run.npz", model=model, optimizer=opt, step=0, epoch=0)
    assert os.listdir(tmp_path) == []
    # Another bit generator (MT19937's state holds an array) round-trips too.
    mt = np.random.Generator(np.random.MT19937(3))
    checkpoint.save_training(path, model=model, optimizer=opt, step=0, epoch=0, rng=mt)
    expected = mt.integers(0, 2**32, size=5)
    fresh = np.random.Generator(np.random.MT19937(0))
    checkpoint.load_training(path, *_trained(0)[:2], rng=fresh)
    np.testing.assert_array_equal(fresh.integers(0, 2**32, size=5), expected)


# ---------------------------------------------------------------------- the example
EXAMPLE = ROOT / "examples" / "mnist.py"


def test_example_stops_on_ctrl_c_and_resumes_to_the_uninterrupted_result(tmp_path: Path) -> None:
    pytest.importorskip("tqdm")
    options = ["--model", "seed", "--epochs", "25", "--limit", "640",
               "--data", str(tmp_path / "no-mnist"), "--no-download"]  # fmt: skip
    out, whole = tmp_path / "run", tmp_path / "whole"
    out.mkdir()
    (out / "metrics.json").write_text("an earlier run's")
    (out / "notes.txt").write_text("the user's")
    command = [sys.executable, str(EXAMPLE), *options, "--out", str(out)]
    proc = subprocess.Popen(
        command, env=ENV, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 120
    while not (out / "checkpoint.safetensors").exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "no checkpoint after 120 s"
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, (stdout, stderr)
    assert "Traceback" not in stderr, stderr
    lines = [line for line in stdout.splitlines() if "resume" in line]
    assert len(lines) == 1, stdout
    assert re.fullmatch(
        r"interrupted at (the end of )?epoch \d+, step \d+: checkpoint .*", lines[0]
    )
    resume = shlex.split(lines[0].split("resume with: ", 1)[1])
    assert resume == [*command, "--resume", str(out / "checkpoint.safetensors")]
    # The earlier run's file is gone, the user's stays; nothing else of this run exists yet.
    assert sorted(os.listdir(out)) == ["checkpoint.safetensors", "notes.txt"]

    bad = subprocess.run(
        [*command[:5], "35", *command[6:], "--resume", str(out / "checkpoint.safetensors")],
        env=ENV, cwd=tmp_path, capture_output=True, text=True,
    )  # fmt: skip
    assert bad.returncode != 0 and "--epochs 25 (given 35)" in bad.stderr

    subprocess.run(resume, env=ENV, cwd=tmp_path, check=True, capture_output=True)
    subprocess.run(
        [*command[:-1], str(whole)], env=ENV, cwd=tmp_path, check=True, capture_output=True
    )
    resumed_metrics = json.loads((out / "metrics.json").read_text())
    whole_metrics = json.loads((whole / "metrics.json").read_text())
    assert len(resumed_metrics["history"]["loss"]) == 25 * 20
    assert resumed_metrics["history"] == whole_metrics["history"]
    assert resumed_metrics["test_accuracy"] == whole_metrics["test_accuracy"]
    resumed, uninterrupted = (checkpoint.load_state(d / "model.safetensors") for d in (out, whole))
    for key in uninterrupted:
        np.testing.assert_array_equal(resumed[key], uninterrupted[key], err_msg=key)
