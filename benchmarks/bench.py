"""The benchmark suite: tinygrad_cnn beside PyTorch on common CPU workloads, and the notebook.

Run from the repository root (``make bench`` does; ``make bench-contention`` adds
``--contention``)::

    .venv/bin/python benchmarks/bench.py                     # the whole suite, a few minutes
    .venv/bin/python benchmarks/bench.py --quick             # a smoke run (what the tests run)
    .venv/bin/python benchmarks/bench.py --only lenet_b8,lenet,lenet_b256
    .venv/bin/python benchmarks/bench.py --contention        # also under a busy neighbour

For each workload of ``benchmarks/workloads.py`` (one table, each entry built identically for
both frameworks) it times tinygrad_cnn and PyTorch doing the same steps, each framework in
its own worker process (``benchmarks/training_worker.py``), the two taking turns repeat by
repeat so that a busy machine slows both alike, and reports the median throughput with the
range of the repeats. It also times the notebook's per-image loop, the engine's per-op
overhead (a chain of small elementwise ops, forward and backward), and the peak resident
memory of each framework in its own process (``benchmarks/peak_memory.py``). With
``--contention`` every workload is also timed while a CPU-burning neighbour process
(``benchmarks/neighbour.py``) runs, idle and busy phases alternating in the same run. The
report ends with one line: the geometric mean of the tinygrad_cnn / PyTorch throughput
ratios and the worst ratio with its workload. Everything is also written as JSON. See
docs/performance.md for how to read the output.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
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
from neighbour import Neighbour, pinned_core  # noqa: E402

HERE = Path(__file__).resolve().parent
PARTS = ("notebook", "overhead", "memory")  # the measurements besides the workloads
MEMORY_WORKLOADS = ("seed", "lenet")
TARGET, FLOOR = 1.0, 0.8  # tinygrad_cnn / PyTorch throughput, every workload (issue 15)
GEOMEAN_TARGET = 1.2
BUSY_FRACTION_TARGET = 0.5  # throughput under a busy neighbour / idle throughput
NOTEBOOK_TARGET = 50.0
SETTLE_SECONDS = 0.3  # between two timed runs (see bench_workload)
MAX_STEPS = 5000  # steps per repeat, whatever the calibration says
BLAS_ENV = (
    "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
    "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE",
)  # fmt: skip


def _names(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    known = [*workloads.WORKLOADS, *PARTS]
    unknown = [name for name in names if name not in known]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"expected names from {', '.join(known)}; got {text!r}")
    return names


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run: 1 step, 2 repeats")
    parser.add_argument(
        "--only", type=_names, metavar="NAME[,NAME]",
        help=f"run only these workloads and parts ({', '.join([*workloads.WORKLOADS, *PARTS])})",
    )  # fmt: skip
    parser.add_argument("--repeats", type=int, help="timed repeats per framework (default 5)")
    parser.add_argument(
        "--budget", type=float, default=1.0,
        help="seconds a repeat of the slower framework should take (default 1.0)",
    )  # fmt: skip
    parser.add_argument("--steps", type=int, help="steps per repeat (default: from --budget)")
    parser.add_argument("--warmup", type=int, help="untimed steps before timing (3)")
    parser.add_argument(
        "--contention", action="store_true", help="also time under a busy neighbour"
    )
    parser.add_argument("--notebook-images", type=int, help="images for the notebook loop (300)")
    parser.add_argument("--chain-length", type=int, default=1000, help="ops in the overhead chain")
    parser.add_argument("--memory-steps", type=int, help="steps in each memory process (20)")
    parser.add_argument("--no-torch", action="store_true", help="skip PyTorch even if installed")
    parser.add_argument(
        "--no-tuner",
        action="store_true",
        help="tinygrad_cnn on the BLAS's own thread count (default: a BlasThreadTuner)",
    )
    parser.add_argument(
        "--threads", type=int, help="BLAS and PyTorch threads (default: each library's own)"
    )
    parser.add_argument(
        "--malloc-defaults",
        action="store_true",
        help="leave glibc's malloc at its defaults in the workers (default: both frameworks' "
        "workers keep freed memory, tinygrad_cnn.malloc_tuning)",
    )
    parser.add_argument(
        "--json", type=Path, default=HERE / "results.json", help="where to write the results"
    )
    args = parser.parse_args(argv)
    quick = args.quick
    defaults = {
        "repeats": 2 if quick else 5,
        "steps": 1 if quick else None,
        "warmup": 1 if quick else 3,
        "notebook_images": 5 if quick else 300,
        "memory_steps": 2 if quick else 20,
    }
    for name, value in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    for name in (*defaults, "chain_length", "threads", "budget"):
        if getattr(args, name) is not None and getattr(args, name) <= 0:
            parser.error(f"--{name.replace('_', '-')} must be positive")
    if quick and args.chain_length == 1000:
        args.chain_length = 100
    return args


def selected(args: argparse.Namespace, name: str) -> bool:
    """True when ``--only`` is not given or names ``name``."""
    return args.only is None or name in args.only


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
def timed(function: Callable[[], Any]) -> Callable[[], float]:
    """A runner that calls ``function`` in this process and returns the seconds it took."""

    def run() -> float:
        start = time.perf_counter()
        function()
        return time.perf_counter() - start

    return run


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


class TrainingWorker:
    """A process running workloads with one framework (``training_worker.py``), on request.

    The process starts at construction; :meth:`build` sends a workload to build and warm up
    and :meth:`wait_ready` waits for it, so several workers can build side by side.
    """

    def __init__(self, framework: str, options: tuple[str, ...] = ()) -> None:
        command = [sys.executable, str(HERE / "training_worker.py"), framework, *options]
        self.name = framework
        self.faults: list[int] = []  # page faults of each run() since the last clear()
        self.process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )

    def _send(self, line: str) -> None:
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()

    def build(self, workload: str, warmup: int) -> None:
        """Ask for ``workload`` to be built and warmed up (answered by :meth:`wait_ready`)."""
        self._send(f"build {workload} {warmup}")

    def wait_ready(self) -> float:
        """Wait for the worker's ``ready <loss>``; the loss after the warm-up steps."""
        word, loss = self._read().split()
        if word != "ready":
            raise RuntimeError(f"bench: the {self.name} worker said {word!r}, not 'ready'")
        return float(loss)

    def _read(self) -> str:
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(
                f"bench: the {self.name} worker stopped (exit {self.process.wait()})"
            )
        return line

    def run(self, steps: int) -> float:
        """Run ``steps`` steps; the seconds they took, measured in the worker (the page faults
        they caused are appended to ``faults``)."""
        self._send(f"run {steps}")
        seconds, faults = self._read().split()
        self.faults.append(int(faults))
        return float(seconds)

    def close(self) -> None:
        """End the worker (closing its input; killing it if it does not end) and reap it."""
        try:
            self.process.stdin.close()
            self.process.wait(timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            self.process.kill()
            self.process.wait()
        self.process.stdout.close()


def summary(seconds: list[float], work: int) -> dict[str, Any]:
    """Median and spread of a throughput: ``work`` units (images, steps, ops) per timed call."""
    rates = sorted(work / s for s in seconds)
    return {
        "per_second": statistics.median(rates),
        "min_per_second": rates[0],
        "max_per_second": rates[-1],
        "seconds": seconds,
    }


def steps_per_repeat(workers: dict[str, TrainingWorker], budget: float) -> int:
    """Steps that make a repeat of the slower framework last about ``budget`` seconds (from
    the fastest of two single steps of each framework)."""
    step = max(min(worker.run(1), worker.run(1)) for worker in workers.values())
    return max(1, min(MAX_STEPS, round(budget / step)))


def start_workers(
    use_torch: bool, tinygrad_options: tuple[str, ...] = (), shared_options: tuple[str, ...] = ()
) -> dict[str, TrainingWorker]:
    """One worker process per framework (training_worker.py's options: ``tinygrad_options``
    for the tinygrad_cnn worker, ``shared_options`` for both)."""
    frameworks = workloads.FRAMEWORKS if use_torch else ("tinygrad_cnn",)
    workers: dict[str, TrainingWorker] = {}
    try:
        for framework in frameworks:
            options = tinygrad_options if framework == "tinygrad_cnn" else ()
            workers[framework] = TrainingWorker(framework, (*options, *shared_options))
    except BaseException:
        close_workers(workers)
        raise
    return workers


def worker_options(args: argparse.Namespace) -> tuple[str, ...]:
    """The tinygrad_cnn worker's options: its steps inside a BlasThreadTuner unless
    ``--no-tuner`` or threadpoolctl is missing; under ``--contention`` the tuner probes again
    at each timed run."""
    if args.no_tuner or importlib.util.find_spec("threadpoolctl") is None:
        return ()
    return ("--tune-threads", "--reprobe") if args.contention else ("--tune-threads",)


def close_workers(workers: dict[str, TrainingWorker]) -> None:
    for worker in workers.values():
        worker.close()


def bench_workload(
    name: str, args: argparse.Namespace, workers: dict[str, TrainingWorker]
) -> dict[str, Any]:
    """Throughput of each framework on workload ``name``, each in its own worker process,
    the workers taking turns; with ``--contention`` also under a busy neighbour, idle and
    busy phases alternating (idle first on even repeats, busy first on odd ones)."""
    workload = workloads.WORKLOADS[name]
    conditions = ("idle", "busy") if args.contention else ("idle",)
    settle = 0.0 if args.quick else SETTLE_SECONDS
    for worker in workers.values():
        worker.build(name, args.warmup)
    losses = {n: w.wait_ready() for n, w in workers.items()}
    steps = args.steps or steps_per_repeat(workers, args.budget)
    for worker in workers.values():
        worker.faults.clear()  # count the timed runs only
    # The pause lets the previous worker's thread pools (OpenMP, OpenBLAS) stop spinning
    # before the next one is timed: they busy-wait for a while after their last task.
    runners = {n: (lambda w=w: w.run(steps)) for n, w in workers.items()}
    times = {c: {n: [] for n in workers} for c in conditions}
    for repeat in range(args.repeats):
        for condition in conditions if repeat % 2 == 0 else conditions[::-1]:
            if condition == "busy":
                with Neighbour():
                    phase = interleaved_times(runners, 1, settle=settle)
            else:
                phase = interleaved_times(runners, 1, settle=settle)
            for n, seconds in phase.items():
                times[condition][n] += seconds
            runners = dict(reversed(runners.items()))  # the other framework first next time
    work = workload.work_per_step * steps
    result: dict[str, Any] = {
        "what": workload.what,
        "mode": workload.mode,
        "optimizer": workload.optimizer,
        "batch_size": workload.batch_size,
        "unit": workload.unit,
        "steps_per_repeat": steps,
        "repeats": args.repeats,
        "warmup_steps": args.warmup,
        "loss_after_warmup": losses,
        "per_second": {n: summary(t, work) for n, t in times["idle"].items()},
        # (a hundred or two a step cost LeNet 9 % at batch 8: docs/performance.md)
        "page_faults_per_step": {
            n: statistics.median(w.faults) / steps for n, w in workers.items()
        },
    }
    if "torch" in workers:
        rates = result["per_second"]
        result["ratio"] = rates["tinygrad_cnn"]["per_second"] / rates["torch"]["per_second"]
    if args.contention:
        busy = {n: summary(t, work) for n, t in times["busy"].items()}
        result["busy_per_second"] = busy
        result["busy_fraction"] = {
            n: busy[n]["per_second"] / result["per_second"][n]["per_second"] for n in busy
        }
        if "torch" in workers:
            result["busy_ratio"] = busy["tinygrad_cnn"]["per_second"] / busy["torch"]["per_second"]
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
    """Peak resident memory of each framework on each of ``MEMORY_WORKLOADS``, each in a
    fresh process.

    The processes run side by side (after the timings, so they slow nothing that is timed):
    memory does not depend on how busy the CPU is.
    """
    frameworks = workloads.FRAMEWORKS if use_torch else ("tinygrad_cnn",)
    script = str(HERE / "peak_memory.py")
    running = {
        (name, framework): subprocess.Popen(
            [sys.executable, script, framework, name, str(steps)], stdout=subprocess.PIPE, text=True
        )
        for name in MEMORY_WORKLOADS
        for framework in frameworks
    }
    result: dict[str, Any] = {
        name: {"batch_size": workloads.WORKLOADS[name].batch_size, "steps": steps}
        for name in MEMORY_WORKLOADS
    }
    for (name, framework), process in running.items():
        stdout, _ = process.communicate()
        if process.returncode != 0:
            raise RuntimeError(f"bench: the {framework} {name} memory process failed")
        result[name][framework] = json.loads(stdout)
    if use_torch:
        for memory in result.values():
            memory["ratio"] = memory["tinygrad_cnn"]["peak_mib"] / memory["torch"]["peak_mib"]
    return result


def geomean(values: list[float]) -> float:
    """The geometric mean of positive numbers."""
    return math.exp(sum(math.log(v) for v in values) / len(values))


def summarize(runs: dict[str, Any]) -> dict[str, Any] | None:
    """Geometric mean and worst of the tinygrad_cnn / PyTorch ratios (None without PyTorch);
    under ``--contention`` also the geometric means of the busy fractions and ratios."""
    ratios = {name: run["ratio"] for name, run in runs.items() if "ratio" in run}
    if not ratios:
        return None
    worst = min(ratios, key=ratios.__getitem__)
    result: dict[str, Any] = {
        "workloads": len(ratios),
        "geomean_ratio": geomean(list(ratios.values())),
        "worst_ratio": ratios[worst],
        "worst_workload": worst,
    }
    busy = [run for run in runs.values() if "busy_ratio" in run]
    if busy:
        result["busy_geomean_ratio"] = geomean([run["busy_ratio"] for run in busy])
        result["busy_geomean_fraction"] = {
            n: geomean([run["busy_fraction"][n] for run in busy]) for n in workloads.FRAMEWORKS
        }
    return result


# ---------------------------------------------------------------------------- report
def verdict(value: float, target: float, floor: float, higher_is_better: bool = True) -> str:
    """'met', 'above floor' or 'MISSED' for a measured ratio against its target and floor."""
    if not higher_is_better:
        value, target, floor = -value, -target, -floor
    if value >= target:
        return "met"
    return "above floor" if value >= floor else "MISSED"


def _rate(rate: dict[str, Any]) -> str:
    return f"{rate['per_second']:9.0f} [{rate['min_per_second']:.0f}-{rate['max_per_second']:.0f}]"


def summary_line(results: dict[str, Any]) -> str:
    """The report's last line: geometric mean and worst tinygrad_cnn / PyTorch ratio."""
    total = results.get("summary")
    if total is None:
        return (
            "geomean tinygrad_cnn / PyTorch: no ratio (no workload measured with both frameworks)"
        )
    return (
        f"geomean tinygrad_cnn / PyTorch {total['geomean_ratio']:.2f}x over "
        f"{total['workloads']} workloads (target >= {GEOMEAN_TARGET}x); worst "
        f"{total['worst_ratio']:.2f}x {total['worst_workload']} (floor {FLOOR}x)"
    )


def _environment_lines(env: dict[str, Any]) -> list[str]:
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
    if "keep_freed_memory" in env:
        lines.append(
            "malloc: "
            + (
                "both frameworks' workers keep freed memory (tinygrad_cnn.malloc_tuning; "
                "--malloc-defaults: glibc's defaults)"
                if env["keep_freed_memory"]
                else "glibc's defaults in both frameworks' workers (--malloc-defaults)"
            )
        )
    if "blas_tuner" in env:
        lines.append(
            "tinygrad_cnn's BLAS threads: "
            + (
                "chosen from step times by BlasThreadTuner (--no-tuner: the pool's own count)"
                if env["blas_tuner"]
                else "the pool's own count (--no-tuner, or threadpoolctl not installed)"
            )
        )
    return lines


def _workload_lines(runs: dict[str, Any]) -> list[str]:
    lines = ["", "throughput, median [min-max] of the repeats, each framework in its own process:"]
    for name, run in runs.items():
        batch = f"batch {run['batch_size']:3}" if run["batch_size"] else "         "
        lines.append(f"  {name:12} {batch}  {run['what']}")
        for framework, rate in run["per_second"].items():
            faults = run["page_faults_per_step"][framework]
            lines.append(
                f"    {framework:12} {_rate(rate)} {run['unit']}/s"
                f"  ({run['steps_per_repeat']} steps x {run['repeats']}, {faults:.0f} page faults"
                f" a step)"
            )
    scaling = [n for n in ("lenet_b8", "lenet", "lenet_b256") if n in runs]
    if len(scaling) > 1:
        lines += ["", "LeNet training, microseconds per image by batch size:"]
        for framework in runs[scaling[0]]["per_second"]:
            costs = ", ".join(
                f"batch {runs[n]['batch_size']} "
                f"{1e6 / runs[n]['per_second'][framework]['per_second']:.0f}"
                for n in scaling
            )
            lines.append(f"  {framework:12} {costs}")
    return lines


def _contention_lines(runs: dict[str, Any], core: int | None) -> list[str]:
    lines = [
        "",
        f"under contention (a busy-looping neighbour process pinned to core {core}), "
        "throughput busy / idle, measured alternately in this run:",
    ]
    for name, run in runs.items():
        parts = [
            f"{n} {run['busy_fraction'][n]:.2f} ({run['per_second'][n]['per_second']:.0f} -> "
            f"{run['busy_per_second'][n]['per_second']:.0f})"
            for n in run["busy_fraction"]
        ]
        if "busy_ratio" in run:
            parts.append(f"ratio {run['busy_ratio']:.2f}x")
        lines.append(f"  {name:12} " + ", ".join(parts))
    return lines


def report(results: dict[str, Any]) -> str:
    """The human-readable report; the ratios come last, the geomean/worst line very last."""
    lines = _environment_lines(results["environment"])
    runs = results["workloads"]
    if runs:
        lines += _workload_lines(runs)
    if "notebook" in results:
        notebook = results["notebook"]
        lines += [
            "",
            f"notebook loop (seed model, one image at a time in Python): "
            f"{notebook['per_second']:.0f} images/s ({notebook['images']} images)",
        ]
    overhead = results.get("overhead")
    if overhead:
        lines += ["", f"engine overhead, chain of {overhead['ops']} elementwise ops, fwd+bwd:"]
        for name in workloads.FRAMEWORKS:
            if name in overhead:
                lines.append(f"  {name:12} {overhead[name]['us_per_op']:7.1f} us per op")
    for name, memory in results.get("memory", {}).items():
        if name == next(iter(results["memory"])):
            lines += ["", "peak resident memory, MiB (fresh process: imports + model + training):"]
        for framework in workloads.FRAMEWORKS:
            if framework in memory:
                m = memory[framework]
                lines.append(
                    f"  {name:5} batch {memory['batch_size']:3}  {framework:12} "
                    f"{m['peak_mib']:7.1f}"
                    f"  (ready {m['ready_mib']:.1f}, training added {m['training_mib']:.1f})"
                )
    if results.get("contention"):
        lines += _contention_lines(runs, results["contention"]["core"])
    lines += ["", f"ratios, tinygrad_cnn / PyTorch (target >= {TARGET}x, floor {FLOOR}x):"]
    for name, run in runs.items():
        if "ratio" in run:
            lines.append(
                f"  {name:12} {run['ratio']:6.2f}x  {verdict(run['ratio'], TARGET, FLOOR)}"
            )
    if "notebook_speedup" in results:
        speedup = results["notebook_speedup"]
        lines.append(
            f"  seed vs notebook {speedup:8.1f}x  (target >= {NOTEBOOK_TARGET:.0f}x: "
            f"{verdict(speedup, NOTEBOOK_TARGET, NOTEBOOK_TARGET)})"
        )
    if overhead and "ratio" in overhead:
        lines.append(f"  engine overhead per op {overhead['ratio']:6.2f}x  (lower is better)")
    for name, memory in results.get("memory", {}).items():
        if "ratio" in memory:
            lines.append(
                f"  {name:5} peak memory {memory['ratio']:5.2f}x  "
                f"(target < 1: {verdict(memory['ratio'], 1.0, 1.0, higher_is_better=False)})"
            )
    total = results.get("summary") or {}
    if "busy_geomean_ratio" in total:
        fractions = total["busy_geomean_fraction"]
        lines.append(
            f"  under contention: geomean ratio {total['busy_geomean_ratio']:.2f}x; busy/idle "
            + ", ".join(
                f"{n} {f:.2f} ({verdict(f, BUSY_FRACTION_TARGET, BUSY_FRACTION_TARGET)})"
                for n, f in fractions.items()
            )
            + f" (target >= {BUSY_FRACTION_TARGET})"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run every selected measurement, write the JSON, print the report; returns the results."""
    args = parse_args(argv)
    use_torch = not args.no_torch and torch_available()
    started = time.perf_counter()
    results: dict[str, Any] = {
        "environment": environment(use_torch, args.threads),
        "quick": args.quick,
        "contention": {"core": pinned_core()} if args.contention else None,
    }
    names = [name for name in workloads.WORKLOADS if selected(args, name)]
    results["workloads"] = {}
    # Fresh worker processes for each workload (no allocator or cache state carried over from
    # the one before), except in a --quick smoke run, where starting them would dominate.
    options = worker_options(args)
    results["environment"]["blas_tuner"] = bool(options)
    # Both frameworks' workers keep freed memory (unless --malloc-defaults): with glibc's
    # defaults, either library's steps may page-fault their arrays in, depending on the order
    # of earlier allocations (docs/performance.md, "Page faults").
    shared = () if args.malloc_defaults else ("--keep-freed-memory",)
    results["environment"]["keep_freed_memory"] = not args.malloc_defaults
    workers = start_workers(use_torch, options, shared) if args.quick else {}
    try:
        for name in names:
            if not args.quick:
                close_workers(workers)
                workers = start_workers(use_torch, options, shared)
            results["workloads"][name] = bench_workload(name, args, workers)
    finally:
        close_workers(workers)
    results["summary"] = summarize(results["workloads"])
    if selected(args, "notebook"):
        results["notebook"] = bench_notebook(args.notebook_images, args.repeats)
        if "seed" in results["workloads"]:
            seed = results["workloads"]["seed"]["per_second"]["tinygrad_cnn"]["per_second"]
            results["notebook_speedup"] = seed / results["notebook"]["per_second"]
    if selected(args, "overhead"):
        results["overhead"] = bench_overhead(args.chain_length, args.repeats, use_torch)
    if selected(args, "memory"):
        results["memory"] = bench_memory(args.memory_steps, use_torch)
    results["elapsed_seconds"] = time.perf_counter() - started
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2) + "\n")
    print(report(results))
    print(f"\n{results['elapsed_seconds']:.0f} s; results written to {args.json}")
    print(summary_line(results))
    return results


if __name__ == "__main__":
    main()
