"""Where a training step's time goes: milliseconds per step for each op, forward and backward.

Run from the repository root (``make profile`` runs LeNet)::

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE .venv/bin/python benchmarks/op_profile.py lenet
    ... benchmarks/op_profile.py seed --torch    # and PyTorch's profiler on the same steps

tinygrad_cnn's side wraps every registered op's ``forward`` and ``backward`` with a timer and
trains ``--steps`` steps of ``benchmarks/workloads.py``'s loop (the benchmark's own work), so
each row is one op at one input shape: ``conv2d backward (64, 64, 11, 11) rows`` is conv2's
backward for LeNet, in its "rows" im2col layout. The rows are times *inside training*, where
the arrays come and go through the cache as in real use; an op timed alone on the same
arrays is often faster. The step time is measured first, without the timers; the timers
themselves add about 1 us per call. What the ops do not cover (optimizer, ``zero_grad``,
module bookkeeping, the backward walk) is the difference between the two totals.

``--torch`` prints PyTorch's own profile (``torch.profiler``) of the identical steps, by
operator and input shape, in the same unit, so the two can be compared row by row.
"""

from __future__ import annotations

import argparse
import collections
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import workloads  # benchmarks/ is not a package: found through the path above

DEFAULT_BATCH = {"seed": 32, "lenet": 64, "mlp": 128, "cifar_cnn": 64}


def tinygrad_op_times(
    model_name: str, batch_size: int, steps: int, warmup: int
) -> tuple[float, dict[tuple[str, str, str, str], float]]:
    """Seconds per step of plain training, and seconds per step of each (op, pass, shape, layout).

    The ops are timed by wrapping the methods of the classes in ``Function.registry`` for the
    duration of the call; they are restored afterwards.
    """
    from tinygrad_cnn.function import Function

    train, _ = workloads.tinygrad_trainer(model_name)
    batches = workloads.make_batches(batch_size, steps, net=model_name)
    train(batches[:warmup])
    start = time.perf_counter()
    train(batches)
    step_seconds = (time.perf_counter() - start) / steps

    totals: dict[tuple[str, str, str, str], float] = collections.defaultdict(float)
    methods = [(op, name) for op in Function.registry.values() for name in ("forward", "backward")]
    own = {(op, name): op.__dict__.get(name) for op, name in methods}  # None: inherited
    resolved = {(op, name): getattr(op, name) for op, name in methods}  # before any wrapping
    for (op, name), function in resolved.items():
        setattr(op, name, _timed(op, name, function, totals))
    try:
        train(batches)
    finally:
        for (op, name), original in own.items():
            if original is None:
                delattr(op, name)
            else:
                setattr(op, name, original)
    return step_seconds, {key: seconds / steps for key, seconds in totals.items()}


def _timed(op: type, method: str, function: Any, totals: dict) -> Any:
    """``function`` (an op's forward or backward) adding its run time to ``totals``."""

    def timed(self: Any, *arrays: Any, **attrs: Any) -> Any:
        start = time.perf_counter()
        result = function(self, *arrays, **attrs)
        elapsed = time.perf_counter() - start
        shape = str(tuple(arrays[0].shape)) if arrays and hasattr(arrays[0], "shape") else ""
        totals[op.name, method, shape, getattr(self, "layout", "")] += elapsed
        return result

    return timed


def torch_op_times(
    model_name: str, batch_size: int, steps: int, warmup: int
) -> list[tuple[str, str, float]]:
    """PyTorch's profile of the same steps: (operator, input shapes, self seconds per step)."""
    from torch.profiler import ProfilerActivity, profile

    train, _ = workloads.torch_trainer(model_name)
    batches = workloads.make_batches(batch_size, steps, net=model_name)
    train(batches[:warmup])
    with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as profiler:
        train(batches)
    rows = [
        (event.key, str(event.input_shapes), event.self_cpu_time_total / 1e6 / steps)
        for event in profiler.key_averages(group_by_input_shape=True)
    ]
    return sorted(rows, key=lambda row: -row[2])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", choices=workloads.MODEL_NAMES)
    parser.add_argument(
        "--batch", type=int, help="batch size (default: seed 32, lenet 64, mlp 128, cifar_cnn 64)"
    )
    parser.add_argument("--steps", type=int, default=40, help="timed steps (default 40)")
    parser.add_argument("--warmup", type=int, default=5, help="untimed steps first (default 5)")
    parser.add_argument("--rows", type=int, default=15, help="rows of each table (default 15)")
    parser.add_argument("--torch", action="store_true", help="also profile PyTorch")
    args = parser.parse_args(argv)
    if args.steps < 1 or args.warmup < 0 or args.rows < 1:
        parser.error("--steps and --rows must be positive and --warmup non-negative")
    batch_size = DEFAULT_BATCH[args.model] if args.batch is None else args.batch
    if batch_size < 1:
        parser.error(f"--batch must be positive, got {batch_size}")

    step, ops = tinygrad_op_times(args.model, batch_size, args.steps, args.warmup)
    print(f"tinygrad_cnn {args.model}, batch {batch_size}: {step * 1e3:.2f} ms per step")
    print("  ms/step  op, pass, input shape, conv layout")
    for (name, method, shape, layout), seconds in sorted(ops.items(), key=lambda kv: -kv[1])[
        : args.rows
    ]:
        print(f"  {seconds * 1e3:7.3f}  {name} {method} {shape} {layout}".rstrip())
    total = sum(ops.values())
    print(
        f"  {total * 1e3:7.3f}  all ops; the other {(step - total) * 1e3:.2f} ms of a step are "
        "the optimizer, zero_grad and the engine's bookkeeping"
    )

    if args.torch:
        rows = torch_op_times(args.model, batch_size, args.steps, args.warmup)
        print(f"\ntorch {args.model}, batch {batch_size}: self CPU time of each operator")
        print("  ms/step  operator, input shapes")
        for name, shapes, seconds in rows[: args.rows]:
            print(f"  {seconds * 1e3:7.3f}  {name} {shapes}")
        print(f"  {sum(row[2] for row in rows) * 1e3:7.3f}  all operators")


if __name__ == "__main__":
    main()
