"""Module features beyond parameters: containers, buffers, hooks, apply, freezing, clipping,
activation and loss modules; each compared with PyTorch's twin where one exists."""

from __future__ import annotations

import numpy as np
import pytest

from tinygrad_cnn import Tensor, nn

torch = pytest.importorskip("torch")


class WithBuffers(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(3, 4, seed=0)
        self.register_buffer("running_mean", np.zeros(4, np.float32))
        self.register_buffer("count", np.array(0, np.int64))
        self.register_buffer("scratch", np.ones(2, np.float32), persistent=False)
        self.blocks = nn.ModuleList([nn.Linear(4, 4, seed=1), nn.ReLU(), nn.Linear(4, 2, seed=2)])
        self.heads = nn.ModuleDict({"a": nn.Linear(2, 1, seed=3), "b": nn.Identity()})

    def forward(self, x: Tensor) -> Tensor:
        x = self.fc(x)
        for block in self.blocks:
            x = block(x)
        return self.heads["a"](x)


class TorchWithBuffers(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = torch.nn.Linear(3, 4)
        self.register_buffer("running_mean", torch.zeros(4))
        self.register_buffer("count", torch.tensor(0))
        self.register_buffer("scratch", torch.ones(2), persistent=False)
        self.blocks = torch.nn.ModuleList(
            [torch.nn.Linear(4, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2)]
        )
        self.heads = torch.nn.ModuleDict({"a": torch.nn.Linear(2, 1), "b": torch.nn.Identity()})


def test_state_dict_keys_shapes_dtypes_match_torch_with_buffers_and_containers() -> None:
    ours, theirs = WithBuffers().state_dict(), TorchWithBuffers().state_dict()
    assert list(ours) == list(theirs)
    for key, value in theirs.items():
        assert ours[key].shape == tuple(value.shape), key
        assert ours[key].dtype == np.dtype(str(value.dtype).removeprefix("torch.")), key
    assert [n for n, _ in WithBuffers().named_buffers()] == [
        n for n, _ in TorchWithBuffers().named_buffers()
    ]
    assert [n for n, _ in WithBuffers().named_modules()] == [
        n for n, _ in TorchWithBuffers().named_modules()
    ]


def test_torch_state_dict_loads_into_ours_and_buffers_are_not_parameters() -> None:
    theirs = TorchWithBuffers()
    theirs.running_mean += 3
    theirs.count += 7
    model = WithBuffers()
    model.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    np.testing.assert_array_equal(model.running_mean.data, np.full(4, 3, np.float32))
    assert int(model.count.data) == 7 and model.count.dtype == np.int64
    np.testing.assert_array_equal(
        model.blocks[2].weight.data, theirs.blocks[2].weight.detach().numpy()
    )
    x = np.random.default_rng(0).normal(size=(5, 3)).astype(np.float32)
    expected = theirs.heads["a"](
        theirs.blocks[2](theirs.blocks[1](theirs.blocks[0](theirs.fc(torch.from_numpy(x)))))
    )
    np.testing.assert_allclose(model(Tensor(x)).data, expected.detach().numpy(), rtol=1e-5)
    assert all(isinstance(p, nn.Parameter) for p in model.parameters())
    assert len(list(model.parameters())) == len(list(theirs.parameters()))
    with pytest.raises(ValueError, match="count: expected int64"):
        model.load_state_dict({**model.state_dict(), "count": np.array(1.5)})


def test_plain_list_or_dict_of_modules_is_a_type_error_naming_the_container() -> None:
    class Bad(nn.Module):
        def __init__(self, layers: object) -> None:
            super().__init__()
            self.layers = layers

    with pytest.raises(TypeError, match="ModuleList"):
        Bad([nn.Linear(2, 2, seed=0)])
    with pytest.raises(TypeError, match="ModuleList"):
        Bad((nn.ReLU(),))
    with pytest.raises(TypeError, match="ModuleDict"):
        Bad({"fc": nn.Linear(2, 2, seed=0)})
    assert Bad([1, 2]).layers == [1, 2]  # lists of other things stay plain attributes


def test_module_list_edits_renumber_like_torch() -> None:
    ours = nn.ModuleList([nn.Linear(1, 1, seed=i) for i in range(3)])
    theirs = torch.nn.ModuleList([torch.nn.Linear(1, 1) for _ in range(3)])
    for container in (ours, theirs):
        del container[0]
        container.insert(1, container[0].__class__(1, 1))
        container.append(container[-1].__class__(1, 1))
        container += [container[0].__class__(1, 1)]
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert len(ours[1:]) == 4
    with pytest.raises(TypeError, match="Module"):
        ours.append(3)
    with pytest.raises(IndexError):
        ours[10]


def test_module_dict_mapping_interface() -> None:
    heads = nn.ModuleDict([("x", nn.ReLU())])
    heads["y"] = nn.Linear(1, 2, seed=0)
    heads.update({"x": nn.Tanh()})
    assert heads.keys() == ["x", "y"] and isinstance(heads["x"], nn.Tanh) and "y" in heads
    assert list(heads.state_dict()) == ["y.weight", "y.bias"]
    assert isinstance(heads.pop("y"), nn.Linear) and len(heads) == 1
    with pytest.raises(KeyError):
        heads["y"]


def test_add_module_register_parameter_and_buffer_errors() -> None:
    module = nn.Module()
    module.add_module("inner", nn.Linear(2, 3, seed=0))
    module.register_parameter("scale", nn.Parameter(np.ones(3, np.float32)))
    assert [n for n, _ in module.named_parameters()] == ["scale", "inner.weight", "inner.bias"]
    assert module.inner.weight.name == "inner.weight"
    with pytest.raises(ValueError, match="no dots"):
        module.add_module("a.b", nn.ReLU())
    with pytest.raises(TypeError, match="Module or None"):
        module.add_module("x", 3)
    with pytest.raises(ValueError, match="already exists"):
        module.register_buffer("scale", np.zeros(3))
    with pytest.raises(TypeError, match="register_parameter"):
        module.register_buffer("p", nn.Parameter(np.zeros(1, np.float32)))
    module.register_buffer("stat", np.zeros(3, np.float32))
    module.stat = Tensor(np.ones(3, np.float32))  # reassigning keeps it a buffer
    assert "stat" in module.state_dict() and next(iter(module.buffers())) is module.stat
    with pytest.raises(TypeError, match="buffer 'stat'"):
        module.stat = 5
    module.register_buffer("stat", None)
    assert "stat" not in module.state_dict()


def test_train_eval_apply_children_and_requires_grad_() -> None:
    model, twin = WithBuffers(), TorchWithBuffers()
    assert [n for n, _ in model.named_children()] == [n for n, _ in twin.named_children()]
    assert (
        len(list(model.children())) == 3
        and len(list(model.modules())) == len(list(twin.modules())) == 9
    )
    model.eval()
    assert not any(m.training for m in model.modules())
    model.train()
    assert all(m.training for m in model.modules())
    visited: list[str] = []
    model.apply(lambda m: visited.append(type(m).__name__))
    twin_visited: list[str] = []
    twin.apply(lambda m: twin_visited.append(type(m).__name__))
    assert visited == [name.replace("TorchWithBuffers", "WithBuffers") for name in twin_visited]
    model.requires_grad_(False)
    assert not any(p.requires_grad for p in model.parameters())
    assert model.num_parameters(trainable_only=True) == 0


def test_forward_hooks_and_pre_hooks_modify_and_remove() -> None:
    layer = nn.Linear(2, 2, seed=0)
    calls: list[str] = []
    pre = layer.register_forward_pre_hook(lambda m, args: (args[0] * 2,))
    post = layer.register_forward_hook(lambda m, args, out: calls.append("post") or out * 0)
    x = Tensor(np.ones((1, 2), np.float32))
    assert np.all(layer(x).data == 0) and calls == ["post"]
    post.remove()
    doubled = layer(x).data
    pre.remove()
    pre.remove()  # a second remove does nothing
    np.testing.assert_allclose(doubled, layer(Tensor(np.full((1, 2), 2, np.float32))).data)
    with pytest.raises(TypeError, match="callable"):
        layer.register_forward_hook(3)


def test_zero_grad_set_to_none_false_zeroes_in_place() -> None:
    layer = nn.Linear(2, 2, seed=0)
    layer(Tensor(np.ones((1, 2), np.float32))).sum().backward()
    grad = layer.weight.grad
    layer.zero_grad(set_to_none=False)
    assert layer.weight.grad is grad and not grad.data.any()
    layer.zero_grad()
    assert layer.weight.grad is None


def _grads_pair(seed: int, shapes: list[tuple[int, ...]], scale: float) -> tuple[list, list]:
    rng = np.random.default_rng(seed)
    ours, theirs = [], []
    for shape in shapes:
        g = np.asarray(rng.normal(size=shape) * scale, dtype=np.float32)
        p = nn.Parameter(np.zeros(shape, np.float32))
        p.grad = Tensor(g.copy())
        t = torch.zeros(shape, requires_grad=True)
        t.grad = torch.from_numpy(g.copy())
        ours.append(p)
        theirs.append(t)
    return ours, theirs


@pytest.mark.parametrize("norm_type", [2.0, 1, 3.5, float("inf")])
@pytest.mark.parametrize("max_norm", [0.1, 1.0, 1e6])
def test_clip_grad_norm_matches_torch(norm_type: float, max_norm: float) -> None:
    ours, theirs = _grads_pair(0, [(3, 4), (5,), ()], scale=2.0)
    total = nn.utils.clip_grad_norm_(ours, max_norm, norm_type=norm_type)
    expected = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type=norm_type)
    assert isinstance(total, Tensor) and total.dtype == np.float32 and total.shape == ()
    np.testing.assert_allclose(total.data, expected.numpy(), rtol=1e-6)
    for p, t in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(p.grad.data, t.grad.numpy(), rtol=1e-6, atol=1e-7)


def test_clip_grad_norm_nonfinite_and_empty() -> None:
    ours, _ = _grads_pair(1, [(2,)], scale=1.0)
    ours[0].grad.data[0] = np.inf
    with pytest.raises(RuntimeError, match="inf"):
        nn.utils.clip_grad_norm_(ours, 1.0, error_if_nonfinite=True)
    assert float(nn.utils.clip_grad_norm_([nn.Parameter([1.0])], 1.0)) == 0.0
    with pytest.raises(TypeError, match="max_norm"):
        nn.utils.clip_grad_norm_(ours, "big")


def test_clip_grad_value_matches_torch() -> None:
    ours, theirs = _grads_pair(2, [(4, 4), (3,)], scale=3.0)
    nn.utils.clip_grad_value_(ours, 1.5)
    torch.nn.utils.clip_grad_value_(theirs, 1.5)
    for p, t in zip(ours, theirs, strict=True):
        np.testing.assert_array_equal(p.grad.data, t.grad.numpy())


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        (nn.Tanh(), torch.nn.Tanh()),
        (nn.Sigmoid(), torch.nn.Sigmoid()),
        (nn.Softmax(dim=1), torch.nn.Softmax(dim=1)),
        (nn.LogSoftmax(dim=0), torch.nn.LogSoftmax(dim=0)),
        (nn.Identity(54, unused=1), torch.nn.Identity(54, unused=1)),
    ],
)
def test_activation_modules_match_torch(ours: nn.Module, theirs: object) -> None:
    x = np.random.default_rng(3).normal(size=(4, 5))
    ox, tx = Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, expected = ours(ox), theirs(tx)
    np.testing.assert_allclose(out.data, expected.detach().numpy(), rtol=1e-12)
    weights = np.random.default_rng(4).normal(size=(4, 5))
    (out * Tensor(weights)).sum().backward()
    (expected * torch.from_numpy(weights)).sum().backward()
    np.testing.assert_allclose(ox.grad.data, tx.grad.numpy(), rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_loss_module_matches_torch(reduction: str) -> None:
    rng = np.random.default_rng(4)
    logits, labels = rng.normal(size=(6, 4)), rng.integers(0, 4, 6)
    x, tx = Tensor(logits, requires_grad=True), torch.tensor(logits, requires_grad=True)
    loss = nn.CrossEntropyLoss(reduction=reduction)(x, labels)
    expected = torch.nn.CrossEntropyLoss(reduction=reduction)(tx, torch.from_numpy(labels))
    np.testing.assert_allclose(loss.data, expected.detach().numpy(), rtol=1e-12)
    loss.sum().backward()
    expected.sum().backward()
    np.testing.assert_allclose(x.grad.data, tx.grad.numpy(), rtol=1e-10)


@pytest.mark.parametrize(
    "options",
    [
        {"weight": [0.5, 1.0, 2.0, 1.5]},
        {"ignore_index": 2},
        {"label_smoothing": 0.1},
        {"weight": [0.5, 1.0, 2.0, 1.5], "ignore_index": 1, "label_smoothing": 0.2},
    ],
)
def test_cross_entropy_loss_options_match_torch(options: dict) -> None:
    rng = np.random.default_rng(5)
    logits, labels = rng.normal(size=(6, 4)), rng.integers(0, 4, 6)
    ours_options = {k: Tensor(np.array(v)) if k == "weight" else v for k, v in options.items()}
    theirs_options = {
        k: torch.tensor(v, dtype=torch.float64) if k == "weight" else v for k, v in options.items()
    }
    x, tx = Tensor(logits, requires_grad=True), torch.tensor(logits, requires_grad=True)
    loss = nn.CrossEntropyLoss(**ours_options)(x, labels)
    expected = torch.nn.CrossEntropyLoss(**theirs_options)(tx, torch.from_numpy(labels))
    np.testing.assert_allclose(loss.data, expected.detach().numpy(), rtol=1e-12)
    loss.backward()
    expected.backward()
    np.testing.assert_allclose(x.grad.data, tx.grad.numpy(), rtol=1e-10, atol=1e-15)


def test_cross_entropy_loss_refuses_bad_arguments() -> None:
    with pytest.raises(ValueError, match="reduction"):
        nn.CrossEntropyLoss(reduction="avg")
    with pytest.raises(TypeError, match="size_average"):
        nn.CrossEntropyLoss(size_average=True)


def test_batch_norm_buffers_are_in_state_dict_as_torch() -> None:
    for ours, theirs in (
        (nn.BatchNorm2d(3), torch.nn.BatchNorm2d(3)),
        (nn.BatchNorm1d(4, affine=False), torch.nn.BatchNorm1d(4, affine=False)),
        (
            nn.BatchNorm1d(2, track_running_stats=False),
            torch.nn.BatchNorm1d(2, track_running_stats=False),
        ),
    ):
        expected = {k: tuple(v.shape) for k, v in theirs.state_dict().items()}
        assert {k: tuple(v.shape) for k, v in ours.state_dict().items()} == expected
        assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]


def test_buffers_round_trip_through_safetensors_files(tmp_path) -> None:
    pytest.importorskip("safetensors")
    model = WithBuffers()
    model.running_mean.data[...] = 2.5
    model.count.data[...] = 11
    path = tmp_path / "model.safetensors"
    model.save(path)
    other = WithBuffers()
    other.load(path)
    assert float(other.running_mean.data[0]) == 2.5 and int(other.count.data) == 11
    assert other.count.dtype == np.int64
    import safetensors.torch

    twin = TorchWithBuffers()
    twin.load_state_dict(safetensors.torch.load_file(str(path)))
    assert int(twin.count) == 11
