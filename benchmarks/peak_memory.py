"""Peak resident memory of one framework running one workload, measured in a fresh process.

Run by ``benchmarks/bench.py`` once per framework and workload, because PyTorch's import alone
is larger than a whole tinygrad_cnn run: a process that imported both could not tell them
apart. This process imports numpy and one framework (batches are numpy noise, PyTorch keeps its own
initial weights: memory depends on shapes, not values); it prints one JSON object::

    python benchmarks/peak_memory.py {tinygrad_cnn,torch} WORKLOAD STEPS

The batch size is the workload's (``workloads.WORKLOADS``). ``ready_mib`` is the resident
size once the model and batches exist (imports included),
``peak_mib`` the process's peak resident size after training, and ``training_mib`` their
difference: what training added on top. The peak is Linux's ``VmHWM`` (the high-water mark of
this process's own memory map), not ``ru_maxrss``: Linux carries ``ru_maxrss`` over from the
parent across fork and exec, so a child of a benchmark that had imported PyTorch would report
the parent's size.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import workloads  # a sibling module of this script

FRAMEWORKS = ("tinygrad_cnn", "torch")


def _status_mib(field: str) -> float:
    """A memory field of ``/proc/self/status`` (given in kB) in MiB."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"peak_memory: no {field} in /proc/self/status")


def resident_mib() -> float:
    """The current resident set size of this process in MiB."""
    return _status_mib("VmRSS")


def peak_mib() -> float:
    """The peak resident set size of this process's memory map so far, in MiB."""
    return _status_mib("VmHWM")


def measure(framework: str, name: str, steps: int) -> dict[str, float]:
    """Run workload ``name`` for ``steps`` steps and report the memory used."""
    seed = None if framework == "torch" else 0
    runner = workloads.build(framework, name, seed=seed, digits=False)
    ready = resident_mib()
    runner.run(steps)
    peak = peak_mib()
    return {"ready_mib": ready, "peak_mib": peak, "training_mib": peak - ready}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("framework", choices=FRAMEWORKS)
    parser.add_argument("workload", choices=list(workloads.WORKLOADS))
    parser.add_argument("steps", type=int)
    args = parser.parse_args(argv)
    print(json.dumps(measure(args.framework, args.workload, args.steps)))


if __name__ == "__main__":
    main()
