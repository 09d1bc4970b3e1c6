"""Command line: draw a model's graph after one forward/backward on a random batch.

    python -m tinygrad_cnn.viz --model seed --out graph.svg
    python -m tinygrad_cnn.viz --model lenet --collapse --out lenet.png
    python -m tinygrad_cnn.viz --model seed --values --direction backward --out grads.svg
    python -m tinygrad_cnn.viz --model mypkg.nets:build --input-shape 3,32,32 --out net.svg
    python -m tinygrad_cnn.viz --model lenet --weights run/model.npz --values --out v.svg

``--model`` is a built-in model (``seed``, ``lenet``, ``modern``: the loss is ``cross_entropy``
on random labels) or ``module:factory``, a callable taking no arguments that returns a Module or a
``(Module, example input)`` tuple (the graph then ends at the model's output, and backward
starts from a gradient of ones). The input: a random batch of ``--batch-size`` samples of
``--input-shape`` when given; else the example input the factory returned; else the module's
``example_input`` (an array or Tensor, or a callable taking the batch size). ``--weights``
loads a checkpoint with :meth:`Module.load <tinygrad_cnn.nn.Module.load>` before drawing.

The output's name follows the rule of :meth:`Graph.render <tinygrad_cnn.viz.Graph.render>`
(:func:`~tinygrad_cnn.viz.graph.output_file`): ``.svg``, ``.png`` or ``.pdf`` is rendered with
Graphviz, ``.dot`` or ``.gv`` writes the DOT text only (no Graphviz needed), no suffix appends
``.svg``, any other suffix is refused. Exit status 0 on success, 1 when Graphviz's ``dot`` is
missing (the ``.dot`` file is still written), 2 for bad arguments (a factory that cannot be
imported or returns no Module, a checkpoint that does not fit the model ...).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tinygrad_cnn.viz.builder import draw
from tinygrad_cnn.viz.drawing import DIRECTIONS, RANKDIRS, DrawOptions
from tinygrad_cnn.viz.graph import FORMATS, Graph, GraphvizNotFoundError, output_file


def parse_arguments(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line's options (see the module docstring)."""
    from tinygrad_cnn.models import MODELS

    parser = argparse.ArgumentParser(
        prog="python -m tinygrad_cnn.viz",
        description="Draw the computation graph of a model after one forward/backward pass "
        "on a random batch.",
    )
    parser.add_argument(
        "--model",
        required=True,
        help=f"a built-in model ({', '.join(sorted(MODELS))}) or module:factory, a callable "
        "returning a Module or (Module, example input)",
    )
    parser.add_argument(
        "--weights", type=Path, help="a checkpoint to load into the model (Module.load)"
    )
    parser.add_argument(
        "--input-shape",
        type=_input_shape,
        help="module:factory models: shape of one input sample, e.g. 3,32,32 (the batch axis "
        "is added)",
    )
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
    if args.model not in MODELS and ":" not in args.model:
        parser.error(
            f"--model: unknown model {args.model!r}: choose {', '.join(sorted(MODELS))} or "
            "give module:factory"
        )
    if args.model in MODELS and args.input_shape is not None:
        parser.error(f"--input-shape is for module:factory models; {args.model} takes 1,28,28")
    try:
        output_file(args.out, caller="--out")
    except ValueError as error:
        parser.error(str(error))
    return args


def _input_shape(text: str) -> tuple[int, ...]:
    """``"1,28,28"`` -> ``(1, 28, 28)`` (argparse type: positive integers, comma-separated)."""
    try:
        shape = tuple(int(part) for part in text.split(","))
    except ValueError:
        shape = ()
    if not shape or min(shape) < 1:
        raise argparse.ArgumentTypeError(
            f"expected positive integers separated by commas (e.g. 1,28,28), got {text!r}"
        )
    return shape


class ModelSpecError(ValueError):
    """``--model``, ``--weights`` or the example input cannot give a model to draw."""


@dataclass
class LoadedModel:
    """The model to draw and its example input (None until one is chosen)."""

    model: Any
    example: Any


