"""Smoke tests of the benchmark suite (benchmarks/): tiny runs write every promised result,
both frameworks start from the same parameters and compute the same losses, and the
contention neighbour is always stopped. No timing is asserted, only that each measurement
exists and is a positive number."""

from __future__ import annotations

import importlib.util
import io
import json
import math
import subprocess
import sys
import time
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO / "benchmarks" / "bench.py"
TINY = ["--quick", "--chain-length", "20", "--memory-steps", "1", "--notebook-images", "2"]

sys.path.insert(0, str(REPO / "benchmarks"))
try:
    import bench
    import neighbour
    import step_split
    import training_worker
    import workloads
finally:
    sys.path.remove(str(REPO / "benchmarks"))


def run_bench(tmp_path: Path, *extra: str) -> tuple[dict, list[str]]:
    out = tmp_path / "results.json"
    done = subprocess.run(
        [sys.executable, str(BENCH), *TINY, "--json", str(out), *extra],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    )
    return json.loads(out.read_text()), done.stdout.strip().splitlines()


def positive(value: object) -> bool:
    return isinstance(value, float | int) and value > 0


def check_rates(run: dict, key: str, frameworks: tuple[str, ...]) -> None:
    assert set(run[key]) == set(frameworks)
    for rate in run[key].values():
        assert positive(rate["per_second"]) and len(rate["seconds"]) == 2
        assert rate["min_per_second"] <= rate["per_second"] <= rate["max_per_second"]


def test_quick_suite_writes_every_workload_and_ends_with_the_geomean_line(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    results, report = run_bench(tmp_path)
    both = ("tinygrad_cnn", "torch")
    assert list(results["workloads"]) == list(workloads.WORKLOADS)
    for name, run in results["workloads"].items():
        workload = workloads.WORKLOADS[name]
        assert run["batch_size"] == workload.batch_size and run["unit"] == workload.unit
        assert run["repeats"] == 2 and run["steps_per_repeat"] == 1
        check_rates(run, "per_second", both)
        assert positive(run["ratio"]) and "busy_per_second" not in run
        faults = run["page_faults_per_step"]
        assert set(faults) == set(both) and all(f >= 0 for f in faults.values())
        losses = run["loss_after_warmup"]  # same weights and batches: the same first loss
        assert losses["tinygrad_cnn"] == pytest.approx(losses["torch"], rel=1e-3, abs=1e-6)
    ratios = {name: run["ratio"] for name, run in results["workloads"].items()}
    total = results["summary"]
    assert total["workloads"] == len(workloads.WORKLOADS)
    logs = [math.log(r) for r in ratios.values()]
    assert total["geomean_ratio"] == pytest.approx(math.exp(sum(logs) / len(logs)))
    assert total["worst_workload"] == min(ratios, key=ratios.get)
    assert total["worst_ratio"] == min(ratios.values())
    for name in ("seed", "lenet"):
        memory = results["memory"][name]
        for framework in both:
            assert memory[framework]["peak_mib"] >= memory[framework]["ready_mib"] > 0
        assert positive(memory["ratio"])
    assert results["notebook"]["images"] == 2 and positive(results["notebook_speedup"])
    assert results["overhead"]["ops"] == 20 and positive(results["overhead"]["ratio"])
    assert results["environment"]["torch_num_threads"] >= 1
    tuned = importlib.util.find_spec("threadpoolctl") is not None  # (the default: a tuner)
    assert results["environment"]["blas_tuner"] is tuned
    assert ("chosen from step times by BlasThreadTuner" in "\n".join(report)) is tuned
    assert "results written to" in report[-2]
    assert report[-1] == bench.summary_line(results)
    assert report[-1].startswith("geomean tinygrad_cnn / PyTorch ")
    assert f"worst {total['worst_ratio']:.2f}x {total['worst_workload']}" in report[-1]
    assert "LeNet training, microseconds per image by batch size:" in report


def test_run_without_torch_measures_tinygrad_cnn_alone_with_set_threads(tmp_path: Path) -> None:
    only = "seed,notebook,overhead,memory"
    results, report = run_bench(tmp_path, "--no-torch", "--threads", "1", "--only", only)
    assert list(results["workloads"]) == ["seed"]
    run = results["workloads"]["seed"]
    check_rates(run, "per_second", ("tinygrad_cnn",))
    assert "ratio" not in run and results["summary"] is None
    assert results["environment"]["env"]["OPENBLAS_NUM_THREADS"] == "1"
    assert "torch" not in results["environment"]
    assert set(results["memory"]["lenet"]) == {"batch_size", "steps", "tinygrad_cnn"}
    assert positive(results["notebook_speedup"])
    assert (
        report[-1]
        == "geomean tinygrad_cnn / PyTorch: no ratio (no workload measured with both frameworks)"
    )


def test_no_tuner_runs_tinygrad_cnn_on_the_pools_own_count(tmp_path: Path) -> None:
    results, report = run_bench(tmp_path, "--no-torch", "--no-tuner", "--only", "lenet_b8")
    assert results["environment"]["blas_tuner"] is False
    assert any("the pool's own count (--no-tuner" in line for line in report)
    check_rates(results["workloads"]["lenet_b8"], "per_second", ("tinygrad_cnn",))


def test_workers_keep_freed_memory_unless_malloc_defaults(tmp_path: Path) -> None:
    results, report = run_bench(tmp_path, "--no-torch", "--only", "seed")
    assert results["environment"]["keep_freed_memory"] is True
    faults = results["workloads"]["seed"]["page_faults_per_step"]["tinygrad_cnn"]
    assert any(f"{faults:.0f} page faults a step" in line for line in report)
    assert any(line.startswith("malloc: both frameworks' workers keep") for line in report)
    results, report = run_bench(tmp_path, "--no-torch", "--only", "seed", "--malloc-defaults")
    assert results["environment"]["keep_freed_memory"] is False
    assert any(line.startswith("malloc: glibc's defaults") for line in report)


def test_the_worker_keeps_freed_memory_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    from tinygrad_cnn import malloc_tuning

    calls = []
    monkeypatch.setattr(malloc_tuning, "keep_freed_memory", lambda: calls.append(1) or True)
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    training_worker.main(["torch"])
    assert calls == []
    training_worker.main(["torch", "--keep-freed-memory"])
    assert calls == [1]
    with pytest.raises(SystemExit, match="unknown options"):
        training_worker.main(["torch", "--keep-freed"])


def test_only_selects_workloads_and_parts(tmp_path: Path) -> None:
    results, _ = run_bench(tmp_path, "--no-torch", "--only", "sgd_step")
    assert list(results["workloads"]) == ["sgd_step"]
    assert results["workloads"]["sgd_step"]["unit"] == "steps"
    assert not {"notebook", "overhead", "memory"} & set(results)


@pytest.mark.parametrize(
    ("argument", "message"),
    [
        (["--repeats", "0"], "--repeats must be positive"),
        (["--budget", "-1"], "--budget must be positive"),
        (["--only", "lenet,resnet"], "expected names from seed, lenet"),
    ],
)
def test_bad_arguments_are_rejected_by_name(tmp_path: Path, argument: list, message: str) -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH), *argument, "--json", str(tmp_path / "r.json")],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2 and message in done.stderr
    assert not (tmp_path / "r.json").exists()


