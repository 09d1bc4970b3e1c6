"""Train a CNN on MNIST with tinygrad_cnn, then show what it learned.

The seed notebook's network, declared as composed Tensor ops instead of hand-written
per-layer backprop (``--model seed``), a LeNet-style CNN (``--model lenet``), or a modern
small CNN (``--model modern``: conv-BatchNorm-ReLU blocks, dropout, torchvision's MNIST
normalisation, digits shifted by up to 2 pixels, label smoothing, AdamW with a one-cycle
learning rate)::

    python examples/mnist.py                          # lenet, 2 epochs (what `make run` does)
    python examples/mnist.py --model seed --epochs 1  # the notebook's network, minibatch SGD
    python examples/mnist.py --model modern           # 5 epochs, >= 99.4 % on MNIST
    python examples/mnist.py --limit 2000 --out /tmp/run   # a quick look
    python examples/mnist.py --threads 1              # one BLAS thread, fixed

BLAS threads: by default (``--threads auto``) a ``BlasThreadTuner`` times the training steps
and runs them on the fastest thread count lately measured: all cores on an idle machine, fewer
while other jobs keep the cores busy (``docs/performance.md``). Memory: on Linux with glibc,
``tinygrad_cnn.malloc_tuning.keep_freed_memory()`` keeps the memory a step frees for the next
step, so that the steps do not page-fault their arrays in again (9 % of a small-batch
step; ``--no-keep-freed-memory`` leaves malloc alone).

Writes to ``--out``: ``checkpoint.safetensors`` (a training checkpoint, replaced after every
epoch), then at the end ``graph.svg`` (the model's computation graph; ``graph.dot`` beside
it, and alone when Graphviz's ``dot`` is missing), ``curves.png`` (loss and accuracy per step),
``filters.png`` (the learned first-layer filters), ``confusion.png`` (test confusion matrix),
``model.safetensors`` (the trained parameters, loadable by PyTorch) and ``metrics.json``.
The PNGs need matplotlib (the ``examples`` or ``plot`` extra); without it they are skipped,
and the script says so. With the ``onnx`` extra it also writes ``model.onnx`` (the
trained model for onnxruntime; batch axis ``N``).

Stopping and resuming: Ctrl-C finishes the current step, saves ``checkpoint.safetensors``,
prints the one command that resumes (the same options plus ``--resume PATH``) and exits with
status 130. The resumed run continues bit-identically: same parameters, optimizer state, data
order and learning-rate schedule as a run that never stopped.

Every file is written atomically (complete or absent). A new run first removes the files an
earlier run wrote into ``--out`` (only the names above), so an interrupted run never leaves its
files mixed with an earlier run's; a resumed run keeps the checkpoint it resumes from.

Without MNIST on disk and without network, it trains on synthetic stroke-drawn digits
instead, and says so loudly.
"""

from __future__ import annotations

import argparse
import copy
import itertools
import json
import os
import shlex
import signal
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

try:
    from tqdm import tqdm
except ImportError:  # the core package does not need tqdm; the `examples` extra brings it
    sys.exit("examples/mnist.py needs tqdm: pip install 'tinygrad_cnn[examples]'")

from tinygrad_cnn import Tensor, checkpoint, cross_entropy, manual_seed, no_grad
from tinygrad_cnn.atomic import write_atomically
from tinygrad_cnn.blas_threads import BlasThreadTuner
from tinygrad_cnn.data import BatchLoader, load_mnist, normalize_images, synthetic_digits
from tinygrad_cnn.data.transforms import RandomCrop, mnist_transform
from tinygrad_cnn.malloc_tuning import keep_freed_memory
from tinygrad_cnn.models import build_model
from tinygrad_cnn.nn import Module, functional
from tinygrad_cnn.optim import SGD, Adam, AdamW, Optimizer
from tinygrad_cnn.optim.lr_scheduler import LRScheduler, OneCycleLR
from tinygrad_cnn.viz import draw

