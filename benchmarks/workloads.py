"""The work the benchmark times, defined once for both frameworks: the table ``WORKLOADS``.

A workload names a network (``NETS``: its input shape and its layers, as a small spec that
builds the same ``Sequential`` in tinygrad_cnn and in PyTorch), a batch size, what one step
does (``train``: forward, loss, ``zero_grad``, backward, optimizer step; ``infer``: forward
under ``no_grad``; ``step``: the optimizer's ``step()`` alone) and an optimizer (``OPTIMIZERS``:
the same class name and arguments in both libraries). Adding a workload is one entry in
``WORKLOADS`` (and, for a new network, one in ``NETS``).

Both frameworks get identical math: the same architecture, the same initial weights
(PyTorch's are copied from the tinygrad_cnn model), the same batches (float32 NCHW images,
int64 labels), the same loss (mean softmax cross-entropy) and the same optimizer settings.
``seed`` and ``lenet`` are the library's own models (``tinygrad_cnn.models``).

Every builder imports its framework lazily, so a process that measures one framework's peak
memory (``benchmarks/peak_memory.py``) loads only numpy and that framework.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

Batch = tuple[np.ndarray, np.ndarray]
Trainer = Callable[[list[Batch]], float]

REPO_ROOT = Path(__file__).resolve().parent.parent
FRAMEWORKS = ("tinygrad_cnn", "torch")
POOL_BATCHES = 4  # distinct batches a worker cycles through
STEP_PARAMETERS = (4, 1000, 1000)  # the step-alone workloads: 4 tensors of 1M float32

# A network: (input shape of one image, layers). A layer is ("conv", in, out, kernel,
# padding, bias), ("linear", in, out), ("relu",) (in place, as in torchvision), ("pool", k)
# (max pool k x k), or ("flatten",).
NETS: dict[str, tuple[tuple[int, ...], tuple[tuple[Any, ...], ...]]] = {
    "seed": ((1, 28, 28), (
        ("conv", 1, 3, 8, 0, False), ("pool", 2), ("flatten",), ("linear", 300, 10),
    )),
    "lenet": ((1, 28, 28), (
        ("conv", 1, 32, 3, 0, True), ("relu",), ("pool", 2),
        ("conv", 32, 64, 3, 0, True), ("relu",), ("pool", 2),
        ("flatten",), ("linear", 1600, 128), ("relu",), ("linear", 128, 10),
    )),
    "mlp": ((1, 28, 28), (
        ("flatten",), ("linear", 784, 512), ("relu",), ("linear", 512, 512), ("relu",),
        ("linear", 512, 10),
    )),
    "cifar_cnn": ((3, 32, 32), (
        ("conv", 3, 32, 3, 1, True), ("relu",), ("pool", 2),
        ("conv", 32, 64, 3, 1, True), ("relu",), ("pool", 2),
        ("conv", 64, 64, 3, 1, True), ("relu",), ("pool", 2),
        ("flatten",), ("linear", 1024, 10),
    )),
}  # fmt: skip
MODEL_NAMES = tuple(NETS)  # the networks op_profile.py and peak_memory.py accept

# class name in tinygrad_cnn.optim and in torch.optim, and its arguments
OPTIMIZERS: dict[str, tuple[str, dict[str, Any]]] = {
    "sgd": ("SGD", {"lr": 0.01, "momentum": 0.9}),
    "adam": ("Adam", {"lr": 1e-3}),
}


@dataclass(frozen=True)
class Workload:
    """One benchmarked workload: what a step does, on which network, batch and optimizer.

    ``net`` is a key of ``NETS`` (None for ``mode="step"``, whose parameters are
    ``STEP_PARAMETERS``); ``batch_size`` is 0 for ``mode="step"``. Throughput is counted in
    images (``batch_size`` per step) or, for ``mode="step"``, in optimizer steps.
    """

    name: str
    what: str
    net: str | None
    batch_size: int
    mode: str = "train"
    optimizer: str = "sgd"

    @property
    def unit(self) -> str:
        return "steps" if self.mode == "step" else "images"

    @property
    def work_per_step(self) -> int:
        return 1 if self.mode == "step" else self.batch_size


WORKLOADS: dict[str, Workload] = {
    w.name: w
    for w in (
        Workload("seed", "the seed notebook's CNN, SGD with momentum", "seed", 32),
        Workload("lenet", "LeNet-style CNN, SGD with momentum", "lenet", 64),
        Workload("lenet_b8", "LeNet at a small batch", "lenet", 8),
        Workload("lenet_b256", "LeNet at a large batch", "lenet", 256),
        Workload("lenet_infer", "LeNet forward under no_grad", "lenet", 256, mode="infer"),
        Workload("mlp_adam", "784-512-512-10 MLP, Adam", "mlp", 128, optimizer="adam"),
        Workload("cifar_cnn", "3x32x32 CNN: 3 padded 3x3 convs (32, 64, 64)", "cifar_cnn", 64),
        Workload("adam_step", "Adam step() alone, 4 x 1M parameters", None, 0, "step", "adam"),
        Workload("sgd_step", "SGD momentum step() alone, 4 x 1M parameters", None, 0, "step"),
    )
}


# ---------------------------------------------------------------------------- data
def make_batches(batch_size: int, count: int, seed: int = 0, net: str = "lenet") -> list[Batch]:
    """``count`` batches of inputs for ``net``: synthetic digits for 1x28x28 networks
    (normalised as the notebook does), uniform noise in [-0.5, 0.5] for other shapes.

    Synthetic data keeps the benchmark free of downloads; the arithmetic per step does not
    depend on the pixels.

    Returns
    -------
    list of (images float32 (batch_size, *input shape), labels int64 (batch_size,))
    """
    shape = NETS[net][0]
    if shape != (1, 28, 28):
        return random_batches(batch_size, count, seed, shape)
    from tinygrad_cnn.data import normalize_images, synthetic_digits

    images, labels = synthetic_digits(batch_size * count, seed=seed)
    pixels = normalize_images(images)
    return [
        (pixels[i : i + batch_size], labels[i : i + batch_size])
        for i in range(0, batch_size * count, batch_size)
    ]


def random_batches(
    batch_size: int, count: int, seed: int = 0, shape: tuple[int, ...] = (1, 28, 28)
) -> list[Batch]:
    """``count`` batches of uniform noise in [-0.5, 0.5] and random labels, numpy only.

    For the memory measurement, where a PyTorch process should not import tinygrad_cnn: the
    memory a training step needs depends on the shapes, not on the pixels.
    """
    rng = np.random.default_rng(seed)
    return [
        (
            rng.uniform(-0.5, 0.5, (batch_size, *shape)).astype(np.float32),
            rng.integers(0, 10, batch_size, dtype=np.int64),
        )
        for _ in range(count)
    ]


def step_arrays(seed: int = 0) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Initial parameters and their (fixed) gradients for the step-alone workloads."""
    rng = np.random.default_rng(seed)
    count, *shape = STEP_PARAMETERS
    params = [(rng.standard_normal(shape) * 0.01).astype(np.float32) for _ in range(count)]
    grads = [rng.standard_normal(shape).astype(np.float32) for _ in range(count)]
    return params, grads