def load_factory(spec: str) -> Callable[[], Any]:
    """The callable named by ``module:attribute`` (the attribute may be dotted)."""
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise ModelSpecError(f"--model: expected module:factory, got {spec!r}")
    try:
        target: Any = importlib.import_module(module_name)
    except ImportError as error:
        raise ModelSpecError(f"--model: cannot import {module_name!r}: {error}") from None
    for part in attribute.split("."):
        if not hasattr(target, part):
            raise ModelSpecError(f"--model: {module_name!r} has no attribute {attribute!r}")
        target = getattr(target, part)
    if not callable(target):
        raise ModelSpecError(f"--model: {spec!r} is a {type(target).__name__}, not a callable")
    return target


def load_model(args: argparse.Namespace) -> LoadedModel:
    """The model named by ``--model`` (with ``--weights`` loaded) and its example input."""
    from tinygrad_cnn.models import MODELS, build_model
    from tinygrad_cnn.nn import Module

    if args.model in MODELS:
        loaded = LoadedModel(build_model(args.model, seed=args.seed), None)
    else:
        made = load_factory(args.model)()
        if isinstance(made, tuple) and len(made) == 2 and isinstance(made[0], Module):
            loaded = LoadedModel(*made)
        elif isinstance(made, Module):
            loaded = LoadedModel(made, None)
        else:
            raise ModelSpecError(
                f"--model: {args.model} returned {type(made).__name__}; expected a Module or "
                "a (Module, example input) tuple"
            )
    if args.weights is not None:
        try:
            loaded.model.load(args.weights)
        except (OSError, ValueError, TypeError) as error:
            raise ModelSpecError(f"--weights: {error}") from None
    return loaded


def example_input(loaded: LoadedModel, args: argparse.Namespace, rng: np.random.Generator) -> Any:
    """The batch to run: from ``--input-shape``, the factory, or ``model.example_input``."""
    from tinygrad_cnn.tensor import Tensor

    if args.input_shape is not None:
        dtype = next((p.dtype for p in loaded.model.parameters()), np.dtype(np.float32))
        shape = (args.batch_size, *args.input_shape)
        return Tensor(rng.standard_normal(shape).astype(dtype))
    example = loaded.example
    if example is None:
        example = getattr(loaded.model, "example_input", None)
        if callable(example):
            example = example(args.batch_size)
    if example is None:
        raise ModelSpecError(
            f"{args.model}: no example input: give --input-shape (e.g. 1,28,28), return "
            "(module, example input) from the factory, or give the module an example_input"
        )
    if isinstance(example, Tensor):
        return example
    try:
        return Tensor(np.asarray(example))
    except (TypeError, ValueError) as error:
        raise ModelSpecError(f"{args.model}: the example input is not an array: {error}") from None


def example_graph(args: argparse.Namespace) -> Graph:
    """Build the model, run one forward/backward on a seeded random batch, and draw it."""
    from tinygrad_cnn.models import MODELS
    from tinygrad_cnn.ops import cross_entropy
    from tinygrad_cnn.tensor import Tensor

    loaded = load_model(args)
    model = loaded.model
    rng = np.random.default_rng(args.seed)
    if args.model in MODELS:
        images = Tensor(rng.standard_normal((args.batch_size, 1, 28, 28)).astype(np.float32))
        logits = model(images)
        loss = cross_entropy(logits, rng.integers(0, 10, args.batch_size))
        loss.backward(retain_grads=args.values)
        root = loss
        names = {"images": images, "labels": loss._ctx.inputs[1], "logits": logits, "loss": loss}
    else:
        inputs = example_input(loaded, args, rng)
        root = model(inputs)
        if not isinstance(root, Tensor):
            raise ModelSpecError(
                f"{args.model}: the model returned {type(root).__name__}, expected a Tensor"
            )
        if root.requires_grad:
            root.backward(np.ones_like(root.data), retain_grads=args.values)
        names = {"input": inputs, "output": root}
    options = DrawOptions(
        direction=args.direction,
        values=args.values,
        modules=args.modules,
        collapse=args.collapse,
        max_nodes=args.max_nodes,
        rankdir=args.rankdir,
        legend=not args.no_legend,
    )
    return draw(root, model=model, names=names, options=options)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = parse_arguments(argv)
    try:
        graph = example_graph(args)
    except ModelSpecError as error:
        print(f"python -m tinygrad_cnn.viz: error: {error}", file=sys.stderr)
        return 2
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
