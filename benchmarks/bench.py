"""Training speed and memory of tinygrad_cnn beside PyTorch and the seed notebook.

Run from the repository root (``make bench`` does)::

    .venv/bin/python benchmarks/bench.py            # defaults: about 20 seconds
    .venv/bin/python benchmarks/bench.py --quick    # a smoke run of a few seconds

For each model (``seed`` at batch 32, ``lenet`` at batch 64) it times training steps of
tinygrad_cnn and of PyTorch doing the identical work (see ``benchmarks/workloads.py``), each
framework in its own worker process (``benchmarks/training_worker.py``), the two taking
turns repeat by repeat so that a busy machine slows both alike, and reports the median
images/s. It also times the notebook's per-image loop, the engine's per-op overhead (a chain
of small elementwise ops, forward and backward), and the peak resident memory of each
framework in its own process (``benchmarks/peak_memory.py``). The results are printed (the
tinygrad_cnn / PyTorch ratios last) and written as JSON. See docs/performance.md for how to
read the output.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def _threads_from_argv(argv: list[str]) -> str | None:
    """The value of ``--threads N`` / ``--threads=N`` in ``argv``, if given."""
    for i, arg in enumerate(argv):
        if arg == "--threads" and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--threads="):
            return arg.split("=", 1)[1]
    return None


# BLAS libraries read their thread count once, when numpy is first imported: ``--threads``
# must reach the environment before that import (and reaches the memory processes with it).
if (_THREADS := _threads_from_argv(sys.argv[1:])) is not None:
    for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[_name] = _THREADS

import numpy as np  # noqa: E402  (after the thread settings above)

sys.path.insert(0, str(Path(__file__).resolve().parent))

import workloads  # noqa: E402  (a sibling module of this script)

HERE = Path(__file__).resolve().parent
BATCH_SIZES = {"seed": 32, "lenet": 64}
TARGETS = {"seed": (1.0, 0.5), "lenet": (1.0, 0.5)}  # (target, floor) of tinygrad_cnn / PyTorch
NOTEBOOK_TARGET = 50.0
SETTLE_SECONDS = 0.3  # between two timed training runs (see bench_training)
BLAS_ENV = (
    "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
    "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE",
)  # fmt: skip


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few-second smoke run")
    parser.add_argument("--repeats", type=int, help="timed repeats per framework (default 7)")
    parser.add_argument("--seed-steps", type=int, help="steps per repeat, seed model (120)")
    parser.add_argument("--lenet-steps", type=int, help="steps per repeat, lenet (16)")
    parser.add_argument("--warmup", type=int, help="untimed steps before timing (5)")
    parser.add_argument("--notebook-images", type=int, help="images for the notebook loop (300)")
    parser.add_argument("--chain-length", type=int, default=1000, help="ops in the overhead chain")
    parser.add_argument("--memory-steps", type=int, help="steps in each memory process (20)")
    parser.add_argument("--no-torch", action="store_true", help="skip PyTorch even if installed")
    parser.add_argument(
        "--threads", type=int, help="BLAS and PyTorch threads (default: each library's own)"
    )
    parser.add_argument(
        "--json", type=Path, default=HERE / "results.json", help="where to write the results"
    )
    args = parser.parse_args(argv)
    quick = args.quick
    defaults = {
        "repeats": 3 if quick else 7,
        "seed_steps": 5 if quick else 120,
        "lenet_steps": 2 if quick else 16,
        "warmup": 1 if quick else 5,
        "notebook_images": 5 if quick else 300,
        "memory_steps": 2 if quick else 20,
    }
    for name, value in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    for name in (*defaults, "chain_length", "threads"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be positive")
    if quick and args.chain_length == 1000:
        args.chain_length = 100
    return args


# ---------------------------------------------------------------------------- environment
def torch_available() -> bool:
    """True when PyTorch can be imported."""
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def blas_threads() -> list[dict[str, Any]]:
    """The BLAS/OpenMP thread pools of this process (needs the optional ``threadpoolctl``)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return []
    keys = ("user_api", "internal_api", "num_threads", "version", "architecture", "filepath")
    return [{k: pool.get(k) for k in keys} for pool in threadpool_info()]