# ---------------------------------------------------------------------------- networks
def tinygrad_model(net: str, seed: int = 0) -> Any:
    """The tinygrad_cnn network ``net``: the library's own model for seed and lenet."""
    from tinygrad_cnn import models
    from tinygrad_cnn.nn.layers import Conv2d, Flatten, Linear, MaxPool2d, ReLU, Sequential

    if net in models.MODELS:
        return models.build_model(net, seed=seed)
    rng = np.random.default_rng(seed)
    makers: dict[str, Callable[..., Any]] = {
        "conv": lambda i, o, k, p, b: Conv2d(i, o, k, padding=p, bias=b, seed=rng),
        "linear": lambda i, o: Linear(i, o, seed=rng),
        "relu": lambda: ReLU(inplace=True),
        "pool": MaxPool2d,
        "flatten": Flatten,
    }
    return Sequential(*(makers[kind](*args) for kind, *args in NETS[net][1]))


def torch_model(net: str, seed: int | None = 0) -> Any:
    """The PyTorch twin of :func:`tinygrad_model` ``(net, seed)``, with the same weights.

    ``seed=None`` keeps PyTorch's own initialisation and does not import tinygrad_cnn.
    """
    import torch
    from torch import nn

    makers: dict[str, Callable[..., Any]] = {
        "conv": lambda i, o, k, p, b: nn.Conv2d(i, o, k, padding=p, bias=b),
        "linear": nn.Linear,
        "relu": lambda: nn.ReLU(inplace=True),
        "pool": nn.MaxPool2d,
        "flatten": nn.Flatten,
    }
    if net not in NETS:
        raise ValueError(f"torch_model: unknown network {net!r}; choose one of {list(NETS)}")
    model = nn.Sequential(*(makers[kind](*args) for kind, *args in NETS[net][1]))
    if seed is None:
        return model
    ours = tinygrad_model(net, seed)
    with torch.no_grad():
        for theirs, mine in zip(model.parameters(), ours.parameters(), strict=True):
            theirs.copy_(torch.from_numpy(mine.numpy()))
    return model