@pytest.mark.parametrize("name", list(workloads.WORKLOADS))
def test_each_workload_starts_identically_in_both_frameworks(name: str) -> None:
    pytest.importorskip("torch")
    ours, theirs = workloads.build("tinygrad_cnn", name), workloads.build("torch", name)
    mine, other = ours.parameters(), theirs.parameters()
    assert [p.shape for p in mine] == [p.shape for p in other] and mine
    for a, b in zip(mine, other, strict=True):
        assert a.dtype == b.dtype == np.float32
        np.testing.assert_array_equal(a, b)
    # two steps: the second loss (or parameter value) also depends on the first update
    for _ in range(2):
        assert ours.run(1) == pytest.approx(theirs.run(1), rel=1e-4, abs=1e-6)


def test_build_rejects_unknown_names() -> None:
    with pytest.raises(ValueError, match="unknown workload 'resnet'"):
        workloads.build("tinygrad_cnn", "resnet")
    with pytest.raises(ValueError, match="unknown framework 'jax'"):
        workloads.build("jax", "seed")


def test_neighbour_burns_until_stopped_and_ends_by_itself() -> None:
    with neighbour.Neighbour() as busy:
        assert busy.running
    assert not busy.running and busy.process.returncode is not None
    with pytest.raises(RuntimeError, match="inside"):
        with neighbour.Neighbour() as busy:
            raise RuntimeError("inside")
    assert busy.process.returncode is not None
    short = neighbour.Neighbour(seconds=0.2)
    try:
        assert short.process.wait(timeout=30) == 0  # its loop is bounded in time
    finally:
        short.stop()
    with pytest.raises(ValueError, match="positive lifetime"):
        neighbour.Neighbour(seconds=0)


class Recorded(neighbour.Neighbour):
    started: ClassVar[list[neighbour.Neighbour]] = []

    def __init__(self) -> None:
        super().__init__()
        Recorded.started.append(self)


def test_contention_run_stops_every_neighbour(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(bench, "Neighbour", Recorded)
    Recorded.started = []
    out = tmp_path / "r.json"
    results = bench.main(
        [*TINY, "--contention", "--only", "sgd_step", "--no-torch", "--json", str(out)]
    )
    assert len(Recorded.started) == 2  # one busy phase per repeat
    assert all(n.process.returncode is not None for n in Recorded.started)
    run = json.loads(out.read_text())["workloads"]["sgd_step"]
    check_rates(run, "busy_per_second", ("tinygrad_cnn",))
    assert positive(run["busy_fraction"]["tinygrad_cnn"])
    assert results["contention"]["core"] == neighbour.pinned_core()


def test_interrupted_contention_run_stops_the_neighbour(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(bench, "Neighbour", Recorded)
    Recorded.started = []

    def interrupted(*args: object, **kwargs: object) -> dict:
        if any(n.running for n in Recorded.started):
            raise KeyboardInterrupt
        return {"tinygrad_cnn": [1.0]}

    monkeypatch.setattr(bench, "interleaved_times", interrupted)
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        bench.main([*TINY, "--contention", "--only", "sgd_step", "--no-torch",
                    "--json", str(tmp_path / "r.json")])  # fmt: skip
    assert Recorded.started and all(n.process.returncode is not None for n in Recorded.started)
    assert time.monotonic() - started < 120


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


def test_step_split_prints_each_part_of_a_step_as_a_positive_time(
    capsys: pytest.CaptureFixture[str],
) -> None:
    forward, backward, update, whole = step_split.step_times("seed", 4, steps=3, warmup=1)
    assert 0 < forward < whole and 0 < backward < whole and 0 < update < whole
    step_split.main(["lenet", "--batch-size", "2", "--steps", "1", "--warmup", "0"])
    parts = capsys.readouterr().out.split()
    assert parts[0::3] == ["forward", "backward", "step()", "whole"]
    assert all(int(value) > 0 for value in parts[1::3]) and set(parts[2::3]) == {"us"}


def test_step_split_rejects_no_steps(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        step_split.main(["seed", "--steps", "0"])
    assert stop.value.code == 2 and "--steps must be >= 1" in capsys.readouterr().err
