"""Regenerate the pictures of ``docs/graphs.md``: ``python -m tinygrad_cnn.viz.gallery DIR``.

Each picture of an example model is exactly what the command line draws with the arguments in
:data:`PICTURES` (``python -m tinygrad_cnn.viz <arguments> --out DIR/<name>``); the last one,
``alerts.svg``, is a small hand-made graph with a NaN and a dead ReLU for the values view.
Needs Graphviz's ``dot``.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from tinygrad_cnn.viz.__main__ import example_graph, parse_arguments
from tinygrad_cnn.viz.builder import draw
from tinygrad_cnn.viz.graph import Graph, GraphvizNotFoundError

PICTURES: dict[str, list[str]] = {
    "seed_cnn_graph.svg": ["--model", "seed", "--modules"],
    "seed_forward.svg": ["--model", "seed"],
    "seed_backward.svg": ["--model", "seed", "--direction", "backward"],
    "seed_values.svg": ["--model", "seed", "--values"],
    "lenet_modules.svg": ["--model", "lenet", "--modules", "--batch-size", "2"],
    "lenet_collapsed.svg": ["--model", "lenet", "--collapse", "--batch-size", "2"],
}


def alerts_graph() -> Graph:
    """A two-layer net whose ReLU is dead (bias -100) and whose extra term is ``sqrt(-1)``.

    After backward, ``w1``, ``b1`` and ``w2`` have all-zero gradients (dead) and the NaN of
    ``sqrt(-1)`` shows in the data below it and in the gradient of ``offset``.
    """
    from tinygrad_cnn.tensor import Tensor

    rng = np.random.default_rng(0)
    x = Tensor(rng.standard_normal((4, 3)).astype(np.float32), name="x")
    w1 = Tensor(rng.standard_normal((3, 4)).astype(np.float32), requires_grad=True, name="w1")
    b1 = Tensor(np.full(4, -100.0, dtype=np.float32), requires_grad=True, name="b1")
    w2 = Tensor(rng.standard_normal((4, 1)).astype(np.float32), requires_grad=True, name="w2")
    offset = Tensor(np.array([-1.0], dtype=np.float32), requires_grad=True, name="offset")
    with np.errstate(invalid="ignore"):
        hidden = (x @ w1 + b1).relu()
        loss = (hidden @ w2 + offset.sqrt()).mean()
        loss.backward(retain_grads=True)
    return draw(loss, names={"hidden": hidden, "loss": loss}, values=True)


def write_gallery(folder: Path) -> list[Path]:
    """Render every picture into ``folder``; returns the files written."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, arguments in PICTURES.items():
        args = parse_arguments([*arguments, "--out", str(folder / name)])
        written.append(example_graph(args).render(folder / name))
    written.append(alerts_graph().render(folder / "alerts.svg"))
    return written


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m tinygrad_cnn.viz.gallery [DIR]`` (default ``docs/images``)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if len(argv) > 1:
        print("usage: python -m tinygrad_cnn.viz.gallery [DIR]", file=sys.stderr)
        return 2
    try:
        for path in write_gallery(Path(argv[0] if argv else "docs/images")):
            print(f"wrote {path}")
    except GraphvizNotFoundError as error:
        print(error, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