def _optimizer(framework: str, name: str, params: Any) -> Any:
    class_name, kwargs = OPTIMIZERS[name]
    if framework == "torch":
        import torch.optim as optim
    else:
        import tinygrad_cnn.optim as optim  # type: ignore[no-redef]
    return getattr(optim, class_name)(params, **kwargs)


# ---------------------------------------------------------------------------- trainers
def tinygrad_trainer(
    net: str, seed: int = 0, optimizer: str = "sgd", tuner: Any = None
) -> tuple[Trainer, Any]:
    """A tinygrad_cnn training loop for ``net`` and the model it trains: ``train(batches)``
    runs one optimizer step per batch and returns the last loss. With a
    ``tinygrad_cnn.blas_threads.BlasThreadTuner``, each step runs inside ``tuner.step()``."""
    from tinygrad_cnn import Tensor, cross_entropy

    model = tinygrad_model(net, seed)
    opt = _optimizer("tinygrad_cnn", optimizer, model.parameters())
    timed_step = tuner.step if tuner is not None else contextlib.nullcontext

    def train(batches: list[Batch]) -> float:
        loss = None
        for images, labels in batches:
            with timed_step():
                loss = cross_entropy(model(Tensor(images)), labels)
                opt.zero_grad()
                loss.backward()
                opt.step()
        return float(loss.item())

    return train, model


def torch_trainer(net: str, seed: int | None = 0, optimizer: str = "sgd") -> tuple[Trainer, Any]:
    """The PyTorch loop doing the same work as :func:`tinygrad_trainer` (``seed=None``:
    PyTorch's own initial weights, see :func:`torch_model`)."""
    import torch
    import torch.nn.functional as F  # noqa: N812 - PyTorch's usual name

    model = torch_model(net, seed)
    opt = _optimizer("torch", optimizer, model.parameters())

    def train(batches: list[Batch]) -> float:
        loss = None
        for images, labels in batches:
            loss = F.cross_entropy(model(torch.from_numpy(images)), torch.from_numpy(labels))
            opt.zero_grad()
            loss.backward()
            opt.step()
        return float(loss.item())

    return train, model


def _inferrer(framework: str, net: str, seed: int | None, tuner: Any = None) -> tuple[Trainer, Any]:
    """Forward passes under ``no_grad``; returns the last batch's loss (computed alike).
    A tuner (tinygrad_cnn only) times each forward pass, as in :func:`tinygrad_trainer`."""
    if framework == "torch":
        import torch
        import torch.nn.functional as F  # noqa: N812

        model = torch_model(net, seed)

        def infer(batches: list[Batch]) -> float:
            with torch.no_grad():
                for images, _ in batches:
                    logits = model(torch.from_numpy(images))
                return float(F.cross_entropy(logits, torch.from_numpy(batches[-1][1])))

        return infer, model
    from tinygrad_cnn import Tensor, cross_entropy, no_grad

    model = tinygrad_model(net, seed)
    timed_step = tuner.step if tuner is not None else contextlib.nullcontext

    def infer(batches: list[Batch]) -> float:
        with no_grad():
            for images, _ in batches:
                with timed_step():
                    logits = model(Tensor(images))
            return float(cross_entropy(logits, batches[-1][1]).item())

    return infer, model


def _stepper(framework: str, optimizer: str, seed: int) -> tuple[Callable[[int], float], list]:
    """``step(n)``: ``n`` optimizer steps on fixed gradients (set once by a backward of
    ``sum(p * g)``, so no ``.grad`` is written by hand); returns a parameter's first entry."""
    arrays, grads = step_arrays(seed)
    if framework == "torch":
        import torch

        params = [torch.tensor(a, requires_grad=True) for a in arrays]
        sum(
            ((p * torch.from_numpy(g)).sum() for p, g in zip(params, grads, strict=True))
        ).backward()
        first = params[0]

        def value() -> float:
            return float(first.detach()[0, 0])
    else:
        from tinygrad_cnn import Tensor

        params = [Tensor(a.copy(), requires_grad=True) for a in arrays]
        sum(((p * Tensor(g)).sum() for p, g in zip(params, grads, strict=True))).backward()
        first = params[0]

        def value() -> float:
            return float(first.numpy()[0, 0])

    opt = _optimizer(framework, optimizer, params)

    def step(steps: int) -> float:
        for _ in range(steps):
            opt.step()
        return value()

    return step, params


# ---------------------------------------------------------------------------- the runner
@dataclass
class Runner:
    """A built workload: ``run(steps)`` does ``steps`` steps (cycling over the batch pool) and
    returns the last loss (for ``step`` workloads: a parameter's first entry);
    ``parameters()`` the current parameters as numpy arrays."""

    workload: Workload
    run: Callable[[int], float]
    parameters: Callable[[], list[np.ndarray]]
    tuner: Any = None