# Per model: its training recipe. The seed model is the notebook's network trained with
# minibatch SGD (momentum 0.9); LeNet uses Adam; both follow a cosine learning-rate decay
# (applied here, step by step) on the notebook's input scaling ``pixels / 255 - 0.5``. The
# modern CNN uses AdamW under OneCycleLR (``lr`` is its peak, ``max_lr``) on torchvision's
# MNIST normalisation ``(pixels / 255 - 0.1307) / 0.3081``, with two regularisers that
# gave it its margin over 99.4 % in 5 epochs (docs/tutorial.md): every training image shifted
# by up to ``shift`` pixels (``RandomCrop(28, padding=shift)``, its own shift per image) and
# label smoothing. The first four keys are the command line's defaults.
DEFAULTS = {
    "seed": {
        "optimizer": "sgd", "lr": 0.02, "batch_size": 32, "epochs": 1,
        "schedule": "cosine", "normalization": "notebook", "shift": 0, "label_smoothing": 0.0,
    },
    "lenet": {
        "optimizer": "adam", "lr": 1e-3, "batch_size": 64, "epochs": 2,
        "schedule": "cosine", "normalization": "notebook", "shift": 0, "label_smoothing": 0.0,
    },
    "modern": {
        "optimizer": "adamw", "lr": 3e-3, "batch_size": 128, "epochs": 5,
        "schedule": "onecycle", "normalization": "mnist", "shift": 2, "label_smoothing": 0.1,
    },
}  # fmt: skip
OPTIONS = ("optimizer", "lr", "batch_size", "epochs")

CHECKPOINT = "checkpoint.safetensors"
# Every file a run writes into --out (model.npz: what runs before safetensors wrote). A new
# run removes these first, so its files are never mixed with an earlier run's.
OUTPUTS = (
    CHECKPOINT,
    "graph.svg",
    "graph.dot",
    "curves.png",
    "filters.png",
    "confusion.png",
    "model.safetensors",
    "model.npz",
    "model.onnx",
    "metrics.json",
)
# The options that define a run: a resumed run must be given the same ones.
SETTINGS = ("model", "epochs", "batch_size", "lr", "seed", "limit")


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


@dataclass
class Progress:
    """Where a run is: what a training checkpoint saves besides the model and optimizer.

    ``epoch`` counts completed epochs, ``batch`` the batches done in the current one, ``step``
    all steps done; ``seconds`` (the steps alone: forward, loss, backward, optimizer) and
    ``images`` measure training speed, ``loop_seconds`` the whole loop over the batches (the
    steps plus batching, accuracy, history and progress bar; not the checkpoints).
    """

    epoch: int = 0
    batch: int = 0
    step: int = 0
    images: int = 0
    seconds: float = 0.0
    loop_seconds: float = 0.0
    history: History = field(default_factory=History)


class RunInterruptedError(Exception):
    """Ctrl-C during training, raised once the checkpoint is saved; says where the run was."""


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
    parser.add_argument(
        "--threads",
        type=thread_setting,
        default="auto",
        help="BLAS threads for the run: a count, or auto (default): chosen from measured step "
        "times by tinygrad_cnn.blas_threads.BlasThreadTuner, which moves to fewer threads "
        "while other jobs keep the cores busy",
    )
    parser.add_argument(
        "--keep-freed-memory",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="keep freed memory for the next steps (glibc's malloc; default: yes)",
    )
    parser.add_argument(
        "--resume",
        metavar="PATH",
        help="continue the run saved in this training checkpoint (give the same options)",
    )
    args = parser.parse_args(argv)
    for key in OPTIONS:
        value = DEFAULTS[args.model][key]
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
    """SGD with momentum for the seed model, Adam for LeNet, AdamW for the modern CNN (see
    ``DEFAULTS``)."""
    kind = DEFAULTS[args.model]["optimizer"]
    if kind == "sgd":
        return SGD(model.parameters(), lr=args.lr, momentum=0.9)
    if kind == "adamw":
        return AdamW(model.parameters(), lr=args.lr, weight_decay=1e-2)
    return Adam(model.parameters(), lr=args.lr)


def make_scheduler(
    optimizer: Optimizer, args: argparse.Namespace, steps_per_epoch: int
) -> LRScheduler | None:
    """The model's learning-rate scheduler, stepped once per batch: ``OneCycleLR`` peaking at
    ``args.lr`` for the modern CNN; None for the others (their cosine is set by
    :func:`train` itself, see :func:`cosine_learning_rate`)."""
    if DEFAULTS[args.model]["schedule"] != "onecycle":
        return None
    return OneCycleLR(optimizer, max_lr=args.lr, total_steps=args.epochs * steps_per_epoch)


def preprocess(images: np.ndarray, model_name: str) -> np.ndarray:
    """uint8 images ``(N, 28, 28)`` or ``(N, 1, 28, 28)`` to the float32 ``(N, 1, 28, 28)``
    input of ``model_name``: torchvision's MNIST normalisation for the modern CNN, the
    notebook's ``pixels / 255 - 0.5`` for the others."""
    if DEFAULTS[model_name]["normalization"] == "mnist":
        return mnist_transform()(images[:, None] if images.ndim == 3 else images)
    return normalize_images(images)


