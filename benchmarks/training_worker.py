"""One framework training one model, timed on request: a worker process of the benchmark.

``benchmarks/bench.py`` starts one worker per framework and asks them in turn to train, so
each framework runs alone in its own process: no thread pool of one library (OpenBLAS's or
PyTorch's OpenMP threads, which keep spinning for a while after their work) competes with the
other's timed steps, and each gets a process of its own, as in a real training script::

    python benchmarks/training_worker.py {tinygrad_cnn,torch} {seed,lenet} BATCH STEPS WARMUP

It builds the trainer and the ``STEPS`` batches (the same synthetic digits and initial weights
in both frameworks, see ``workloads.py``), trains ``WARMUP`` untimed steps and prints
``ready <loss>``; then, for each ``run`` line on stdin, it trains on all the batches once and
prints the seconds it took. End of input stops it.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import workloads  # a sibling module of this script


def main(argv: list[str]) -> None:
    """Serve ``run`` requests until stdin closes."""
    framework, model, batch_size, steps, warmup = argv
    batches = workloads.make_batches(int(batch_size), int(steps))
    if framework == "tinygrad_cnn":
        train, _ = workloads.tinygrad_trainer(model)
    elif framework == "torch":
        train, _ = workloads.torch_trainer(model)
    else:
        raise SystemExit(f"training_worker: unknown framework {framework!r}")
    print("ready", train(batches[: int(warmup)]), flush=True)
    for line in sys.stdin:
        if line.strip() != "run":
            raise SystemExit(f"training_worker: expected 'run', got {line.strip()!r}")
        start = time.perf_counter()
        train(batches)
        print(time.perf_counter() - start, flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
