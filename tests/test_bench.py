"""Smoke tests of benchmarks/bench.py: a tiny run writes every promised result (no timing is
asserted, only that each measurement exists and is a positive number)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO / "benchmarks" / "bench.py"
TINY = ["--quick", "--repeats", "2", "--seed-steps", "2", "--lenet-steps", "1"]
TINY += ["--notebook-images", "2", "--chain-length", "20", "--memory-steps", "1"]


def run_bench(tmp_path: Path, *extra: str) -> tuple[dict, str]:
    out = tmp_path / "results.json"
    done = subprocess.run(
        [sys.executable, str(BENCH), *TINY, "--json", str(out), *extra],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    )
    return json.loads(out.read_text()), done.stdout


def positive(value: object) -> bool:
    return isinstance(value, float | int) and value > 0


def check_common(results: dict, frameworks: tuple[str, ...]) -> None:
    env = results["environment"]
    assert env["cpu_count"] >= 1 and env["numpy"]
    assert set(env["env"]) >= {"OPENBLAS_NUM_THREADS", "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"}
    assert isinstance(env["blas_threadpools"], list)
    for model, batch in (("seed", 32), ("lenet", 64)):
        run = results["training"][model]
        assert run["batch_size"] == batch and run["repeats"] == 2
        assert set(run["images_per_second"]) == set(frameworks)
        for rate in run["images_per_second"].values():
            assert positive(rate["per_second"]) and len(rate["seconds"]) == 2
            assert rate["min_per_second"] <= rate["per_second"] <= rate["max_per_second"]
        memory = results["memory"][model]
        for name in frameworks:
            assert positive(memory[name]["peak_mib"]) and positive(memory[name]["ready_mib"])
            assert memory[name]["peak_mib"] >= memory[name]["ready_mib"]
        assert set(run["loss_after_warmup"]) == set(frameworks)
    assert results["notebook"]["images"] == 2 and positive(results["notebook"]["per_second"])
    assert positive(results["notebook_speedup"])
    overhead = results["overhead"]
    assert overhead["ops"] == 20
    for name in frameworks:
        assert positive(overhead[name]["us_per_op"])
    assert positive(results["elapsed_seconds"])


def test_quick_run_with_torch_writes_every_result_and_prints_ratios_last(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    results, stdout = run_bench(tmp_path)
    check_common(results, ("tinygrad_cnn", "torch"))
    env = results["environment"]
    assert env["torch"] and env["torch_num_threads"] >= 1
    for model in ("seed", "lenet"):
        assert positive(results["training"][model]["ratio"])
        assert positive(results["memory"][model]["ratio"])
        losses = results["training"][model]["loss_after_warmup"]
        # the same initial weights and batches: the frameworks agree on the first losses
        assert losses["tinygrad_cnn"] == pytest.approx(losses["torch"], rel=1e-3)
    assert positive(results["overhead"]["ratio"])
    report = stdout.strip().splitlines()
    ratios = report.index("ratios, tinygrad_cnn / PyTorch and tinygrad_cnn / notebook:")
    assert "results written to" in report[-1]
    assert all("x" in line for line in report[ratios + 1 : -2])
    assert sum("speed" in line for line in report[ratios:]) == 2


def test_run_without_torch_measures_tinygrad_cnn_alone_with_set_threads(tmp_path: Path) -> None:
    results, stdout = run_bench(tmp_path, "--no-torch", "--threads", "1")
    check_common(results, ("tinygrad_cnn",))
    assert results["environment"]["env"]["OPENBLAS_NUM_THREADS"] == "1"
    assert "torch" not in results["environment"]
    assert all("ratio" not in run for run in results["training"].values())
    assert "vs notebook" in stdout


def test_bad_arguments_are_rejected_by_name(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH), "--repeats", "0", "--json", str(tmp_path / "r.json")],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2 and "--repeats must be positive" in done.stderr
    assert not (tmp_path / "r.json").exists()


def test_op_profile_times_every_op_of_a_step_and_restores_the_ops() -> None:
    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        import op_profile
    finally:
        sys.path.remove(str(REPO / "benchmarks"))
    from tinygrad_cnn.function import Function

    before = {op: (op.__dict__.get("forward"), op.__dict__.get("backward")) for op in
              Function.registry.values()}  # fmt: skip
    step, ops = op_profile.tinygrad_op_times("seed", batch_size=4, steps=2, warmup=1)
    after = {op: (op.__dict__.get("forward"), op.__dict__.get("backward")) for op in
             Function.registry.values()}  # fmt: skip
    assert after == before
    assert positive(step)
    assert ("conv2d", "forward", "(4, 1, 28, 28)", "banded") in ops
    assert ("max_pool2d", "backward", "(4, 3, 10, 10)", "") in ops
    assert ("cross_entropy", "backward", "()", "") in ops
    assert all(positive(seconds) for seconds in ops.values())


def test_op_profile_command_prints_both_tables(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    command = ["seed", "--steps", "2", "--warmup", "1", "--batch", "4", "--torch"]
    done = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "op_profile.py"), *command],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    )
    assert "conv2d forward (4, 1, 28, 28) banded" in done.stdout
    assert "all ops" in done.stdout
    assert "aten::" in done.stdout and "all operators" in done.stdout


def test_op_profile_rejects_a_bad_batch(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "op_profile.py"), "seed", "--batch", "0"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert done.returncode == 2 and "--batch must be positive, got 0" in done.stderr
