"""Train a CNN on MNIST with tinygrad_cnn, then show what it learned.

The seed notebook's network, declared as composed Tensor ops instead of hand-written
per-layer backprop (``--model seed``), or a LeNet-style CNN (``--model lenet``)::

    python examples/mnist.py                          # lenet, 2 epochs (what `make run` does)
    python examples/mnist.py --model seed --epochs 1  # the notebook's network, minibatch SGD
    python examples/mnist.py --limit 2000 --out /tmp/run   # a quick look

Writes to ``--out``: ``graph.svg`` (the model's computation graph; ``graph.dot`` when
Graphviz's ``dot`` is missing), ``curves.png`` (loss and accuracy per step), ``filters.png``
(the learned first-layer filters), ``confusion.png`` (test confusion matrix),
``model.npz`` (checkpoint) and ``metrics.json``. The PNGs need matplotlib (the ``plot``
extra); without it they are skipped, and the script says so.

Without MNIST on disk and without network, it trains on synthetic stroke-drawn digits
instead, and says so loudly.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from tinygrad_cnn import Tensor, cross_entropy, no_grad
from tinygrad_cnn.data import BatchLoader, load_mnist, normalize_images, synthetic_digits
from tinygrad_cnn.models import build_model
from tinygrad_cnn.nn import Module
from tinygrad_cnn.optim import SGD, Adam, Optimizer
from tinygrad_cnn.viz import GraphvizNotFoundError, draw

# Per model: optimizer and its defaults. The seed model is the notebook's network trained
# with minibatch SGD (momentum 0.9); LeNet uses Adam. Both follow a cosine learning-rate decay.
DEFAULTS = {
    "seed": {"optimizer": "sgd", "lr": 0.02, "batch_size": 32, "epochs": 1},
    "lenet": {"optimizer": "adam", "lr": 1e-3, "batch_size": 64, "epochs": 2},
}


@dataclass
class Dataset:
    """Training and test images (uint8, (N, 28, 28)) and labels (int64, (N,))."""

    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    source: str


@dataclass
class History:
    """Per-step training loss and batch accuracy."""

    loss: list[float] = field(default_factory=list)
    accuracy: list[float] = field(default_factory=list)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line; per-model defaults fill what is not given."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", choices=sorted(DEFAULTS), default="lenet")
    parser.add_argument("--epochs", type=int, help="passes over the training set")
    parser.add_argument("--batch-size", type=int, help="images per step")
    parser.add_argument("--lr", type=float, help="learning rate")
    parser.add_argument("--seed", type=int, default=0, help="seed for weights and shuffling")
    parser.add_argument("--data", help="folder holding MNIST/raw (default: $TINYGRAD_CNN_DATA)")
    parser.add_argument("--no-download", action="store_true", help="never download MNIST")
    parser.add_argument("--out", default="runs/mnist", help="output folder")
    parser.add_argument("--limit", type=int, help="train on the first N training images only")
    args = parser.parse_args(argv)
    for key, value in DEFAULTS[args.model].items():
        if getattr(args, key, None) is None:
            setattr(args, key, value)
    for name in ("epochs", "batch_size", "limit"):
        value = getattr(args, name)
        if value is not None and value <= 0:
            parser.error(f"--{name.replace('_', '-')} must be positive, got {value}")
    if args.lr <= 0:
        parser.error(f"--lr must be positive, got {args.lr}")
    return args


def load_data(root: str | None, download: bool, seed: int) -> Dataset:
    """Real MNIST when it can be found or downloaded, else synthetic digits (said loudly)."""
    try:
        train = load_mnist(root, train=True, download=download)
        test = load_mnist(root, train=False, download=download)
        return Dataset(*train, *test, source="MNIST")
    except OSError as error:  # missing files (no download) or a failed download
        banner = "!" * 78
        print(
            f"{banner}\n  MNIST could not be loaded: {error}\n"
            "  Training on SYNTHETIC stroke-drawn digits instead: the accuracy below is NOT\n"
            "  an MNIST result. Set TINYGRAD_CNN_DATA or --data to a folder with MNIST/raw.\n"
            f"{banner}",
            file=sys.stderr,
        )
        images, labels = synthetic_digits(12_000, seed=seed)
        return Dataset(
            images[:10_000], labels[:10_000], images[10_000:], labels[10_000:], "synthetic"
        )


def make_optimizer(model: Module, args: argparse.Namespace) -> Optimizer:
    """SGD with momentum for the seed model, Adam for LeNet (see ``DEFAULTS``)."""
    if DEFAULTS[args.model]["optimizer"] == "sgd":
        return SGD(model.parameters(), lr=args.lr, momentum=0.9)
    return Adam(model.parameters(), lr=args.lr)


def cosine_learning_rate(base_lr: float, step: int, total_steps: int) -> float:
    """Cosine annealing from ``base_lr`` at step 0 to 0 after ``total_steps`` steps."""
    return 0.5 * base_lr * (1 + np.cos(np.pi * step / total_steps))


def train(
    model: Module, optimizer: Optimizer, loader: BatchLoader, epochs: int
) -> tuple[History, float]:
    """Minibatch training with a tqdm bar per epoch; returns the history and images/s.

    The learning rate follows a cosine from its initial value down to 0 over the whole run.
    """
    history, images_seen, seconds = History(), 0, 0.0
    base_lrs = [group["lr"] for group in optimizer.param_groups]
    total_steps, step = epochs * len(loader), 0
    model.train()
    for epoch in range(epochs):
        bar = tqdm(loader, desc=f"epoch {epoch + 1}/{epochs}", unit="batch", leave=True)
        running_loss, running_accuracy = None, None
        for images, labels in bar:
            for group, base_lr in zip(optimizer.param_groups, base_lrs, strict=True):
                group["lr"] = cosine_learning_rate(base_lr, step, total_steps)
            step += 1
            start = time.perf_counter()
            logits = model(images)
            loss = cross_entropy(logits, labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            seconds += time.perf_counter() - start
            images_seen += len(labels)
            loss_value = loss.item()
            accuracy = (logits.argmax(dim=1) == labels).float().mean().item()
            history.loss.append(loss_value)
            history.accuracy.append(accuracy)
            running_loss = _running_mean(running_loss, loss_value)
            running_accuracy = _running_mean(running_accuracy, accuracy)
            # refresh=False: the bar redraws on its own clock, not at every step
            bar.set_postfix(
                loss=f"{running_loss:.3f}", acc=f"{running_accuracy:.1%}", refresh=False
            )
    return history, images_seen / max(seconds, 1e-9)


def _running_mean(previous: float | None, value: float) -> float:
    """An exponential moving average over about the last 50 steps, for the progress bar."""
    return value if previous is None else 0.98 * previous + 0.02 * value


def evaluate(
    model: Module, images: np.ndarray, labels: np.ndarray
) -> tuple[float, float, np.ndarray]:
    """Test loss, accuracy and the 10 x 10 confusion matrix (rows: true, columns: predicted)."""
    model.eval()
    total_loss, confusion = 0.0, np.zeros((10, 10), dtype=np.int64)
    with no_grad():
        for start in range(0, len(labels), 1000):
            x = Tensor(normalize_images(images[start : start + 1000]))
            y = labels[start : start + 1000]
            logits = model(x)
            total_loss += cross_entropy(logits, y, reduction="sum").item()
            np.add.at(confusion, (y, logits.argmax(dim=1).numpy()), 1)
    return total_loss / len(labels), float(np.trace(confusion) / len(labels)), confusion


def write_graph(model: Module, images: np.ndarray, labels: np.ndarray, out: Path) -> str:
    """Draw one forward/backward of the model on 8 images; returns what was written."""
    x = Tensor(normalize_images(images[:8]))
    loss = cross_entropy(model(x), labels[:8])
    loss.backward(retain_grads=True)
    graph = draw(loss, model=model, modules=True, values=True)
    model.zero_grad()
    try:
        return str(graph.render(out / "graph.svg", keep_dot=True))
    except GraphvizNotFoundError as error:
        print(f"note: {error}", file=sys.stderr)
        return str(out / "graph.dot")


def write_plots(model: Module, history: History, confusion: np.ndarray, out: Path) -> list[str]:
    """Training curves, first-layer filters and the confusion matrix as PNGs (matplotlib)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print(
            "matplotlib is not installed: skipped curves.png, filters.png, confusion.png "
            "(pip install 'tinygrad_cnn[plot]')",
            file=sys.stderr,
        )
        return []
    written = []
    steps = np.arange(1, len(history.loss) + 1)
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 3.6))
    ax_loss.plot(steps, history.loss, lw=0.6, alpha=0.5, label="per step")
    ax_loss.plot(steps, _smooth(history.loss), lw=1.8, label="smoothed")
    ax_loss.set(xlabel="step", ylabel="cross-entropy", title="training loss", yscale="log")
    ax_acc.plot(steps, history.accuracy, lw=0.6, alpha=0.5, label="per step")
    ax_acc.plot(steps, _smooth(history.accuracy), lw=1.8, label="smoothed")
    ax_acc.set(xlabel="step", ylabel="batch accuracy", title="training accuracy", ylim=(0, 1.01))
    for ax in (ax_loss, ax_acc):
        ax.legend(loc="best")
        ax.grid(alpha=0.3)
    fig.tight_layout()
    written.append(_save(fig, out / "curves.png", plt))

    weight = next(model.parameters()).numpy()  # the first conv layer: (O, C, kh, kw)
    columns = min(8, len(weight))
    rows = int(np.ceil(len(weight) / columns))
    fig, axes = plt.subplots(
        rows, columns, figsize=(1.4 * columns, 1.5 * rows + 0.4), squeeze=False
    )
    limit = float(np.abs(weight).max())
    for index, ax in enumerate(axes.flat):
        ax.axis("off")
        if index < len(weight):
            ax.imshow(weight[index, 0], cmap="RdBu_r", vmin=-limit, vmax=limit)
            ax.set_title(f"filter {index}", fontsize=8)
    fig.suptitle("learned first-layer filters (red +, blue -)")
    fig.tight_layout()
    written.append(_save(fig, out / "filters.png", plt))

    fig, ax = plt.subplots(figsize=(5.6, 5))
    image = ax.imshow(confusion, cmap="Blues")
    for (true, predicted), count in np.ndenumerate(confusion):
        if count:
            color = "white" if count > confusion.max() / 2 else "black"
            ax.text(predicted, true, str(count), ha="center", va="center", fontsize=7, color=color)
    ax.set(
        xlabel="predicted",
        ylabel="true",
        xticks=range(10),
        yticks=range(10),
        title="test confusion matrix",
    )
    fig.colorbar(image, ax=ax, fraction=0.046)
    fig.tight_layout()
    written.append(_save(fig, out / "confusion.png", plt))
    return written


