"""One framework running one workload, timed on request: a worker process of the benchmark.

``benchmarks/bench.py`` starts one worker per framework and asks them in turn to run, so
each framework runs alone in its own process: no thread pool of one library (OpenBLAS's or
PyTorch's OpenMP threads, which keep spinning for a while after their work) competes with the
other's timed steps, and each gets a process of its own, as in a real training script::

    python benchmarks/training_worker.py {tinygrad_cnn,torch} WORKLOAD WARMUP

It builds the workload (``workloads.WORKLOADS``: the same batches and initial weights in both
frameworks), runs ``WARMUP`` untimed steps and prints ``ready <loss>``; then, for each
``run N`` line on stdin, it runs ``N`` steps and prints the seconds they took. End of input
stops it.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import workloads  # a sibling module of this script


def main(argv: list[str]) -> None:
    """Serve ``run N`` requests until stdin closes."""
    framework, name, warmup = argv
    runner = workloads.build(framework, name)
    print("ready", runner.run(max(1, int(warmup))), flush=True)
    for line in sys.stdin:
        word, _, steps = line.strip().partition(" ")
        if word != "run" or not steps.isdigit() or int(steps) < 1:
            raise SystemExit(f"training_worker: expected 'run N', got {line.strip()!r}")
        start = time.perf_counter()
        runner.run(int(steps))
        print(time.perf_counter() - start, flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
