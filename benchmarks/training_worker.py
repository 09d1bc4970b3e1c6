"""One framework running one workload, timed on request: a worker process of the benchmark.

``benchmarks/bench.py`` starts one worker per framework and asks them in turn to run, so
each framework runs alone in its own process: no thread pool of one library (OpenBLAS's or
PyTorch's OpenMP threads, which keep spinning for a while after their work) competes with the
other's timed steps, and each gets a process of its own, as in a real training script::

    python benchmarks/training_worker.py {tinygrad_cnn,torch} [--tune-threads] [--reprobe]

It reads commands on stdin: ``build WORKLOAD WARMUP`` builds the workload
(``workloads.WORKLOADS``: the same batches and initial weights in both frameworks), runs
``WARMUP`` untimed steps and prints ``ready <loss>``; ``run N`` runs ``N`` steps of the last
workload built and prints the seconds they took and the page faults they caused (minor faults:
the kernel mapping memory the process writes to for the first time). End of input stops it.

``--tune-threads`` runs tinygrad_cnn's steps inside a ``BlasThreadTuner`` (the BLAS thread
count chosen from measured step times); ``--reprobe`` makes the tuner probe again at the start
of every ``run`` (contention mode: each timed run may find the machine idle or busy, and its
probe is timed with it). ``--keep-freed-memory`` calls
``tinygrad_cnn.malloc_tuning.keep_freed_memory()`` first, whichever the framework: glibc's
malloc then keeps what a step frees for the next step instead of faulting it in again.
"""

from __future__ import annotations

import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import workloads  # a sibling module of this script


def main(argv: list[str]) -> None:
    """Serve ``build`` and ``run`` requests until stdin closes."""
    framework, *options = argv
    unknown = set(options) - {"--tune-threads", "--reprobe", "--keep-freed-memory"}
    if unknown:
        raise SystemExit(f"training_worker: unknown options {sorted(unknown)}")
    if "--keep-freed-memory" in options:
        from tinygrad_cnn.malloc_tuning import keep_freed_memory

        keep_freed_memory()
    runner = None
    for line in sys.stdin:
        words = line.split()
        if len(words) == 3 and words[0] == "build" and words[2].isdigit():
            runner = workloads.build(framework, words[1], tune_threads="--tune-threads" in options)
            print("ready", runner.run(max(1, int(words[2]))), flush=True)
        elif len(words) == 2 and words[0] == "run" and words[1].isdigit() and runner:
            if runner.tuner is not None and "--reprobe" in options:
                runner.tuner.reprobe()
            faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
            start = time.perf_counter()
            runner.run(int(words[1]))
            seconds = time.perf_counter() - start
            faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults
            print(seconds, faults, flush=True)
        else:
            raise SystemExit(
                f"training_worker: expected 'build WORKLOAD WARMUP' or (after a build) "
                f"'run N', got {line.strip()!r}"
            )


if __name__ == "__main__":
    main(sys.argv[1:])
