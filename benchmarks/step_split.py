"""Compare the training step of two versions of the library: forward, backward and step() apart.

``make bench`` gives throughput ratios against PyTorch, which move by 10-30 % from run to run
on a shared machine. To tell whether a change made this library a few percent slower, time
its own step instead, in one process with one BLAS thread, and alternate two checkouts::

    for i in 1 2 3 4 5 6 7 8; do
      for tree in /path/to/old/checkout /path/to/new/checkout; do
        echo "$tree $(OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 \\
          PYTHONPATH=$tree .venv/bin/python benchmarks/step_split.py seed)"
      done
    done

Each run prints one line: the median forward, backward (``zero_grad`` included) and optimizer
``step()`` times of a step, and the median whole step, in microseconds, over ``--steps``
timed steps after ``--warmup`` untimed ones. Compare the medians (and the minimum) of the
runs of each tree. The model is built by ``tinygrad_cnn.models.build_model`` and trained
with SGD (momentum 0.9) on fixed random images, the same in every version that has that
function; ``PYTHONPATH`` decides which library is imported.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

DEFAULT_BATCH = {"seed": 32, "lenet": 64, "modern": 128}


def step_times(
    model_name: str, batch_size: int, steps: int, warmup: int
) -> tuple[float, float, float, float]:
    """Median seconds of forward, backward, ``step()`` and the whole training step.

    Parameters
    ----------
    model_name : str
        A name for ``tinygrad_cnn.models.build_model`` ("seed", "lenet", ...).
    batch_size : int
        Images per step, shape (batch_size, 1, 28, 28).
    steps, warmup : int
        Timed steps, and untimed steps before them.

    Returns
    -------
    tuple of float
        The medians of forward (model and loss), backward (``zero_grad`` and ``backward``),
        ``step()`` and their sum, per step, in seconds.
    """
    from tinygrad_cnn import Tensor, cross_entropy
    from tinygrad_cnn.models import build_model
    from tinygrad_cnn.optim import SGD

    model = build_model(model_name, seed=0)
    optimizer = SGD(model.parameters(), lr=0.01, momentum=0.9)
    rng = np.random.default_rng(0)
    images = rng.uniform(-0.5, 0.5, (batch_size, 1, 28, 28)).astype(np.float32)
    labels = rng.integers(0, 10, batch_size)
    forward, backward, update, whole = [], [], [], []
    for i in range(warmup + steps):
        t0 = time.perf_counter()
        loss = cross_entropy(model(Tensor(images)), labels)
        t1 = time.perf_counter()
        optimizer.zero_grad()
        loss.backward()
        t2 = time.perf_counter()
        optimizer.step()
        t3 = time.perf_counter()
        if i >= warmup:
            forward.append(t1 - t0)
            backward.append(t2 - t1)
            update.append(t3 - t2)
            whole.append(t3 - t0)
    return tuple(statistics.median(times) for times in (forward, backward, update, whole))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", nargs="?", default="seed", help="seed, lenet or modern")
    parser.add_argument("--batch-size", type=int, help="default: 32 seed, 64 lenet, 128 modern")
    parser.add_argument("--steps", type=int, default=650, help="timed steps")
    parser.add_argument("--warmup", type=int, default=50, help="untimed steps first")
    args = parser.parse_args(argv)
    if args.steps < 1 or args.warmup < 0:
        parser.error(f"--steps must be >= 1 and --warmup >= 0, got {args.steps}, {args.warmup}")
    batch_size = args.batch_size or DEFAULT_BATCH.get(args.model, 64)
    times = step_times(args.model, batch_size, args.steps, args.warmup)
    forward, backward, update, whole = (round(t * 1e6) for t in times)
    print(f"forward {forward} us  backward {backward} us  step() {update} us  whole {whole} us")


if __name__ == "__main__":
    main()