def cosine_learning_rate(base_lr: float, step: int, total_steps: int) -> float:
    """Cosine annealing from ``base_lr`` at step 0 to 0 after ``total_steps`` steps."""
    return 0.5 * base_lr * (1 + np.cos(np.pi * step / total_steps))


def batches(
    images: np.ndarray,
    labels: np.ndarray,
    batch_size: int,
    rng: np.random.Generator,
    skip: int,
    model_name: str = "lenet",
    shift_seed: tuple[int, int] = (0, 0),
) -> BatchLoader:
    """One epoch in the order ``rng`` draws (one permutation), without its first ``skip``
    batches (the ones a resumed run has already done), preprocessed for ``model_name``.

    Where the model's recipe shifts images (``DEFAULTS[...]["shift"]``), batch ``i`` of the
    epoch draws its shifts from a generator seeded with ``(*shift_seed, i)`` (the run's seed
    and the epoch): a resumed run gives each batch the same shifts as a run that never
    stopped, without replaying the batches it skips.
    """
    order = rng.permutation(len(labels))[skip * batch_size :]
    shift = DEFAULTS[model_name]["shift"]
    batch_index = itertools.count(skip)

    def transform(batch: np.ndarray) -> np.ndarray:
        if shift:
            generator = np.random.default_rng([*shift_seed, next(batch_index)])
            batch = RandomCrop(28, padding=shift, generator=generator)(batch)
        return preprocess(batch, model_name)

    return BatchLoader(images[order], labels[order], batch_size, shuffle=False, transform=transform)


@contextmanager
def stop_requests() -> Iterator[dict[str, bool]]:
    """While active, the first Ctrl-C only sets ``["stop"]`` (checked between steps, so a
    step is never cut in half); a second one interrupts at once."""
    requested = {"stop": False}

    def handler(signum: int, frame: object) -> None:
        if requested["stop"]:
            raise KeyboardInterrupt
        requested["stop"] = True

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield requested
    finally:
        signal.signal(signal.SIGINT, previous)


def save_checkpoint(
    path: Path,
    model: Module,
    optimizer: Optimizer,
    rng: np.random.Generator,
    progress: Progress,
    args: argparse.Namespace,
    scheduler: LRScheduler | None = None,
) -> None:
    """A training checkpoint: ``rng`` is the data-order generator as it was at the start of
    epoch ``progress.epoch`` (the resumed run draws that epoch's order again); ``scheduler``
    the learning-rate scheduler, if the model has one."""
    extra = {
        "settings": {name: getattr(args, name) for name in SETTINGS},
        "progress": {k: v for k, v in asdict(progress).items() if k != "history"},
        "history": asdict(progress.history),
    }
    checkpoint.save_training(
        path,
        model=model,
        optimizer=optimizer,
        step=progress.step,
        epoch=progress.epoch,
        rng=rng,
        extra=extra,
        scheduler=scheduler,
    )


def resume(
    path: Path,
    model: Module,
    optimizer: Optimizer,
    rng: np.random.Generator,
    args: argparse.Namespace,
    scheduler: LRScheduler | None = None,
) -> Progress:
    """Load a checkpoint of this example; the options must be the ones it was saved with."""
    extra = checkpoint.load_training(path, model, optimizer, rng=rng, scheduler=scheduler)["extra"]
    saved = extra["settings"]
    differ = [
        f"--{name.replace('_', '-')} {saved[name]} (given {getattr(args, name)})"
        for name in SETTINGS
        if saved[name] != getattr(args, name)
    ]
    if differ:
        raise SystemExit(
            f"--resume {path}: the checkpoint was saved with other options: {', '.join(differ)}"
        )
    return Progress(**extra["progress"], history=History(**extra["history"]))


