"""Exact resume with a learning-rate scheduler: N steps, save, load into fresh objects in a new
process, M steps == N + M steps, bit for bit (model, optimizer, scheduler); and the scheduler
part of a training checkpoint is validated before anything changes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from tinygrad_cnn import checkpoint, nn, optim
from tinygrad_cnn.optim import lr_scheduler

pytest.importorskip("safetensors")

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}

# Usage: script SCHEDULER STEPS OUT [--resume CHECKPOINT] [--save CHECKPOINT]
TRAIN_SCRIPT = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    from tinygrad_cnn import Tensor, checkpoint, cross_entropy, optim
    from tinygrad_cnn.data import normalize_images, synthetic_digits
    from tinygrad_cnn.models import seed_cnn
    from tinygrad_cnn.optim import lr_scheduler

    kind, steps, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    options = dict(zip(sys.argv[4::2], sys.argv[5::2]))
    images, labels = synthetic_digits(128, seed=3)
    model = seed_cnn(seed=0)
    if kind == "onecycle":
        opt = optim.Adam(model.parameters(), lr=1e-3)
        sched = lr_scheduler.OneCycleLR(opt, max_lr=0.01, total_steps=12)
    elif kind == "plateau":
        opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
        sched = lr_scheduler.ReduceLROnPlateau(opt, patience=0, factor=0.5, threshold=0.5)
    else:
        opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
        sched = lr_scheduler.CosineAnnealingLR(opt, T_max=4, eta_min=0.001)
    rng = np.random.default_rng(11)
    done = 0
    if "--resume" in options:
        done = checkpoint.load_training(
            options["--resume"], model, opt, rng=rng, scheduler=sched
        )["step"]
    lrs = []
    for step in range(done, done + steps):
        index = rng.choice(len(labels), size=16, replace=False)
        loss = cross_entropy(model(Tensor(normalize_images(images[index]))), labels[index])
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step(float(loss)) if kind == "plateau" else sched.step()
        lrs.append(opt.param_groups[0]["lr"])
    if "--save" in options:
        checkpoint.save_training(
            options["--save"], model=model, optimizer=opt, step=done + steps, epoch=0, rng=rng,
            scheduler=sched,
        )
    model.save(out)
    with open(out + ".json", "w") as f:
        json.dump({"lrs": lrs, "sched": sched.state_dict(), "groups": [
            {k: v for k, v in g.items() if k != "params"} for g in opt.param_groups]}, f)
    """
)


def _run(script: Path, *args: str) -> None:
    subprocess.run([sys.executable, str(script), *args], check=True, env=ENV, cwd=ROOT)


@pytest.mark.parametrize("kind", ["cosine", "onecycle", "plateau"])
def test_resume_with_scheduler_is_bit_identical(kind: str, tmp_path: Path) -> None:
    script = tmp_path / "train.py"
    script.write_text(TRAIN_SCRIPT)
    ckpt = str(tmp_path / "ckpt.safetensors")
    whole, first, resumed = (str(tmp_path / f"{n}.safetensors") for n in ("whole", "a", "b"))
    _run(script, kind, "12", whole)
    _run(script, kind, "5", first, "--save", ckpt)
    _run(script, kind, "7", resumed, "--resume", ckpt)
    expected, got = checkpoint.load_state(whole), checkpoint.load_state(resumed)
    for key in expected:
        np.testing.assert_array_equal(got[key], expected[key], err_msg=key)
    whole_info = json.loads(Path(whole + ".json").read_text())
    first_info = json.loads(Path(first + ".json").read_text())
    resumed_info = json.loads(Path(resumed + ".json").read_text())
    assert first_info["lrs"] + resumed_info["lrs"] == whole_info["lrs"]
    assert resumed_info["sched"] == whole_info["sched"]
    assert resumed_info["groups"] == whole_info["groups"]
    assert len(set(whole_info["lrs"])) > 2  # the schedule did change the learning rate


def _setup() -> tuple[nn.Module, optim.SGD, lr_scheduler.StepLR]:
    model = nn.Linear(2, 2, seed=0)
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    return model, opt, lr_scheduler.StepLR(opt, step_size=2)


def test_scheduler_checks_before_anything_changes(tmp_path: Path) -> None:
    model, opt, sched = _setup()
    for _ in range(3):
        opt.step()
        sched.step()
    with_sched, without = tmp_path / "a.safetensors", tmp_path / "b.safetensors"
    checkpoint.save_training(
        with_sched, model=model, optimizer=opt, step=3, epoch=0, scheduler=sched
    )
    checkpoint.save_training(without, model=model, optimizer=opt, step=3, epoch=0)

    target, target_opt, _ = _setup()
    target.weight.data[...] = 7.0
    other = lr_scheduler.ExponentialLR(target_opt, gamma=0.5)
    with pytest.raises(ValueError, match="StepLR scheduler, got a ExponentialLR"):
        checkpoint.load_training(with_sched, target, target_opt, scheduler=other)
    with pytest.raises(ValueError, match="no scheduler state"):
        checkpoint.load_training(without, target, target_opt, scheduler=other)
    assert np.all(target.weight.data == 7.0) and other.last_epoch == 0
    with pytest.raises(TypeError, match="scheduler"):
        checkpoint.save_training(
            with_sched, model=model, optimizer=opt, step=0, epoch=0, scheduler=3
        )

    fresh, fresh_opt, fresh_sched = _setup()
    checkpoint.load_training(with_sched, fresh, fresh_opt, scheduler=fresh_sched)
    assert fresh_sched.state_dict() == sched.state_dict()
    assert fresh_sched.get_last_lr() == sched.get_last_lr() == [fresh_opt.param_groups[0]["lr"]]
    # a checkpoint with a scheduler still loads without one
    checkpoint.load_training(with_sched, *_setup()[:2])
