"""Tests of tinygrad_cnn.nn: Module registration and naming, state dicts, layers, initialisers."""

from __future__ import annotations

import math
import re
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest

from tinygrad_cnn import Tensor, nn, no_grad
from tinygrad_cnn.nn import init


class Block(nn.Module):
    """A small nested model: a conv, a Sequential and a head."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 2, 3, seed=0)
        self.layers = nn.Sequential(nn.Linear(8, 4, seed=1), nn.ReLU(), nn.Linear(4, 3, seed=2))
        self.head = nn.Linear(3, 2, bias=False, seed=3)

    def forward(self, x: Tensor) -> Tensor:
        x = self.conv1(x).relu().max_pool2d(2).flatten(1)
        return self.head(self.layers(x))


def _image(n: int = 2, c: int = 1, h: int = 4, w: int = 4, seed: int = 0) -> Tensor:
    return Tensor(np.random.default_rng(seed).standard_normal((n, c, h, w)).astype(np.float32))


# ---------------------------------------------------------------------- Parameter
def test_parameter_is_a_leaf_requiring_grad_with_a_private_copy() -> None:
    source = np.arange(6, dtype=np.float32).reshape(2, 3)
    param = nn.Parameter(source)
    assert param.requires_grad and param.is_leaf and param.dtype == np.float32
    param.data += 1
    assert source[0, 0] == 0, "Parameter must copy its data"
    assert nn.Parameter([1, 2]).dtype == np.float32
    assert nn.Parameter(Tensor(np.zeros(3))).dtype == np.float64
    assert nn.Parameter(np.zeros(2, np.float32), requires_grad=False).requires_grad is False
    assert repr(param).startswith("Parameter containing:\nTensor(")


def test_parameter_rejects_integer_data() -> None:
    with pytest.raises(TypeError, match="floating-point"):
        nn.Parameter(np.arange(3))


# ---------------------------------------------------------------------- naming and traversal
def test_named_parameters_use_dotted_paths_in_registration_order() -> None:
    names = [name for name, _ in Block().named_parameters()]
    assert names == [
        "conv1.weight",
        "conv1.bias",
        "layers.0.weight",
        "layers.0.bias",
        "layers.2.weight",
        "layers.2.bias",
        "head.weight",
    ]


def test_parameter_tensor_names_are_full_dotted_paths() -> None:
    model = Block()
    for name, param in model.named_parameters():
        assert param.name == name


def test_names_follow_late_attachment_and_reassignment() -> None:
    outer = nn.Module()
    outer.inner = nn.Module()
    # Attached after `inner` joined `outer`: still named from the outermost module.
    outer.inner.fc = nn.Linear(2, 2, seed=0)
    assert outer.inner.fc.weight.name == "inner.fc.weight"
    outer.inner.fc.weight = nn.Parameter(np.zeros((2, 2), np.float32))
    assert outer.inner.fc.weight.name == "inner.fc.weight"
    # Bottom-up: attaching a finished tree renames the whole subtree.
    root = nn.Module()
    root.body = outer
    assert [p.name for p in root.parameters()] == ["body.inner.fc.weight", "body.inner.fc.bias"]
    assert [n for n, _ in root.named_parameters()] == [p.name for p in root.parameters()]


def test_own_parameters_come_before_children_and_shared_ones_once() -> None:
    model = nn.Module()
    model.child = nn.Linear(2, 2, seed=0)
    model.scale = nn.Parameter(np.ones(1, np.float32))
    model.twin = model.child
    names = [name for name, _ in model.named_parameters()]
    assert names == ["scale", "child.weight", "child.bias"]
    assert len(list(model.parameters())) == 3
    assert [n for n, _ in model.named_parameters(recurse=False)] == ["scale"]
    assert next(n for n, _ in model.named_parameters(prefix="net")) == "net.scale"


def test_children_and_modules() -> None:
    model = Block()
    assert [name for name, _ in model.named_children()] == ["conv1", "layers", "head"]
    assert list(model.children()) == [model.conv1, model.layers, model.head]
    names = [name for name, _ in model.named_modules()]
    assert names == ["", "conv1", "layers", "layers.0", "layers.1", "layers.2", "head"]
    assert next(iter(model.modules())) is model


def test_num_parameters_counts_scalars() -> None:
    model = Block()
    expected = (2 * 9 + 2) + (8 * 4 + 4) + (4 * 3 + 3) + 3 * 2
    assert model.num_parameters() == expected
    model.head.weight.requires_grad = False
    assert model.num_parameters(trainable_only=True) == expected - 6


def test_train_and_eval_reach_every_module() -> None:
    model = Block()
    assert all(m.training for m in model.modules())
    assert model.eval() is model
    assert not any(m.training for m in model.modules())
    model.train()
    assert all(m.training for m in model.modules())
    with pytest.raises(TypeError, match="bool"):
        model.train("yes")


def test_zero_grad_clears_every_gradient() -> None:
    model = Block()
    model(_image(h=6, w=6)).sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())


def test_repr_is_nested_with_layer_arguments() -> None:
    expected = (
        "Block(\n"
        "  (conv1): Conv2d(1, 2, kernel_size=(3, 3), stride=(1, 1))\n"
        "  (layers): Sequential(\n"
        "    (0): Linear(in_features=8, out_features=4, bias=True)\n"
        "    (1): ReLU()\n"
        "    (2): Linear(in_features=4, out_features=3, bias=True)\n"
        "  )\n"
        "  (head): Linear(in_features=3, out_features=2, bias=False)\n"
        ")"
    )
    assert repr(Block()) == expected
    conv = nn.Conv2d(3, 4, (3, 5), stride=2, padding=1, bias=False)
    assert repr(conv) == (
        "Conv2d(3, 4, kernel_size=(3, 5), stride=(2, 2), padding=(1, 1), bias=False)"
    )
    assert repr(nn.Flatten()) == "Flatten(start_dim=1, end_dim=-1)"
    assert repr(nn.MaxPool2d(2)) == "MaxPool2d(kernel_size=(2, 2), stride=(2, 2))"


def test_attribute_assignment_errors() -> None:
    class Early(nn.Module):
        def __init__(self) -> None:
            self.fc = nn.Linear(2, 2)

    with pytest.raises(AttributeError, match=r"super\(\)\.__init__"):
        Early()
    layer = nn.Linear(2, 2, seed=0)
    with pytest.raises(TypeError, match="parameter 'weight'"):
        layer.weight = Tensor(np.zeros((2, 2), np.float32))
    model = Block()
    with pytest.raises(TypeError, match="submodule 'head'"):
        model.head = 3
    with pytest.raises(AttributeError, match="no attribute 'missing'"):
        _ = model.missing


def test_none_parameters_and_deletion() -> None:
    layer = nn.Linear(3, 2, seed=0)
    layer.bias = None
    assert layer.bias is None
    assert [n for n, _ in layer.named_parameters()] == ["weight"]
    del layer.weight
    assert list(layer.parameters()) == []
    with pytest.raises(ValueError, match="invalid name"):
        layer.register_parameter("a.b", None)
    with pytest.raises(TypeError, match="Parameter or None"):
        layer.register_parameter("w", np.zeros(2))


def test_forward_must_be_defined() -> None:
    with pytest.raises(NotImplementedError, match="Module does not define forward"):
        nn.Module()(1)


def test_calling_a_module_tags_its_ops_with_the_innermost_module() -> None:
    model = Block()
    out = model(_image(h=6, w=6))
    assert out._ctx.scope is model.head  # head's matmul (it has no bias)
    last_linear = out._ctx.inputs[0]  # the bias add of layers.2
    assert last_linear._ctx.name == "add" and last_linear._ctx.scope is model.layers[2]
    relu = last_linear._ctx.inputs[0]._ctx.inputs[0]  # add <- matmul <- relu of layers.1
    assert relu._ctx.name == "relu" and relu._ctx.scope is model.layers[1]
    conv = model.conv1(_image(h=6, w=6))
    assert conv._ctx.scope is model.conv1
    outside = model.conv1(_image(h=6, w=6)).relu()
    assert outside._ctx.scope is None  # made outside any module call
    with no_grad():
        assert model(_image(h=6, w=6))._ctx is None


# ---------------------------------------------------------------------- state dicts
def test_state_dict_is_ordered_and_copied() -> None:
    model = Block()
    state = model.state_dict()
    assert isinstance(state, OrderedDict)
    assert list(state) == [name for name, _ in model.named_parameters()]
    state["head.weight"][...] = 42.0
    assert not np.any(model.head.weight.data == 42.0)


def test_state_dict_round_trip_reproduces_outputs() -> None:
    source, target = Block(), Block()
    for param in target.parameters():
        param.data *= 2
    x = _image(h=6, w=6)
    arrays_before = [id(p.data) for p in target.parameters()]
    result = target.load_state_dict(source.state_dict())
    assert result == nn.IncompatibleKeys([], [])
    np.testing.assert_array_equal(target(x).data, source(x).data)
    assert [id(p.data) for p in target.parameters()] == arrays_before, "copies must be in place"


def _snapshot(model: nn.Module) -> dict[str, np.ndarray]:
    return {name: p.data.copy() for name, p in model.named_parameters()}


def _assert_unchanged(model: nn.Module, snapshot: dict[str, np.ndarray]) -> None:
    for name, param in model.named_parameters():
        np.testing.assert_array_equal(param.data, snapshot[name], err_msg=name)


def test_load_state_dict_reports_missing_and_unexpected_keys_and_changes_nothing() -> None:
    model = Block()
    before = _snapshot(model)
    state = {k: v + 1 for k, v in model.state_dict().items()}
    del state["conv1.bias"]
    state["extra.weight"] = np.zeros(3, np.float32)
    with pytest.raises(ValueError, match=r"missing keys: conv1\.bias") as info:
        model.load_state_dict(state)
    assert "unexpected keys: extra.weight" in str(info.value)
    _assert_unchanged(model, before)


def test_load_state_dict_reports_wrong_shape_with_both_shapes() -> None:
    model = Block()
    before = _snapshot(model)
    state = {k: v + 1 for k, v in model.state_dict().items()}
    state["layers.2.weight"] = np.zeros((4, 3), np.float32)
    with pytest.raises(ValueError, match=r"layers\.2\.weight: shape mismatch.*\(4, 3\).*\(3, 4\)"):
        model.load_state_dict(state)
    _assert_unchanged(model, before)


def test_load_state_dict_rejects_non_float_values_and_non_mappings() -> None:
    model = nn.Linear(2, 2, seed=0)
    before = _snapshot(model)
    with pytest.raises(ValueError, match=r"weight: expected floating-point.*int64"):
        model.load_state_dict({"weight": np.zeros((2, 2), np.int64), "bias": np.zeros(2)})
    _assert_unchanged(model, before)
    with pytest.raises(TypeError, match="mapping"):
        model.load_state_dict([("weight", np.zeros((2, 2)))])


def test_load_state_dict_non_strict_returns_ignored_keys_and_casts_floats() -> None:
    model = nn.Linear(2, 2, seed=0)
    weight = np.full((2, 2), 0.5)  # float64 into a float32 parameter
    result = model.load_state_dict({"weight": weight, "other": np.ones(1)}, strict=False)
    assert result.missing_keys == ["bias"] and result.unexpected_keys == ["other"]
    assert model.weight.dtype == np.float32
    np.testing.assert_array_equal(model.weight.data, weight)
    model.load_state_dict({"weight": Tensor(np.zeros((2, 2), np.float32))}, strict=False)
    assert not model.weight.data.any()


# ---------------------------------------------------------------------- layers: validation
@pytest.mark.parametrize(
    ("make", "error", "match"),
    [
        (lambda: nn.Linear(0, 3), ValueError, "in_features must be positive"),
        (lambda: nn.Linear(2.5, 3), TypeError, "in_features must be an int"),
        (lambda: nn.Linear(True, 3), TypeError, "in_features must be an int"),
        (lambda: nn.Linear(2, 3, dtype=np.int32), TypeError, "floating-point dtype"),
        (lambda: nn.Conv2d(1, -2, 3), ValueError, "out_channels must be positive"),
        (lambda: nn.Conv2d(1, 2, 0), ValueError, "kernel_size must be positive"),
        (lambda: nn.Conv2d(1, 2, 3, stride=0), ValueError, "stride must be positive"),
        (lambda: nn.Conv2d(1, 2, 3, padding=-1), ValueError, "padding must be non-negative"),
        (lambda: nn.Conv2d(1, 2, (3, 3, 3)), TypeError, "kernel_size must be an int or a pair"),
        (lambda: nn.MaxPool2d(0), ValueError, "MaxPool2d: kernel_size must be positive"),
        (lambda: nn.AvgPool2d(2, stride=1.5), TypeError, "AvgPool2d: stride"),
        (lambda: nn.Flatten(start_dim=1.0), TypeError, "Flatten: start_dim"),
        (lambda: nn.Sequential(nn.ReLU(), "relu"), TypeError, "Sequential: every entry"),
    ],
)
def test_constructors_validate_arguments(make, error, match) -> None:
    with pytest.raises(error, match=match):
        make()


def test_layers_validate_inputs() -> None:
    with pytest.raises(ValueError, match="last axis has 3 features, got shape \\(2, 4\\)"):
        nn.Linear(3, 2)(Tensor(np.zeros((2, 4), np.float32)))
    with pytest.raises(TypeError, match="dtype float64 but the layer's parameters are float32"):
        nn.Linear(3, 2)(Tensor(np.zeros((2, 3))))
    with pytest.raises(TypeError, match="Conv2d: input must be a Tensor"):
        nn.Conv2d(1, 1, 2)(np.zeros((1, 1, 3, 3), np.float32))
    with pytest.raises(ValueError, match="channels"):
        nn.Conv2d(3, 1, 2)(_image(c=1))
    with pytest.raises(ValueError, match="Flatten: start_dim=1 is out of range"):
        nn.Flatten()(Tensor(np.zeros(3, np.float32)))


def test_float64_layers_run_in_float64() -> None:
    layer = nn.Conv2d(1, 2, 2, dtype=np.float64, seed=0)
    out = layer(Tensor(np.ones((1, 1, 3, 3))))
    assert out.dtype == np.float64 and layer.weight.dtype == np.float64


# ---------------------------------------------------------------------- Sequential
def test_sequential_indexing_len_iteration_and_append() -> None:
    a, b, c = nn.Linear(4, 3, seed=0), nn.ReLU(), nn.Linear(3, 2, seed=1)
    seq = nn.Sequential(a, b)
    seq.append(c)
    assert len(seq) == 3 and list(seq) == [a, b, c]
    assert seq[0] is a and seq[-1] is c
    assert list(seq[1:]) == [b, c] and isinstance(seq[1:], nn.Sequential)
    with pytest.raises(IndexError, match="out of range for 3"):
        seq[3]
    with pytest.raises(TypeError, match="int or a slice"):
        seq["0"]
    x = Tensor(np.ones((5, 4), np.float32))
    np.testing.assert_allclose(seq(x).data, c(b(a(x))).data)


def test_sequential_from_ordered_dict_uses_its_names() -> None:
    seq = nn.Sequential(OrderedDict(fc=nn.Linear(2, 2, seed=0), act=nn.ReLU()))
    assert [n for n, _ in seq.named_parameters()] == ["fc.weight", "fc.bias"]
    assert seq.fc is seq[0]
    with pytest.raises(ValueError, match="invalid module name"):
        nn.Sequential({"a.b": nn.ReLU()})


# ---------------------------------------------------------------------- layers against PyTorch
def _torch():
    return pytest.importorskip("torch")


def test_linear_matches_torch_forward_and_gradients() -> None:
    torch = _torch()
    layer = nn.Linear(5, 3, seed=0)
    reference = torch.nn.Linear(5, 3)
    with torch.no_grad():
        reference.weight.copy_(torch.from_numpy(layer.weight.data))
        reference.bias.copy_(torch.from_numpy(layer.bias.data))
    x = np.random.default_rng(1).standard_normal((4, 2, 5)).astype(np.float32)
    ours = layer(Tensor(x))
    theirs = reference(torch.from_numpy(x))
    np.testing.assert_allclose(ours.data, theirs.detach().numpy(), rtol=1e-5, atol=1e-6)
    ours.sum().backward()
    theirs.sum().backward()
    np.testing.assert_allclose(layer.weight.grad, reference.weight.grad.numpy(), rtol=1e-5)
    np.testing.assert_allclose(layer.bias.grad, reference.bias.grad.numpy(), rtol=1e-5)


@pytest.mark.parametrize(
    ("kernel", "stride", "padding", "bias"),
    [(3, 1, 0, True), ((2, 3), 2, 1, False), (1, (1, 2), (0, 2), True)],
)
def test_conv2d_matches_torch(kernel, stride, padding, bias) -> None:
    torch = _torch()
    layer = nn.Conv2d(2, 3, kernel, stride=stride, padding=padding, bias=bias, seed=0)
    reference = torch.nn.Conv2d(2, 3, kernel, stride=stride, padding=padding, bias=bias)
    with torch.no_grad():
        reference.weight.copy_(torch.from_numpy(layer.weight.data))
        if bias:
            reference.bias.copy_(torch.from_numpy(layer.bias.data))
    x = np.random.default_rng(2).standard_normal((2, 2, 7, 6)).astype(np.float32)
    ours = layer(Tensor(x))
    theirs = reference(torch.from_numpy(x))
    np.testing.assert_allclose(ours.data, theirs.detach().numpy(), rtol=1e-4, atol=1e-5)
    ours.sum().backward()
    theirs.sum().backward()
    np.testing.assert_allclose(
        layer.weight.grad, reference.weight.grad.numpy(), rtol=1e-4, atol=1e-4
    )


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        (lambda: nn.MaxPool2d(2), lambda t: t.nn.MaxPool2d(2)),
        (lambda: nn.MaxPool2d(3, stride=2), lambda t: t.nn.MaxPool2d(3, stride=2)),
        (lambda: nn.AvgPool2d(2), lambda t: t.nn.AvgPool2d(2)),
        (lambda: nn.AvgPool2d((2, 3), stride=1), lambda t: t.nn.AvgPool2d((2, 3), stride=1)),
        (lambda: nn.ReLU(), lambda t: t.nn.ReLU()),
        (lambda: nn.Flatten(), lambda t: t.nn.Flatten()),
        (lambda: nn.Flatten(0, 2), lambda t: t.nn.Flatten(0, 2)),
    ],
)
def test_parameterless_layers_match_torch(ours, theirs) -> None:
    torch = _torch()
    x = np.random.default_rng(3).standard_normal((2, 3, 7, 7)).astype(np.float32)
    expected = theirs(torch)(torch.from_numpy(x)).numpy()
    result = ours()(Tensor(x))
    assert result.shape == expected.shape
    np.testing.assert_allclose(result.data, expected, rtol=1e-6, atol=1e-6)


def test_sequential_matches_torch() -> None:
    torch = _torch()
    ours = nn.Sequential(
        nn.Conv2d(1, 2, 3, seed=0), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(8, 3)
    )
    theirs = torch.nn.Sequential(
        torch.nn.Conv2d(1, 2, 3),
        torch.nn.ReLU(),
        torch.nn.MaxPool2d(2),
        torch.nn.Flatten(),
        torch.nn.Linear(8, 3),
    )
    theirs.load_state_dict({k: torch.from_numpy(v) for k, v in ours.state_dict().items()})
    x = np.random.default_rng(4).standard_normal((3, 1, 6, 6)).astype(np.float32)
    np.testing.assert_allclose(
        ours(Tensor(x)).data, theirs(torch.from_numpy(x)).detach().numpy(), rtol=1e-5, atol=1e-6
    )


# ---------------------------------------------------------------------- default initialisation
def test_default_init_is_pytorch_style_and_reproducible() -> None:
    layer = nn.Conv2d(4, 8, 3, seed=0)
    bound = 1 / math.sqrt(4 * 9)
    assert np.abs(layer.weight.data).max() <= bound
    assert np.abs(layer.bias.data).max() <= bound
    # A uniform on [-b, b] has std b / sqrt(3).
    assert layer.weight.data.std() == pytest.approx(bound / math.sqrt(3), rel=0.1)
    same = nn.Conv2d(4, 8, 3, seed=0)
    other = nn.Conv2d(4, 8, 3, seed=1)
    np.testing.assert_array_equal(layer.weight.data, same.weight.data)
    assert not np.array_equal(layer.weight.data, other.weight.data)
    rng = np.random.default_rng(0)
    first, second = nn.Linear(3, 3, seed=rng), nn.Linear(3, 3, seed=rng)
    assert not np.array_equal(first.weight.data, second.weight.data)


# ---------------------------------------------------------------------- nn.init
def _big(shape=(256, 128, 3, 3)) -> nn.Parameter:
    return nn.Parameter(np.empty(shape, np.float32))


def test_fans_and_gains_match_torch() -> None:
    torch = _torch()
    for shape in [(3, 5), (4, 2, 3, 3), (6, 1, 8, 8)]:
        expected = torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(shape))
        assert init.calculate_fan_in_and_fan_out(shape) == expected
    for nonlinearity in ["linear", "conv2d", "sigmoid", "tanh", "relu"]:
        assert init.calculate_gain(nonlinearity) == pytest.approx(
            torch.nn.init.calculate_gain(nonlinearity)
        )
    assert init.calculate_gain("leaky_relu", 0.2) == pytest.approx(
        torch.nn.init.calculate_gain("leaky_relu", 0.2)
    )
    assert init.calculate_gain("leaky_relu") == pytest.approx(
        torch.nn.init.calculate_gain("leaky_relu")
    )


@pytest.mark.parametrize(
    ("fill", "expected_std"),
    [
        (lambda t: init.kaiming_uniform_(t, seed=0), math.sqrt(2 / (1 + 0)) / math.sqrt(1152)),
        (lambda t: init.kaiming_normal_(t, nonlinearity="relu", seed=0), math.sqrt(2 / 1152)),
        (
            lambda t: init.kaiming_normal_(t, mode="fan_out", nonlinearity="relu", seed=0),
            math.sqrt(2 / 2304),
        ),
        (lambda t: init.xavier_uniform_(t, seed=0), math.sqrt(2 / (1152 + 2304))),
        (lambda t: init.xavier_normal_(t, gain=2.0, seed=0), 2 * math.sqrt(2 / (1152 + 2304))),
        (lambda t: init.normal_(t, 1.0, 0.5, seed=0), 0.5),
        (lambda t: init.uniform_(t, -1.0, 1.0, seed=0), 1 / math.sqrt(3)),
    ],
)
def test_initialisers_have_the_documented_spread(fill, expected_std) -> None:
    tensor = _big()
    array = tensor.data
    assert fill(tensor) is tensor
    assert tensor.data is array, "initialisers must fill in place"
    assert tensor.dtype == np.float32
    assert tensor.data.std() == pytest.approx(expected_std, rel=0.02)


def test_kaiming_uniform_bound_and_pytorch_default() -> None:
    tensor = _big((64, 32))
    init.kaiming_uniform_(tensor, a=math.sqrt(5), seed=0)
    bound = 1 / math.sqrt(32)
    assert np.abs(tensor.data).max() <= bound
    assert np.abs(tensor.data).max() > 0.95 * bound


def test_zeros_and_notebook_init() -> None:
    assert not init.zeros_(_big((3, 4))).data.any()
    conv = init.notebook_(_big((300, 1, 8, 8)), seed=0)
    assert conv.data.std() == pytest.approx(1 / 64, rel=0.05)
    linear = init.notebook_(_big((10, 300)), seed=0)
    assert linear.data.std() == pytest.approx(1 / 300, rel=0.05)
    bias = init.notebook_(_big((5000,)), seed=0)
    assert bias.data.std() == pytest.approx(1.0, rel=0.05)
    with pytest.raises(ValueError, match="notebook_: expects"):
        init.notebook_(_big((2, 2, 2)))


def test_initialisers_are_seeded_and_leave_global_rng_alone() -> None:
    # The legacy global RandomState is exactly what the initialisers must not touch.
    state = np.random.get_state()  # noqa: NPY002
    a = init.kaiming_normal_(_big((8, 8)), seed=3).data.copy()
    b = init.kaiming_normal_(_big((8, 8)), seed=3).data.copy()
    np.testing.assert_array_equal(a, b)
    after = np.random.get_state()  # noqa: NPY002
    assert state[0] == after[0] and np.array_equal(state[1], after[1]) and state[2:] == after[2:]


def test_initialisers_validate_arguments() -> None:
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        init.kaiming_uniform_(_big((5,)))
    with pytest.raises(ValueError, match="mode must be 'fan_in' or 'fan_out'"):
        init.kaiming_normal_(_big((2, 2)), mode="fan")
    with pytest.raises(ValueError, match="unknown nonlinearity 'gelu'"):
        init.kaiming_uniform_(_big((2, 2)), nonlinearity="gelu")
    with pytest.raises(TypeError, match="expected a Tensor"):
        init.zeros_(np.zeros(3))
    with pytest.raises(TypeError, match="floating-point"):
        init.zeros_(Tensor(np.zeros(3, np.int64)))
    with pytest.raises(ValueError, match="low <= high"):
        init.uniform_(_big((2,)), 1.0, 0.0)
    with pytest.raises(ValueError, match="std must be non-negative"):
        init.normal_(_big((2,)), 0.0, -1.0)


# ---------------------------------------------------------------------- documentation
def test_docs_nn_examples_run_in_order(capsys) -> None:
    docs = Path(__file__).resolve().parent.parent / "docs" / "nn.md"
    blocks = re.findall(r"```python\n(.*?)```", docs.read_text(encoding="utf-8"), re.S)
    assert len(blocks) >= 5
    exec(compile("\n".join(blocks), str(docs), "exec"), {"__name__": "docs_nn"})
    printed = capsys.readouterr().out
    assert "backbone.conv1.weight" in printed and "not a readable checkpoint" in printed