def train(
    model: Module,
    optimizer: Optimizer,
    images: np.ndarray,
    labels: np.ndarray,
    args: argparse.Namespace,
    rng: np.random.Generator,
    progress: Progress,
    checkpoint_path: Path,
    scheduler: LRScheduler | None = None,
    tuner: BlasThreadTuner | None = None,
) -> Progress:
    """Minibatch training with a tqdm bar per epoch, from ``progress`` on.

    The learning rate follows ``scheduler`` (stepped after every optimizer step) or, without
    one, a cosine from ``args.lr`` down to 0 over the whole run; each epoch's order is a
    permutation drawn from ``rng``. With a ``tuner``, each step runs inside ``tuner.step()``.
    A checkpoint is saved after every epoch and, on Ctrl-C, after the current step (then
    :class:`RunInterruptedError` is raised).
    """
    steps_per_epoch = -(-len(labels) // args.batch_size)
    total_steps = args.epochs * steps_per_epoch
    label_smoothing = DEFAULTS[args.model]["label_smoothing"]
    model.train()
    with stop_requests() as requested:
        for epoch in range(progress.epoch, args.epochs):
            epoch_start = copy.deepcopy(rng)
            loader = batches(
                images,
                labels,
                args.batch_size,
                rng,
                skip=progress.batch,
                model_name=args.model,
                shift_seed=(args.seed, epoch),
            )
            bar = tqdm(
                loader,
                desc=f"epoch {epoch + 1}/{args.epochs}",
                unit="batch",
                leave=True,
                total=steps_per_epoch,
                initial=progress.batch,
            )
            running_loss, running_accuracy = None, None
            loop_clock = time.perf_counter()
            for x, y in bar:
                if scheduler is None:
                    for group in optimizer.param_groups:
                        group["lr"] = cosine_learning_rate(args.lr, progress.step, total_steps)
                start = time.perf_counter()
                with tuner.step() if tuner is not None else nullcontext():
                    logits = model(x)
                    loss = functional.cross_entropy(logits, y, label_smoothing=label_smoothing)
                    optimizer.zero_grad()
                    loss.backward()
                    optimizer.step()
                if scheduler is not None:
                    scheduler.step()
                progress.seconds += time.perf_counter() - start
                progress.images += len(y)
                progress.step += 1
                progress.batch += 1
                loss_value = loss.item()
                accuracy = (logits.argmax(dim=1) == y).float().mean().item()
                progress.history.loss.append(loss_value)
                progress.history.accuracy.append(accuracy)
                running_loss = _running_mean(running_loss, loss_value)
                running_accuracy = _running_mean(running_accuracy, accuracy)
                # refresh=False: the bar redraws on its own clock, not at every step
                bar.set_postfix(
                    loss=f"{running_loss:.3f}", acc=f"{running_accuracy:.1%}", refresh=False
                )
                progress.loop_seconds += time.perf_counter() - loop_clock
                loop_clock = time.perf_counter()
                if requested["stop"] and progress.batch < steps_per_epoch:
                    bar.close()
                    save_checkpoint(
                        checkpoint_path, model, optimizer, epoch_start, progress, args, scheduler
                    )
                    raise RunInterruptedError(f"epoch {epoch + 1}, step {progress.step}")
            bar.close()
            progress.epoch, progress.batch = epoch + 1, 0
            save_checkpoint(checkpoint_path, model, optimizer, rng, progress, args, scheduler)
            if requested["stop"]:
                raise RunInterruptedError(f"the end of epoch {epoch + 1}, step {progress.step}")
    return progress


def _running_mean(previous: float | None, value: float) -> float:
    """An exponential moving average over about the last 50 steps, for the progress bar."""
    return value if previous is None else 0.98 * previous + 0.02 * value


def evaluate(
    model: Module, images: np.ndarray, labels: np.ndarray, model_name: str = "lenet"
) -> tuple[float, float, np.ndarray]:
    """Test loss, accuracy and the 10 x 10 confusion matrix (rows: true, columns: predicted),
    in evaluation mode (``model.eval()``: BatchNorm's running statistics, no dropout)."""
    model.eval()
    total_loss, confusion = 0.0, np.zeros((10, 10), dtype=np.int64)
    with no_grad():
        for start in range(0, len(labels), 1000):
            x = Tensor(preprocess(images[start : start + 1000], model_name))
            y = labels[start : start + 1000]
            logits = model(x)
            total_loss += cross_entropy(logits, y, reduction="sum").item()
            np.add.at(confusion, (y, logits.argmax(dim=1).numpy()), 1)
    return total_loss / len(labels), float(np.trace(confusion) / len(labels)), confusion


def write_graph(
    model: Module, images: np.ndarray, labels: np.ndarray, out: Path, model_name: str = "lenet"
) -> list[str]:
    """Draw one forward/backward of the model on 8 images (in the model's current mode);
    returns the files written."""
    x = Tensor(preprocess(images[:8], model_name))
    loss = cross_entropy(model(x), labels[:8])
    loss.backward(retain_grads=True)
    graph = draw(loss, model=model, modules=True, values=True)
    model.zero_grad()
    write_atomically(out / "graph.dot", lambda handle: handle.write(graph.source.encode()))
    import graphviz

    try:
        svg = graph.digraph.pipe(format="svg")
    except graphviz.ExecutableNotFound:
        print(
            "note: Graphviz's `dot` is not installed: wrote graph.dot, not graph.svg "
            "(render it with `dot -Tsvg graph.dot -o graph.svg`)",
            file=sys.stderr,
        )
        return [str(out / "graph.dot")]
    write_atomically(out / "graph.svg", lambda handle: handle.write(svg))
    return [str(out / "graph.svg"), str(out / "graph.dot")]


def write_onnx(
    model: Module, images: np.ndarray, out: Path, model_name: str = "lenet"
) -> list[str]:
    """The trained model as ``model.onnx`` (batch axis ``N``), when the onnx extra is there."""
    try:
        from tinygrad_cnn.onnx import export
    except ImportError:
        print("note: model.onnx skipped (pip install 'tinygrad_cnn[onnx]')", file=sys.stderr)
        return []
    export(model, preprocess(images[:1], model_name), out / "model.onnx")
    return [str(out / "model.onnx")]


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
    write_atomically(path, lambda handle: fig.savefig(handle, format="png", dpi=110))
    plt.close(fig)
    return str(path)


def clear_previous_run(out: Path, keep: Path | None) -> list[str]:
    """Remove the files of :data:`OUTPUTS` from ``out`` (except ``keep``); returns their names."""
    removed = []
    for name in OUTPUTS:
        path = out / name
        if path.is_file() and (keep is None or not path.samefile(keep)):
            path.unlink()
            removed.append(name)
    return removed


def resume_command(argv: list[str], path: Path) -> str:
    """The command line that resumes this run: the same options, then ``--resume path``."""
    options, skip = [], False
    for arg in argv:
        if skip or arg.startswith("--resume="):
            skip = False
            continue
        if arg == "--resume":
            skip = True
            continue
        options.append(arg)
    script = (
        os.path.relpath(__file__) if not os.path.relpath(__file__).startswith("..") else __file__
    )
    return shlex.join([sys.executable, script, *options, "--resume", str(path)])


def main(argv: list[str] | None = None) -> dict:
    """Run the example; returns the metrics it also writes to ``metrics.json``.

    Raises ``SystemExit(130)`` after Ctrl-C, once the checkpoint is saved and the command
    that resumes is printed.
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    resume_path = Path(args.resume) if args.resume else None
    if resume_path is not None and not resume_path.is_file():
        raise SystemExit(f"--resume {resume_path}: no such file")
    removed = clear_previous_run(out, keep=resume_path)
    if removed and resume_path is None:
        print(f"note: removed the previous run's files from {out}: {', '.join(removed)}")
    checkpoint_path = out / CHECKPOINT
    args.kept_freed_memory = args.keep_freed_memory and keep_freed_memory()
    try:
        with blas_threads(args.threads) as tuner:
            return run(args, out, resume_path, tuner)
    except (RunInterruptedError, KeyboardInterrupt) as stop:
        latest = checkpoint_path if checkpoint_path.is_file() else resume_path
        if latest is None:
            print("interrupted before the first checkpoint of this run; nothing to resume")
        else:
            where = f" at {stop}" if isinstance(stop, RunInterruptedError) else ""
            print(
                f"interrupted{where}: checkpoint {latest}; resume with: "
                f"{resume_command(argv, latest)}"
            )
        raise SystemExit(130) from None


def thread_setting(text: str) -> int | str:
    """``--threads``: ``auto`` or a positive count."""
    if text == "auto":
        return text
    if not text.isdigit() or int(text) <= 0:
        raise argparse.ArgumentTypeError(f"expected auto or a positive count, got {text!r}")
    return int(text)


@contextmanager
def blas_threads(setting: int | str) -> Iterator[BlasThreadTuner | None]:
    """numpy's BLAS on ``setting`` threads while active (threadpoolctl), or for ``"auto"`` a
    :class:`BlasThreadTuner` that picks the count from step times (yielded; None otherwise).
    The count must be set at run time: numpy has already started its BLAS."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        if setting == "auto":
            print("note: threadpoolctl is not installed: BLAS threads left as they are")
            yield None
            return
        raise SystemExit(
            "--threads needs threadpoolctl: pip install 'tinygrad_cnn[examples]'"
        ) from None
    if setting == "auto":
        with BlasThreadTuner() as tuner:
            yield tuner
    else:
        with threadpool_limits(limits=setting, user_api="blas"):
            yield None


def run(
    args: argparse.Namespace,
    out: Path,
    resume_path: Path | None,
    tuner: BlasThreadTuner | None = None,
) -> dict:
    """Load the data, build, train (or resume) and finish; see :func:`main`. Each training
    step runs inside ``tuner.step()`` when a tuner is given."""
    data = load_data(args.data, download=not args.no_download, seed=args.seed)
    train_images, train_labels = data.train_images, data.train_labels
    if args.limit:
        train_images, train_labels = train_images[: args.limit], train_labels[: args.limit]

    manual_seed(args.seed)  # the default generator: dropout masks
    model = build_model(args.model, seed=args.seed)
    optimizer = make_optimizer(model, args)
    scheduler = make_scheduler(optimizer, args, -(-len(train_labels) // args.batch_size))
    rng = np.random.default_rng(args.seed)  # the data order
    progress = Progress()
    if resume_path is not None:
        progress = resume(resume_path, model, optimizer, rng, args, scheduler)
        print(f"resumed from {resume_path}: epoch {progress.epoch + 1}, step {progress.step}")
    print(
        f"{args.model}: {model.num_parameters():,} parameters, {len(train_labels):,} "
        f"{data.source} training images, batch {args.batch_size}, {args.epochs} epoch(s)"
    )
    progress = train(
        model,
        optimizer,
        train_images,
        train_labels,
        args,
        rng,
        progress,
        out / CHECKPOINT,
        scheduler,
        tuner,
    )
    return finish(model, data, train_labels, progress, args, out, tuner)


def finish(
    model: Module,
    data: Dataset,
    train_labels: np.ndarray,
    progress: Progress,
    args: argparse.Namespace,
    out: Path,
    tuner: BlasThreadTuner | None = None,
) -> dict:
    """Evaluate, write the pictures, the model and the metrics, print the summary."""
    checkpoint_path = out / CHECKPOINT
    images_per_second = progress.images / max(progress.seconds, 1e-9)
    loop_images_per_second = progress.images / max(progress.loop_seconds, 1e-9)
    test_loss, test_accuracy, confusion = evaluate(
        model, data.test_images, data.test_labels, args.model
    )

    written = [str(checkpoint_path)]
    written += write_graph(model, data.test_images, data.test_labels, out, args.model)
    written += write_plots(model, progress.history, confusion, out)
    model.save(out / "model.safetensors")
    written.append(str(out / "model.safetensors"))
    written += write_onnx(model, data.test_images, out, args.model)
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
        "train_loop_images_per_second": loop_images_per_second,
        "blas_threads": args.threads,
        "keeps_freed_memory": args.kept_freed_memory,
        "history": asdict(progress.history),
    }
    if tuner is not None:  # each probe: the step it ended at, the count chosen, step times
        metrics["blas_thread_probes"] = [
            {"step": step, "threads": count, "median_step_seconds": medians}
            for step, count, medians in tuner.choices
        ]
    text = json.dumps(metrics, indent=1)
    write_atomically(out / "metrics.json", lambda handle: handle.write(text.encode()))
    written.append(str(out / "metrics.json"))

    header = ("model", "data", "test loss", "test accuracy", "train images/s", "with data, bar")
    row = (
        args.model,
        data.source,
        f"{test_loss:.4f}",
        f"{test_accuracy:.2%}",
        f"{images_per_second:,.0f}",
        f"{loop_images_per_second:,.0f}",
    )
    widths = [max(len(h), len(v)) for h, v in zip(header, row, strict=True)]
    print()
    for cells in (header, ["-" * w for w in widths], row):
        print("| " + " | ".join(c.rjust(w) for c, w in zip(cells, widths, strict=True)) + " |")
    if tuner is not None and tuner.choices:
        counts = [count for _, count, _ in tuner.choices]
        print(
            f"\nBLAS threads chosen from step times: {counts[-1]} at the end; "
            + ", ".join(f"{n} in {counts.count(n)}" for n in sorted(set(counts), reverse=True))
            + f" of {len(counts)} probes"
        )
    print("\nwrote:\n  " + "\n  ".join(written))
    return metrics


if __name__ == "__main__":
    main()
