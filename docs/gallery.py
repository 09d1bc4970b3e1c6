"""Regenerate the pictures of ``docs/graphs.md`` (and the tutorial's module view of the modern
CNN): ``python docs/gallery.py [DIR]`` (``make docs-images``). A docs script, not part of the
installed package.

Each picture of an example model is exactly what the command line draws with the arguments in
:data:`PICTURES` (``python -m tinygrad_cnn.viz <arguments> --out DIR/<name>``); the last one,
``alerts.svg``, is a small hand-made graph with a NaN and a dead ReLU for the values view, and
``checked.svg`` colours a small CNN with a planted wrong backward by its ``check_graph`` report,
and ``gradient_graph.svg`` (for ``docs/higher-order.md``) is the graph of a ``create_graph=True``
gradient.
Needs Graphviz's ``dot``.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from tinygrad_cnn.viz import Graph, GraphvizNotFoundError, draw
from tinygrad_cnn.viz.__main__ import example_graph, parse_arguments

PICTURES: dict[str, list[str]] = {
    "seed_cnn_graph.svg": ["--model", "seed", "--modules"],
    "seed_forward.svg": ["--model", "seed"],
    "seed_backward.svg": ["--model", "seed", "--direction", "backward"],
    "seed_values.svg": ["--model", "seed", "--values"],
    "lenet_modules.svg": ["--model", "lenet", "--modules", "--batch-size", "2"],
    "lenet_collapsed.svg": ["--model", "lenet", "--collapse", "--batch-size", "2"],
    "modern_cnn_modules.svg": ["--model", "modern", "--modules", "--batch-size", "2"],
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


def checked_graph() -> Graph:
    """A small CNN with a planted wrong backward (``bad_square`` forgets the factor 2), drawn
    with its :func:`~tinygrad_cnn.debug.check_graph` report: the wrong op is the red one."""
    from tinygrad_cnn import conv2d, cross_entropy
    from tinygrad_cnn.debug import check_graph
    from tinygrad_cnn.function import Function
    from tinygrad_cnn.tensor import Tensor

    class BadSquare(Function, register=False):
        name = "bad_square"

        def forward(self, x: np.ndarray) -> np.ndarray:
            self.x = x
            return x * x

        def backward(self, g: np.ndarray) -> tuple[np.ndarray]:
            return (g * self.x,)  # should be 2 * x

    rng = np.random.default_rng(0)
    images = Tensor(rng.standard_normal((4, 1, 8, 8)), name="images")
    weight = Tensor(rng.standard_normal((2, 1, 3, 3)), requires_grad=True, name="conv.weight")
    hidden = BadSquare.apply(conv2d(images, weight)).relu().max_pool2d(2).reshape(4, -1)
    loss = cross_entropy(hidden, np.array([0, 1, 2, 3]))
    return draw(loss, names={"loss": loss}, checks=check_graph(loss))


def gradient_graph() -> Graph:
    """The graph of ``d/dx sum(tanh(x) * w)`` taken with ``create_graph=True``: the ops of
    tanh's and mul's backwards (``mul``, ``sub``) are nodes like the forward's ``tanh``."""
    from tinygrad_cnn import grad
    from tinygrad_cnn.tensor import Tensor

    x = Tensor(np.array([0.5, -1.0, 2.0]), requires_grad=True, name="x")
    w = Tensor(np.array([1.5, 0.5, -1.0]), requires_grad=True, name="w")
    (slope,) = grad((x.tanh() * w).sum(), x, create_graph=True)
    return draw(slope, names={"d loss / dx": slope})


def write_gallery(folder: Path) -> list[Path]:
    """Render every picture into ``folder``; returns the files written."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, arguments in PICTURES.items():
        args = parse_arguments([*arguments, "--out", str(folder / name)])
        written.append(example_graph(args).render(folder / name))
    written.append(alerts_graph().render(folder / "alerts.svg"))
    written.append(checked_graph().render(folder / "checked.svg"))
    written.append(gradient_graph().render(folder / "gradient_graph.svg"))
    return written


def main(argv: Sequence[str] | None = None) -> int:
    """``python docs/gallery.py [DIR]`` (default ``docs/images``)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if len(argv) > 1:
        print("usage: python docs/gallery.py [DIR]", file=sys.stderr)
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