def build(
    framework: str,
    name: str,
    seed: int | None = 0,
    digits: bool = True,
    tune_threads: bool = False,
) -> Runner:
    """Build workload ``name`` for ``framework`` (``"tinygrad_cnn"`` or ``"torch"``).

    ``seed=None`` (PyTorch only) keeps PyTorch's own initial weights; ``digits=False`` uses
    numpy noise instead of synthetic digits. Both keep a PyTorch process free of tinygrad_cnn
    (for the memory measurement). ``tune_threads`` (tinygrad_cnn's training and inference
    workloads) runs each step inside a ``BlasThreadTuner`` (the runner's ``tuner``).
    """
    if framework not in FRAMEWORKS:
        raise ValueError(f"build: unknown framework {framework!r}; choose one of {FRAMEWORKS}")
    if name not in WORKLOADS:
        raise ValueError(f"build: unknown workload {name!r}; choose one of {list(WORKLOADS)}")
    workload = WORKLOADS[name]
    tuner = None
    if workload.mode == "step":
        step, params = _stepper(framework, workload.optimizer, 0 if seed is None else seed)
        return Runner(workload, step, lambda: [_as_numpy(p) for p in params])
    if framework == "torch":
        if workload.mode == "infer":
            loop, model = _inferrer(framework, workload.net, seed)
        else:
            loop, model = torch_trainer(workload.net, seed, workload.optimizer)
    else:
        seed = 0 if seed is None else seed
        if tune_threads:
            from tinygrad_cnn.blas_threads import BlasThreadTuner

            tuner = BlasThreadTuner()
        if workload.mode == "infer":
            loop, model = _inferrer(framework, workload.net, seed, tuner)
        else:
            loop, model = tinygrad_trainer(workload.net, seed, workload.optimizer, tuner)
    if digits:
        batches = make_batches(workload.batch_size, POOL_BATCHES, net=workload.net)
    else:
        batches = random_batches(workload.batch_size, POOL_BATCHES, shape=NETS[workload.net][0])
    position = [0]

    def run(steps: int) -> float:
        start = position[0]
        chosen = [batches[(start + i) % len(batches)] for i in range(steps)]
        position[0] = (start + steps) % len(batches)
        return loop(chosen)

    return Runner(workload, run, lambda: [_as_numpy(p) for p in model.parameters()], tuner)


def _as_numpy(param: Any) -> np.ndarray:
    """A copy of a parameter of either framework as a numpy array."""
    if hasattr(param, "detach"):
        return param.detach().numpy().copy()
    return np.array(param.numpy(), copy=True)


# ---------------------------------------------------------------------------- notebook, chain
def notebook_trainer(seed: int = 0) -> Callable[[np.ndarray, np.ndarray], float]:
    """The seed notebook's per-image loop (``tests/notebook_layers.py``): ``train(images,
    labels)`` takes uint8 images (N, 28, 28) and returns the mean loss."""
    tests_dir = str(REPO_ROOT / "tests")
    if tests_dir not in sys.path:
        sys.path.insert(0, tests_dir)
    from notebook_layers import NotebookCNN

    net = NotebookCNN(seed)

    def train(images: np.ndarray, labels: np.ndarray) -> float:
        losses = [
            net.train_step(image, int(label), 0.005)[0]
            for image, label in zip(images, labels, strict=True)
        ]
        return float(np.mean(losses))

    return train


def tinygrad_chain(length: int, size: int = 16) -> Callable[[], float]:
    """Forward and backward of ``length`` small elementwise ops (alternately ``* c`` and
    ``+ c`` on a vector of ``size`` float32): the engine's per-op cost, not numpy's.

    Returns the output's sum (the gradient is left to the engine: nothing reads ``.grad``)."""
    from tinygrad_cnn import Tensor

    start = np.linspace(-1.0, 1.0, size, dtype=np.float32)

    def run() -> float:
        x = Tensor(start, requires_grad=True)
        y = x
        for i in range(length):
            y = y * 1.0001 if i % 2 == 0 else y + 0.0001
        total = y.sum()
        total.backward()
        return float(total.item())

    return run


def torch_chain(length: int, size: int = 16) -> Callable[[], float]:
    """The same chain as :func:`tinygrad_chain`, in PyTorch."""
    import torch

    start = torch.linspace(-1.0, 1.0, size, dtype=torch.float32)

    def run() -> float:
        x = start.clone().requires_grad_(True)
        y = x
        for i in range(length):
            y = y * 1.0001 if i % 2 == 0 else y + 0.0001
        total = y.sum()
        total.backward()
        return float(total.item())

    return run