def _smooth(values: list[float], width: int = 50) -> np.ndarray:
    """A running mean over ``width`` steps (shorter at the start)."""
    cumulative = np.cumsum(np.insert(np.asarray(values, dtype=np.float64), 0, 0.0))
    ends = np.arange(1, len(values) + 1)
    starts = np.maximum(ends - width, 0)
    return (cumulative[ends] - cumulative[starts]) / (ends - starts)


def _save(fig: object, path: Path, plt: object) -> str:
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return str(path)


def main(argv: list[str] | None = None) -> dict:
    """Run the example; returns the metrics it also writes to ``metrics.json``."""
    args = parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    data = load_data(args.data, download=not args.no_download, seed=args.seed)
    train_images, train_labels = data.train_images, data.train_labels
    if args.limit:
        train_images, train_labels = train_images[: args.limit], train_labels[: args.limit]

    model = build_model(args.model, seed=args.seed)
    optimizer = make_optimizer(model, args)
    loader = BatchLoader(train_images, train_labels, args.batch_size, shuffle=True, seed=args.seed)
    print(
        f"{args.model}: {model.num_parameters():,} parameters, {len(train_labels):,} "
        f"{data.source} training images, batch {args.batch_size}, {args.epochs} epoch(s)"
    )
    history, images_per_second = train(model, optimizer, loader, args.epochs)
    test_loss, test_accuracy, confusion = evaluate(model, data.test_images, data.test_labels)

    written = [write_graph(model, data.test_images, data.test_labels, out)]
    written += write_plots(model, history, confusion, out)
    model.save(out / "model.npz")
    written.append(str(out / "model.npz"))
    metrics = {
        "model": args.model,
        "data": data.source,
        "train_images": len(train_labels),
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "lr": args.lr,
        "test_loss": test_loss,
        "test_accuracy": test_accuracy,
        "train_images_per_second": images_per_second,
        "history": asdict(history),
    }
    (out / "metrics.json").write_text(json.dumps(metrics, indent=1))
    written.append(str(out / "metrics.json"))

    header = ("model", "data", "test loss", "test accuracy", "train images/s")
    row = (
        args.model,
        data.source,
        f"{test_loss:.4f}",
        f"{test_accuracy:.2%}",
        f"{images_per_second:,.0f}",
    )
    widths = [max(len(h), len(v)) for h, v in zip(header, row, strict=True)]
    print()
    for cells in (header, ["-" * w for w in widths], row):
        print("| " + " | ".join(c.rjust(w) for c, w in zip(cells, widths, strict=True)) + " |")
    print("\nwrote:\n  " + "\n  ".join(written))
    return metrics


if __name__ == "__main__":
    main()
