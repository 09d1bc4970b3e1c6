"""The MNIST example end to end: every promised file, the synthetic fallback, the seed target,
the modern CNN's recipe and its exact resume."""

from __future__ import annotations

import importlib.util
import json
import re
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "mnist.py"


def _load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("mnist_example", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while being defined
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def example() -> ModuleType:
    return _load_example()


@pytest.fixture(autouse=True)
def malloc_calls(example: ModuleType, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The example's ``keep_freed_memory()`` would change malloc for the whole test process:
    each test records the call instead."""
    calls: list[str] = []
    monkeypatch.setattr(example, "keep_freed_memory", lambda: calls.append("kept") or True)
    return calls


def test_without_mnist_it_trains_on_synthetic_digits_and_writes_every_file(
    example: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("matplotlib")
    out = tmp_path / "run"
    metrics = example.main(
        ["--model", "seed", "--limit", "3000", "--data", str(tmp_path / "no-mnist"),
         "--no-download", "--out", str(out)]
    )  # fmt: skip
    captured = capsys.readouterr()
    assert "SYNTHETIC" in captured.err
    assert metrics["data"] == "synthetic"
    assert metrics["train_images"] == 3000
    graph = out / "graph.svg" if (out / "graph.svg").exists() else out / "graph.dot"
    expected = ["curves.png", "filters.png", "confusion.png", "model.safetensors", "metrics.json"]
    expected.append("checkpoint.safetensors")
    for name in expected:
        assert (out / name).stat().st_size > 0, name
    assert (out / "graph.dot").read_text().startswith("digraph")
    if graph.suffix == ".svg":
        svg = ET.parse(graph).getroot()
        text = " ".join(t for t in svg.itertext())
        assert "conv.weight" in text and "cross_entropy" in text
    for name in ("curves.png", "filters.png", "confusion.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    saved = json.loads((out / "metrics.json").read_text())
    assert len(saved["history"]["loss"]) == int(np.ceil(3000 / 32))
    assert saved["test_accuracy"] == metrics["test_accuracy"]
    assert saved["keeps_freed_memory"] is True
    if importlib.util.find_spec("threadpoolctl") is not None:  # --threads auto: a tuner ran
        assert saved["blas_threads"] == "auto"
        probes = saved["blas_thread_probes"]
        assert probes and probes[0]["step"] > 0 and probes[0]["threads"] >= 1
        assert "BLAS threads chosen from step times" in captured.out
    # A few hundred steps on synthetic digits already learn something real.
    assert metrics["test_accuracy"] > 0.5
    model = example.build_model("seed")
    model.load(out / "model.safetensors")
    assert re.search(r"\|\s+seed \|\s+synthetic \|", captured.out), captured.out
    assert "test accuracy" in captured.out and "wrote:" in captured.out


def test_freed_memory_is_kept_unless_asked_not_to(
    example: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, malloc_calls: list[str]
) -> None:
    seen = []
    monkeypatch.setattr(example, "run", lambda args, *rest: seen.append(args) or {})
    example.main(["--threads", "1", "--out", str(tmp_path)])
    assert malloc_calls == ["kept"] and seen[-1].kept_freed_memory is True
    example.main(["--threads", "1", "--no-keep-freed-memory", "--out", str(tmp_path)])
    assert malloc_calls == ["kept"] and seen[-1].kept_freed_memory is False
    monkeypatch.setattr(example, "keep_freed_memory", lambda: False)  # no glibc here
    example.main(["--threads", "1", "--out", str(tmp_path)])
    assert seen[-1].kept_freed_memory is False


def test_bad_arguments_are_rejected(example: ModuleType) -> None:
    with pytest.raises(SystemExit):
        example.parse_args(["--epochs", "0"])
    with pytest.raises(SystemExit):
        example.parse_args(["--model", "resnet"])


def test_threads_limits_blas_for_the_run_and_only_then(
    example: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    threadpoolctl = pytest.importorskip("threadpoolctl")

    def blas_threads() -> set[int]:
        pools = threadpoolctl.threadpool_info()
        return {pool["num_threads"] for pool in pools if pool["user_api"] == "blas"}

    before = blas_threads()
    wanted = 2 if before == {1} else 1  # (make test runs with one thread: ask for another count)
    seen = []
    monkeypatch.setattr(example, "run", lambda *args: seen.append(blas_threads()) or {})
    example.main(["--threads", str(wanted), "--out", str(tmp_path)])
    assert seen == [{wanted}]
    assert blas_threads() == before
    with pytest.raises(SystemExit):
        example.parse_args(["--threads", "0"])


def test_threads_auto_is_the_default_and_hands_a_tuner_to_the_run(
    example: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    threadpoolctl = pytest.importorskip("threadpoolctl")
    from tinygrad_cnn.blas_threads import BlasThreadTuner

    before = threadpoolctl.threadpool_info()
    seen = []
    monkeypatch.setattr(example, "run", lambda *args: seen.append(args[3]) or {})
    example.main(["--out", str(tmp_path)])
    assert len(seen) == 1 and isinstance(seen[0], BlasThreadTuner)
    assert threadpoolctl.threadpool_info() == before  # the tuner gave the count back
    assert example.parse_args([]).threads == "auto"
    assert example.parse_args(["--threads", "3"]).threads == 3
    for bad in ("many", "-1", "1.5"):
        with pytest.raises(SystemExit):
            example.parse_args(["--threads", bad])


def test_seed_model_reaches_95_percent_on_real_mnist_in_one_epoch(
    example: ModuleType, mnist_root: Path, tmp_path: Path
) -> None:
    metrics = example.main(
        ["--model", "seed", "--epochs", "1", "--data", str(mnist_root), "--no-download",
         "--out", str(tmp_path)]
    )  # fmt: skip
    assert metrics["data"] == "MNIST"
    assert metrics["train_images"] == 60_000
    assert metrics["test_accuracy"] >= 0.95


def _modern_options(tmp_path: Path, out: Path) -> list[str]:
    return ["--model", "modern", "--epochs", "2", "--limit", "256", "--batch-size", "64",
            "--data", str(tmp_path / "no-mnist"), "--no-download", "--out", str(out)]  # fmt: skip


def test_modern_cnn_trains_with_its_recipe_and_writes_its_outputs(
    example: ModuleType, tmp_path: Path
) -> None:
    args = example.parse_args(["--model", "modern"])
    assert (args.epochs, args.batch_size, args.lr) == (5, 128, 3e-3)
    assert example.parse_args([]).model == "lenet"  # `make run` keeps its default
    images = np.full((2, 28, 28), 255, np.uint8)
    np.testing.assert_allclose(example.preprocess(images, "modern"), (1 - 0.1307) / 0.3081)
    np.testing.assert_allclose(example.preprocess(images, "lenet"), 0.5)
    optimizer = example.make_optimizer(example.build_model("modern"), args)
    assert type(optimizer).__name__ == "AdamW"
    scheduler = example.make_scheduler(optimizer, args, steps_per_epoch=10)
    assert type(scheduler).__name__ == "OneCycleLR" and scheduler.total_steps == 50

    out = tmp_path / "run"
    metrics = example.main(_modern_options(tmp_path, out))
    assert metrics["model"] == "modern" and metrics["data"] == "synthetic"
    assert len(metrics["history"]["loss"]) == 2 * 4
    assert np.all(np.isfinite(metrics["history"]["loss"]))
    for name in ("checkpoint.safetensors", "model.safetensors", "metrics.json", "graph.dot"):
        assert (out / name).stat().st_size > 0, name
    dot = (out / "graph.dot").read_text()
    assert "bn1" in dot and "conv3.weight" in dot and "fc2.weight" in dot
    model = example.build_model("modern")
    model.load(out / "model.safetensors")
    assert int(model.bn1.num_batches_tracked.item()) == 2 * 4  # the buffers were saved
    assert model.bn3.running_mean.numpy().any()  # updated from zeros by training


def test_only_the_modern_recipe_shifts_its_images_each_by_its_own_seeded_draw(
    example: ModuleType,
) -> None:
    assert example.DEFAULTS["modern"]["label_smoothing"] == 0.1
    images = np.zeros((64, 28, 28), np.uint8)
    images[:, 10:18, 10:18] = 255  # a centred square: where it lands shows the shift
    labels = np.zeros(64, np.int64)

    def first_batch(model: str, shift_seed: tuple[int, int], skip: int = 0) -> np.ndarray:
        rng = np.random.default_rng(0)
        loader = example.batches(images, labels, 32, rng, skip, model, shift_seed)
        return next(iter(loader))[0].numpy()

    plain = example.preprocess(images[:32], "modern")
    shifted = first_batch("modern", (0, 0))
    corners = {tuple(np.argwhere(img[0] == img[0].max()).min(axis=0)) for img in shifted}
    assert corners <= {(row, col) for row in range(8, 13) for col in range(8, 13)}
    assert len(corners) > 1 and not np.array_equal(shifted, plain)  # each image its own shift
    np.testing.assert_array_equal(first_batch("modern", (0, 0)), shifted)  # seeded
    assert not np.array_equal(first_batch("modern", (0, 1)), shifted)  # another epoch
    assert not np.array_equal(first_batch("modern", (0, 0), skip=1), shifted)  # batch 1's own
    np.testing.assert_array_equal(
        first_batch("lenet", (0, 0)), example.preprocess(images[:32], "lenet")
    )


def test_modern_cnn_resumes_mid_epoch_to_the_uninterrupted_result(
    example: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """OneCycleLR's position, AdamW's state, the BatchNorm buffers and the dropout generator
    all come back from the checkpoint: the resumed run equals the one that never stopped."""
    whole = example.main(_modern_options(tmp_path, tmp_path / "whole"))

    @contextmanager
    def stop_after_the_first_step() -> Iterator[dict[str, bool]]:
        yield {"stop": True}

    out = tmp_path / "stopped"
    with monkeypatch.context() as patch:
        patch.setattr(example, "stop_requests", stop_after_the_first_step)
        with pytest.raises(SystemExit) as stopped:
            example.main(_modern_options(tmp_path, out))
    assert stopped.value.code == 130
    resumed = example.main(
        [*_modern_options(tmp_path, out), "--resume", str(out / "checkpoint.safetensors")]
    )
    assert resumed["history"] == whole["history"]
    assert resumed["test_accuracy"] == whole["test_accuracy"]
    a, b = (example.build_model("modern") for _ in range(2))
    a.load(out / "model.safetensors")
    b.load(tmp_path / "whole" / "model.safetensors")
    for (key, x), y in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        np.testing.assert_array_equal(x, y, err_msg=key)
