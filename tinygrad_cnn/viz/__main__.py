"""Command line: draw an example model's graph after one forward/backward on a random batch.

    python -m tinygrad_cnn.viz --model seed --out graph.svg
    python -m tinygrad_cnn.viz --model lenet --collapse --out lenet.png
    python -m tinygrad_cnn.viz --model seed --values --direction backward --out grads.svg

The output's name follows the rule of :meth:`Graph.render <tinygrad_cnn.viz.Graph.render>`
(:func:`~tinygrad_cnn.viz.graph.output_file`): ``.svg``, ``.png`` or ``.pdf`` is rendered with
Graphviz, ``.dot`` or ``.gv`` writes the DOT text only (no Graphviz needed), no suffix appends
``.svg``, any other suffix is refused. Exit status 0 on success, 1 when Graphviz's ``dot`` is
missing (the ``.dot`` file is still written), 2 for bad arguments.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from tinygrad_cnn.viz.builder import draw
from tinygrad_cnn.viz.drawing import DIRECTIONS, RANKDIRS, DrawOptions
from tinygrad_cnn.viz.graph import FORMATS, Graph, GraphvizNotFoundError, output_file


def parse_arguments(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line's options (see the module docstring)."""
    from tinygrad_cnn.models import MODELS

    parser = argparse.ArgumentParser(
        prog="python -m tinygrad_cnn.viz",
        description="Draw the computation graph of an example model after one "
        "forward/backward pass on a random batch.",
    )
    parser.add_argument("--model", required=True, choices=sorted(MODELS), help="which model")
    parser.add_argument(
        "--out",
        required=True,
        type=Path,
        help=f"output file: .{', .'.join(FORMATS)} (needs Graphviz's dot), .dot or .gv (DOT "
        "text); no suffix appends .svg",
    )
    parser.add_argument("--batch-size", type=int, default=4, help="images in the batch (4)")
    parser.add_argument("--seed", type=int, default=0, help="seed of weights and batch (0)")
    parser.add_argument("--direction", choices=DIRECTIONS, default="forward")
    parser.add_argument("--values", action="store_true", help="show data/gradient statistics")
    parser.add_argument("--modules", action="store_true", help="draw each layer in a box")
    parser.add_argument("--collapse", action="store_true", help="draw each layer as one node")
    parser.add_argument("--rankdir", choices=RANKDIRS, default="TB", help="layout direction")
    parser.add_argument("--max-nodes", type=int, default=1000, help="cut-off (1000)")
    parser.add_argument("--no-legend", action="store_true", help="leave the legend out")
    args = parser.parse_args(argv)
    if args.batch_size < 1:
        parser.error(f"--batch-size must be at least 1, got {args.batch_size}")
    if args.max_nodes < 1:
        parser.error(f"--max-nodes must be at least 1, got {args.max_nodes}")
    try:
        output_file(args.out, caller="--out")
    except ValueError as error:
        parser.error(str(error))
    return args


def example_graph(args: argparse.Namespace) -> Graph:
    """Build the model, run one forward/backward on a seeded random batch, and draw it."""
    from tinygrad_cnn.models import build_model
    from tinygrad_cnn.ops import cross_entropy
    from tinygrad_cnn.tensor import Tensor

    model = build_model(args.model, seed=args.seed)
    rng = np.random.default_rng(args.seed)
    images = Tensor(rng.standard_normal((args.batch_size, 1, 28, 28)).astype(np.float32))
    logits = model(images)
    loss = cross_entropy(logits, rng.integers(0, 10, args.batch_size))
    loss.backward(retain_grads=args.values)
    names = {"images": images, "labels": loss._ctx.inputs[1], "logits": logits, "loss": loss}
    options = DrawOptions(
        direction=args.direction,
        values=args.values,
        modules=args.modules,
        collapse=args.collapse,
        max_nodes=args.max_nodes,
        rankdir=args.rankdir,
        legend=not args.no_legend,
    )
    return draw(loss, model=model, names=names, options=options)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = parse_arguments(argv)
    graph = example_graph(args)
    try:
        output = graph.render(args.out)
    except GraphvizNotFoundError as error:
        print(error, file=sys.stderr)
        return 1
    if output_file(args.out)[1] == "dot":
        print(f"wrote {output}")
    else:
        print(f"wrote {output} ({graph!r})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