def environment(use_torch: bool, threads: int | None) -> dict[str, Any]:
    """Versions, CPU count, thread settings and BLAS environment variables."""
    blas = np.show_config(mode="dicts").get("Build Dependencies", {}).get("blas", {})
    info: dict[str, Any] = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "numpy": np.__version__,
        "numpy_blas": {k: blas.get(k) for k in ("name", "version", "openblas configuration")},
        "blas_threadpools": blas_threads(),
        "env": {name: os.environ.get(name) for name in BLAS_ENV},
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
    }
    if use_torch:
        import torch

        if threads is not None:
            torch.set_num_threads(threads)
        info["torch"] = torch.__version__
        info["torch_num_threads"] = torch.get_num_threads()
    return info


# ---------------------------------------------------------------------------- timing
def interleaved_times(
    runners: dict[str, Callable[[], float]], repeats: int, settle: float = 0.0
) -> dict[str, list[float]]:
    """The seconds each runner reports, ``repeats`` times, alternating the runners.

    Each repeat runs every runner once; the order flips on odd repeats (A B, B A, A B ...)
    so neither framework always follows the other. ``settle`` seconds pass before each run.
    """
    times: dict[str, list[float]] = {name: [] for name in runners}
    names = list(runners)
    for repeat in range(repeats):
        for name in names if repeat % 2 == 0 else names[::-1]:
            time.sleep(settle)
            times[name].append(runners[name]())
    return times


def timed(function: Callable[[], Any]) -> Callable[[], float]:
    """A runner that calls ``function`` in this process and returns the seconds it took."""

    def run() -> float:
        start = time.perf_counter()
        function()
        return time.perf_counter() - start

    return run


class TrainingWorker:
    """A process training one model with one framework (``training_worker.py``), on request."""

    def __init__(self, framework: str, model: str, steps: int, warmup: int) -> None:
        command = [
            sys.executable, str(HERE / "training_worker.py"), framework, model,
            str(BATCH_SIZES[model]), str(steps), str(warmup),
        ]  # fmt: skip
        self.name = f"{framework} {model}"
        self.process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        word, loss = self._read().split()
        if word != "ready":
            raise RuntimeError(f"bench: the {self.name} worker said {word!r}, not 'ready'")
        self.loss_after_warmup = float(loss)

    def _read(self) -> str:
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(
                f"bench: the {self.name} worker stopped (exit {self.process.wait()})"
            )
        return line

    def run(self) -> float:
        """Train on all the batches once; the seconds it took, measured in the worker."""
        self.process.stdin.write("run\n")
        self.process.stdin.flush()
        return float(self._read())

    def close(self) -> None:
        """End the worker (closing its input) and wait for it."""
        self.process.stdin.close()
        self.process.wait()


def summary(seconds: list[float], work: int) -> dict[str, Any]:
    """Median and spread of a throughput: ``work`` units (images, ops) per timed call."""
    rates = sorted(work / s for s in seconds)
    return {
        "per_second": statistics.median(rates),
        "min_per_second": rates[0],
        "max_per_second": rates[-1],
        "seconds": seconds,
    }


def bench_training(model: str, args: argparse.Namespace, use_torch: bool) -> dict[str, Any]:
    """Images/s of each framework training ``model`` on the same batches, each in its own
    worker process (see ``training_worker.py``), the workers taking turns."""
    batch_size = BATCH_SIZES[model]
    steps = args.seed_steps if model == "seed" else args.lenet_steps
    frameworks = ("tinygrad_cnn", "torch") if use_torch else ("tinygrad_cnn",)
    workers = {name: TrainingWorker(name, model, steps, args.warmup) for name in frameworks}
    try:
        # The pause lets the previous worker's thread pools (OpenMP, OpenBLAS) stop spinning
        # before the next one is timed: they busy-wait for a while after their last task.
        runners = {n: w.run for n, w in workers.items()}
        times = interleaved_times(runners, args.repeats, settle=SETTLE_SECONDS)
    finally:
        for worker in workers.values():
            worker.close()
    result: dict[str, Any] = {
        "batch_size": batch_size,
        "steps_per_repeat": steps,
        "repeats": args.repeats,
        "warmup_steps": args.warmup,
        "loss_after_warmup": {n: w.loss_after_warmup for n, w in workers.items()},
        "images_per_second": {n: summary(t, batch_size * steps) for n, t in times.items()},
    }
    if use_torch:
        rates = result["images_per_second"]
        result["ratio"] = rates["tinygrad_cnn"]["per_second"] / rates["torch"]["per_second"]
    return result


def bench_notebook(images_count: int, repeats: int) -> dict[str, Any]:
    """Images/s of the seed notebook's per-image training loop (the median of a few runs)."""
    images, labels = workloads.make_batches(images_count, 1)[0]
    pixels = np.round((images[:, 0] + 0.5) * 255).astype(np.uint8)
    train = workloads.notebook_trainer()
    runner = timed(lambda: train(pixels, labels))
    times = interleaved_times({"notebook": runner}, max(1, repeats // 3))
    return {"images": images_count, **summary(times["notebook"], images_count)}


def bench_overhead(length: int, repeats: int, use_torch: bool) -> dict[str, Any]:
    """Forward+backward of a ``length``-op elementwise chain: microseconds per op."""
    runners = {"tinygrad_cnn": workloads.tinygrad_chain(length)}
    if use_torch:
        runners["torch"] = workloads.torch_chain(length)
    for run in runners.values():
        run()
    times = interleaved_times({name: timed(run) for name, run in runners.items()}, repeats)
    result: dict[str, Any] = {"ops": length}
    for name, seconds in times.items():
        result[name] = {"us_per_op": statistics.median(seconds) / length * 1e6, "seconds": seconds}
    if use_torch:
        result["ratio"] = result["tinygrad_cnn"]["us_per_op"] / result["torch"]["us_per_op"]
    return result


def bench_memory(steps: int, use_torch: bool) -> dict[str, Any]:
    """Peak resident memory of each framework training each model, each in a fresh process.

    The processes run side by side (after the timings, so they slow nothing that is timed):
    memory does not depend on how busy the CPU is.
    """
    frameworks = ("tinygrad_cnn", "torch") if use_torch else ("tinygrad_cnn",)
    script = str(HERE / "peak_memory.py")
    running = {
        (model, framework): subprocess.Popen(
            [sys.executable, script, framework, model, str(batch), str(steps)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for model, batch in BATCH_SIZES.items()
        for framework in frameworks
    }
    result: dict[str, Any] = {m: {"batch_size": b, "steps": steps} for m, b in BATCH_SIZES.items()}
    for (model, framework), process in running.items():
        stdout, _ = process.communicate()
        if process.returncode != 0:
            raise RuntimeError(f"bench: the {framework} {model} memory process failed")
        result[model][framework] = json.loads(stdout)
    if use_torch:
        for memory in result.values():
            memory["ratio"] = memory["tinygrad_cnn"]["peak_mib"] / memory["torch"]["peak_mib"]
    return result


# ---------------------------------------------------------------------------- report
def verdict(value: float, target: float, floor: float, higher_is_better: bool = True) -> str:
    """'met', 'above floor' or 'MISSED' for a measured ratio against its target and floor."""
    if not higher_is_better:
        value, target, floor = -value, -target, -floor
    if value >= target:
        return "met"
    return "above floor" if value >= floor else "MISSED"


def report(results: dict[str, Any]) -> str:
    """The human-readable summary; the tinygrad_cnn / PyTorch ratios come last."""
    env = results["environment"]
    lines = [
        f"numpy {env['numpy']} ({env['numpy_blas'].get('name')} "
        f"{env['numpy_blas'].get('version')}), torch {env.get('torch', 'not used')} "
        f"({env.get('torch_num_threads', '-')} threads), {env['cpu_count']} CPUs",
        "BLAS environment: "
        + ", ".join(f"{k}={v}" for k, v in env["env"].items() if v is not None),
    ]
    lines += [
        f"BLAS pool: {p['internal_api']} {p['version']}, {p['num_threads']} threads"
        + (f", {p['architecture']} kernels" if p.get("architecture") else "")
        for p in env["blas_threadpools"]
    ] or ["BLAS pool: (install threadpoolctl to list thread pools)"]
    lines.append("")
    lines.append("training throughput, images/s (median [min-max] of the repeats):")
    for model, run in results["training"].items():
        for name, rate in run["images_per_second"].items():
            lines.append(
                f"  {model:5} batch {run['batch_size']:3}  {name:12} {rate['per_second']:9.0f}"
                f"  [{rate['min_per_second']:.0f}-{rate['max_per_second']:.0f}]"
                f"  ({run['steps_per_repeat']} steps x {run['repeats']})"
            )
    notebook = results["notebook"]
    lines.append(
        f"  seed  batch   1  notebook     {notebook['per_second']:9.0f}"
        f"  ({notebook['images']} images, per-image Python loops)"
    )
    overhead = results["overhead"]
    lines.append("")
    lines.append(f"engine overhead, chain of {overhead['ops']} elementwise ops, forward+backward:")
    for name in ("tinygrad_cnn", "torch"):
        if name in overhead:
            lines.append(f"  {name:12} {overhead[name]['us_per_op']:7.1f} us per op")
    lines.append("")
    lines.append("peak resident memory, MiB (fresh process: imports + model + training):")
    for model, memory in results["memory"].items():
        for name in ("tinygrad_cnn", "torch"):
            if name in memory:
                m = memory[name]
                lines.append(
                    f"  {model:5} batch {memory['batch_size']:3}  {name:12} {m['peak_mib']:7.1f}"
                    f"  (ready {m['ready_mib']:.1f}, training added {m['training_mib']:.1f})"
                )
    lines.append("")
    lines.append("ratios, tinygrad_cnn / PyTorch and tinygrad_cnn / notebook:")
    for model, run in results["training"].items():
        if "ratio" in run:
            target, floor = TARGETS[model]
            lines.append(
                f"  {model:5} batch {run['batch_size']:3}  speed  {run['ratio']:6.2f}x  "
                f"(target >= {target}x, floor {floor}x: {verdict(run['ratio'], target, floor)})"
            )
    speedup = results["notebook_speedup"]
    lines.append(
        f"  seed  batch  32  vs notebook {speedup:8.1f}x  (target >= {NOTEBOOK_TARGET:.0f}x: "
        f"{verdict(speedup, NOTEBOOK_TARGET, NOTEBOOK_TARGET)})"
    )
    if "ratio" in overhead:
        lines.append(f"  engine overhead per op   {overhead['ratio']:6.2f}x  (lower is better)")
    for model, memory in results["memory"].items():
        if "ratio" in memory:
            lines.append(
                f"  {model:5} batch {memory['batch_size']:3}  peak memory {memory['ratio']:5.2f}x  "
                f"(target < 1: {verdict(memory['ratio'], 1.0, 1.0, higher_is_better=False)})"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run every measurement, print the report and write the JSON; returns the results."""
    args = parse_args(argv)
    use_torch = not args.no_torch and torch_available()
    started = time.perf_counter()
    results: dict[str, Any] = {
        "environment": environment(use_torch, args.threads),
        "quick": args.quick,
    }
    results["training"] = {m: bench_training(m, args, use_torch) for m in BATCH_SIZES}
    results["notebook"] = bench_notebook(args.notebook_images, args.repeats)
    seed_rate = results["training"]["seed"]["images_per_second"]["tinygrad_cnn"]["per_second"]
    results["notebook_speedup"] = seed_rate / results["notebook"]["per_second"]
    results["overhead"] = bench_overhead(args.chain_length, args.repeats, use_torch)
    results["memory"] = bench_memory(args.memory_steps, use_torch)
    results["elapsed_seconds"] = time.perf_counter() - started
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2) + "\n")
    print(report(results))
    print(f"\n{results['elapsed_seconds']:.0f} s; results written to {args.json}")
    return results


if __name__ == "__main__":
    main()
